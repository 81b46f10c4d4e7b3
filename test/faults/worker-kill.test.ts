import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { Prometheus } from '../../demo/stack';
import { buildWorkflowBundle } from '../../scripts/bundle-workflows';
import { startRelease, startWorker, stopProcess } from '../helpers/cli';
import { DevServer } from '../helpers/dev-server';
import { tempDir } from '../helpers/fixtures';
import { readLedger } from '../helpers/ledger';
import { waitForStatus } from '../helpers/status';
import { canaryRepo, KILL_POINTS, releaseOf, resultOf, running, Services, sigkill, sleep, startFlags, statusOf, TARGET, WorkerKiller } from './harness';

// Releases; at least KILLED_AT_LEAST of them must meet a kill (a release can end before one comes).
const TRIALS = 24;
const KILLED_AT_LEAST = 20;
/** What a target saw for a release: "action stage weight" per applied step, in order. */
const steps = (calls: { key: string; action: string; stage: string; weight: string }[], id: string) => calls.filter((c) => releaseOf(c.key) === id).map((c) => `${c.key.split('/').pop()}: ${c.action} ${c.stage} ${c.weight}`);

interface Trial {
  id: string;
  repo: string;
  faulty: boolean;
}

describe('faults: workers killed, a second worker, the server restarted (dev server with a database file, Prometheus, worker processes)', () => {
  const dir = tempDir('rollgate-faults-');
  const server = new DevServer(join(dir, 'temporal.db'));
  const services = new Services(join(dir, 'target'));
  let prometheus: Prometheus;
  let connection: Connection;
  let client: Client;
  let workerEnv: NodeJS.ProcessEnv;
  let cliEnv: NodeJS.ProcessEnv;
  const workers: ChildProcess[] = [];

  before(async () => {
    await Promise.all([server.start(), services.start()]);
    prometheus = new Prometheus({ scrapeInterval: '1s', targets: [{ address: new URL(services.url).host, labels: {} }] });
    const [bundle] = await Promise.all([buildWorkflowBundle(join(dir, 'workflow-bundle.js')), prometheus.start()]);
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
    cliEnv = { TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: 'default' };
    workerEnv = { ...cliEnv, ROLLGATE_WORKFLOW_BUNDLE: bundle, FAULT_TARGET_DIR: services.targetDir };
    // The controls' worker starts first and is never killed: the freeze registry, which the first
    // worker to start runs on its queue, stays up while the tests kill the others.
    await worker({ ROLLGATE_TASK_QUEUE: 'control' });
  });
  after(async () => {
    await Promise.all(workers.map((w) => stopProcess(w)));
    await connection?.close();
    await prometheus?.dispose();
    services.stop();
    await server.kill();
  });

  const worker = async (extra: NodeJS.ProcessEnv = {}) => {
    const w = await startWorker({ ...workerEnv, ...extra });
    workers.push(w);
    return w;
  };
  async function start(service: string, faulty: boolean, env: NodeJS.ProcessEnv = cliEnv): Promise<Trial> {
    const repo = canaryRepo({ service, prometheus: prometheus.url, services });
    if (faulty) services.faulty.add(service);
    const { id } = await startRelease(startFlags(repo, service), env);
    return { id, repo, faulty };
  }
  /** Until the release is at its first production step (5% of traffic). */
  const inCanary5 = (r: Trial) => waitForStatus(client.workflow.getHandle(r.id), (s) => s.currentStep?.startsWith('production-canary-5') === true, { timeoutMs: 120_000, intervalMs: 100 });

  // The kills and the second worker run side by side, each on task queues and workers of its own; the server restart runs alone after them.
  describe('workers killed', { concurrency: true }, () => {
    it(`ends ${TRIALS} canaries (at least ${KILLED_AT_LEAST} of them killed) as they would have ended when their worker is SIGKILLed at deploy commands, bakes, analyses and rollbacks; nothing applied twice, one ledger line each`, async () => {
      // Controls: one healthy and one faulty canary on a worker of their own that is never killed.
      const controlEnv = { ...cliEnv, ROLLGATE_TASK_QUEUE: 'control' };
      const controls = [await start('control-ok', false, controlEnv), await start('control-bad', true, controlEnv)];

      // Trials, half of them faulty, start every 1.5 s so that each is somewhere else when a kill
      // comes; meanwhile the killer SIGKILLs their worker at deploy commands, bakes, analyses and rollbacks.
      const first = await worker();
      const trials: Trial[] = [];
      let starting = true;
      const starter = (async () => {
        for (let i = 0; i < TRIALS; i++) {
          trials.push(await start(`trial-${i}`, i % 2 === 1));
          await sleep(1500);
        }
        starting = false;
      })();
      const killer = new WorkerKiller({ client, services, startWorker: () => worker() });
      await killer.run(first, () => trials.map((t) => t.id), () => starting);
      await starter;

      // Each trial must end as the control of its kind did: same outcome, the same steps each applied once, one ledger line.
      const expected = new Map<boolean, { outcome: string; steps: string[] }>();
      for (const c of controls) {
        const r = await resultOf(client, c.id, 120_000);
        expected.set(c.faulty, { outcome: r.outcome, steps: steps(services.applied(), c.id) });
      }
      assert.equal(expected.get(false)!.outcome, 'released');
      assert.equal(expected.get(true)!.outcome, 'rolled_back');

      // Only this test's releases: the tests beside it run theirs on the same target.
      const ours = new Set([...trials, ...controls].map((r) => r.id));
      const applied = services.applied().filter((a) => ours.has(releaseOf(a.key)));
      const calls = services.calls().filter((c) => ours.has(releaseOf(c.key)));
      let survived = 0;
      const problems: string[] = [];
      for (const t of trials) {
        const r = await resultOf(client, t.id, 180_000);
        const want = expected.get(t.faulty)!;
        const ledger = readLedger(t.repo);
        const mine = applied.filter((a) => releaseOf(a.key) === t.id).map((a) => a.key);
        const twice = mine.filter((k, i) => mine.indexOf(k) !== i);
        const ok = r.outcome === want.outcome && ledger.length === 1 && twice.length === 0 && JSON.stringify(steps(applied, t.id)) === JSON.stringify(want.steps);
        if (ok) survived++;
        else problems.push(`${t.id}: ${r.outcome} (want ${want.outcome}), ${ledger.length} ledger lines, applied twice: ${twice.join(', ') || 'none'}, steps ${JSON.stringify(steps(applied, t.id))}`);
        assert.equal(services.weight(t.id.replace(/^release-(.*)-[0-9a-f]{12}$/, '$1')), t.faulty ? 0 : 100, `${t.id}: the target ends where the control's does`);
      }
      const retried = calls.length - applied.length;
      console.log(
        `# ${survived}/${TRIALS} releases (${trials.filter((t) => killer.killedAt.has(t.id)).length} of them killed at least once) survived ${killer.count} SIGKILLs of their worker (releases caught at ${KILL_POINTS.map((p) => `${p}: ${killer.caughtAt(p)}`).join(', ')}); ` +
          `${calls.length} command runs, ${applied.length} applied, ${retried} skipped as already applied or killed mid-run`,
      );
      for (const t of trials) console.log(`#   ${t.id} (${t.faulty ? 'faulty' : 'healthy'}) killed at: ${(killer.killedAt.get(t.id) ?? []).join(', ') || 'never'}`);
      assert.deepEqual(problems, []);
      assert.ok(calls.every((c) => /^release-[\w.-]+@[0-9a-f-]{8}\/[\w.-]+$/.test(c.key)), 'every command run carries an idempotency key');
      for (const p of KILL_POINTS) assert.ok(killer.caughtAt(p) > 0, `a kill during ${p}`);
      const killed = trials.filter((t) => killer.killedAt.has(t.id)).length;
      assert.ok(killed >= KILLED_AT_LEAST, `only ${killed} releases met a kill`);
      assert.equal(calls.filter((c) => running(c.pid)).length, 0, 'no deploy command is left running');
    });

    it('carries releases on with the second of two workers on one task queue when the first is killed mid-phase', async () => {
      const queue = { ROLLGATE_TASK_QUEUE: 'pair' };
      const [first] = [await worker(queue), await worker(queue)];
      const releases = [await start('pair-0', false, { ...cliEnv, ...queue }), await start('pair-1', false, { ...cliEnv, ...queue }), await start('pair-2', true, { ...cliEnv, ...queue })];
      for (const r of releases) await inCanary5(r);
      await sigkill(first!);
      for (const r of releases) {
        assert.equal((await resultOf(client, r.id, 120_000)).outcome, r.faulty ? 'rolled_back' : 'released', r.id);
        assert.equal(readLedger(r.repo).length, 1);
      }
      const keys = services.applied().filter((a) => releases.some((r) => releaseOf(a.key) === r.id)).map((a) => a.key);
      assert.deepEqual(keys.filter((k, i) => keys.indexOf(k) !== i), [], 'no step applied twice');
    });

    it('carries fleet releases on when their worker is SIGKILLed while a second wave\'s deploy commands run and a passed target is watched: each target as it would have ended, nothing applied twice, one ledger line', async () => {
      const queue = { ROLLGATE_TASK_QUEUE: 'fleet' };
      const first = await worker(queue);
      const targets = ['a', 'b', 'c'];
      /** A fleet of three targets (a, then b and c), each its own series and weight; `broken`'s canary fails. */
      const fleetRelease = async (service: string, broken?: string, bake = '0s') => {
        const routes = targets.map((t) => `${service}-${t}`);
        const repo = canaryRepo({
          service,
          prometheus: prometheus.url,
          services,
          extra: {
            deploy: { command: [process.execPath, TARGET, '{route}'], timeout: '30s' },
            analysis: { prometheus: { address: prometheus.url }, interval: '1s', verifyWindow: '30s', metrics: [{ name: 'errors', query: 'max(fault_errors{service="{{route}}"})', failureCondition: 'result > 0' }] },
            fleet: { targets: targets.map((t, i) => ({ name: t, labels: { route: routes[i]! } })), waves: [{ targets: ['a'], bake }, { targets: ['b', 'c'] }] },
          },
        });
        for (const r of routes) services.names.add(r);
        if (broken) services.faulty.add(`${service}-${broken}`);
        const { id } = await startRelease(startFlags(repo, service), { ...cliEnv, ...queue });
        return { id, repo, routes, broken };
      };
      // The third release's one-box target is watched through a long bake; it breaks after the kill.
      const releases = [await fleetRelease('fleet-ok'), await fleetRelease('fleet-bad', 'c'), await fleetRelease('fleet-watch', undefined, '90s')];
      const watchedOf = async (id: string) => (await statusOf(client, id))?.fleet?.targets.find((t) => t.name === 'a')?.watch?.state;
      // The kill comes while a deploy command of the second wave runs and the third release's target a is watched.
      const deadline = Date.now() + 120_000;
      let watching = false;
      for (;;) {
        watching ||= (await watchedOf(releases[2]!.id)) === 'watching';
        const wave2 = services.calls().filter((c) => /\/(b|c)@/.test(c.key) && running(c.pid));
        if (watching && wave2.length > 0) break;
        assert.ok(Date.now() < deadline, `no deploy command of the second wave ran while a was watched within 2 minutes (watched: ${watching})`);
        await sleep(50);
      }
      await sigkill(first);
      await worker(queue);
      services.faulty.add('fleet-watch-a');
      const ended = [];
      for (const r of releases) ended.push(await resultOf(client, r.id, 180_000));
      assert.deepEqual(ended.map((r) => r.outcome), ['released', 'rolled_back', 'rolled_back']);
      assert.match(ended[2]!.reason ?? '', /^wave 1 failed: 1 of 1 failed, 0 allowed \(a\); a broke while watched/);
      const [ok, bad, watched] = releases;
      assert.deepEqual(readLedger(ok!.repo).map((l) => l.targets), [{ a: 'released', b: 'released', c: 'released' }]);
      assert.deepEqual(readLedger(bad!.repo).map((l) => l.targets), [{ a: 'rolled_back', b: 'rolled_back', c: 'rolled_back' }]);
      assert.deepEqual(readLedger(watched!.repo).map((l) => l.targets), [{ a: 'rolled_back', b: 'not_started', c: 'not_started' }]);
      assert.equal(await watchedOf(ok!.id), 'passed', 'the first release\'s target a was watched until the second wave passed');
      for (const route of ok!.routes) assert.equal(services.weight(route), 100, route);
      for (const route of [...bad!.routes, ...watched!.routes]) assert.equal(services.weight(route), 0, route);
      const keys = services.applied().filter((a) => releases.some((r) => a.key.startsWith(`${r.id}/`) || a.key.startsWith(`${r.id}@`))).map((a) => a.key);
      assert.deepEqual(keys.filter((k, i) => keys.indexOf(k) !== i), [], 'no step applied twice');
      assert.ok(keys.some((k) => k.includes('/c@') && k.endsWith('/rollback-production')), 'the broken target rolled back');
      assert.ok(keys.some((k) => k.includes('/a/rollback@') && k.endsWith('/rollback-production')), 'the first wave rolled back by a rollback of its own');
      assert.deepEqual(
        keys.filter((k) => k.startsWith(`${watched!.id}/`) && k.endsWith('/rollback-production')).map((k) => k.replace(/@\w+/, '@')),
        [`${watched!.id}/a/watch@/rollback-production`],
        'the watched target rolled back once, by its watch',
      );
    });
  });

  it('carries a release on when the Temporal server is killed mid-phase and started again on the same database file', async () => {
    const queue = { ROLLGATE_TASK_QUEUE: 'restart' };
    await worker(queue);
    const releases = [await start('restart-0', false, { ...cliEnv, ...queue }), await start('restart-1', true, { ...cliEnv, ...queue })];
    for (const r of releases) await inCanary5(r);
    await server.kill();
    await sleep(2000);
    await server.start();
    for (const r of releases) {
      assert.equal((await resultOf(client, r.id, 180_000)).outcome, r.faulty ? 'rolled_back' : 'released', r.id);
      assert.equal(readLedger(r.repo).length, 1);
    }
  });
});
