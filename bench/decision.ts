/**
 * Decision latency: `rollgate start` (the CLI's own code, in process) to the decision record on
 * disk, over RUNS releases (default 20) on the dev server, against a baseline measured in the same
 * run: a workflow with one activity that writes a file, from client start to the file on disk.
 * Target: ratio of medians at most 2. Writes bench/results/decision.json.
 */
import { existsSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NativeConnection, Worker } from '@temporalio/worker';
import { main as rollgate } from '../src/cli/main';
import { createReleaseWorker } from '../src/worker/worker';
import { commitToBase, referenceRepo, tempDir, writeReports } from '../test/helpers/fixtures';
import { devServerEnv } from '../test/helpers/servers';
import { main, quantile, round, sleep, writeResult } from './lib';

const RUNS = Number(process.env.RUNS ?? 20);
const WARMUP = 3;
const TARGET_RATIO = 2;
const silent = { log() {}, err() {} };

/** Polls until `ready()` (every millisecond: the figures are tens of milliseconds). */
async function until(ready: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (!ready()) {
    if (Date.now() > end) throw new Error(`${what} never happened`);
    await sleep(1);
  }
}

main(async () => {
  const env = await devServerEnv();
  const connection = await NativeConnection.connect({ address: env.address });
  const releases = await createReleaseWorker({ connection });
  const trivial = await Worker.create({
    connection,
    taskQueue: 'bench-trivial',
    workflowsPath: resolve(__dirname, 'trivial-workflow.ts'),
    activities: { touch: (path: string) => writeFile(path, 'done') },
  });
  const running = Promise.all([releases.run(), trivial.run()]);
  process.env.TEMPORAL_ADDRESS = env.address;
  const decision: number[] = [];
  const baseline: number[] = [];
  const files = tempDir('rollgate-bench-');
  try {
    for (let i = 0; i < RUNS + WARMUP; i++) {
      // The spec's reference change (LOW → immediate), in its own repository so that each run is a new release.
      const repo = referenceRepo();
      writeReports(join(repo, 'reports'));
      commitToBase(repo, { 'rollgate.yaml': 'service: bench\nreports: reports\nout: out\ndeploy:\n  command: ["true"]\nbake: { staging: 0s, production: 0s }\n' });
      const out = join(repo, 'out');
      const t0 = performance.now();
      const code = await rollgate(['start', '--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml'), '--service', `bench-${i}`], silent);
      if (code !== 0) throw new Error(`rollgate start exited ${code}`);
      if (process.env.BENCH_DEBUG) process.stderr.write(`cli ${Math.round(performance.now() - t0)} ms\n`);
      await until(() => existsSync(out) && readdirSync(out).some((f) => f.startsWith('release-decision-')), 'the decision record');
      const t1 = performance.now();

      const marker = join(files, `trivial-${i}`);
      const t2 = performance.now();
      await env.client.workflow.start('trivialWorkflow', { taskQueue: 'bench-trivial', workflowId: `trivial-${i}-${Date.now()}`, args: [marker] });
      await until(() => existsSync(marker), 'the trivial workflow\'s file');
      const t3 = performance.now();
      if (i >= WARMUP) {
        decision.push(t1 - t0);
        baseline.push(t3 - t2);
      }
      await sleep(200); // the release finishes (bakes of 0 s) before the next run
    }
  } finally {
    releases.shutdown();
    trivial.shutdown();
    await running;
    await connection.close();
    await env.teardown();
  }
  const ratio = quantile(decision, 0.5) / quantile(baseline, 0.5);
  writeResult('decision', {
    parameters: { runs: RUNS, warmup: WARMUP, change: 'the spec reference change (1 file, LOW → immediate)', server: 'Temporal CLI dev server', worker: 'in process' },
    decisionMs: { median: round(quantile(decision, 0.5)), p95: round(quantile(decision, 0.95)), samples: decision.map((x) => round(x)) },
    baselineMs: { median: round(quantile(baseline, 0.5)), p95: round(quantile(baseline, 0.95)), samples: baseline.map((x) => round(x)) },
    ratio: round(ratio, 2),
    targetRatio: TARGET_RATIO,
    meetsTarget: ratio <= TARGET_RATIO,
  });
});
