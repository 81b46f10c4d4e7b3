import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { Prometheus } from '../../demo/stack';
import type { RollgateConfigInput } from '../../src/domain/config';
import type { ReleaseStatus } from '../../src/domain/release';
import { rollgate, startRelease, startWorker, stopProcess } from '../helpers/cli';
import { DevServer } from '../helpers/dev-server';
import { tempDir } from '../helpers/fixtures';
import { allText, readableHistory } from '../helpers/history';
import { readLedger } from '../helpers/ledger';
import { waitForStatus } from '../helpers/status';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { canaryRepo, PrometheusProxy, releaseOf, resultOf, running, Services, sleep, startFlags } from './harness';

const PROMETHEUS_TOKEN = 'prom-token-planted-7f3a9c';

// The tests run side by side: each release has a service, and a proxy in front of Prometheus, of its own.
describe('faults: a metric source that fails mid-phase, a deploy command that hangs (dev server, Prometheus, worker process)', { concurrency: true }, () => {
  const dir = tempDir('rollgate-faults-');
  const server = new DevServer(join(dir, 'temporal.db'));
  const services = new Services(join(dir, 'target'));
  let prometheus: Prometheus;
  const proxies: PrometheusProxy[] = [];
  let connection: Connection;
  let client: Client;
  let cliEnv: NodeJS.ProcessEnv;
  let worker: ChildProcess;
  let n = 0;
  let workerLog = '';

  before(async () => {
    await Promise.all([server.start(), services.start()]);
    prometheus = new Prometheus({ scrapeInterval: '1s', targets: [{ address: new URL(services.url).host, labels: {} }] });
    await prometheus.start();
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
    cliEnv = { TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: 'default' };
    worker = await startWorker({ ...cliEnv, FAULT_TARGET_DIR: services.targetDir, ROLLGATE_PROMETHEUS_TOKEN: PROMETHEUS_TOKEN });
    worker.stderr!.on('data', (d: Buffer) => (workerLog += d.toString()));
  });
  after(async () => {
    await stopProcess(worker);
    await connection?.close();
    for (const p of proxies) p.stop();
    await prometheus?.dispose();
    services.stop();
    await server.kill();
  });
  async function release(o: { prometheus?: string; extra?: Partial<RollgateConfigInput>; analysis?: object; command?: string[] } = {}) {
    const service = `metrics-${++n}`;
    const proxy = new PrometheusProxy(() => prometheus.url);
    proxies.push(proxy);
    await proxy.start();
    const analysis = {
      prometheus: { address: o.prometheus ?? proxy.url, timeout: '500ms' },
      interval: '1s',
      verifyWindow: '30s',
      metrics: [{ name: 'errors', query: `max(fault_errors{service="${service}"})`, failureCondition: 'result > 0', consecutiveErrorLimit: 2 }],
      ...o.analysis,
    };
    const repo = canaryRepo({ service, prometheus: prometheus.url, services, extra: { analysis, ...(o.command ? { deploy: { command: [process.execPath, ...o.command.map((a) => a.replace('{service}', service))], timeout: '2s' } } : {}), ...o.extra } });
    const { id } = await startRelease(startFlags(repo, service), cliEnv);
    return { id, repo, service, proxy };
  }

  const waitFor = (id: string, pred: (s: ReleaseStatus) => boolean) => waitForStatus(client.workflow.getHandle(id), pred, { timeoutMs: 60_000, intervalMs: 100 });

  /** The steps the target applied for a release, by step name. */
  const appliedSteps = (id: string) => services.applied().filter((a) => releaseOf(a.key) === id).map((a) => a.key.split('/').pop());
  const inCanary5 = (s: ReleaseStatus) => s.currentStep?.startsWith('production-canary-5: bake') === true;

  for (const [fault, mode, why] of [
    ['slow past the query timeout', 'slow', /no answer within 500 ms/],
    ['answering garbage', 'garbage', /prometheus answered 200 without JSON/],
  ] as const) {
    it(`rolls back, never promoting, when Prometheus goes ${fault} mid-phase and errors pass the limit`, async () => {
      const r = await release();
      await waitFor(r.id, inCanary5);
      r.proxy.mode = mode;
      const result = await resultOf(client, r.id, 120_000);
      assert.equal(result.outcome, 'rolled_back');
      assert.match(result.reason!, /analysis error: errors/);
      assert.deepEqual(appliedSteps(r.id), ['staging-deploy', 'production-canary-5', 'rollback-production', 'rollback-staging'], 'never past 5%');
      assert.equal(services.weight(r.service), 0);
      assert.equal(readLedger(r.repo).length, 1);
      const record = readFileSync(join(r.repo, readLedger(r.repo)[0]!.output!), 'utf8');
      assert.match(record, why);
    });
  }

  it('rolls back, never promoting, when Prometheus stops mid-phase', async () => {
    const own = new Prometheus({ scrapeInterval: '1s', targets: [{ address: new URL(services.url).host, labels: {} }] });
    await own.start();
    try {
      const r = await release({ prometheus: own.url });
      await waitFor(r.id, inCanary5);
      await own.stop();
      const result = await resultOf(client, r.id, 120_000);
      assert.equal(result.outcome, 'rolled_back');
      assert.match(result.reason!, /analysis error: errors/);
      assert.deepEqual(appliedSteps(r.id), ['staging-deploy', 'production-canary-5', 'rollback-production', 'rollback-staging']);
    } finally {
      await own.dispose();
    }
  });

  it('with onError: pause, waits for a human instead, and goes on once approved', async () => {
    const r = await release({ analysis: { onError: 'pause' } });
    await waitFor(r.id, inCanary5);
    r.proxy.mode = 'garbage';
    const waiting = await waitFor(r.id, (s) => s.pendingApproval !== undefined);
    assert.equal(waiting.pendingApproval!.kind, 'analysis');
    assert.match(waiting.pendingApproval!.reason, /analysis error: errors/);
    assert.deepEqual(appliedSteps(r.id), ['staging-deploy', 'production-canary-5'], 'nothing promoted while it waits');
    r.proxy.mode = 'pass';
    assert.equal((await rollgate(['approve', r.id, '--by', 'oncall', '--reason', 'Prometheus is back'], cliEnv)).code, 0);
    assert.equal((await resultOf(client, r.id, 120_000)).outcome, 'released');
    assert.equal(services.weight(r.service), 100);
  });

  it('checks every query with Prometheus before the first deploy: one it rejects ends the release, nothing deployed', async () => {
    const r = await release({ analysis: { metrics: [{ name: 'typo', query: 'sum(rate(fault_errors[1m])', failureCondition: 'result > 0' }] } });
    const result = await resultOf(client, r.id, 120_000);
    assert.equal(result.outcome, 'aborted');
    assert.match(result.reason!, /analysis\.metrics typo: Prometheus rejects its query \(canary\): prometheus bad_data/);
    assert.deepEqual(services.calls().filter((c) => releaseOf(c.key) === r.id), [], 'no deploy command ran');
    assert.equal(readLedger(r.repo)[0]!.outcome, 'aborted');
  });

  it('sends the Prometheus token to Prometheus only: never into workflow history, records, ledger, logs or CLI output', async () => {
    const r = await release();
    const res = await rollgate(['status', r.id], cliEnv);
    assert.equal((await resultOf(client, r.id, 120_000)).outcome, 'released');
    assert.ok(r.proxy.authorizations.has(`Bearer ${PROMETHEUS_TOKEN}`), 'the token reached Prometheus');
    const history = readableHistory(historyToJSON(await client.workflow.getHandle(r.id).fetchHistory()));
    assert.ok(history.includes('ROLLGATE_PROMETHEUS_TOKEN') && history.includes('fault_errors'), 'payloads are decoded: the search below means something');
    for (const [where, text] of [['history', history], ['out/', allText(join(r.repo, 'out'))], ['worker log', workerLog], ['CLI output', res.stdout + res.stderr]] as const)
      assert.ok(!text.includes(PROMETHEUS_TOKEN), `the token is in the ${where}`);
  });

  it('times a hanging deploy command out, retries it a bounded number of times, rolls back, and leaves no process behind', async () => {
    const r = await release({ command: [join(__dirname, 'target.mjs'), '{service}', '--hang', 'set-weight'] });
    const result = await resultOf(client, r.id, 180_000);
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason!, /step failed: .*set-weight production timed out after 2000 ms/);
    const hung = services.calls().filter((c) => releaseOf(c.key) === r.id && c.action === 'set-weight');
    assert.equal(hung.length, 3, 'three attempts, then the rollback');
    assert.equal(new Set(hung.map((c) => c.key)).size, 1, 'every attempt with the same key');
    await sleep(200);
    assert.deepEqual(hung.flatMap((c) => [c.pid, c.grandchild!]).filter(running), [], 'no command or grandchild is left running');
    assert.deepEqual(appliedSteps(r.id), ['staging-deploy', 'production-canary-5', 'rollback-production', 'rollback-staging']);
  });
});
