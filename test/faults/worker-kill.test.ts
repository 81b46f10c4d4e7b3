import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { Prometheus } from '../../demo/stack';
import { buildWorkflowBundle } from '../../scripts/bundle-workflows';
import type { ReleaseStatus } from '../../src/domain/release';
import { rollgate, startWorker, stopProcess } from '../helpers/cli';
import { DevServer } from '../helpers/dev-server';
import { tempDir } from '../helpers/fixtures';
import { canaryRepo, ledgerLines, releaseOf, resultOf, running, Services, sleep, startArgs, statusOf } from './harness';

// Releases; at least KILLED_AT_LEAST of them must meet a kill (a release can end before one comes).
const TRIALS = 24;
const KILLED_AT_LEAST = 20;
/** What a target saw for a release: "action stage weight" per applied step, in order. */
const steps = (calls: { key: string; action: string; stage: string; weight: string }[], id: string) => calls.filter((c) => releaseOf(c.key) === id).map((c) => `${c.key.split('/').pop()}: ${c.action} ${c.stage} ${c.weight}`);

type KillPoint = 'deploy command' | 'bake' | 'analysis' | 'rollback';

/** Where a release is, as a kill point; undefined when it is between points (deciding, finished). */
function pointOf(s: ReleaseStatus, commandRunning: boolean): KillPoint | undefined {
  if (s.state === 'rolling-back' || s.state === 'verifying-rollback') return 'rollback';
  if (commandRunning) return 'deploy command';
  // Production bakes are analysed; staging's is time only.
  if (s.state === 'baking') return s.currentStep?.startsWith('production') ? 'analysis' : 'bake';
  return undefined;
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
  const kill = async (w: ChildProcess) => {
    if (w.exitCode !== null || w.signalCode !== null) return;
    const exited = new Promise((r) => w.once('exit', r));
    w.kill('SIGKILL');
    await exited;
  };
  async function start(service: string, faulty: boolean, env: NodeJS.ProcessEnv = cliEnv): Promise<{ id: string; repo: string; faulty: boolean }> {
    const repo = canaryRepo({ service, prometheus: prometheus.url, services });
    if (faulty) services.faulty.add(service);
    const res = await rollgate(startArgs(repo, service), env);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    return { id: /release (release-[\w.-]+)/.exec(res.stdout)![1]!, repo, faulty };
  }

  it(`ends ${TRIALS} canaries (at least ${KILLED_AT_LEAST} of them killed) as they would have ended when their worker is SIGKILLed at deploy commands, bakes, analyses and rollbacks; nothing applied twice, one ledger line each`, async () => {
    // Controls: one healthy and one faulty canary on a worker of their own that is never killed.
    const controlEnv = { ...cliEnv, ROLLGATE_TASK_QUEUE: 'control' };
    await worker({ ROLLGATE_TASK_QUEUE: 'control' });
    const controls = [await start('control-ok', false, controlEnv), await start('control-bad', true, controlEnv)];

    let current = await worker();
    const trials: { id: string; repo: string; faulty: boolean }[] = [];
    const killedAt = new Map<string, string[]>();
    /** Each kill, once per kind of point that some release was at. */
    const kills: { point: KillPoint; releases: number }[] = [];
    const wanted: KillPoint[] = ['deploy command', 'bake', 'analysis', 'rollback'];
    let starting = true;
    let killCount = 0;

    // Releases start every 1.5 s, so that each is somewhere else when a kill comes.
    const starter = (async () => {
      for (let i = 0; i < TRIALS; i++) {
        trials.push(await start(`trial-${i}`, i % 2 === 1));
        await sleep(1500);
      }
      starting = false;
    })();

    const openIds = async () => {
      const open: string[] = [];
      for (const t of trials) {
        const d = await client.workflow.getHandle(t.id).describe().catch(() => undefined);
        if (d?.status.name === 'RUNNING') open.push(t.id);
      }
      return open;
    };
    // Kill the worker when some release is at the kill point next in turn; once each kind was hit,
    // whenever a release not yet killed is at any point.
    for (let round = 0; starting || (await openIds()).length > 0; round++) {
      const target = round < wanted.length ? wanted[round]! : undefined;
      const deadline = Date.now() + 20_000;
      let hit: { id: string; point: KillPoint }[] = [];
      while (Date.now() < deadline && hit.length === 0 && (starting || (await openIds()).length > 0)) {
        const busy = new Set(services.calls().filter((c) => running(c.pid)).map((c) => releaseOf(c.key)));
        const points = await Promise.all(
          (await openIds()).map(async (id) => {
            const s = await statusOf(client, id);
            return s ? { id, point: pointOf(s, busy.has(id)) } : undefined;
          }),
        );
        const all = points.filter((p): p is { id: string; point: KillPoint } => p?.point !== undefined);
        if (all.some((p) => (target ? p.point === target : !killedAt.has(p.id)))) hit = all;
        else await sleep(100);
      }
      if (hit.length === 0) continue;
      await kill(current);
      killCount++;
      for (const point of new Set(hit.map((h) => h.point))) kills.push({ point, releases: hit.filter((h) => h.point === point).length });
      for (const h of hit) killedAt.set(h.id, [...(killedAt.get(h.id) ?? []), h.point]);
      await sleep(300 + Math.random() * 1200);
      current = await worker();
      await sleep(1000 + Math.random() * 1500);
    }
    await starter;

    const expected = new Map<boolean, { outcome: string; steps: string[] }>();
    for (const c of controls) {
      const r = await resultOf(client, c.id, 120_000);
      expected.set(c.faulty, { outcome: r.outcome, steps: steps(services.applied(), c.id) });
    }
    assert.equal(expected.get(false)!.outcome, 'released');
    assert.equal(expected.get(true)!.outcome, 'rolled_back');

    const applied = services.applied();
    const calls = services.calls();
    let survived = 0;
    const problems: string[] = [];
    for (const t of trials) {
      const r = await resultOf(client, t.id, 180_000);
      const want = expected.get(t.faulty)!;
      const ledger = ledgerLines(t.repo);
      const mine = applied.filter((a) => releaseOf(a.key) === t.id).map((a) => a.key);
      const twice = mine.filter((k, i) => mine.indexOf(k) !== i);
      const ok = r.outcome === want.outcome && ledger.length === 1 && twice.length === 0 && JSON.stringify(steps(applied, t.id)) === JSON.stringify(want.steps);
      if (ok) survived++;
      else problems.push(`${t.id}: ${r.outcome} (want ${want.outcome}), ${ledger.length} ledger lines, applied twice: ${twice.join(', ') || 'none'}, steps ${JSON.stringify(steps(applied, t.id))}`);
      assert.equal(services.weight(t.id.replace(/^release-(.*)-[0-9a-f]{12}$/, '$1')), t.faulty ? 0 : 100, `${t.id}: the target ends where the control's does`);
    }
    const retried = calls.length - applied.length;
    console.log(
      `# ${survived}/${TRIALS} releases (${trials.filter((t) => killedAt.has(t.id)).length} of them killed at least once) survived ${killCount} SIGKILLs of their worker (releases caught at ${wanted.map((w) => `${w}: ${kills.filter((k) => k.point === w).reduce((n, k) => n + k.releases, 0)}`).join(', ')}); ` +
        `${calls.length} command runs, ${applied.length} applied, ${retried} skipped as already applied or killed mid-run`,
    );
    for (const t of trials) console.log(`#   ${t.id} (${t.faulty ? 'faulty' : 'healthy'}) killed at: ${(killedAt.get(t.id) ?? []).join(', ') || 'never'}`);
    assert.deepEqual(problems, []);
    assert.ok(calls.every((c) => /^release-[\w.-]+@[0-9a-f-]{8}\/[\w.-]+$/.test(c.key)), 'every command run carries an idempotency key');
    for (const w of wanted) assert.ok(kills.some((k) => k.point === w), `a kill during ${w}`);
    const killed = trials.filter((t) => killedAt.has(t.id)).length;
    assert.ok(killed >= KILLED_AT_LEAST, `only ${killed} releases met a kill`);
    assert.equal(calls.filter((c) => running(c.pid)).length, 0, 'no deploy command is left running');
  });

  it('carries releases on with the second of two workers on one task queue when the first is killed mid-phase', async () => {
    const queue = { ROLLGATE_TASK_QUEUE: 'pair' };
    const [first] = [await worker(queue), await worker(queue)];
    const releases = [await start('pair-0', false, { ...cliEnv, ...queue }), await start('pair-1', false, { ...cliEnv, ...queue }), await start('pair-2', true, { ...cliEnv, ...queue })];
    for (const r of releases) {
      for (let s = await statusOf(client, r.id); !s?.currentStep?.startsWith('production-canary-5'); s = await statusOf(client, r.id)) await sleep(100);
    }
    await kill(first!);
    for (const r of releases) {
      assert.equal((await resultOf(client, r.id, 120_000)).outcome, r.faulty ? 'rolled_back' : 'released', r.id);
      assert.equal(ledgerLines(r.repo).length, 1);
    }
    const keys = services.applied().filter((a) => releases.some((r) => releaseOf(a.key) === r.id)).map((a) => a.key);
    assert.deepEqual(keys.filter((k, i) => keys.indexOf(k) !== i), [], 'no step applied twice');
  });

  it('carries a release on when the Temporal server is killed mid-phase and started again on the same database file', async () => {
    const queue = { ROLLGATE_TASK_QUEUE: 'restart' };
    await worker(queue);
    const releases = [await start('restart-0', false, { ...cliEnv, ...queue }), await start('restart-1', true, { ...cliEnv, ...queue })];
    for (const r of releases) {
      for (let s = await statusOf(client, r.id); !s?.currentStep?.startsWith('production-canary-5'); s = await statusOf(client, r.id)) await sleep(100);
    }
    await server.kill();
    await sleep(2000);
    await server.start();
    for (const r of releases) {
      assert.equal((await resultOf(client, r.id, 180_000)).outcome, r.faulty ? 'rolled_back' : 'released', r.id);
      assert.equal(ledgerLines(r.repo).length, 1);
    }
  });
});
