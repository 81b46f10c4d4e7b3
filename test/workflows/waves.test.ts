import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import type { ReleaseInput, ReleaseResult, ReleaseStatus } from '../../src/domain/release';
import type { TargetInput } from '../../src/workflows/target';
import { abortUpdate, approveUpdate, overrideUpdate, pauseUpdate, promoteUpdate, resumeUpdate, statusQuery, targetBreakingSignal, targetWorkflowId } from '../../src/workflows/messages';
import { releaseWorkflow, targetWorkflow } from '../../src/workflows';
import { fleetOrders, targetStates } from '../../src/connection/client';
import { timeSkippingSuite } from '../helpers/workflow-worker';
import { waitForQuiet } from '../helpers/status';
import { fakeActivities, fakeReleaseInput, mediumChange, REVIEWERS } from '../helpers/fake-activities';

const MIN = 60_000;
const HOUR = 60 * MIN;
/** The run kept as a replay fixture. */
const RECORDED = 'fleet-second-wave-fails';

/** A one-box wave (eu-1), then two regions together, a 1-hour bake between; canaries 5% → 100% watched by one check. */
const fleetConfig = (fleet: object = {}) => ({
  bake: { staging: '0s' },
  canary: { steps: [5, 100].map((weight) => ({ weight, bake: '30m' })) },
  analysis: { interval: '1m', metrics: [{ name: 'errors', query: 'sum(rate(errors{region="{{region}}"}[1m]))', failureCondition: 'result > 0.05' }] },
  fleet: {
    targets: [
      { name: 'eu-1', labels: { region: 'eu-west-1' } },
      { name: 'eu-2', labels: { region: 'eu-central-1' } },
      { name: 'us-1', labels: { region: 'us-east-1' } },
    ],
    waves: [{ targets: ['eu-1'], bake: '1h' }, { targets: ['eu-2', 'us-1'] }],
    ...fleet,
  },
});

