import { basename, join } from 'node:path';
import type { Measurement, Metric } from '../domain/analysis';
import { chartThresholds, renderMetricChart } from '../domain/chart';
import { measurementsFile } from './analysis';
import { readLines, writeFileAtomic } from './out-files';

/** The release report's charts, drawn from the measurements the monitor wrote. */

/**
 * Reads the run's measurements (a retried monitor may have written one twice: the last copy wins).
 * A line torn by a crash, or not a measurement, is passed over and counted in `skippedLines`.
 */
export async function readMeasurements(outDir: string, runKey: string): Promise<{ measurements: Measurement[]; skippedLines: number }> {
  const { lines, skippedLines } = await readLines<Partial<Measurement>>(measurementsFile(outDir, runKey), { root: outDir });
  const byKey = new Map<string, Measurement>();
  let notMeasurements = 0;
  for (const m of lines) {
    if (typeof m.metric !== 'string' || typeof m.at !== 'string' || Number.isNaN(Date.parse(m.at))) notMeasurements++;
    else byKey.set(`${m.phase}/${m.metric}/${m.seq}`, m as Measurement);
  }
  return { measurements: [...byKey.values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at)), skippedLines: skippedLines + notMeasurements };
}

/** One SVG chart per metric, in a folder named after the decision record; returns paths relative to the record's folder. */
export async function writeCharts(
  input: { outDir: string; runKey: string; recordPath: string; metrics: Metric[]; phases: { id: string; at: string }[]; rollbackAt?: string },
  warn?: (message: string) => void,
): Promise<{ metric: string; file: string }[]> {
  const { measurements: all, skippedLines } = await readMeasurements(input.outDir, input.runKey);
  if (skippedLines > 0) warn?.(`measurements of ${input.runKey}: ${skippedLines} unreadable line${skippedLines === 1 ? '' : 's'} passed over`);
  const folder = input.recordPath.replace(/\.md$/, '-charts');
  const written: { metric: string; file: string }[] = [];
  for (const metric of input.metrics) {
    const measurements = all.filter((m) => m.metric === metric.name);
    if (measurements.length === 0) continue;
    const svg = renderMetricChart({ metric: metric.name, measurements, thresholds: chartThresholds(metric), phases: input.phases, ...(input.rollbackAt ? { rollbackAt: input.rollbackAt } : {}) });
    const path = join(folder, `${metric.name.replace(/[^\w.-]+/g, '_')}.svg`);
    await writeFileAtomic(path, svg, { root: input.outDir });
    written.push({ metric: metric.name, file: `${basename(folder)}/${basename(path)}` });
  }
  return written;
}
