import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Measurement, Metric } from '../domain/analysis';
import { chartThresholds, renderMetricChart } from '../domain/chart';
import { measurementsFile } from './analysis';

/** The release report's charts, drawn from the measurements the monitor wrote. */

/** Reads the run's measurements (a retried monitor may have written one twice: the last copy wins). */
export async function readMeasurements(outDir: string, runKey: string): Promise<Measurement[]> {
  const text = await readFile(measurementsFile(outDir, runKey), 'utf8').catch(() => '');
  const byKey = new Map<string, Measurement>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = JSON.parse(line) as Measurement;
    byKey.set(`${m.phase}/${m.metric}/${m.seq}`, m);
  }
  return [...byKey.values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

/** One SVG chart per metric, in a folder named after the decision record; returns paths relative to the record's folder. */
export async function writeCharts(input: { outDir: string; runKey: string; recordPath: string; metrics: Metric[]; phases: { id: string; at: string }[]; rollbackAt?: string }): Promise<{ metric: string; file: string }[]> {
  const all = await readMeasurements(input.outDir, input.runKey);
  const folder = input.recordPath.replace(/\.md$/, '-charts');
  await mkdir(folder, { recursive: true });
  const written: { metric: string; file: string }[] = [];
  for (const metric of input.metrics) {
    const measurements = all.filter((m) => m.metric === metric.name);
    if (measurements.length === 0) continue;
    const svg = renderMetricChart({ metric: metric.name, measurements, thresholds: chartThresholds(metric), phases: input.phases, ...(input.rollbackAt ? { rollbackAt: input.rollbackAt } : {}) });
    const path = join(folder, `${metric.name.replace(/[^\w.-]+/g, '_')}.svg`);
    await writeFile(`${path}.tmp`, svg);
    await rename(`${path}.tmp`, path);
    written.push({ metric: metric.name, file: `${basename(folder)}/${basename(path)}` });
  }
  return written;
}
