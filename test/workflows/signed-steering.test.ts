/**
 * Issue 13 §2 through a running release: the workflow's real code on the time-skipping server,
 * fake activities except the verifier, which is the real one (ssh-keygen against an allowed-signers
 * file made for the test). Each attack was let through by the code before: `--by` was a free
 * string, four eyes read author names only, and promote --full took any name.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ChangeSet } from '../../src/domain/changeset';
import type { ReleaseStatus } from '../../src/domain/release';
import type { SignedBody } from '../../src/domain/signed-request';
import { main } from '../../src/cli/main';
import { freezeRegistryWorkflow, releaseWorkflow } from '../../src/workflows';
import { abortUpdate, approveUpdate, FREEZE_REGISTRY_ID, freezesQuery, overrideUpdate, pauseUpdate, promoteUpdate, resumeUpdate, statusQuery, unfreezeUpdate } from '../../src/workflows/messages';
import { REGISTRY_HEAD, UNFREEZE } from '../../src/domain/freezes';
import { changeSet, fakeActivities, fakeReleaseInput } from '../helpers/fake-activities';
import { timeSkippingEnv } from '../helpers/servers';
import { timeSkippingSuite, workerOn } from '../helpers/workflow-worker';
import { body, type Keyring, keyring, sign } from '../helpers/signers';
import { waitForQuiet, waitForStatus } from '../helpers/status';

const STAGES = { staging: { smokeUrl: 'http://staging.test/health' }, production: { smokeUrl: 'http://prod.test/health' } };

/** Logic in auth (CRITICAL), committed by Alice under Dependabot's name, with Carol as co-author. */
const forgedAuthor: ChangeSet = {
  ...changeSet([{ path: 'auth/login.py', status: 'M', insertions: 12, deletions: 3, binary: false }], 'fix(auth): bump'),
  commits: [
    {
      sha: 'b'.repeat(40),
      subject: 'fix(auth): bump',
      author: 'Dependabot',
      email: 'support@github.com',
      committer: 'Alice Author',
      committerEmail: 'alice@example.com',
      coAuthors: [{ name: 'Carol Coder', email: 'carol@example.com' }],
      time: '2026-01-05T11:00:00Z',
    },
  ],
};

/** Waiting for the release's sign-off, its record written: what the approver reads is what status names. */
const asking = (s: ReleaseStatus) => s.pendingApproval?.target === 'release' && s.steps.some((x) => x.name === 'approval: release');

/** The refusal an update met: the validator's or the handler's message. */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { cause?: Error };
    return err.cause?.message ?? err.message;
  }
  assert.fail('the update was accepted');
}

