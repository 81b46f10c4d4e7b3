/**
 * Concurrent monitored rollouts: canaries are added until LEVELS (default 100, 500, 1000) are in
 * their 5% bake at once on one worker process, each analysed every INTERVAL_S seconds (default 10)
 * against a real Prometheus; at each level, over WINDOW_S seconds (default 60): the worker's CPU
 * share (of one core), its peak RSS so far, the share of analyses that ran more than one interval
 * after they were due, Prometheus queries per second, and the largest history. Targets at 1,000:
 * under 1% late, peak RSS under 1 GiB. Writes bench/results/concurrency.json.
 *
 * The worker runs with bench/heap-probe.cjs: each level also records the V8 heaps of its main thread
 * (activities, the SDK's JS side) and of its workflow thread (the cached releases), and RSS minus
 * both heaps (native memory: the SDK's core, V8's code and bookkeeping, buffers). SNAPSHOT_AT=500
 * SNAPSHOT_DIR=DIR also writes heap snapshots of both threads at that level, after its window, for
 * bench/heap-summary.ts. WORKER_NODE_OPTIONS passes node flags to the worker (e.g. a heap limit).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { freePort, Prometheus } from '../demo/stack';
import { buildWorkflowBundle } from '../scripts/bundle-workflows';
import type { Measurement } from '../src/domain/analysis';
import type { ReleaseInput } from '../src/domain/release';
import { RELEASE_STATE_ATTRIBUTE, RELEASE_WORKFLOW } from '../src/workflows/messages';
import { startWorker, stopProcess } from '../test/helpers/cli';
import { commitToBase, git, makeRepo, tempDir, writeReports } from '../test/helpers/fixtures';
import { devServerEnv } from '../test/helpers/servers';
import { main, processUsage, round, sleep, writeResult } from './lib';

const LEVELS = (process.env.LEVELS ?? '100,500,1000').split(',').map(Number);
const INTERVAL_S = Number(process.env.INTERVAL_S ?? 10);
const WINDOW_S = Number(process.env.WINDOW_S ?? 60);
const TARGETS = { releases: 1000, latePercent: 1, peakRssMiB: 1024 };
const SNAPSHOT_AT = process.env.SNAPSHOT_AT ? Number(process.env.SNAPSHOT_AT) : undefined;
const SNAPSHOT_DIR = process.env.SNAPSHOT_DIR;
if (SNAPSHOT_AT && !SNAPSHOT_DIR) throw new Error('SNAPSHOT_AT needs SNAPSHOT_DIR, a folder outside the repository for the (large) snapshots');

type ProbeLine = { at: string; who: string; heapUsedMiB?: number; heapTotalMiB?: number; process?: { rssMiB: number; anonMiB: number }; snapshot?: number; file?: string };
const probeLines = (dir: string): ProbeLine[] =>
  existsSync(join(dir, 'memory.jsonl'))
    ? readFileSync(join(dir, 'memory.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ProbeLine)
    : [];

/** The latest heap figures of the worker's main thread and of its workflow thread(s). */
function heaps(dir: string) {
  const latest = new Map<string, ProbeLine>();
  for (const l of probeLines(dir)) if (l.heapUsedMiB !== undefined) latest.set(l.who, l);
  const main = latest.get('main');
  const threads = [...latest].filter(([who]) => who !== 'main').map(([, l]) => l);
  const sum = (k: 'heapUsedMiB' | 'heapTotalMiB') => round(threads.reduce((a, l) => a + (l[k] ?? 0), 0));
  const rss = main?.process?.rssMiB ?? 0;
  const heapTotal = (main?.heapTotalMiB ?? 0) + sum('heapTotalMiB');
  return {
    mainHeapUsedMiB: main?.heapUsedMiB ?? null,
    mainHeapTotalMiB: main?.heapTotalMiB ?? null,
    workflowThreadHeapUsedMiB: sum('heapUsedMiB'),
    workflowThreadHeapTotalMiB: sum('heapTotalMiB'),
    rssOutsideHeapsMiB: round(rss - heapTotal),
  };
}

