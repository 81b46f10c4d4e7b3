import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { DEPLOY_SCRIPT, DemoStack, demoMetrics, demoReleaseConfig, errorRateQuery } from '../../demo/stack';
import { parseConfig, type RollgateConfig } from '../../src/domain/config';
import { renderQuery } from '../../src/domain/promql';

/**
 * The demo stack as a fleet: one stable and one canary instance serve six services (five declared,
 * one added by the deploy script), each with its own weight and fault, scraped by a real
 * Prometheus. Releases of a fleet service see only their own service's series.
 */

const FLEET = ['fleet-a', 'fleet-b', 'fleet-c', 'fleet-d', 'fleet-e'];
const WINDOW = '8s';

/** Runs the demo deploy script as rollgate would for a production weight change. */
function deploy(router: string, weight: number, argv: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string }> {
  const vars = { ROLLGATE_STAGE: 'production', ROLLGATE_ACTION: 'set-weight', ROLLGATE_WEIGHT: String(weight), ROLLGATE_VERSION: 'v2', ROLLGATE_IDEMPOTENCY_KEY: 'k', DEMO_ROUTER_URL: router };
  return new Promise((res) => {
    const { DEMO_SERVICE: _, ...inherited } = process.env;
    execFile(process.execPath, [DEPLOY_SCRIPT, ...argv], { env: { ...inherited, ...vars, ...env } }, (err, stdout) => res({ code: err ? Number(err.code) : 0, stdout }));
  });
}

describe('the demo stack as a fleet, scraped by a real Prometheus', () => {
  const stack = new DemoStack({ service: 'demo', services: FLEET, rpsPerService: 40, rps: 10, scrapeInterval: '1s' });
  const weights: Record<string, number> = { 'fleet-a': 0, 'fleet-b': 20, 'fleet-c': 50, 'fleet-d': 100, 'fleet-e': 50, 'fleet-f': 30 };
  let sentBefore: ReturnType<DemoStack['traffic']['stats']>;

  /** The selectors a release of that fleet service analyses with, from its generated config. */
  function selectorsOf(service: string): RollgateConfig['analysis']['selectors'] {
    const parsed = parseConfig(parse(demoReleaseConfig({ service, prometheus: stack.prometheus.url, smokeUrl: `${stack.stable.url}/health`, metrics: [demoMetrics.errorRate()], fleetService: service })));
    assert.ok(parsed.ok, JSON.stringify(parsed));
    return parsed.config.analysis.selectors;
  }

  /** One instant query's values; an empty vector is an empty list. */
  async function query(q: string): Promise<number[]> {
    const body = (await fetch(`${stack.prometheus.url}/api/v1/query?query=${encodeURIComponent(q)}`).then((r) => r.json())) as { status: string; data: { result: { value: [number, string] }[] } };
    assert.equal(body.status, 'success', q);
    return body.data.result.map((r) => Number(r.value[1]));
  }
  /** A release's error-rate check for one track of one fleet service: absent, NaN (no requests) or a share. */
  const errorRate = async (service: string, track: 'canary' | 'stable') => (await query(renderQuery(errorRateQuery(WINDOW), { service, version: 'v2', previousVersion: 'v1', phase: 'p', stage: 'production' }, selectorsOf(service), track)))[0];

  before(async () => {
    await stack.start();
    // Moved every way a release or a test moves them: the deploy script by argv and by env, the router's HTTP admin, in process.
    const results = await Promise.all([
      deploy(stack.routerUrl, weights['fleet-b']!, ['--service', 'fleet-b']),
      deploy(stack.routerUrl, weights['fleet-c']!, [], { DEMO_SERVICE: 'fleet-c' }),
      deploy(stack.routerUrl, weights['fleet-f']!, ['--service', 'fleet-f']),
      deploy(stack.routerUrl, 30),
      fetch(`${stack.routerUrl}/weight`, { method: 'POST', body: JSON.stringify({ weight: weights['fleet-d'], service: 'fleet-d' }) }).then((r) => ({ code: r.ok ? 0 : r.status, stdout: '' })),
    ]);
    stack.traffic.setWeight(weights['fleet-e']!, 'fleet-e');
    for (const r of results) assert.equal(r.code, 0, r.stdout);
    await stack.setFault('fleet-c', { errorRate: 0.4 });
    sentBefore = stack.traffic.stats();
  });
  after(() => stack.stop());

  it('holds a weight per service, moved by the deploy script, the admin endpoint or in process', async () => {
    for (const [service, w] of Object.entries(weights)) {
      assert.equal(stack.weight(service), w, service);
      assert.equal(await fetch(`${stack.routerUrl}/weight?service=${service}`).then((r) => r.text()), String(w));
    }
    // No service: the stack's own service, as before fleets.
    assert.equal(stack.traffic.weight, 30);
    assert.equal(await fetch(`${stack.routerUrl}/weight`).then((r) => r.text()), '30');
    assert.equal((await fetch(`${stack.routerUrl}/weight?service=nobody`)).status, 404);
    const bad = await deploy(stack.routerUrl, 10, ['--service', 'no/such']);
    assert.equal(bad.code, 1, 'a refused service name is not retried');
    assert.match(bad.stdout, /router answered 400/);
  });

  it("shows only the faulty service's canary failing, with each service's split as weighted", async () => {
    await new Promise((r) => setTimeout(r, 9000)); // a full window of traffic after the moves
    const share = await errorRate('fleet-c', 'canary');
    assert.ok(share !== undefined && share > 0.2 && share < 0.6, `fleet-c canary error rate ${share}`);
    assert.equal(await errorRate('fleet-c', 'stable'), 0);
    for (const service of [...FLEET, 'fleet-f'].filter((s) => s !== 'fleet-c')) {
      for (const track of ['canary', 'stable'] as const) {
        const rate = await errorRate(service, track);
        // No requests at all (fleet-a's canary, fleet-d's stable) is no error either.
        assert.ok(rate === undefined || Number.isNaN(rate) || rate === 0, `${service} ${track}: ${rate}`);
      }
    }
    // The own service, on plain /serve, counts apart from the fleet.
    assert.deepEqual(await query(`sum(rate(http_requests_total{service="demo",code="500"}[${WINDOW}]))`), [0]);

    for (const [service, w] of Object.entries(weights)) {
      const [canary = 0] = await query(`sum(rate(http_requests_total{service="${service}",track="canary"}[${WINDOW}])) / sum(rate(http_requests_total{service="${service}"}[${WINDOW}]))`);
      assert.ok(Math.abs(canary - w / 100) <= 0.08, `${service}: canary share ${canary}, weight ${w}`);
      const [rps = 0] = await query(`sum(rate(http_requests_total{service="${service}"}[${WINDOW}]))`);
      assert.ok(rps > 30 && rps < 50, `${service}: ${rps} requests/s`);
      // The router's own counts since the moves: the split is exact, to a request.
      const now = stack.traffic.stats()[service]!.sent;
      const was = sentBefore[service]?.sent ?? { stable: 0, canary: 0 };
      const [canarySent, allSent] = [now.canary - was.canary, now.canary + now.stable - was.canary - was.stable];
      assert.ok(Math.abs(canarySent - (allSent * w) / 100) <= 1, `${service}: ${canarySent} of ${allSent} sent to the canary`);
    }
  });
});
