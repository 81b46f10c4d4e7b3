import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DemoService, Prometheus } from '../../demo/stack';
import { Traffic } from '../../demo/traffic';
import { monitor, type MonitorInput } from '../../src/activities/analysis';
import { PrometheusProvider } from '../../src/activities/prometheus';
import { AnalysisConfigSchema } from '../../src/domain/analysis';
import { tempDir } from '../helpers/fixtures';

/**
 * The sequential judge through the monitor activity: counts since the phase started, read from a
 * real Prometheus scraping a stable and a canary demo instance, canary against stable.
 */
describe('the judge in the monitor, against a real Prometheus and two demo instances', () => {
  let stable: DemoService;
  let canary: DemoService;
  let prom: Prometheus;
  let traffic: Traffic;
  let provider: PrometheusProvider;
  const outDir = tempDir();

  before(async () => {
    stable = new DemoService({ service: 'demo', track: 'stable', version: 'v1' });
    canary = new DemoService({ service: 'demo', track: 'canary', version: 'v2' });
    await Promise.all([stable.start(), canary.start()]);
    traffic = new Traffic({ stable: `${stable.url}/serve`, canary: `${canary.url}/serve` }, 100);
    traffic.weight = 30;
    await traffic.start();
    prom = new Prometheus({ scrapeInterval: '1s', targets: [stable, canary].map((s) => ({ address: new URL(s.url).host, labels: {} })) });
    provider = new PrometheusProvider({ address: await prom.start(), timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 3000)); // series for both tracks
  });
  after(async () => {
    await traffic?.stop();
    await prom?.dispose();
    await Promise.all([stable?.stop(), canary?.stop()]);
  });

  const input = (over: Partial<MonitorInput> = {}): MonitorInput => ({
    runKey: `release-demo-judge@${Math.random().toString(16).slice(2, 10)}`,
    outDir,
    phase: 'production-canary-30',
    vars: { service: 'demo', version: 'v2', previousVersion: 'v1', phase: 'production-canary-30', stage: 'production' },
    analysis: AnalysisConfigSchema.parse({
      interval: '1s',
      selectors: { stable: { track: 'stable' }, canary: { track: 'canary' } },
      metrics: [
        {
          name: 'errors-judge',
          query: 'sum(increase(http_requests_total{code=~"5..",{{selector}}}[{{sincePhase}}]))',
          judge: { trials: 'sum(increase(http_requests_total{{{selector}}}[{{sincePhase}}]))', minEvents: 0, minTrials: 50 },
        },
      ],
    }),
    subject: 'canary',
    baseline: {},
    runForMs: 12_000,
    ...over,
  });
  const hooks = { sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) };

  it('passes a canary as healthy as stable: not flagged, with its counts in the measurement', async () => {
    const r = await monitor(provider, input(), hooks);
    assert.equal(r.verdict.verdict, 'running', r.states[0]!.last?.message);
    const last = r.states[0]!.last!;
    assert.equal(last.verdict, 'successful', last.message);
    assert.ok(last.judge && last.judge.canary.trials >= 50 && last.judge.stable.trials > last.judge.canary.trials, JSON.stringify(last.judge));
    assert.match(last.message ?? '', /^not flagged: /);
  });

  it('fails a canary that fails more often than stable, naming the effect and the evidence', async () => {
    await canary.setFault({ errorRate: 0.3 });
    try {
      const started = Date.now();
      const r = await monitor(provider, input({ runForMs: 30_000 }), hooks);
      assert.equal(r.verdict.verdict, 'failed', r.states[0]!.last?.message);
      assert.ok(Date.now() - started < 30_000);
      const last = r.states[0]!.last!;
      assert.match(last.message ?? '', /^regression: effect \+\d/);
      assert.ok(last.judge?.crossedAt, 'when it crossed');
      assert.ok(last.judge!.effectLower > 0, `the interval's lower end ${last.judge!.effectLower} shows the canary worse`);
    } finally {
      await canary.setFault({ errorRate: 0 });
    }
  });
});
