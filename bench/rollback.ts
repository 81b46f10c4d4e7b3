/**
 * Detection to rollback: with a 1 s scrape and a 2 s analysis interval, the time from switching
 * the canary's fault on to the rollback command starting, over RUNS releases (default 10).
 * Writes bench/results/rollback.json. Run with `npm run bench:rollback`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { DemoStack, demoMetrics, demoReleaseConfig } from '../demo/stack';
import { createReleaseWorker } from '../src/worker/worker';
import { statusQuery } from '../src/workflows/messages';
import { devServerEnv } from '../test/helpers/servers';
import { commitToBase, makeRepo, writeReports } from '../test/helpers/fixtures';
import { rollgate } from '../test/helpers/cli';
import { main, quantile, sleep, writeResult } from './lib';

const RUNS = Number(process.env.RUNS ?? 10);
const SCRAPE_S = 1;
const INTERVAL_S = 2;
const TARGET_MS = (SCRAPE_S + INTERVAL_S + 2) * 1000;

const config = (prometheus: string, smokeUrl: string) =>
  demoReleaseConfig({
    service: 'bench',
    prometheus,
    smokeUrl,
    interval: `${INTERVAL_S}s`,
    metrics: [demoMetrics.errorRate()],
    extra: { bake: { staging: '0s' }, canary: { steps: [{ weight: 20, bake: '10m' }, { weight: 100, bake: '1s' }] } },
  });


async function run(): Promise<void> {
  const stack = new DemoStack({ service: 'bench', scrapeInterval: `${SCRAPE_S}s`, rps: 100 });
  const [env] = await Promise.all([devServerEnv(), stack.start()]);
  process.env.DEMO_ROUTER_URL = stack.routerUrl;
  const connection = await NativeConnection.connect({ address: env.address });
  const worker = await createReleaseWorker({ connection });
  const running = worker.run();
  const cliEnv = { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default' };
  const samples: number[] = [];
  try {
    for (let i = 1; i <= RUNS; i++) {
      const repo = makeRepo({ 'cart/totals.py': 'def total(items):\n    return sum(items)\n' }, [
        { subject: `fix(cart): round totals #${i}`, files: { 'cart/totals.py': `def total(items):\n    return round(sum(items), ${i})\n` } },
      ]);
      writeReports(join(repo, 'reports'));
      commitToBase(repo, { 'rollgate.yaml': config(stack.prometheus.url, `${stack.stable.url}/health`) });
      const args = ['--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml'), '--service', `bench-${i}-${Date.now()}`];
      const start = await rollgate(['start', ...args], cliEnv);
      const id = /release (release-[\w.-]+)/.exec(start.stdout)?.[1];
      if (!id) throw new Error(`start failed: ${start.stdout}${start.stderr}`);
      const handle = env.client.workflow.getHandle(id);
      while (!(await handle.query(statusQuery)).currentStep?.startsWith('production-canary-20: bake')) await sleep(100);
      // Past the initial delay, at a random point of the analysis interval.
      await sleep(4000 + Math.random() * INTERVAL_S * 1000);
      const faultOn = Date.now();
      await stack.canary.setFault({ errorRate: 0.5 });
      const done = await rollgate(['start', ...args, '--wait'], cliEnv);
      await stack.canary.setFault({});
      if (done.code !== 4) throw new Error(`run ${i}: expected a rollback, got exit ${done.code}: ${done.stdout}`);
      const rollbackLine = readdirSync(join(repo, 'out', 'logs'))
        .filter((f) => f.includes('rollback-production'))
        .map((f) => readFileSync(join(repo, 'out', 'logs', f), 'utf8').trim().split('\n')[0]!)[0];
      if (!rollbackLine) throw new Error(`run ${i}: no rollback command log`);
      const ms = Date.parse(rollbackLine.split(' ')[0]!) - faultOn;
      samples.push(ms);
      process.stderr.write(`run ${i}/${RUNS}: fault on → rollback command started in ${ms} ms\n`);
      await sleep(6000); // the canary's error window drains before the next run
    }
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
    await stack.stop();
    await env.teardown();
  }
  const median = Math.round(quantile(samples, 0.5));
  writeResult('rollback', {
    scrapeIntervalMs: SCRAPE_S * 1000,
    analysisIntervalMs: INTERVAL_S * 1000,
    runs: samples.length,
    samplesMs: samples,
    medianMs: median,
    p95Ms: Math.round(quantile(samples, 0.95)),
    targetMedianMs: TARGET_MS,
    meetsTarget: median <= TARGET_MS,
  });
}

main(run);
