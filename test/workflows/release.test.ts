import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { parseConfig } from '../../src/domain/config';
import type { ReleaseInput } from '../../src/domain/release';
import { abortUpdate, approveUpdate, pauseUpdate, promoteUpdate, rejectUpdate, RELEASE_STATE_ATTRIBUTE, resolveUpdate, statusQuery } from '../../src/workflows/messages';
import { temporal } from '@temporalio/proto';
import { releaseWorkflow } from '../../src/workflows';
import { timeSkippingSuite } from '../helpers/workflow-worker';
import { waitForQuiet, waitForStatus } from '../helpers/status';
import { changeSet, criticalChange, FAKE_HEAD, fakeActivities, fakeReleaseInput, passingGates } from '../helpers/fake-activities';
import { ledgerEntry } from '../../src/domain/ledger';

const HOUR = 3_600_000;

const STAGES = { staging: { smokeUrl: 'http://staging.test/health' }, production: { smokeUrl: 'http://prod.test/health' } };

function releaseInput(id: string, config: object = {}): ReleaseInput {
  assert.ok(parseConfig({ stages: STAGES, ...config }).ok);
  return fakeReleaseInput(id, 'auth', { stages: STAGES, ...config });
}

describe('release workflow (time-skipping server, fake activities)', () => {
  const suite = timeSkippingSuite('test', ['immediate', 'critical', 'rejected', 'state-attribute', 'no-approval', 'deploy-fails', 'abort-bake', 'cancelled', 'gate-fails', 'rollback-fails-needs-human', 'irreversible']);
  const { withWorker } = suite;

  /** Blue-green gates the traffic switch too, after the 15-minute staging bake: approve it and wait for the end. */
  async function approveSwitch(handle: WorkflowHandle<typeof releaseWorkflow>) {
    await waitForStatus(handle, (s) => s.state === 'baking');
    await suite.env.sleep('16 minutes');
    await waitForStatus(handle, (s) => s.pendingApproval?.target === 'production-switch');
    await waitForQuiet(handle);
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
    return handle.result();
  }

  it('runs the immediate plan with its real bake times: staging 15 min, production 1 h', async () => {
    const { activities, calls } = fakeActivities();
    const started = await suite.env.currentTimeMs();
    const result = await withWorker(activities, (taskQueue) =>
      suite.env.client.workflow.execute(releaseWorkflow, { taskQueue, workflowId: 'immediate', args: [releaseInput('immediate')] }),
    );
    const elapsed = (await suite.env.currentTimeMs()) - started;
    assert.equal(result.outcome, 'released');
    assert.deepEqual(calls.deploys.map((d) => `${d.action} ${d.stage}`), ['deploy staging', 'deploy production']);
    assert.deepEqual(calls.deploys.map((d) => d.idempotencyKey.replace(/@[0-9a-f-]{8}\//, '/')), ['immediate/staging-deploy', 'immediate/production-deploy']);
    assert.deepEqual(calls.smokes, ['http://staging.test/health', 'http://prod.test/health']);
    assert.ok(elapsed >= 1.25 * HOUR, `bakes took ${elapsed} ms of server time`);
    assert.equal(calls.rollbacks.length, 0);
    assert.equal(calls.ledger.length, 1);
    assert.equal(calls.ledger[0]!.outcome, 'released');
    assert.equal(calls.ledger[0]!.rollout_strategy, 'immediate');
    assert.ok(calls.ledger[0]!.deployment_time, 'production time recorded');
    assert.match(calls.records.at(-1)!, /## RESULTS[\s\S]*\*\*Outcome\*\*: released/);
  });

  it('waits for a sign-off on a CRITICAL change, refuses the author and a second approval, then goes on', async () => {
    const { activities, calls } = fakeActivities({ change: criticalChange });
    const result = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'critical', args: [releaseInput('critical')] });
      const waiting = await waitForStatus(handle, (s) => s.pendingApproval?.target === 'release');
      assert.equal(waiting.riskLevel, 'CRITICAL');
      assert.deepEqual(waiting.pendingApproval!.excludedApprovers.sort(), ['Alice Author', 'alice@example.com']);
      assert.equal(calls.deploys.length, 0, 'nothing deployed before the sign-off');
      await assert.rejects(handle.executeUpdate(approveUpdate, { args: [{ by: 'alice@example.com' }] }), (e: Error & { cause?: Error }) =>
        /four eyes/.test(e.cause?.message ?? e.message),
      );
      await assert.rejects(handle.executeUpdate(approveUpdate, { args: [{ by: '' }] }), (e: Error & { cause?: Error }) => /by:/.test(e.cause?.message ?? e.message));
      // Update arguments of the wrong shape are refused by the validators, naming the field, and leave no trace.
      const refused: [{ name: string }, unknown, RegExp][] = [
        [approveUpdate, { by: 42 }, /by: Invalid input: expected string/],
        [approveUpdate, { by: 'bob', role: 'admin' }, /Unrecognized key: "role"/],
        [approveUpdate, 'bob', /expected object/],
        [rejectUpdate, { by: 'bob' }, /reason:/],
        [pauseUpdate, { reason: 'x' }, /by:/],
        [promoteUpdate, { by: 'bob', full: 'yes' }, /full: Invalid input: expected boolean/],
        [resolveUpdate, { by: 'bob', action: 'nuke', reason: 'r' }, /action: must be retry or restored/],
      ];
      for (const [update, arg, message] of refused)
        await assert.rejects(handle.executeUpdate(update as typeof approveUpdate, { args: [arg as never] }), (e: Error & { cause?: Error }) => message.test(e.cause?.message ?? e.message), `${update.name} ${JSON.stringify(arg)}`);
      await waitForQuiet(handle);
      const approval = await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob', reason: 'reviewed' }] });
      assert.equal(approval.by, 'bob');
      await assert.rejects(handle.executeUpdate(approveUpdate, { args: [{ by: 'carol' }] }), (e: Error & { cause?: Error }) =>
        /nothing is waiting|already approved/.test(e.cause?.message ?? e.message),
      );
      return approveSwitch(handle);
    });
    assert.equal(result.outcome, 'released');
    assert.deepEqual(calls.deploys.map((d) => `${d.action} ${d.stage}`), ['deploy staging', 'deploy production-green', 'switch production', 'retire production-blue']);
    assert.match(calls.records.at(-1)!, /\*\*Approved by\*\*: bob/);
  });

  it('stops when a human rejects the sign-off, with the kind typed in the result, the ledger and the approval step', async () => {
    const { activities, calls } = fakeActivities({ change: criticalChange });
    const { result, status } = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'rejected', args: [releaseInput('rejected')] });
      await waitForStatus(handle, (s) => s.pendingApproval?.target === 'release');
      await waitForQuiet(handle);
      await handle.executeUpdate(rejectUpdate, { args: [{ by: 'bob', reason: 'not during the sale' }] });
      return { result: await handle.result(), status: await handle.query(statusQuery) };
    });
    assert.equal(result.outcome, 'aborted');
    assert.equal(result.stopKind, 'rejected');
    assert.equal(result.reason, 'rejected by bob: not during the sale');
    assert.equal(calls.ledger[0]!.reason_kind, 'rejected');
    assert.deepEqual(status.steps.find((s) => s.name === 'approval: release')!.approval, { kind: 'release', outcome: 'rejected' });
    assert.equal(calls.deploys.length, 0);
  });

  it('records a notification that could not be sent outside its phase, so that the phase keeps its own duration', async () => {
    const { activities } = fakeActivities({ failNotify: ['phase-done'] });
    const status = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'notify-fails', args: [releaseInput('notify-fails')] });
      assert.equal((await handle.result()).outcome, 'released', 'a lost notification never stops a release');
      return handle.query(statusQuery);
    });
    const lost = status.steps.filter((s) => s.name === 'notify phase-done');
    assert.equal(lost.length, 2, 'one per phase');
    assert.ok(lost.every((s) => s.status === 'failed' && s.phase === undefined && /503/.test(s.detail!)));
  });

  it('a ledger that cannot be written is reported, and never rolls back what was released', async () => {
    const { activities, calls } = fakeActivities({ failLedger: true });
    const { result, status } = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'ledger-fails', args: [releaseInput('ledger-fails')] });
      return { result: await handle.result(), status: await handle.query(statusQuery) };
    });
    assert.equal(result.outcome, 'released');
    assert.deepEqual(result.problems, ['ledger: ledger.jsonl: EACCES: permission denied']);
    assert.equal(calls.rollbacks.length, 0, 'nothing rolled back');
    assert.deepEqual(status.steps.filter((s) => s.name === 'ledger').map((s) => [s.status, s.phase]), [['failed', undefined]]);
  });

  it('keeps the RollgateState search attribute up to date when started with it, so visibility can count waiting releases', async () => {
    await suite.env.connection.operatorService.addSearchAttributes({ namespace: 'default', searchAttributes: { [RELEASE_STATE_ATTRIBUTE.name]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD } });
    const { activities } = fakeActivities({ change: criticalChange });
    const result = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, {
        taskQueue,
        workflowId: 'state-attribute',
        args: [releaseInput('state-attribute')],
        typedSearchAttributes: [{ key: RELEASE_STATE_ATTRIBUTE, value: 'deciding' }],
      });
      await waitForStatus(handle, (s) => s.pendingApproval?.target === 'release');
      await waitForQuiet(handle);
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
      return approveSwitch(handle);
    });
    assert.equal(result.outcome, 'released');
    const upserted = (await suite.env.client.workflow.getHandle('state-attribute').fetchHistory()).events!.flatMap((e) => {
      const payload = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[RELEASE_STATE_ATTRIBUTE.name];
      return payload ? [JSON.parse(Buffer.from(payload.data!).toString()) as string] : [];
    });
    // Each wait for approval is published and withdrawn; the unchanged state is never upserted twice.
    assert.deepEqual(upserted, ['awaiting-approval', 'deciding', 'deploying', 'baking', 'deploying', 'awaiting-approval', 'deploying', 'baking', 'deploying', 'finished']);
  });

  it('aborts when no approval arrives before the deadline, deploying nothing', async () => {
    const { activities, calls } = fakeActivities({ change: criticalChange });
    const started = await suite.env.currentTimeMs();
    const result = await withWorker(activities, (taskQueue) =>
      suite.env.client.workflow.execute(releaseWorkflow, { taskQueue, workflowId: 'no-approval', args: [releaseInput('no-approval')] }),
    );
    assert.equal(result.outcome, 'aborted');
    assert.match(result.reason!, /no approval within 1d/);
    assert.equal(result.stopKind, 'approval-timeout');
    assert.ok((await suite.env.currentTimeMs()) - started >= 24 * HOUR);
    assert.equal(calls.deploys.length, 0);
    assert.equal(calls.ledger[0]!.outcome, 'aborted');
    assert.equal(calls.ledger[0]!.reason_kind, 'approval-timeout');
  });

  it('rolls back staging when the production deploy fails, and verifies with the smoke test', async () => {
    const { activities, calls } = fakeActivities({ failDeploy: (s) => s.stage === 'production' });
    const result = await withWorker(activities, (taskQueue) =>
      suite.env.client.workflow.execute(releaseWorkflow, { taskQueue, workflowId: 'deploy-fails', args: [releaseInput('deploy-fails')] }),
    );
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason!, /production exited with 1/);
    assert.equal(result.stopKind, 'step-failed');
    assert.deepEqual(calls.rollbacks.map((r) => `${r.stage} → ${r.version}`), ['production → v1', 'staging → v1']);
    assert.deepEqual(calls.rollbacks.map((r) => r.idempotencyKey.replace(/@[0-9a-f-]{8}\//, '/')), ['deploy-fails/rollback-production', 'deploy-fails/rollback-staging']);
    assert.equal(calls.smokes.filter((u) => u === 'http://staging.test/health').length, 2, 'staging smoke-tested after deploy and after rollback');
    const entry = calls.ledger[0]!;
    assert.equal(entry.outcome, 'rolled_back');
    assert.ok(entry.rollback_duration_seconds !== null);
  });

  it('rolls back when aborted mid-bake', async () => {
    const { activities, calls } = fakeActivities();
    const result = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'abort-bake', args: [releaseInput('abort-bake')] });
      await waitForStatus(handle, (s) => s.state === 'baking');
      await waitForQuiet(handle);
      await handle.executeUpdate(abortUpdate, { args: [{ reason: 'error budget burned', by: 'oncall' }] });
      await assert.rejects(handle.executeUpdate(abortUpdate, { args: [{ reason: 'again' }] }));
      return handle.result();
    });
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason!, /aborted by oncall: error budget burned/);
    assert.equal(result.stopKind, 'aborted');
    assert.deepEqual(calls.deploys.map((d) => d.stage), ['staging']);
    assert.deepEqual(calls.rollbacks.map((r) => r.stage), ['staging']);
  });

  it('rolls back in a non-cancellable scope when the workflow is cancelled, and still writes the ledger', async () => {
    const { activities, calls } = fakeActivities();
    await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'cancelled', args: [releaseInput('cancelled')] });
      await waitForStatus(handle, (s) => s.state === 'baking');
      await waitForQuiet(handle);
      await handle.cancel();
      await assert.rejects(handle.result(), /cancel/i);
    });
    assert.deepEqual(calls.rollbacks.map((r) => r.stage), ['staging']);
    assert.equal(calls.ledger.length, 1);
    assert.equal(calls.ledger[0]!.outcome, 'rolled_back');
    assert.equal(calls.ledger[0]!.reason_kind, 'cancelled');
  });

  it('a release cancelled while it waits for a sign-off still resolves the page it opened', async () => {
    const { activities, calls } = fakeActivities({ change: criticalChange });
    await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'cancelled-waiting', args: [releaseInput('cancelled-waiting')] });
      // Once the wait itself runs: its request written, the page sent.
      await waitForStatus(handle, (s) => s.steps.some((x) => x.name === 'approval: release' && x.status === 'running'));
      await waitForQuiet(handle);
      await handle.cancel();
      await assert.rejects(handle.result(), /cancel/i);
    });
    assert.deepEqual(calls.pages, ['trigger human-needed-release', 'resolve human-needed-release']);
    assert.equal(calls.deploys.length, 0);
  });

  it('aborts on a failed prerequisite without deploying', async () => {
    const gates = { ...passingGates, prerequisites: passingGates.prerequisites.map((p) => (p.name === 'qa' ? { ...p, passed: false, detail: 'qa-report-x.md: FAIL (needs PASS)' } : p)) };
    const { activities, calls } = fakeActivities({ gates });
    const result = await withWorker(activities, (taskQueue) =>
      suite.env.client.workflow.execute(releaseWorkflow, { taskQueue, workflowId: 'gate-fails', args: [releaseInput('gate-fails')] }),
    );
    assert.equal(result.outcome, 'aborted');
    assert.equal(result.decision, 'ABORTED');
    assert.equal(result.stopKind, 'gates');
    assert.equal(calls.deploys.length, 0);
    assert.match(calls.records[0]!, /⛔ ABORTED/);
  });

  it('waits for a human when the rollback itself fails, notifies, and rolls back when told to retry', async () => {
    let rollbackFails = true;
    const { activities, calls } = fakeActivities({ failDeploy: (s) => s.stage === 'production', failRollback: () => rollbackFails });
    const result = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'rollback-fails-needs-human', args: [releaseInput('rollback-fails-needs-human')] });
      await suite.env.sleep(20 * 60_000); // the staging bake
      const waiting = await waitForStatus(handle, (s) => s.state === 'needs-human');
      assert.match(waiting.needsHuman!.reason, /the rollback failed too/);
      // Hours pass: it never ends by itself.
      await suite.env.sleep(48 * HOUR);
      assert.equal((await handle.query(statusQuery)).state, 'needs-human');
      const urgent = calls.notifications.filter((x) => x.startsWith('rollback-failed'));
      assert.equal(urgent.length, 1);
      assert.match(urgent[0]!, /^rollback-failed: step failed: .*the rollback failed too/);
      assert.deepEqual(calls.notifications.map((x) => x.split(':')[0]), ['deploy-starting', 'phase-done', 'rollback', 'rollback-failed']);
      assert.match(calls.records.at(-1)!, /waiting for a human decision/);
      assert.deepEqual(calls.pages, ['trigger rollback-failed'], 'the on-call engineer is paged once, however long it waits');
      assert.equal(calls.notes.length, 1, 'the notes say so now, not once a human has resolved it');
      assert.match(calls.notes[0]!.content, /^- \*\*Outcome\*\*: rollback FAILED to v1/m);
      await assert.rejects(handle.executeUpdate(resolveUpdate, { args: [{ by: 'oncall', action: 'later' as never, reason: 'x' }] }), (e: Error) => /action: must be retry or restored/.test(String(e.cause)));
      rollbackFails = false;
      await waitForQuiet(handle);
      await handle.executeUpdate(resolveUpdate, { args: [{ by: 'oncall', action: 'retry', reason: 'the cluster is back' }] });
      return handle.result();
    });
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason!, /the rollback succeeded when oncall retried it/);
    assert.deepEqual(calls.pages, ['trigger rollback-failed', 'resolve rollback-failed']);
    assert.equal(calls.notes.length, 2);
    assert.match(calls.notes[1]!.content, /^## .* · auth v2 · rolled_back$/m);
    assert.deepEqual(calls.rollbacks.map((r) => r.stage), ['production', 'production', 'staging']);
    assert.equal(calls.ledger.length, 1);
    assert.ok(calls.ledger[0]!.rollback_started_at! < calls.ledger[0]!.rollback_finished_at!);
  });

  it('records a release restored by hand after a failed rollback', async () => {
    const { activities, calls } = fakeActivities({ failDeploy: (s) => s.stage === 'production', failRollback: true });
    const result = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'rollback-fails-restored', args: [releaseInput('rollback-fails-restored')] });
      await suite.env.sleep(20 * 60_000); // the staging bake
      await waitForStatus(handle, (s) => s.state === 'needs-human');
      await waitForQuiet(handle);
      await handle.executeUpdate(resolveUpdate, { args: [{ by: 'oncall', action: 'restored', reason: 'redeployed v1 by hand' }] });
      return handle.result();
    });
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason!, /oncall restored the release by hand: redeployed v1 by hand/);
    assert.equal(calls.rollbacks.length, 1);
    assert.equal(calls.ledger[0]!.outcome, 'rolled_back');
  });

  it('an irreversible migration: the sign-off must acknowledge what a rollback cannot restore; the on-call is paged, then the page resolved; merged first, green tested at its own URL', async () => {
    const drop = changeSet([{ path: 'db/migrations/0003_drop.sql', status: 'A', insertions: 1, deletions: 0, binary: false, added: ['DROP TABLE legacy;'] }]);
    const { activities, calls } = fakeActivities({ change: drop });
    const config = { deploy: { merge: true }, blueGreen: { greenSmokeUrl: 'http://green.test/health' } };
    const { result, status } = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'irreversible', args: [releaseInput('irreversible', config)] });
      const waiting = await waitForStatus(handle, (s) => s.pendingApproval?.target === 'release');
      assert.equal(waiting.pendingApproval!.mustAcknowledge, 'irreversible-migration');
      assert.match(calls.records.at(-1)!, /### What a rollback can and cannot restore\n/);
      await assert.rejects(handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] }), (e: Error & { cause?: Error }) =>
        /irreversible migration: a rollback restores the code, never the data .*--acknowledge irreversible-migration/.test(e.cause?.message ?? e.message),
      );
      await waitForQuiet(handle);
      const approval = await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob', acknowledge: 'irreversible-migration' }] });
      assert.equal(approval.acknowledged, 'irreversible-migration');
      const result = await approveSwitch(handle);
      return { result, status: await handle.query(statusQuery) };
    });
    assert.equal(result.outcome, 'released');
    assert.deepEqual(calls.deploys.map((d) => `${d.action} ${d.stage}`), ['merge main', 'deploy staging', 'deploy production-green', 'switch production', 'retire production-blue']);
    assert.equal(calls.deploys[0]!.commit, FAKE_HEAD, 'the commit judged is the commit merged');
    assert.deepEqual(calls.smokes, ['http://staging.test/health', 'http://green.test/health', 'http://prod.test/health'], 'green tested where it answers, before the switch');
    assert.deepEqual(calls.pages, ['trigger human-needed-release', 'resolve human-needed-release', 'trigger human-needed-production-switch', 'resolve human-needed-production-switch']);
    assert.match(calls.records.at(-1)!, /\*\*Approved by\*\*: bob .*; acknowledged: a rollback cannot restore the data the irreversible migration drops/);
    assert.equal(status.approvals[0]!.acknowledged, 'irreversible-migration');
    assert.equal(calls.notes.length, 1);
    assert.match(calls.notes[0]!.content, /^## .* · auth v2 · released$/m);
  });

  it('a blue-green rollback after the switch verifies green\'s stage at the production URL; the notes say so and the record estimates from the ledger', async () => {
    const past = [60, 180].map((seconds, i) => ({ ...ledgerEntry({ releaseId: `old-${i}`, run: `old-${i}@1`, service: 'auth', startedAt: new Date(Date.now() - HOUR).toISOString(), finishedAt: new Date().toISOString(), decision: 'APPROVED', outcome: 'rolled_back', version: 'v1' }), rollback_duration_seconds: seconds }));
    const { activities, calls } = fakeActivities({ change: criticalChange, pastLedger: past });
    const config = { blueGreen: { greenSmokeUrl: 'http://green.test/health' } };
    const result = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'green-rollback', args: [releaseInput('green-rollback', config)] });
      await waitForStatus(handle, (s) => s.pendingApproval?.target === 'release');
      await waitForQuiet(handle);
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
      await waitForStatus(handle, (s) => s.state === 'baking');
      await suite.env.sleep('16 minutes');
      await waitForStatus(handle, (s) => s.pendingApproval?.target === 'production-switch');
      await waitForQuiet(handle);
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'carol' }] });
      await waitForStatus(handle, (s) => s.state === 'baking' && s.currentStep?.startsWith('production-switch') === true);
      await waitForQuiet(handle);
      await handle.executeUpdate(abortUpdate, { args: [{ reason: 'checkout errors', by: 'sre' }] });
      return handle.result();
    });
    assert.equal(result.outcome, 'rolled_back');
    assert.deepEqual(calls.rollbacks.map((r) => r.stage), ['production', 'production-green', 'staging']);
    assert.deepEqual(calls.smokes.slice(3), ['http://prod.test/health', 'http://prod.test/health', 'http://staging.test/health'], 'after the rollback, green\'s own URL serves nothing');
    assert.match(calls.records[0]!, /\*\*Estimated rollback time\*\*: median 2m, measured over 2 rollbacks of auth in the ledger's last 90 days/);
    const notes = calls.notes[0]!.content;
    assert.match(notes, /^- \*\*Outcome\*\*: rolled back to v1 in .*: aborted by sre: checkout errors$/m);
    assert.match(notes, /^- \*\*Phases run\*\*: staging-deploy → production-green-deploy → production-switch$/m);
    assert.match(notes, /^- \*\*Approved by\*\*: bob at .*\n- \*\*Approved by\*\*: carol at .* \(production-switch\)$/m);
    assert.match(notes, /^- \*\*Follow-up\*\*: main may still hold `f{40}`; revert its merge before releasing from main again$/m);
  });

  it('refuses malformed input with the field named', async () => {
    const { activities } = fakeActivities();
    await withWorker(activities, async (taskQueue) => {
      const bad = { ...releaseInput('bad'), base: '--upload-pack=x', policyFile: '../elsewhere/rollgate.yaml' };
      await assert.rejects(
        suite.env.client.workflow.execute(releaseWorkflow, { taskQueue, workflowId: 'bad-input', args: [bad] }),
        (e: Error & { cause?: Error }) => /base: must be a full commit id/.test(e.cause?.message ?? '') && /policyFile: must be a path inside the repository/.test(e.cause?.message ?? ''),
      );
    });
  });
});
