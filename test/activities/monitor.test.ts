import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { DemoService, freePort, Prometheus } from '../../demo/stack';
import { Traffic } from '../../demo/traffic';
import { measurementsFile, monitor, type MonitorInput } from '../../src/activities/analysis';
import { PrometheusProvider } from '../../src/activities/prometheus';
import { AnalysisConfigSchema } from '../../src/domain/analysis';
import { tempDir } from '../helpers/fixtures';

describe('the monitor activity against a real Prometheus and the demo service', () => {
  let service: DemoService;
  let prom: Prometheus;
  let traffic: Traffic;
  let provider: PrometheusProvider;
  const outDir = tempDir();

  before(async () => {
    service = new DemoService({ service: 'demo', track: 'canary', version: 'v2' });
    await service.start();
    traffic = new Traffic({ stable: `${service.url}/serve`, canary: `${service.url}/serve` }, 50);
    await traffic.start();
    prom = new Prometheus({ scrapeInterval: '1s', targets: [{ address: new URL(service.url).host, labels: {} }] });
    provider = new PrometheusProvider({ address: await prom.start(), timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 3000)); // two scrapes with traffic: rates exist
  });
  after(async () => {
    await traffic?.stop();
    await prom?.dispose();
    await service?.stop();
  });

  const input = (over: Partial<MonitorInput> = {}): MonitorInput => ({
    runKey: 'release-demo-1@abcd1234',
    outDir,
    phase: 'production-canary-5',
    vars: { service: 'demo', version: 'v2', previousVersion: 'v1', phase: 'production-canary-5', stage: 'production' },
    analysis: AnalysisConfigSchema.parse({
      interval: '1s',
      selectors: { canary: { track: 'canary' } },
      metrics: [
        {
          name: 'error-rate',
          query: 'sum(rate(http_requests_total{code=~"5..",{{selector}}}[3s])) / sum(rate(http_requests_total{{{selector}}}[3s]))',
          successCondition: 'result <= 0.05',
          failureCondition: 'result > 0.05',
        },
      ],
    }),
    subject: 'canary',
    baseline: {},
    runForMs: 20_000,
    ...over,
  });
  const hooks = { sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) };

  it('returns as soon as a healthy service is stable, and keeps every measurement', async () => {
    const started = Date.now();
    const r = await monitor(provider, input({ untilStable: true }), hooks);
    assert.equal(r.stable, true);
    assert.equal(r.verdict.verdict, 'running');
    assert.ok(Date.now() - started < 20_000, 'before its time was up');
    const lines = readFileSync(measurementsFile(outDir, 'release-demo-1@abcd1234'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { verdict: string; value: number });
    assert.ok(lines.length >= 1);
    assert.equal(lines.at(-1)!.verdict, 'successful');
    assert.equal(lines.at(-1)!.value, 0);
  });

  it('returns early with a failed verdict once the service breaks, and resumes from given states', async () => {
    const first = await monitor(provider, input({ runForMs: 1500 }), hooks);
    await service.setFault({ errorRate: 0.6 });
    try {
      const started = Date.now();
      const r = await monitor(provider, input({ states: first.states }), hooks);
      assert.equal(r.verdict.verdict, 'failed');
      assert.deepEqual(r.verdict.metrics, ['error-rate']);
      assert.ok(Date.now() - started < 10_000, `failed after ${Date.now() - started} ms`);
      const s = r.states[0]!;
      assert.equal(s.measured, first.states[0]!.measured + r.measured, 'counts carried over');
      assert.equal(s.last!.seq, s.measured);
      assert.match(s.last!.message!, /^result > 0\.05 \(result 0\.\d+\)$/);
    } finally {
      await service.setFault({});
    }
  });

  it('warms up a track that has no series yet, with a grace sized from the scrape interval Prometheus reports, then counts no data', async () => {
    const unseen = input({ analysis: { ...input().analysis, interval: 500, selectors: { stable: {}, canary: { track: 'not-deployed-yet' } } }, runForMs: 10_000 });
    const started = Date.now();
    const r = await monitor(provider, unseen, hooks);
    const s = r.states[0]!;
    // Two intervals (1 s), the query's range (3 s), three scrapes (3 s): 3 s.
    assert.ok(Math.abs(s.warmUpUntil - started - 3000) < 200, `warm-up ends ${s.warmUpUntil - started} ms after the start`);
    assert.ok(s.warmingUp >= 5, `${s.warmingUp} readings warming up`);
    assert.equal(s.noData, 1, 'one no-data reading after the warm-up, and the limit (0) is broken');
    assert.equal(r.verdict.verdict, 'inconclusive');
    assert.ok(Date.now() - started >= 3000);
  });

  it('while watching, keeps measuring an inconclusive metric and returns early only when it fails', async () => {
    const undecided = { ...input().analysis.metrics[0]!, successCondition: 'result < 0', failureCondition: 'result > 0.05' };
    const analysis = { ...input().analysis, metrics: [undecided] };
    const first = await monitor(provider, input({ analysis, runForMs: 5000 }), hooks);
    assert.equal(first.verdict.verdict, 'inconclusive');
    assert.equal(first.measured, 1, 'a bake returns at the first inconclusive reading');
    const watched = await monitor(provider, input({ analysis, states: first.states, runForMs: 2500, watch: true }), hooks);
    assert.equal(watched.verdict.verdict, 'inconclusive');
    assert.ok(watched.measured >= 2, `${watched.measured} readings while watching`);
    await service.setFault({ errorRate: 0.6 });
    try {
      const started = Date.now();
      const broke = await monitor(provider, input({ analysis, states: watched.states, runForMs: 20_000, watch: true }), hooks);
      assert.equal(broke.verdict.verdict, 'failed');
      assert.ok(Date.now() - started < 10_000, `failed after ${Date.now() - started} ms`);
    } finally {
      await service.setFault({});
    }
  });

  it('measures provider errors as errors when Prometheus is gone', async () => {
    const gone = new PrometheusProvider({ address: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500 });
    const r = await monitor(gone, input({ runForMs: 8000, analysis: { ...input().analysis, metrics: input().analysis.metrics.map((m) => ({ ...m, consecutiveErrorLimit: 2 })) } }), hooks);
    assert.equal(r.verdict.verdict, 'error');
    assert.equal(r.states[0]!.errors, 3);
    assert.equal(r.states[0]!.failed, 0, 'an error is not a failure');
  });
});