describe('signed steering of a running release (issue 13 §2)', () => {
  const suite = timeSkippingSuite('signed');
  const { withWorker } = suite;
  let keys: Keyring;

  before(() => {
    keys = keyring({ alice: 'alice@example.com', bob: 'bob@example.com', carol: 'carol@example.com', mallory: 'mallory@example.com' }, ['mallory']);
  });

  /** A request signed by `who` for what status shows, with a test's changes. */
  async function signedFor(who: string, s: ReleaseStatus, action: string, target: string, over: Partial<SignedBody> = {}) {
    assert.ok(s.signing, 'status says what to sign for');
    const now = await suite.env.currentTimeMs();
    return sign(keys.key(who), { ...body({ ...s.signing, action, target }, now), ...over });
  }

  /**
   * A test's steps on a time-skipping server of its own, with a worker of `activities` and the CLI
   * (its own `main`) pointed at it: the CLI signs with the real clock, which a shared server's
   * skipped time runs ahead of.
   */
  async function onOwnServer(activities: object, prefix: string, fn: (own: TestWorkflowEnvironment, taskQueue: string, cli: (args: string[]) => Promise<{ code: number; text: string }>) => Promise<void>) {
    const own = await timeSkippingEnv();
    const saved = { address: process.env.TEMPORAL_ADDRESS, namespace: process.env.TEMPORAL_NAMESPACE };
    process.env.TEMPORAL_ADDRESS = own.address;
    process.env.TEMPORAL_NAMESPACE = 'default';
    const cli = async (args: string[]) => {
      const lines: string[] = [];
      const code = await main(args, { log: (l) => lines.push(l), err: (l) => lines.push(l) });
      return { code, text: lines.join('\n') };
    };
    try {
      await workerOn(() => own, () => suite.bundle, prefix)(activities, (taskQueue) => fn(own, taskQueue, cli));
    } finally {
      await own.teardown();
      for (const [k, v] of [['TEMPORAL_ADDRESS', saved.address], ['TEMPORAL_NAMESPACE', saved.namespace]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }

  it('rollgate approve --key signs for what status shows; the worker verifies it', async () => {
    const { activities } = fakeActivities({ change: forgedAuthor, signers: keys.allowedSigners });
    await onOwnServer(activities, 'cli', async (own, taskQueue, cli) => {
      const handle = await own.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'cli-signed', args: [fakeReleaseInput('cli-signed', 'auth', { stages: STAGES })] });
      await waitForStatus(handle, (x) => asking(x));
      const typed = await cli(['approve', 'cli-signed', '--by', 'bob@example.com']);
      assert.equal(typed.code, 1);
      assert.match(typed.text, /^rollgate: release cli-signed: approve: this worker verifies who steers a release: sign the request/);
      assert.deepEqual(await cli(['approve', 'cli-signed', '--key', keys.key('alice')]), { code: 1, text: 'rollgate: release cli-signed: four eyes: alice@example.com is an author, committer or co-author of this change and may not approve a CRITICAL release' });
      assert.deepEqual(await cli(['approve', 'cli-signed', '--key', keys.key('bob'), '--reason', ' read the record ']), { code: 0, text: 'approved release of cli-signed as bob@example.com (signature verified)' });
      assert.equal((await handle.query(statusQuery)).approvals[0]?.reason, 'read the record');
      assert.deepEqual(await cli(['abort', 'cli-signed', '--key', keys.key('carol'), '--reason', 'enough']), { code: 0, text: 'aborting cli-signed: it rolls back what it changed' });
      assert.match((await handle.result()).reason ?? '', /aborted by carol@example.com: enough/);
    });
  });

  it('refuses an unsigned approval, signatures replayed or expired, the committer and a co-author; the signer approves, verified', async () => {
    const { activities, calls } = fakeActivities({ change: forgedAuthor, signers: keys.allowedSigners });
    await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'signed-approval', args: [fakeReleaseInput('signed-approval', 'auth', { stages: STAGES })] });
      const s = await waitForStatus(handle, (x) => asking(x));
      assert.equal(s.riskLevel, 'CRITICAL');
      // The record's digest is the file's: what `sha256sum` says of the record the approver read.
      assert.deepEqual(s.signing, { releaseId: 'signed-approval', runId: handle.firstExecutionRunId, head: 'b'.repeat(40), record: createHash('sha256').update(calls.records.at(-1)!).digest('hex') });
      assert.deepEqual(s.pendingApproval!.excludedApprovers, ['Dependabot', 'support@github.com', 'Alice Author', 'alice@example.com', 'Carol Coder', 'carol@example.com']);

      // In someone else's name: a typed name, and alice's key claiming bob.
      assert.match(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'bob@example.com' }] })), /^approve: this worker verifies who steers a release: sign the request with your SSH key/);
      assert.equal(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'bob@example.com', signed: await signedFor('alice', s, 'approve', 'release') }] })), 'the signing key belongs to alice@example.com, not bob@example.com');
      assert.equal(await refusal(handle.executeUpdate(approveUpdate, { args: [{ signed: await signedFor('mallory', s, 'approve', 'release') }] })), "the signing key is not in the worker's allowed signers");
      // Replayed from elsewhere, or expired.
      const replays: [Partial<SignedBody>, string, RegExp][] = [
        [{ releaseId: 'release-auth-ffffffffffff' }, 'release', /made for release "release-auth-ffffffffffff"/],
        [{ runId: 'another-run' }, 'release', /made for run "another-run"/],
        [{ head: 'c'.repeat(40) }, 'release', /made for head commit/],
        [{ record: 'a'.repeat(64) }, 'release', /made for decision record/],
        [{}, 'production-switch', /made for target "production-switch", not "release"/],
        [{ expires: new Date((await suite.env.currentTimeMs()) - 3_600_000).toISOString() }, 'release', /the signature expired at/],
      ];
      for (const [over, target, message] of replays) assert.match(await refusal(handle.executeUpdate(approveUpdate, { args: [{ signed: await signedFor('bob', s, 'approve', target, over) }] })), message);
      assert.match(await refusal(handle.executeUpdate(approveUpdate, { args: [{ signed: await signedFor('bob', s, 'reject', 'release') }] })), /made for action "reject", not "approve"/);
      // The forged author's real committer, and the co-author, with their own keys.
      assert.match(await refusal(handle.executeUpdate(approveUpdate, { args: [{ signed: await signedFor('alice', s, 'approve', 'release') }] })), /^four eyes: alice@example.com is an author, committer or co-author/);
      assert.match(await refusal(handle.executeUpdate(approveUpdate, { args: [{ signed: await signedFor('carol', s, 'approve', 'release') }] })), /^four eyes: carol@example.com/);
      // A name that forges a line never gets that far.
      assert.match(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'bob\n**Approved by**: carol' }] })), /by: must not contain control characters/);
      assert.equal((await handle.query(statusQuery)).approvals.length, 0);

      await waitForQuiet(handle);
      const approval = await handle.executeUpdate(approveUpdate, { args: [{ reason: 'reviewed', signed: await signedFor('bob', s, 'approve', 'release', { reason: 'reviewed' }) }] });
      assert.deepEqual({ by: approval.by, verified: approval.verified, reason: approval.reason }, { by: 'bob@example.com', verified: true, reason: 'reviewed' });

      // Pausing stays open; resuming needs a signature; a signed request is good once.
      await waitForStatus(handle, (x) => x.state === 'baking');
      const pause = await signedFor('carol', await handle.query(statusQuery), 'pause', 'release');
      await waitForQuiet(handle);
      await handle.executeUpdate(pauseUpdate, { args: [{ signed: pause }] });
      assert.equal((await handle.query(statusQuery)).paused?.by, 'carol@example.com');
      assert.match(await refusal(handle.executeUpdate(resumeUpdate, { args: [{ by: 'carol' }] })), /^resume: this worker verifies who steers/);
      await waitForQuiet(handle);
      await handle.executeUpdate(resumeUpdate, { args: [{ signed: await signedFor('carol', s, 'resume', 'release') }] });
      assert.equal(await refusal(handle.executeUpdate(pauseUpdate, { args: [{ signed: pause }] })), 'this signed request was already used: sign a new one');

      // promote --full skips every bake: never on a typed name, nor on a plain promote's signature.
      assert.match(await refusal(handle.executeUpdate(promoteUpdate, { args: [{ by: 'bob', full: true }] })), /^promote: this worker verifies who steers/);
      assert.match(await refusal(handle.executeUpdate(promoteUpdate, { args: [{ full: true, signed: await signedFor('bob', s, 'promote', 'current bake') }] })), /made for target "current bake", not "full"/);
      // Stopping stays easy: an abort whose signature fails (a key the worker does not know) still stops, under the name typed.
      await waitForQuiet(handle);
      await handle.executeUpdate(abortUpdate, { args: [{ reason: 'enough', by: 'anyone', signed: await signedFor('mallory', s, 'abort', 'release', { by: 'anyone', reason: 'enough' }) }] });
      const result = await handle.result();
      assert.equal(result.outcome, 'rolled_back');
      assert.match(result.reason ?? '', /aborted by anyone: enough/);
    });
  });

  it('an acknowledgement is the signer\'s: one added to, or taken from, a signed approval is refused', async () => {
    const drop = changeSet([{ path: 'db/migrations/0004_drop.sql', status: 'A', insertions: 1, deletions: 0, binary: false, added: ['DROP TABLE sessions;'] }]);
    const { activities } = fakeActivities({ change: drop, signers: keys.allowedSigners });
    await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'signed-acknowledge', args: [fakeReleaseInput('signed-acknowledge', 'auth', { stages: STAGES })] });
      const s = await waitForStatus(handle, (x) => asking(x));
      assert.equal(s.pendingApproval!.mustAcknowledge, 'irreversible-migration');
      // Bob signed a plain approval; someone relaying it adds the acknowledgement he never gave.
      const plain = await signedFor('bob', s, 'approve', 'release');
      assert.match(await refusal(handle.executeUpdate(approveUpdate, { args: [{ signed: plain }] })), /--acknowledge irreversible-migration/);
      assert.equal(await refusal(handle.executeUpdate(approveUpdate, { args: [{ acknowledge: 'irreversible-migration', signed: plain }] })), 'acknowledge: differs from what the request was signed to acknowledge');
      // Nor may it be stripped from one he signed: the payload and the request say the same, or nothing applies.
      const acknowledged = await signedFor('bob', s, 'approve', 'release', { acknowledge: 'irreversible-migration' });
      assert.match(await refusal(handle.executeUpdate(approveUpdate, { args: [{ signed: acknowledged }] })), /--acknowledge irreversible-migration/);
      assert.equal((await handle.query(statusQuery)).approvals.length, 0);
      await waitForQuiet(handle);
      const approval = await handle.executeUpdate(approveUpdate, { args: [{ acknowledge: 'irreversible-migration', signed: acknowledged }] });
      assert.deepEqual({ by: approval.by, verified: approval.verified, acknowledged: approval.acknowledged }, { by: 'bob@example.com', verified: true, acknowledged: 'irreversible-migration' });
      await waitForQuiet(handle);
      await handle.executeUpdate(abortUpdate, { args: [{ reason: 'test over', by: 'bob' }] });
      await handle.result();
    });
  });

  it('without allowed signers, approvals take the typed name, marked unverified', async () => {
    const { activities } = fakeActivities({ change: forgedAuthor });
    await withWorker(activities, async (taskQueue) => {
      const handle: WorkflowHandle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'unsigned-approval', args: [fakeReleaseInput('unsigned-approval', 'auth', { stages: STAGES, approval: { approvers: ['bob', 'alice@example.com', 'Carol Coder'] } })] });
      await waitForStatus(handle, (x) => asking(x));
      // Four eyes still read the committer and the co-author.
      assert.match(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'alice@example.com' }] })), /^four eyes/);
      assert.match(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'Carol Coder' }] })), /^four eyes/);
      await waitForQuiet(handle);
      const approval = await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
      assert.deepEqual({ by: approval.by, verified: approval.verified }, { by: 'bob', verified: false });
      // Stopping stays easy: an unsigned abort, with no name at all.
      await waitForQuiet(handle);
      await handle.executeUpdate(abortUpdate, { args: [{ reason: 'done looking' }] });
      assert.equal((await handle.result()).stopKind, 'aborted');
    });
  });
  it('breaking a deployment window takes a signed override: a typed name, or a signature made for another action or another hold, is refused', async () => {
    const { activities } = fakeActivities({ signers: keys.allowedSigners });
    const start = new Date(Math.floor((await suite.env.currentTimeMs()) / 60_000) * 60_000);
    const deny = { cron: `${start.getUTCMinutes()} ${start.getUTCHours()} * * *`, duration: '12h' };
    await withWorker(activities, async (taskQueue) => {
      const input = fakeReleaseInput('signed-override', 'checkout', { stages: STAGES, bake: { staging: '0s' }, windows: { deny: [deny] } });
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'signed-override', args: [input] });
      const s = await waitForStatus(handle, (x) => x.state === 'waiting-for-window');
      assert.match(await refusal(handle.executeUpdate(overrideUpdate, { args: [{ by: 'bob@example.com', reason: 'hotfix' }] })), /^override: this worker verifies who steers/);
      assert.match(await refusal(handle.executeUpdate(overrideUpdate, { args: [{ reason: 'hotfix', signed: await signedFor('bob', s, 'resume', s.hold!.target, { reason: 'hotfix' }) }] })), /made for action "resume", not "override"/);
      // Signed for what it breaks: a signature for another hold (a freeze) does not break this window.
      assert.match(await refusal(handle.executeUpdate(overrideUpdate, { args: [{ reason: 'hotfix', signed: await signedFor('bob', s, 'override', 'freeze F1', { reason: 'hotfix' }) }] })), /made for target "freeze F1", not "window until /);
      await waitForQuiet(handle);
      await handle.executeUpdate(overrideUpdate, { args: [{ reason: 'hotfix', signed: await signedFor('bob', s, 'override', s.hold!.target, { reason: 'hotfix' }) }] });
      const result = await handle.result();
      assert.equal(result.outcome, 'released');
      const done = await handle.query(statusQuery);
      assert.deepEqual(done.overrides?.map((o) => [o.by, o.verified, o.reason]), [['bob@example.com', true, 'hotfix']]);
    });
  });

  it('lifting a freeze takes a signed unfreeze: a typed name, a key outside the allowed signers, a signature for another freeze or registry run, or one used twice, is refused', async () => {
    const { activities } = fakeActivities({ signers: keys.allowedSigners });
    await onOwnServer(activities, 'unfreeze', async (own, taskQueue, cli) => {
      const registry = await own.client.workflow.start(freezeRegistryWorkflow, { taskQueue, workflowId: FREEZE_REGISTRY_ID, args: [] });
      try {
        // Freezing needs no signature: stopping releases stays easy.
        assert.equal((await cli(['freeze', '--service', 'checkout', '--until', '1d', '--reason', 'year end', '--by', 'cab'])).code, 0);
        assert.equal((await cli(['freeze', '--service', 'search', '--until', '1d', '--reason', 'migration', '--by', 'cab'])).code, 0);
        // The attack: anyone who reaches the server types a name and lifts the freeze for every release it holds.
        const typed = await cli(['unfreeze', 'F1', '--by', 'bob@example.com']);
        assert.equal(typed.code, 1);
        assert.match(typed.text, /^rollgate: unfreeze: this worker verifies who steers a release: sign the request with your SSH key/);
        const outsider = await cli(['unfreeze', 'F1', '--key', keys.key('mallory')]);
        assert.deepEqual(outsider, { code: 1, text: "rollgate: the signing key is not in the worker's allowed signers" });
        // Signed for something else: another freeze, an earlier run of the registry, replayed.
        const ctx = { releaseId: FREEZE_REGISTRY_ID, runId: registry.firstExecutionRunId, head: REGISTRY_HEAD, action: UNFREEZE };
        const now = Date.now();
        assert.match(await refusal(registry.executeUpdate(unfreezeUpdate, { args: [{ id: 'F1', signed: await sign(keys.key('bob'), body({ ...ctx, target: 'F2' }, now)) }] })), /made for target "F2", not "F1"/);
        assert.match(await refusal(registry.executeUpdate(unfreezeUpdate, { args: [{ id: 'F1', signed: await sign(keys.key('bob'), body({ ...ctx, runId: 'an-earlier-run', target: 'F1' }, now)) }] })), /made for run "an-earlier-run"/);
        assert.match(await refusal(registry.executeUpdate(unfreezeUpdate, { args: [{ services: ['Search', 'checkout'], signed: await sign(keys.key('bob'), body({ ...ctx, target: 'services search' }, now)) }] })), /made for target "services search", not "services checkout,search"/);
        assert.deepEqual((await registry.query(freezesQuery)).map((f) => f.id), ['F1', 'F2'], 'nothing refused lifted a freeze');
        // The signer's own request, through the CLI: who unfroze is the key's principal, verified.
        const lifted = await cli(['unfreeze', 'F1', '--key', keys.key('bob'), '--reason', ' done early ']);
        assert.equal(lifted.code, 0, lifted.text);
        assert.match(lifted.text, /^ended: F1 \(checkout\) by cab until \S+: year end\n {2}by bob@example\.com \(signature verified\)$/);
        // A signed request is good once: replayed on a new freeze of the same service, it is refused.
        const bySearch = await sign(keys.key('bob'), body({ ...ctx, target: 'services search' }, now));
        const ended = await registry.executeUpdate(unfreezeUpdate, { args: [{ services: ['search'], signed: bySearch }] });
        assert.deepEqual([ended.ended.map((f) => f.id), ended.by, ended.verified], [['F2'], 'bob@example.com', true]);
        assert.equal((await cli(['freeze', '--service', 'search', '--until', '1d', '--reason', 'migration, again', '--by', 'cab'])).code, 0);
        assert.match(await refusal(registry.executeUpdate(unfreezeUpdate, { args: [{ services: ['search'], signed: bySearch }] })), /already used/);
        assert.deepEqual((await registry.query(freezesQuery)).map((f) => f.id), ['F3']);
      } finally {
        await registry.terminate('the test is over');
      }
    });
  });
});
