import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DemoService, freePort, Prometheus } from '../../demo/stack';
import { checkQueries } from '../../src/activities/analysis';
import { prometheusFromEnv, PrometheusProvider, ProviderError, QueryRejected } from '../../src/activities/prometheus';
import { AnalysisConfigSchema } from '../../src/domain/analysis';

describe('Prometheus provider against a real Prometheus', () => {
  let prom: Prometheus;
  let service: DemoService;
  let provider: PrometheusProvider;

  before(async () => {
    service = new DemoService({ service: 'demo', track: 'stable', version: 'v1' });
    await service.start();
    prom = new Prometheus({ scrapeInterval: '1s', targets: [{ address: new URL(service.url).host, labels: {} }] });
    provider = new PrometheusProvider({ address: await prom.start(), timeoutMs: 5000 });
  });
  after(async () => {
    await prom?.dispose();
    await service?.stop();
  });

  it('reads one series as a number', async () => assert.deepEqual(await provider.query('sum(up{job="demo"})'), { kind: 'value', value: 1 }));
  it('reads a scalar', async () => assert.deepEqual(await provider.query('scalar(vector(0.25))'), { kind: 'value', value: 0.25 }));
  it('reports an empty result as no data', async () => assert.equal((await provider.query('up{job="absent"}')).kind, 'no-data'));
  it('reports NaN (a rate with no traffic) as no data', async () => {
    const r = await provider.query('sum(vector(0)) / 0');
    assert.deepEqual(r, { kind: 'no-data', message: 'the query returned NaN (no traffic?)' });
  });
  it('refuses several series: the query must aggregate', async () =>
    assert.rejects(provider.query('http_requests_total'), (e: Error) => e instanceof ProviderError && /returned 2 series; aggregate it/.test(e.message)));
  it('passes PromQL errors on as a rejected query', async () =>
    assert.rejects(provider.query('sum(rate(up[5s])'), (e: Error) => e instanceof QueryRejected && /prometheus bad_data/.test(e.message)));
  it('checks every metric query before a release deploys: the ones Prometheus rejects, named; no data is fine', async () => {
    const analysis = AnalysisConfigSchema.parse({
      metrics: [
        { name: 'ok', query: 'sum(up{job="demo"})', failureCondition: 'result < 1' },
        { name: 'quiet', query: 'sum(up{job="absent"})', failureCondition: 'result < 1' },
        { name: 'typo', query: 'sum(rate(http_requests_total{ {{selector}} }[1m])', failureCondition: 'result > 1' },
        { name: 'wrong-type', query: 'rate(sum(up))', failureCondition: 'result > stable' },
      ],
    });
    const rejected = await checkQueries(provider, { vars: { service: 'demo', version: 'v2', previousVersion: 'v1', phase: 'canary', stage: 'production' }, analysis });
    assert.equal(rejected.length, 2, rejected.join('\n'));
    assert.match(rejected[0]!, /^analysis\.metrics typo: Prometheus rejects its query \(canary\): prometheus bad_data: .*parse error/);
    assert.match(rejected[1]!, /^analysis\.metrics wrong-type: Prometheus rejects its query \(canary\): prometheus bad_data: .*expected type range vector/);
  });
  it('is reachable, and an unreachable server is a provider error, not a value', async () => {
    assert.equal(await provider.reachable(), true);
    const gone = new PrometheusProvider({ address: `http://127.0.0.1:${await freePort()}`, timeoutMs: 1000 });
    assert.equal(await gone.reachable(), false);
    await assert.rejects(gone.query('up'), (e: Error) => e instanceof ProviderError && /prometheus unreachable: ECONNREFUSED/.test(e.message));
  });
});

describe('Prometheus credentials from the worker environment', () => {
  let server: Server;
  let seen: IncomingHttpHeaders[] = [];
  let address = '';
  before(async () => {
    // Answers in the Prometheus HTTP API's format; records the headers.
    server = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [0, '1'] } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  const prometheus = (over: object = {}) => AnalysisConfigSchema.parse({ prometheus: { address, ...over } }).prometheus;

  it('sends a bearer token from the named variable', async () => {
    seen = [];
    await prometheusFromEnv(prometheus({ bearerTokenEnv: 'ROLLGATE_PROMETHEUS_TEAM_TOKEN' }), { ROLLGATE_PROMETHEUS_TEAM_TOKEN: 's3cret' }).query('up');
    assert.equal(seen[0]!.authorization, 'Bearer s3cret');
  });
  it('sends basic auth from the default variables', async () => {
    seen = [];
    await prometheusFromEnv(prometheus(), { ROLLGATE_PROMETHEUS_USERNAME: 'ro', ROLLGATE_PROMETHEUS_PASSWORD: 'pw' }).query('up');
    assert.equal(seen[0]!.authorization, `Basic ${Buffer.from('ro:pw').toString('base64')}`);
  });
  it('sends nothing without credentials, and needs an address', () => {
    assert.throws(() => prometheusFromEnv(AnalysisConfigSchema.parse({}).prometheus, {}), /set analysis.prometheus.address or the worker's ROLLGATE_PROMETHEUS_URL/);
  });
});