describe('waves across targets (time-skipping server, fake activities)', () => {
  const suite = timeSkippingSuite('waves', [RECORDED, `${RECORDED}/us-1`, `${RECORDED}/eu-1/watch`, `${RECORDED}/eu-1/rollback`]);
  const { withWorker } = suite;
  const input = (id: string, fleet: object = {}): ReleaseInput => fakeReleaseInput(id, 'checkout', fleetConfig(fleet));
  const fakes = (opts: Parameters<typeof fakeActivities>[0] = {}) => fakeActivities({ change: mediumChange, fleetOrders: (release) => fleetOrders(suite.env.client, release), targetStates: (targets) => targetStates(suite.env.client, targets), ...opts });
  const result = async (handle: WorkflowHandle) => (await handle.result()) as ReleaseResult;
  const targetOf = (d: { labels?: Record<string, string> }) => d.labels?.target ?? '-';
  /** Moves the clock until the release asks whether to keep the targets that passed (its reason as `reason` says), then approves. */
  const keepPassedTargets = async (handle: WorkflowHandle, reason: RegExp) => {
    for (;;) {
      const s = await handle.query(statusQuery);
      if (s.pendingApproval?.target === 'keep-passed-targets') {
        assert.match(s.pendingApproval.reason, reason);
        break;
      }
      assert.notEqual(s.state, 'finished', `ended without asking: ${s.outcome} ${s.steps.at(-1)?.detail}`);
      await suite.env.sleep(10 * MIN);
    }
    await waitForQuiet(handle);
    await handle.executeUpdate(approveUpdate, { args: [{ by: REVIEWERS[0]!, reason: 'eu-1 is healthy' }] });
    return result(handle);
  };

  it('runs each wave in parallel on its targets with their labels, bakes between waves, and records one line with every target', async () => {
    const { activities, calls } = fakes();
    const { res, status, watch } = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'fleet-all-pass', args: [input('fleet-all-pass')] });
      // Anyone may send the wake-up a breaking target sends; it stops nothing: the release reads its targets' own states.
      while ((await handle.query(statusQuery)).state !== 'rolling-out') await suite.env.sleep(MIN);
      // Sent while nothing is in flight: the time-skipping server strands a run whose task cancels a timer that fired meanwhile (temporalio/sdk-java#3088).
      await waitForQuiet(handle);
      for (let i = 0; i < 3; i++) await handle.signal(targetBreakingSignal);
      const res = await result(handle);
      return { res, status: await handle.query(statusQuery), watch: await suite.env.client.workflow.getHandle(targetWorkflowId('fleet-all-pass', 'eu-1', 'watch')).query(statusQuery) };
    });
    assert.equal(res.outcome, 'released', res.reason);
    assert.ok(calls.targetStates > 0, 'the wake-ups were read');
    // Staging once, by the release; then the production phases on each target.
    assert.deepEqual(calls.deploys.filter((d) => d.stage === 'staging').map(targetOf), ['-']);
    const prod = calls.deploys.filter((d) => d.stage === 'production');
    assert.deepEqual(prod.map((d) => `${targetOf(d)} ${d.weight}`).sort(), ['eu-1 100', 'eu-1 5', 'eu-2 100', 'eu-2 5', 'us-1 100', 'us-1 5']);
    assert.deepEqual(prod.find((d) => targetOf(d) === 'us-1')!.labels, { region: 'us-east-1', target: 'us-1' });
    assert.ok(prod.findIndex((d) => targetOf(d) === 'eu-1' && d.weight === 100) < prod.findIndex((d) => targetOf(d) === 'eu-2'), 'the one-box wave finished before the next began');
    assert.ok(new Set(prod.map((d) => d.idempotencyKey)).size === prod.length, 'each target has keys of its own');
    // Each target's checks read its own series.
    const regions = new Set(calls.monitors.map((m) => m.vars.labels?.region));
    assert.deepEqual([...regions].sort(), ['eu-central-1', 'eu-west-1', 'us-east-1']);
    assert.deepEqual(status.fleet!.waves.map((w) => w.state), ['passed', 'passed']);
    assert.ok(status.steps.some((s) => s.name === 'wave 1: bake 1h' && s.status === 'done'));
    assert.deepEqual(status.fleet!.targets.map((t) => [t.name, t.state, t.phases]), [
      ['eu-1', 'released', { 'production-canary-5': 'done', 'production-canary-100': 'done' }],
      ['eu-2', 'released', { 'production-canary-5': 'done', 'production-canary-100': 'done' }],
      ['us-1', 'released', { 'production-canary-5': 'done', 'production-canary-100': 'done' }],
    ]);
    assert.equal(calls.ledger.length, 1, 'one ledger line for the release');
    assert.deepEqual(calls.ledger[0]!.targets, { 'eu-1': 'released', 'eu-2': 'released', 'us-1': 'released' });
    // The one-box target was watched on its live 100% through the bake and the second wave; the last wave is not.
    const watchedBy = [...new Set(calls.monitors.filter((m) => m.phase === 'production-canary-100 (later waves)').map((m) => m.vars.labels?.target))];
    assert.deepEqual(watchedBy, ['eu-1']);
    assert.ok(calls.monitors.filter((m) => m.phase === 'production-canary-100 (later waves)').length > 1, 'watched for more than one round');
    assert.deepEqual(status.fleet!.targets.map((t) => t.watch?.state), ['passed', undefined, undefined]);
    assert.equal(watch.steps.find((s) => s.name === 'watched while the later waves roll out')?.detail, 'every later wave passed');
    const record = calls.records.at(-1)!;
    assert.match(record, /\| target \| wave \| production-canary-5 \| production-canary-100 \| outcome \|/);
    assert.match(record, /\| us-1 \| 2 \| ✓ \| ✓ \| released \|/);
    assert.match(record, /\| eu-1 \| 1 \| ✓ \| ✓ \| released \(watched\) \|/);
    assert.match(record, /- A target that passed is watched by errors through the bakes and the later waves: one that breaks rolls back at once/);
  });

  it('a target that breaks rolls itself back; past the budget its wave fails, the target beside it is stopped as it breaks, and the wave before is rolled back', async () => {
    let stoppedFirst: boolean | undefined;
    const { activities, calls } = fakes({
      measurements: { 'us-1/production-canary-5': ['failed'] },
      // The broken target's rollback takes its time: the target beside it is stopped meanwhile, not after it.
      rollbackGate: async (s) => {
        if (s.labels?.target !== 'us-1') return;
        const until = Date.now() + 20_000;
        while (!calls.rollbacks.some((r) => r.labels?.target === 'eu-2') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        stoppedFirst = calls.rollbacks.some((r) => r.labels?.target === 'eu-2');
      },
    });
    const { res, status } = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: RECORDED, args: [input(RECORDED)] });
      return { res: await result(handle), status: await handle.query(statusQuery) };
    });
    assert.equal(res.outcome, 'rolled_back');
    assert.equal(res.stopKind, 'wave-failed');
    assert.match(res.reason!, /^wave 2 failed: 2 of 2 failed, 0 allowed \(eu-2, us-1\)$/);
    const byTarget = Object.fromEntries(status.fleet!.targets.map((t) => [t.name, t.state]));
    assert.deepEqual(byTarget, { 'eu-1': 'rolled_back', 'eu-2': 'rolled_back', 'us-1': 'rolled_back' });
    assert.match(status.fleet!.targets.find((t) => t.name === 'us-1')!.reason!, /errors/);
    assert.match(status.fleet!.targets.find((t) => t.name === 'eu-2')!.reason!, /the release stops: wave 2 failed: 1 of 2 targets failed, 0 allowed/);
    assert.equal(stoppedFirst, true, 'eu-2 was rolling back before us-1\'s rollback ended');
    assert.deepEqual(calls.rollbacks.filter((r) => r.stage === 'production').map(targetOf).sort(), ['eu-1', 'eu-2', 'us-1']);
    assert.ok(!calls.deploys.some((d) => d.weight === 100 && targetOf(d) === 'us-1'), 'the broken target never reached 100%');
    assert.deepEqual(calls.rollbacks.filter((r) => r.stage === 'staging').length, 1, 'staging, deployed by the release, rolled back by it');
    assert.deepEqual(calls.ledger[0]!.targets, { 'eu-1': 'rolled_back', 'eu-2': 'rolled_back', 'us-1': 'rolled_back' });
    assert.equal(calls.ledger[0]!.outcome, 'rolled_back');
    assert.ok(calls.ledger[0]!.rollback_duration_seconds !== null, 'the time to restore spans the targets\' rollbacks');
  });

  it('within the budget a failed target is rolled back and the release goes on', async () => {
    const { activities, calls } = fakes({ measurements: { 'us-1/production-canary-5': ['failed'] } });
    const fleet = { waves: [{ targets: ['eu-1'] }, { targets: ['eu-2', 'us-1'], maxFailedTargets: 1 }] };
    const res = await withWorker(activities, async (taskQueue) => result(await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'fleet-budget', args: [input('fleet-budget', fleet)] })));
    assert.equal(res.outcome, 'released');
    assert.deepEqual(calls.rollbacks.map(targetOf), ['us-1']);
    assert.deepEqual(calls.ledger[0]!.targets, { 'eu-1': 'released', 'eu-2': 'released', 'us-1': 'rolled_back' });
  });

  it('a target that passed is watched while the later waves roll out: when it breaks it rolls itself back and the running wave is stopped', async () => {
    const { activities, calls } = fakes({ whileWaiting: { 'eu-1/production-canary-100 (later waves)': ['successful', 'failed'] } });
    const { res, status } = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'fleet-watch-breaks', args: [input('fleet-watch-breaks', { waves: [{ targets: ['eu-1'] }, { targets: ['eu-2', 'us-1'] }] })] });
      return { res: await result(handle), status: await handle.query(statusQuery) };
    });
    assert.equal(res.outcome, 'rolled_back');
    assert.equal(res.stopKind, 'wave-failed');
    assert.match(res.reason!, /^wave 1 failed: 1 of 1 failed, 0 allowed \(eu-1\); eu-1 broke while watched/);
    assert.match(status.fleet!.targets.find((t) => t.name === 'eu-1')!.reason!, /errors/);
    const eu1 = status.fleet!.targets.find((t) => t.name === 'eu-1')!;
    assert.equal(eu1.watch?.state, 'broke');
    assert.equal(eu1.state, 'rolled_back');
    assert.deepEqual(status.fleet!.waves.map((w) => w.state), ['failed', 'stopped']);
    // The broken target rolled back once (by its watch); the second wave's targets, stopped at 5%, by themselves.
    assert.deepEqual(calls.rollbacks.filter((r) => r.stage === 'production').map(targetOf).sort(), ['eu-1', 'eu-2', 'us-1']);
    assert.ok(!calls.deploys.some((d) => d.stage === 'production' && d.weight === 100 && targetOf(d) !== 'eu-1'), 'the second wave never reached 100%');
    assert.deepEqual(calls.ledger[0]!.targets, { 'eu-1': 'rolled_back', 'eu-2': 'rolled_back', 'us-1': 'rolled_back' });
    assert.match(calls.records.at(-1)!, /\| eu-1 \| 1 \| ✓ \| ✓ \| rolled back \(broke while watched\): /);
  });

  it('a watched target that breaks within its wave\'s budget is rolled back and the release goes on', async () => {
    const { activities, calls } = fakes({ whileWaiting: { 'eu-2/production-canary-100 (later waves)': ['failed'] } });
    const fleet = { waves: [{ targets: ['eu-1', 'eu-2'], maxFailedTargets: 1, bake: '1h' }, { targets: ['us-1'] }] };
    const res = await withWorker(activities, async (taskQueue) => result(await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'fleet-watch-budget', args: [input('fleet-watch-budget', fleet)] })));
    assert.equal(res.outcome, 'released', res.reason);
    assert.deepEqual(calls.rollbacks.map(targetOf), ['eu-2']);
    assert.ok(calls.deploys.some((d) => targetOf(d) === 'us-1' && d.weight === 100), 'the next wave went out');
    assert.deepEqual(calls.ledger[0]!.targets, { 'eu-1': 'released', 'eu-2': 'rolled_back', 'us-1': 'released' });
  });

  it('with onWaveFailure hold, a wave that fails while watched holds the targets that passed for a human: approved, they keep the version', async () => {
    const { activities, calls } = fakes({ whileWaiting: { 'eu-2/production-canary-100 (later waves)': ['successful', 'failed'] } });
    const fleet = { onWaveFailure: 'hold', waves: [{ targets: ['eu-1', 'eu-2'], bake: '1h' }, { targets: ['us-1'] }] };
    const res = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'fleet-watch-hold', args: [input('fleet-watch-hold', fleet)] });
      return keepPassedTargets(handle, /^wave 1 failed: 1 of 2 failed, 0 allowed \(eu-2\); eu-2 broke while watched.*eu-1 passed and hold v2/);
    });
    assert.equal(res.outcome, 'partially_released');
    assert.deepEqual(calls.rollbacks.map(targetOf), ['eu-2'], 'only the broken target rolled back, by its watch');
    assert.ok(!calls.deploys.some((d) => targetOf(d) === 'us-1'), 'no later wave started');
    assert.deepEqual(calls.ledger[0]!.targets, { 'eu-1': 'released', 'eu-2': 'rolled_back', 'us-1': 'not_started' });
  });

  it('an abort sent to a target\'s watch rolls that target back and counts as its failure: it never leaves the target unwatched as released', async () => {
    const { activities, calls } = fakes();
    const { res, status } = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'fleet-watch-abort', args: [input('fleet-watch-abort')] });
      const watch = suite.env.client.workflow.getHandle(targetWorkflowId('fleet-watch-abort', 'eu-1', 'watch'));
      while ((await watch.query(statusQuery).catch(() => undefined))?.watching === undefined) await suite.env.sleep(MIN);
      await Promise.all([handle, watch].map((h) => waitForQuiet(h)));
      await watch.executeUpdate(abortUpdate, { args: [{ by: 'sre', reason: 'eu-1 looks wrong' }] });
      return { res: await result(handle), status: await handle.query(statusQuery) };
    });
    assert.equal(res.outcome, 'rolled_back');
    assert.match(res.reason!, /^wave 1 failed: 1 of 1 failed, 0 allowed \(eu-1\); eu-1 broke while watched/);
    assert.match(status.fleet!.targets.find((t) => t.name === 'eu-1')!.reason!, /aborted by sre: eu-1 looks wrong/);
    assert.deepEqual(calls.rollbacks.filter((r) => r.stage === 'production').map(targetOf), ['eu-1']);
    assert.ok(!calls.deploys.some((d) => targetOf(d) === 'us-1'), 'no later wave started');
  });

  it('with onWaveFailure hold, the targets that passed wait for a human: approved, they keep the version', async () => {
    const { activities, calls } = fakes({ measurements: { 'eu-2/production-canary-5': ['failed'] } });
    const fleet = { onWaveFailure: 'hold', waves: [{ targets: ['eu-1'] }, { targets: ['eu-2'] }, { targets: ['us-1'] }] };
    const res = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'fleet-hold', args: [input('fleet-hold', fleet)] });
      return keepPassedTargets(handle, /^wave 2 failed: 1 of 1 failed, 0 allowed \(eu-2\)\. eu-1 passed and hold v2: approve to keep them, reject to roll them back$/);
    });
    assert.equal(res.outcome, 'partially_released');
    assert.deepEqual(calls.rollbacks.map(targetOf), ['eu-2'], 'only the failed target rolled back');
    assert.ok(!calls.deploys.some((d) => targetOf(d) === 'us-1'), 'no later wave started');
    assert.deepEqual(calls.ledger[0]!.targets, { 'eu-1': 'released', 'eu-2': 'rolled_back', 'us-1': 'not_started' });
  });

  it('pause and resume act on the running targets; an abort rolls every target back', async () => {
    const { activities, calls } = fakes();
    const res = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'fleet-steer', args: [input('fleet-steer', { waves: [{ targets: ['eu-1', 'eu-2'] }, { targets: ['us-1'] }] })] });
      const eu1 = suite.env.client.workflow.getHandle(targetWorkflowId('fleet-steer', 'eu-1'));
      for (;;) {
        const s = await handle.query(statusQuery);
        if (s.state === 'rolling-out' && (await eu1.query(statusQuery).catch(() => undefined))?.state === 'baking') break;
        await suite.env.sleep(MIN);
      }
      await waitForQuiet(handle);
      await handle.executeUpdate(pauseUpdate, { args: [{ by: 'sre', reason: 'checking a dashboard' }] });
      let target: ReleaseStatus;
      for (;;) {
        target = await eu1.query(statusQuery);
        if (target.paused) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(target.paused.by, 'sre');
      assert.equal(target.paused.reason, 'the release is paused: checking a dashboard');
      const before = calls.deploys.length;
      await suite.env.sleep(2 * HOUR);
      assert.equal(calls.deploys.length, before, 'nothing deployed while paused');
      // A target moves with its release: it takes no pause, resume or promote of its own.
      const own = (await eu1.executeUpdate(resumeUpdate, { args: [{ by: 'sre' }] }).catch((e: unknown) => e)) as Error & { cause?: Error };
      assert.match(String(own.cause?.message), /resume acts on the whole release: rollgate resume fleet-steer/);
      await waitForQuiet(handle);
      await handle.executeUpdate(resumeUpdate, { args: [{ by: 'sre' }] });
      for (;;) {
        if (!(await eu1.query(statusQuery)).paused) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await waitForQuiet(handle);
      await handle.executeUpdate(abortUpdate, { args: [{ by: 'sre', reason: 'customer report' }] });
      return result(handle);
    });
    assert.equal(res.outcome, 'rolled_back');
    assert.match(res.reason!, /aborted by sre: customer report/);
    assert.deepEqual(calls.rollbacks.filter((r) => r.stage === 'production').map(targetOf).sort(), ['eu-1', 'eu-2']);
    assert.ok(!calls.deploys.some((d) => targetOf(d) === 'us-1'), 'the second wave never started');
  });

  it('a promotion ends the bakes of the targets baking, in the release\'s name; a cancelled release waits for its targets and rolls every one back', async () => {
    const { activities, calls } = fakes();
    const status = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'fleet-promote', args: [input('fleet-promote', { waves: [{ targets: ['eu-1', 'eu-2'] }, { targets: ['us-1'] }] })] });
      const eu1 = suite.env.client.workflow.getHandle(targetWorkflowId('fleet-promote', 'eu-1'));
      for (;;) {
        if ((await eu1.query(statusQuery).catch(() => undefined))?.currentStep === 'production-canary-5: bake 30m') break;
        await suite.env.sleep(MIN);
      }
      // On the time-skipping server a cancel that races an activity's end hangs the run: steer only when nothing is in flight, targets included.
      const eu2 = suite.env.client.workflow.getHandle(targetWorkflowId('fleet-promote', 'eu-2'));
      const quiet = () => Promise.all([handle, eu1, eu2].map((h) => waitForQuiet(h)));
      await quiet();
      await handle.executeUpdate(promoteUpdate, { args: [{ by: 'lead' }] });
      for (;;) {
        const s = await eu1.query(statusQuery);
        const baked = s.steps.find((x) => x.name === 'production-canary-5: bake 30m');
        if (baked?.status === 'done') {
          assert.equal(baked.detail, 'promoted by lead (the release)');
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      // Cancelled while the first wave runs: both of its targets are waited for and rolled back.
      await quiet();
      await handle.cancel();
      await handle.result().catch(() => undefined);
      return handle.query(statusQuery);
    });
    assert.ok(status.steps.some((s) => s.name === 'promote by lead' && s.status === 'done'));
    assert.equal(status.outcome, 'rolled_back');
    assert.deepEqual(status.fleet!.targets.map((t) => `${t.name} ${t.state}`), ['eu-1 rolled_back', 'eu-2 rolled_back', 'us-1 waiting']);
    assert.deepEqual(calls.rollbacks.filter((r) => r.stage === 'production').map(targetOf).sort(), ['eu-1', 'eu-2']);
    assert.equal(calls.ledger[0]!.targets!['us-1'], 'not_started');
  });

  it('an override sent to a held target breaks its window for it alone; the release\'s record and ledger keep the override and why each target waited', async () => {
    const { activities, calls } = fakes();
    const denyFrom = Math.floor((await suite.env.currentTimeMs()) / MIN) * MIN + 20 * MIN;
    const d = new Date(denyFrom);
    const windows = { deny: [{ cron: `${d.getUTCMinutes()} ${d.getUTCHours()} * * *`, duration: '2h' }] };
    const status = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'fleet-override', args: [fakeReleaseInput('fleet-override', 'checkout', { ...fleetConfig({ waves: [{ targets: ['eu-1'] }, { targets: ['eu-2', 'us-1'] }] }), windows })] });
      const eu1 = suite.env.client.workflow.getHandle(targetWorkflowId('fleet-override', 'eu-1'));
      for (let moved = 0; (await eu1.query(statusQuery).catch(() => undefined))?.state !== 'waiting-for-window'; moved += 5 * MIN) {
        assert.ok(moved < 3 * HOUR, `eu-1 never waited for the window: ${JSON.stringify((await eu1.query(statusQuery).catch(() => undefined))?.steps.at(-1))}`);
        await suite.env.sleep(5 * MIN);
      }
      await Promise.all([handle, eu1].map((h) => waitForQuiet(h)));
      await eu1.executeUpdate(overrideUpdate, { args: [{ by: 'sre', reason: 'hotfix for INC-42' }] });
      await handle.result();
      const targets = await Promise.all(['eu-1', 'eu-2'].map((t) => suite.env.client.workflow.getHandle(targetWorkflowId('fleet-override', t)).query(statusQuery)));
      return { ...(await handle.query(statusQuery)), targets };
    });
    assert.equal(status.outcome, 'released', status.steps.at(-1)?.detail);
    const at = (s: ReleaseStatus, step: string) => Date.parse(s.steps.find((x) => x.name.startsWith(step))!.startedAt);
    assert.ok(at(status.targets[0]!, 'production-canary-100: promote production') < denyFrom + 2 * HOUR, 'eu-1 went to 100% inside the closed window, overridden');
    assert.ok(at(status.targets[1]!, 'production-canary-5: deploy production') >= denyFrom + 2 * HOUR, 'eu-2 waited for the window: the override was eu-1\'s alone');
    assert.deepEqual(status.overrides?.map((o) => [o.target, o.by, o.reason, o.broke.split(' until ')[0]]), [['eu-1', 'sre', 'hotfix for INC-42', 'eu-1: the deployment window closed']]);
    const eu1Waits = status.steps.filter((s) => s.name === 'eu-1: production-canary-100: deployment window').map((s) => s.detail);
    assert.match(eu1Waits[0] ?? '', /^closed: inside deny window/);
    assert.match(eu1Waits.at(-1) ?? '', /overridden by sre: hotfix for INC-42$/);
    assert.match(status.steps.find((s) => s.name === 'eu-2: production-canary-5: deployment window')?.detail ?? '', /^closed: inside deny window/);
    assert.deepEqual(calls.ledger[0]!.overrides.map((o) => [o.by, o.broke.split(' until ')[0]]), [['sre', 'eu-1: the deployment window closed']]);
    assert.match(calls.records.at(-1)!, /Overridden by\*\*: sre \(unverified: a name as typed\) at \S+: broke eu-1: the deployment window closed until /);
    assert.match(calls.records.at(-1)!, /eu-2: production-canary-5: deployment window/);
  });

  it('an override of the release while it waits for a window covers its targets in the same closed time', async () => {
    const { activities, calls } = fakes();
    const start = Math.floor((await suite.env.currentTimeMs()) / MIN) * MIN;
    const d = new Date(start);
    const windows = { deny: [{ cron: `${d.getUTCMinutes()} ${d.getUTCHours()} * * *`, duration: '3h' }] };
    const status = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'fleet-override-all', args: [fakeReleaseInput('fleet-override-all', 'checkout', { ...fleetConfig(), windows })] });
      for (let moved = 0; (await handle.query(statusQuery)).state !== 'waiting-for-window'; moved += MIN) {
        assert.ok(moved < HOUR, 'the release never waited for the window');
        await suite.env.sleep(MIN);
      }
      await waitForQuiet(handle);
      await handle.executeUpdate(overrideUpdate, { args: [{ by: 'sre', reason: 'hotfix for INC-43' }] });
      await handle.result();
      const us1 = await suite.env.client.workflow.getHandle(targetWorkflowId('fleet-override-all', 'us-1')).query(statusQuery);
      return { ...(await handle.query(statusQuery)), us1 };
    });
    assert.equal(status.outcome, 'released', status.steps.at(-1)?.detail);
    assert.equal(calls.deploys.filter((x) => x.stage === 'production').length, 6);
    const last = Date.parse(status.us1.steps.find((x) => x.name.startsWith('production-canary-100: promote production'))!.startedAt);
    assert.ok(last < start + 3 * HOUR, 'the last wave deployed inside the closed window');
    assert.match(status.us1.steps.find((x) => x.name === 'production-canary-5: deployment window')?.detail ?? '', /overridden by sre: hotfix for INC-43$/);
    assert.deepEqual(status.overrides?.map((o) => [o.target, o.by]), [[undefined, 'sre']]);
  });

  it('a target refuses to run but as a child of its release: nobody else can hand it a policy', async () => {
    const { activities } = fakes();
    await withWorker(activities, async (taskQueue) => {
      const forged = { mode: 'rollout', target: { name: 'eu-1', labels: {} } } as unknown as TargetInput;
      const err = await suite.env.client.workflow.execute(targetWorkflow, { taskQueue, workflowId: 'forged-target', args: [forged] }).catch((e: unknown) => e);
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(String((err.cause as Error).message), /a target runs only as a child workflow of its release/);
    });
  });
});