/** Asks the probe for snapshots of every thread and waits until they are written. */
async function snapshot(pid: number, dir: string): Promise<string[]> {
  const before = probeLines(dir).filter((l) => l.snapshot).length;
  process.kill(pid, 'SIGUSR2');
  const threads = new Set(probeLines(dir).map((l) => l.who)).size;
  const end = Date.now() + 10 * 60_000;
  for (;;) {
    const done = probeLines(dir).filter((l) => l.snapshot).slice(before);
    if (done.length >= threads) return done.map((l) => l.file!);
    if (Date.now() > end) throw new Error('heap snapshots not written in 10 minutes');
    await sleep(1000);
  }
}

main(async () => {
  const root = tempDir('rollgate-bench-');
  // The service under release: one series, always healthy.
  const exporter = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('bench_up 1\n'));
  await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
  const prometheus = new Prometheus({ scrapeInterval: '5s', targets: [{ address: `127.0.0.1:${(exporter.address() as AddressInfo).port}`, labels: {} }] });
  const [env, , bundle] = await Promise.all([
    devServerEnv({ dbFilename: join(root, 'temporal.db') }),
    prometheus.start(),
    buildWorkflowBundle(join(root, 'workflow-bundle.js')),
  ]);
  await env.connection.operatorService.addSearchAttributes({ namespace: 'default', searchAttributes: { [RELEASE_STATE_ATTRIBUTE.name]: 2 } }).catch(() => undefined);
  const repo = makeRepo({ 'cart/totals.py': 'def total(items):\n    return sum(items)\n' }, [{ subject: 'fix(cart): round totals', files: { 'cart/totals.py': 'def total(items):\n    return round(sum(items), 2)\n' } }]);
  const reports = writeReports(join(repo, 'reports'));
  const config = {
    deploy: { command: ['true'] },
    bake: { staging: '0s' },
    canary: { steps: [{ weight: 5, bake: '1h' }, { weight: 100, bake: '0s' }] },
    analysis: {
      prometheus: { address: prometheus.url },
      interval: `${INTERVAL_S}s`,
      metrics: [{ name: 'up', query: 'sum(bench_up)', failureCondition: 'result < 1' }],
    },
  };
  // The worker reads the release policy at the base commit.
  commitToBase(repo, { 'rollgate.yaml': stringify(config) });
  const base = git(repo, ['rev-parse', 'main']).trim();
  const head = git(repo, ['rev-parse', 'feature']).trim();
  const count = async (query: string) => (await env.client.workflow.count(`WorkflowType = '${RELEASE_WORKFLOW}' AND ExecutionStatus = 'Running' AND ${query}`)).count;

  const levels = [];
  const metricsPort = await freePort();
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const probeDir = SNAPSHOT_DIR ? resolve(SNAPSHOT_DIR) : join(root, 'heap-probe');
  const nodeOptions = [process.env.NODE_OPTIONS, `--require ${resolve(__dirname, 'heap-probe.cjs')}`, process.env.WORKER_NODE_OPTIONS].filter(Boolean).join(' ');
  const worker: ChildProcess = await startWorker({
    TEMPORAL_ADDRESS: env.address,
    ROLLGATE_WORKFLOW_BUNDLE: bundle,
    ROLLGATE_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
    NODE_OPTIONS: nodeOptions,
    ROLLGATE_HEAP_PROBE_DIR: probeDir,
  });
  const snapshots: string[] = [];
  const ids: string[] = [];
  const outDirs: string[] = [];
  const measured = async () => {
    const text = await (await fetch(metricsUrl)).text();
    return [...text.matchAll(/^rollgate_analysis_measurements_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  };
  try {
    for (const n of LEVELS) {
      const t0 = Date.now();
      // Starts go out a few at a time: the server, not this loop, should set the pace.
      while (ids.length < n) {
        await Promise.all(
          Array.from({ length: Math.min(20, n - ids.length) }, async () => {
            const i = ids.length;
            const releaseId = `bench-${i}`;
            ids.push(releaseId);
            const outDir = join(root, `r${i}`);
            outDirs.push(outDir);
            mkdirSync(outDir, { recursive: true });
            const input: ReleaseInput = { releaseId, service: `svc-${i}`, repo, base, head, reportsDir: reports, junit: [], outDir, version: 'v2', previousVersion: 'v1', policyFile: 'rollgate.yaml' };
            await env.client.workflow.start(RELEASE_WORKFLOW, { taskQueue: 'rollgate', workflowId: releaseId, args: [input], typedSearchAttributes: [{ key: RELEASE_STATE_ATTRIBUTE, value: 'deciding' }] });
          }),
        );
      }
      // All in their bake: the bench measures a steady state, not the start.
      for (;;) {
        const baking = await count(`RollgateState = 'baking'`);
        if (baking >= n) break;
        if (Date.now() - t0 > 10 * 60_000) throw new Error(`only ${baking} of ${n} releases reached their bake in 10 minutes`);
        await sleep(1000);
      }
      const rampS = (Date.now() - t0) / 1000;
      await sleep(2 * INTERVAL_S * 1000); // every monitor past its first measurement
      const before = { usage: processUsage(worker.pid!), measured: await measured(), at: Date.now() };
      await sleep(WINDOW_S * 1000);
      const after = { usage: processUsage(worker.pid!), measured: await measured(), at: Date.now() };
      const seconds = (after.at - before.at) / 1000;

      // Lateness from the measurements themselves: each one is due an interval after the one before.
      let total = 0;
      let late = 0;
      let worstS = 0;
      for (const dir of outDirs) {
        const folder = join(dir, 'analysis');
        const file = existsSync(folder) ? readdirSync(folder).find((f) => f.endsWith('.jsonl')) : undefined;
        if (!file) continue;
        const ats = readFileSync(join(folder, file), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => Date.parse((JSON.parse(l) as Measurement).at))
          .filter((at) => at >= before.at && at <= after.at);
        for (let k = 1; k < ats.length; k++) {
          const lateBy = (ats[k]! - ats[k - 1]! - INTERVAL_S * 1000) / 1000;
          total++;
          worstS = Math.max(worstS, lateBy);
          if (lateBy > INTERVAL_S) late++;
        }
      }
      let largestHistory = 0;
      for (const id of ids) largestHistory = Math.max(largestHistory, Number((await env.client.workflow.getHandle(id).describe()).historyLength));
      const level = {
        releases: n,
        rampSeconds: round(rampS),
        windowSeconds: round(seconds),
        workerCpuPercentOfOneCore: round(((after.usage.cpuSeconds - before.usage.cpuSeconds) / seconds) * 100),
        workerPeakRssMiB: after.usage.peakRssMiB,
        workerRssMiB: after.usage.rssMiB,
        analysesInWindow: total,
        latePercent: total ? round((late / total) * 100, 2) : null,
        worstLateSeconds: round(worstS, 2),
        prometheusQueriesPerSecond: round((after.measured - before.measured) / seconds),
        largestHistoryEvents: largestHistory,
        ...heaps(probeDir),
      };
      levels.push(level);
      if (n === SNAPSHOT_AT) snapshots.push(...(await snapshot(worker.pid!, probeDir)));
      process.stderr.write(`${JSON.stringify(level)}\n`);
    }
  } finally {
    await stopProcess(worker);
    await prometheus.dispose();
    exporter.close();
    await env.teardown();
  }
  if (snapshots.length) process.stderr.write(`heap snapshots at ${SNAPSHOT_AT} releases: ${snapshots.join(', ')}\n`);
  const top = levels.find((l) => l.releases === TARGETS.releases);
  writeResult('concurrency', {
    parameters: {
      levels: LEVELS,
      analysisIntervalSeconds: INTERVAL_S,
      windowSeconds: WINDOW_S,
      prometheusScrapeSeconds: 5,
      worker: 'one `rollgate worker` process with its defaults (prebuilt workflow bundle); releases are added level by level and keep running',
      deploy: 'the command `true`',
      workerEnv: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('ROLLGATE_MAX_') || k === 'WORKER_NODE_OPTIONS')),
    },
    levels,
    targets: TARGETS,
    meetsTarget: top ? (top.latePercent ?? 100) < TARGETS.latePercent && top.workerPeakRssMiB < TARGETS.peakRssMiB : false,
  });
});
