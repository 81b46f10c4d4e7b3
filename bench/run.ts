/**
 * `npm run bench`: every benchmark in turn, each starting and stopping the servers it needs, then
 * bench/results/summary.md, the table the README quotes. ONLY=decision,risk runs a subset (the
 * summary reads the other results from their last run).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { main, readResult, RESULTS } from './lib';

const BENCHMARKS = ['decision', 'risk', 'history', 'concurrency', 'rollback', 'waves'] as const;
const only = process.env.ONLY?.split(',');

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function summary(): string {
  const r = Object.fromEntries(BENCHMARKS.map((b) => [b, readResult(b) as Json]));
  const yes = (x: boolean) => (x ? 'met' : '**missed**');
  const rows: string[][] = [];
  const d = r.decision!;
  rows.push([
    '1. `rollgate start` → decision record (20 releases, dev server)',
    `median ${d.decisionMs.median} ms, p95 ${d.decisionMs.p95} ms; one-activity workflow ${d.baselineMs.median} ms; **ratio ${d.ratio}**`,
    `ratio ≤ ${d.targetRatio}: ${yes(d.meetsTarget)}`,
  ]);
  for (const l of r.concurrency!.levels as Json[])
    rows.push([
      `2. ${l.releases} canaries in their bake at once, one worker, analysed every ${r.concurrency!.parameters.analysisIntervalSeconds} s`,
      `worker CPU ${l.workerCpuPercentOfOneCore}% of a core, RSS ${l.workerRssMiB} MiB (peak so far ${l.workerPeakRssMiB} MiB), late ${l.latePercent}% (worst ${l.worstLateSeconds} s), ${l.prometheusQueriesPerSecond} Prometheus queries/s, largest history ${l.largestHistoryEvents} events`,
      l.releases === r.concurrency!.targets.releases ? `< ${r.concurrency!.targets.latePercent}% late, < ${r.concurrency!.targets.peakRssMiB} MiB: ${yes(r.concurrency!.meetsTarget)}` : '',
    ]);
  const h = r.history!;
  rows.push([`3. history of a canary analysed every ${h.parameters.interval} over ${h.parameters.monitoredHours} h`, `${h.eventsPerMonitoredHour} events per monitored hour (${h.events} in all)`, `≤ ${h.targetPerHour}: ${yes(h.meetsTarget)}`]);
  const k = r.risk!;
  rows.push([`4. risk of a ${k.parameters.files.toLocaleString('en-US')}-file change set (git read + assessment)`, `median ${k.totalMs.median} ms, p95 ${k.totalMs.p95} ms (assessment alone ${k.assessMs.median} ms)`, `< ${k.targetMs} ms: ${yes(k.meetsTarget)}`]);
  const b = r.rollback!;
  rows.push([`5. fault on → rollback command started (${b.runs} runs, ${b.scrapeIntervalMs / 1000} s scrape, ${b.analysisIntervalMs / 1000} s interval)`, `median ${(b.medianMs / 1000).toFixed(2)} s, p95 ${(b.p95Ms / 1000).toFixed(2)} s`, `median ≤ ${b.targetMedianMs / 1000} s: ${yes(b.meetsTarget)}`]);
  const w = r.waves!;
  const wp = w.parameters as Json;
  rows.push([
    `6. ${wp.releases} fleet releases at once, ${wp.targetsPerRelease} targets each in waves of ${(wp.waves as number[]).join(' + ')} (monitored canaries, analysed every ${wp.analysisIntervalSeconds} s), two workers; ${wp.breaches} targets breached`,
    `late ${w.latePercent}% of ${w.analyses} analyses (worst ${w.worstLateSeconds} s); worker RSS ${(w.workerPeakRssMiB as number[]).join(' and ')} MiB at peak; history events per release ${w.historyEvents.perRelease.median} (max ${w.historyEvents.perRelease.max}), per target ${w.historyEvents.perTarget.median} (max ${w.historyEvents.perTarget.max}); breach → rollback command median ${w.breachToRollbackSeconds?.median} s, max ${w.breachToRollbackSeconds?.max} s`,
    `< ${w.goal.latePercent}% late: ${yes(w.meetsGoal as boolean)}`,
  ]);
  const m = d.machine as Json;
  return [
    `Measured ${String(d.date).slice(0, 10)} at commit ${d.commit} on ${m.cpus} cores, ${m.memoryGiB} GiB, Node ${m.node}.`,
    '',
    '| benchmark | figure | target |',
    '|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
  ].join('\n');
}

main(async () => {
  const t0 = performance.now();
  for (const name of BENCHMARKS) {
    if (only && !only.includes(name)) continue;
    const started = performance.now();
    process.stderr.write(`— ${name}\n`);
    execFileSync(process.execPath, ['--import', 'tsx', resolve(__dirname, `${name}.ts`)], { stdio: ['ignore', 'ignore', 'inherit'] });
    process.stderr.write(`  ${name}: ${Math.round((performance.now() - started) / 1000)} s\n`);
  }
  const text = summary();
  writeFileSync(join(RESULTS, 'summary.md'), text);
  process.stdout.write(`${text}\nAll benchmarks: ${Math.round((performance.now() - t0) / 1000)} s\n`);
});
