import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DemoStack, demoMetrics, demoReleaseConfig, regionRoute } from '../../demo/stack';
import { devServerEnv } from '../helpers/servers';
import { commitToBase, makeRepo, writeReports } from '../helpers/fixtures';
import { rollgate, startWorker, stopProcess } from '../helpers/cli';
import { readLedger } from '../helpers/ledger';

/**
 * Waves end to end: the dev server, a `rollgate worker` child, Prometheus scraping the demo service,
 * whose regions are services of the stack's fleet (their own weights on the router, their own
 * series), and the CLI as CI calls it. Two releases run side by side, one per service.
 */
describe('waves across regions end to end: dev server, worker, Prometheus, demo service', () => {
  const REGIONS = ['eu', 'us'];
  const SERVICES = ['shop', 'cart'];
  let env: TestWorkflowEnvironment;
  let worker: ChildProcess;
  let stack: DemoStack;
  let cliEnv: NodeJS.ProcessEnv;

  before(async () => {
    const routes = SERVICES.flatMap((s) => REGIONS.map((r) => regionRoute(s, r)));
    stack = new DemoStack({ service: 'demo', scrapeInterval: '1s', services: routes, rpsPerService: 100 });
    [env] = await Promise.all([devServerEnv(), stack.start()]);
    cliEnv = { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default' };
    worker = await startWorker({ ...cliEnv, DEMO_ROUTER_URL: stack.routerUrl });
  });
  after(async () => {
    await stopProcess(worker);
    await stack?.stop();
    await env?.teardown();
  });

  /** A canary release of `service` to eu, then us; both canaries healthy unless a test breaks one. */
  function release(service: string) {
    const repo = makeRepo({ 'cart/totals.py': 'def total(items):\n    return sum(items)\n' }, [{ subject: 'fix(cart): round totals', files: { 'cart/totals.py': 'def total(items):\n    return round(sum(items), 2)\n' } }]);
    writeReports(join(repo, 'reports'));
    const config = demoReleaseConfig({
      service,
      prometheus: stack.prometheus.url,
      smokeUrl: `${stack.stable.url}/health`,
      metrics: [demoMetrics.errorRate()],
      regions: { names: REGIONS, bake: '3s' },
      extra: { bake: { staging: '0s', production: '4s' }, canary: { steps: [{ weight: 50, bake: '8s' }, { weight: 100, bake: '4s' }] } },
    });
    commitToBase(repo, { 'rollgate.yaml': config });
    return { repo, run: () => rollgate(['start', '--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml'), '--service', service, '--version', 'v2', '--previous-version', 'v1', '--wait'], cliEnv, 240_000) };
  }

  it('a healthy release goes to eu then us; one whose us canary breaks rolls us back at once and eu after it', async () => {
    // shop's us canary fails half its requests; cart is healthy everywhere.
    await stack.setFault(regionRoute('shop', 'us'), { errorRate: 0.5 });
    const shop = release('shop');
    const cart = release('cart');
    const [broken, healthy] = await Promise.all([shop.run(), cart.run()]);

    assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
    const released = readLedger(cart.repo)[0]!;
    assert.equal(released.outcome, 'released');
    assert.deepEqual(released.targets, { eu: 'released', us: 'released' });
    for (const r of REGIONS) assert.equal(stack.weight(regionRoute('cart', r)), 100, `cart's ${r} canary took all traffic`);

    assert.equal(broken.code, 4, broken.stdout + broken.stderr);
    const rolledBack = readLedger(shop.repo)[0]!;
    assert.equal(rolledBack.outcome, 'rolled_back');
    assert.equal(rolledBack.reason_kind, 'wave-failed');
    assert.deepEqual(rolledBack.targets, { eu: 'rolled_back', us: 'rolled_back' });
    for (const r of REGIONS) assert.equal(stack.weight(regionRoute('shop', r)), 0, `shop's ${r} canary took no traffic after the rollback`);
    // us broke on its own series: eu's measurements all passed.
    const measured = readdirSync(join(shop.repo, 'out', 'analysis')).flatMap((f) => readFileSync(join(shop.repo, 'out', 'analysis', f), 'utf8').trim().split('\n').map((l) => ({ file: f, ...(JSON.parse(l) as { verdict: string }) })));
    assert.ok(measured.some((m) => m.file.includes('_us@') && m.verdict === 'failed'), 'us failed on its own readings');
    assert.ok(!measured.some((m) => m.file.includes('_eu@') && m.verdict === 'failed'), 'eu never failed');
    const record = readFileSync(join(shop.repo, rolledBack.output!), 'utf8');
    assert.match(record, /\| us \| 2 \| ✗ \| · \| rolled back: .*error-rate/);
    assert.match(record, /\| eu \| 1 \| ✓ \| ✓ \| rolled back/);
  });
});
