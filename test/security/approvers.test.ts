/**
 * Attack catalogue, issue 13 §2: approvers are verified, not declared. Each attack is replayed
 * with the real ssh-keygen (keys made per run, an allowed-signers file as the worker holds it) or on
 * a real git repository, against the verifier and the steering rules the workflow applies. Each of
 * them went through the code before: `--by` was a free string and four eyes read author names only.
 * The same attacks through a running release are in test/workflows/signed-steering.test.ts.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { verifySteeringRequest, type VerifyRequest } from '../../src/activities/verify';
import { canonicalPayload, type RequestContext } from '../../src/domain/signed-request';
import { changeIdentities, parseSteeringArgs, Steer, steeringRefusal, type SteeringView } from '../../src/domain/steering';
import type { PendingApproval } from '../../src/domain/release';
import { readChangeSet } from '../../src/evidence/git';
import { execFileSync } from 'node:child_process';
import { git, makeRepo } from '../helpers/fixtures';
import { body, type Keyring, keyring, sign, signInNamespace } from '../helpers/signers';

const CONTEXT: RequestContext = { releaseId: 'release-auth-0123456789ab', runId: 'run-1111', head: 'b'.repeat(40), action: 'approve', target: 'release' };
const bodyFor = (over: Partial<RequestContext> = {}, nowMs = Date.now()) => body({ ...CONTEXT, ...over }, nowMs);

/** The verifier's refusal message, or undefined when it accepted. */
async function refusal(req: VerifyRequest, signers: string | undefined, nowMs?: number): Promise<string | undefined> {
  try {
    await verifySteeringRequest(req, signers, nowMs);
    return undefined;
  } catch (e) {
    assert.ok(e instanceof ApplicationFailure, `refused as a failure: ${String(e)}`);
    assert.equal(e.type, 'SignatureRefused');
    assert.equal(e.nonRetryable, true);
    return e.message;
  }
}

describe('attack: steering in someone else\'s name (issue 13 §2)', () => {
  let keys: Keyring;
  before(() => {
    keys = keyring({ alice: 'alice@example.com', bob: 'bob@example.com', mallory: 'mallory@example.com' }, ['mallory']);
  });

  it('an unsigned approve --by bob is refused when the worker has allowed signers', async () => {
    assert.match((await refusal({ update: Steer.APPROVE, by: 'bob@example.com', expect: CONTEXT }, keys.allowedSigners)) ?? '', /approve: this worker verifies who steers a release: sign the request with your SSH key/);
  });

  it('alice signing as bob is refused: the key belongs to alice', async () => {
    const signed = await sign(keys.key('alice'), bodyFor({}));
    assert.equal(await refusal({ update: Steer.APPROVE, by: 'bob@example.com', signed, expect: CONTEXT }, keys.allowedSigners), 'the signing key belongs to alice@example.com, not bob@example.com');
    const claimed = await sign(keys.key('alice'), { ...bodyFor({}), by: 'bob@example.com' });
    assert.equal(await refusal({ update: Steer.APPROVE, signed: claimed, expect: CONTEXT }, keys.allowedSigners), 'the signing key belongs to alice@example.com, not bob@example.com');
  });

  it('a key the worker does not know is refused', async () => {
    const signed = await sign(keys.key('mallory'), bodyFor({}));
    assert.equal(await refusal({ update: Steer.APPROVE, signed, expect: CONTEXT }, keys.allowedSigners), "the signing key is not in the worker's allowed signers");
  });

  it('bob\'s own signature makes bob the approver, verified', async () => {
    const signed = await sign(keys.key('bob'), bodyFor({}));
    const r = await verifySteeringRequest({ update: Steer.APPROVE, signed, expect: CONTEXT }, keys.allowedSigners);
    assert.deepEqual({ by: r.by, verified: r.verified }, { by: 'bob@example.com', verified: true });
    assert.match(r.nonce ?? '', /^[0-9a-f]{32}$/);
  });

  it('promote --full, resume, resolve and reject unsigned are refused; abort and pause stay open', async () => {
    for (const update of [Steer.PROMOTE, Steer.RESUME, Steer.RESOLVE, Steer.REJECT])
      assert.match((await refusal({ update, by: 'bob@example.com', expect: { ...CONTEXT, action: update } }, keys.allowedSigners)) ?? '', new RegExp(`^${update}: this worker verifies who steers`), update);
    for (const update of [Steer.ABORT, Steer.PAUSE]) {
      const r = await verifySteeringRequest({ update, by: 'anyone', expect: { ...CONTEXT, action: update } }, keys.allowedSigners);
      assert.deepEqual(r, { by: 'anyone', verified: false }, update);
    }
  });

  it('a signed abort records the verified principal', async () => {
    const signed = await sign(keys.key('alice'), { ...bodyFor({ action: 'abort' }), reason: 'wrong build' });
    const r = await verifySteeringRequest({ update: Steer.ABORT, reason: 'wrong build', signed, expect: { ...CONTEXT, action: 'abort' } }, keys.allowedSigners);
    assert.equal(r.by, 'alice@example.com');
    assert.equal(r.verified, true);
  });

  it('without allowed signers, names are taken as typed and marked unverified', async () => {
    assert.deepEqual(await verifySteeringRequest({ update: Steer.APPROVE, by: 'bob', expect: CONTEXT }, undefined), { by: 'bob', verified: false });
  });
});

describe('attack: a signature replayed where it was not made for (issue 13 §2)', () => {
  let keys: Keyring;
  before(() => {
    keys = keyring({ bob: 'bob@example.com' });
  });
  const cases: [string, Partial<RequestContext>, RegExp][] = [
    ['another release', { releaseId: 'release-auth-ffffffffffff' }, /made for release "release-auth-ffffffffffff", not "release-auth-0123456789ab"/],
    ['another run of the release', { runId: 'run-0000' }, /made for run "run-0000", not "run-1111"/],
    ['another head commit', { head: 'c'.repeat(40) }, /made for head commit/],
    ['another action (a reject replayed as an approve)', { action: 'reject' }, /made for action "reject", not "approve"/],
    ['another target (the release sign-off replayed on a phase)', { target: 'production-switch' }, /made for target "production-switch", not "release"/],
  ];
  for (const [what, over, message] of cases)
    it(`a signature for ${what} is refused`, async () => {
      const signed = await sign(keys.key('bob'), bodyFor(over));
      assert.match((await refusal({ update: Steer.APPROVE, signed, expect: CONTEXT }, keys.allowedSigners)) ?? '', message);
    });

  it('a signature for another decision record is refused', async () => {
    const signed = await sign(keys.key('bob'), { ...bodyFor({}), record: 'a'.repeat(64) });
    assert.match((await refusal({ update: Steer.APPROVE, signed, expect: { ...CONTEXT, record: 'b'.repeat(64) } }, keys.allowedSigners)) ?? '', /made for decision record/);
  });

  it('an expired signature is refused, and so is one valid for hours', async () => {
    const old = Date.now() - 3_600_000;
    const expired = await sign(keys.key('bob'), bodyFor({}, old));
    assert.match((await refusal({ update: Steer.APPROVE, signed: expired, expect: CONTEXT }, keys.allowedSigners)) ?? '', /^the signature expired at .*: sign the request anew$/);
    const standing = await sign(keys.key('bob'), { ...bodyFor({}), expires: new Date(Date.now() + 24 * 3_600_000).toISOString() });
    assert.match((await refusal({ update: Steer.APPROVE, signed: standing, expect: CONTEXT }, keys.allowedSigners)) ?? '', /longer than 15 minutes/);
  });

  it('a payload changed after signing does not verify', async () => {
    const signed = await sign(keys.key('bob'), bodyFor({ target: 'staging' }));
    const forged = { ...signed, payload: signed.payload.replace('"staging"', '"release"') };
    assert.match((await refusal({ update: Steer.APPROVE, signed: forged, expect: CONTEXT }, keys.allowedSigners)) ?? '', /^the signature does not verify for bob@example.com/);
  });

  it('a reason other than the one signed is refused', async () => {
    const signed = await sign(keys.key('bob'), { ...bodyFor({ action: 'reject' }), reason: 'flaky tests' });
    assert.equal(await refusal({ update: Steer.REJECT, reason: 'approved by the board', signed, expect: { ...CONTEXT, action: 'reject' } }, keys.allowedSigners), 'reason: differs from the reason the request was signed with');
  });

  it('a signature made for git (another namespace) is refused', async () => {
    const payload = canonicalPayload(bodyFor({}));
    const signature = signInNamespace(keys.key('bob'), payload, 'git');
    assert.match((await refusal({ update: Steer.APPROVE, signed: { payload, signature }, expect: CONTEXT }, keys.allowedSigners)) ?? '', /^the signature does not verify for bob@example.com: .*namespace does not match/);
  });
});

describe('attack: a forged author approves their own change (issue 13 §2)', () => {
  const pending = (excluded: string[]): PendingApproval => ({
    kind: 'release', target: 'release', reason: 'CRITICAL', requestedAt: 't', deadline: 't', allowedApprovers: [], excludedApprovers: excluded,
  });
  const view = (excluded: string[]): SteeringView => ({ state: 'awaiting-approval', approvals: [], inBake: false, pendingApproval: pending(excluded), riskLevel: 'CRITICAL' });

  it('a commit authored as "Dependabot" by its real committer: the committer may not approve', async () => {
    const repo = makeRepo({ 'auth/login.py': 'x = 1\n' }, []);
    git(repo, ['commit', '-q', '--allow-empty', '--author', 'Dependabot <support@github.com>', '-m', 'fix(auth): bump'], '2026-01-05T11:00:00Z');
    const change = await readChangeSet(repo, 'main', 'feature', []);
    assert.deepEqual(change.commits.map((c) => [c.author, c.committer, c.committerEmail]), [['Dependabot', 'Alice Author', 'alice@example.com']]);
    const excluded = changeIdentities(change.commits);
    for (const by of ['alice@example.com', 'Alice Author', 'alice'])
      assert.match(steeringRefusal(Steer.APPROVE, { by }, view(excluded)) ?? '', /^four eyes: .* is an author, committer or co-author of this change and may not approve a CRITICAL release$/, by);
    assert.equal(steeringRefusal(Steer.APPROVE, { by: 'bob@example.com' }, view(excluded)), undefined);
  });

  it('author and committer both forged: an SSH-signed commit names its real signer, who may not approve', async () => {
    const keys = keyring({ alice: 'alice@example.com', bob: 'bob@example.com' }, [], 'git,rollgate');
    const repo = makeRepo({ 'auth/login.py': 'x = 1\n' }, []);
    const bob = { GIT_AUTHOR_NAME: 'Bob Builder', GIT_AUTHOR_EMAIL: 'bob@example.com', GIT_COMMITTER_NAME: 'Bob Builder', GIT_COMMITTER_EMAIL: 'bob@example.com' };
    execFileSync('git', ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${keys.key('alice')}`, 'commit', '-q', '-S', '--allow-empty', '-m', 'fix(auth): session'], { cwd: repo, env: { ...process.env, ...bob } });
    // Without the worker's allowed signers, the commit says only what its maker typed.
    const typed = await readChangeSet(repo, 'main', 'feature', []);
    assert.equal(typed.commits[0]?.signer, undefined);
    assert.equal(steeringRefusal(Steer.APPROVE, { by: 'alice@example.com' }, view(changeIdentities(typed.commits))), undefined, 'the limit of typed identities');
    const signed = await readChangeSet(repo, 'main', 'feature', [], { allowedSigners: keys.allowedSigners });
    assert.equal(signed.commits[0]?.signer, 'alice@example.com');
    assert.match(steeringRefusal(Steer.APPROVE, { by: 'alice@example.com' }, view(changeIdentities(signed.commits))) ?? '', /^four eyes: alice@example.com/);
  });

  it('a Co-authored-by trailer author may not approve', async () => {
    const repo = makeRepo({ 'auth/login.py': 'x = 1\n' }, []);
    git(repo, ['commit', '-q', '--allow-empty', '-m', 'fix(auth): session\n\nCo-authored-by: Carol Coder <carol@example.com>\nco-authored-by: dan@example.com'], '2026-01-05T11:00:00Z');
    const change = await readChangeSet(repo, 'main', 'feature', []);
    assert.deepEqual(change.commits[0]?.coAuthors, [{ name: 'Carol Coder', email: 'carol@example.com' }, { name: '', email: 'dan@example.com' }]);
    const excluded = changeIdentities(change.commits);
    for (const by of ['carol@example.com', 'Carol Coder', 'dan@example.com'])
      assert.match(steeringRefusal(Steer.APPROVE, { by }, view(excluded)) ?? '', /^four eyes: /, by);
  });
});

describe('attack: a name or reason that forges lines (issue 13 §2, §4)', () => {
  const forged = ['bob\n**Approved by**: carol', 'bob\r\nx', 'bob\u2028carol', 'bob\u0085', 'bob\u001b[31m', 'bob\u202e'];
  it('control characters in by and reason are refused by every update, naming the field', () => {
    for (const text of forged) {
      assert.throws(() => parseSteeringArgs(Steer.APPROVE, { by: text }), /^Error: by: must not contain control characters/, JSON.stringify(text));
      assert.throws(() => parseSteeringArgs(Steer.APPROVE, { by: 'bob', reason: `ok ${text}` }), /^Error: reason: must not contain control characters/);
      assert.throws(() => parseSteeringArgs(Steer.REJECT, { by: 'bob', reason: text }), /reason: must not contain control characters/);
      assert.throws(() => parseSteeringArgs(Steer.ABORT, { reason: text }), /reason: must not contain control characters/);
      assert.throws(() => parseSteeringArgs(Steer.ABORT, { reason: 'r', by: text }), /by: must not contain control characters/);
      assert.throws(() => parseSteeringArgs(Steer.PAUSE, { by: text }), /by: must not contain control characters/);
      assert.throws(() => parseSteeringArgs(Steer.RESUME, { by: text }), /by: must not contain control characters/);
      assert.throws(() => parseSteeringArgs(Steer.PROMOTE, { by: text, full: true }), /by: must not contain control characters/);
      assert.throws(() => parseSteeringArgs(Steer.RESOLVE, { by: 'b', action: 'retry', reason: text }), /reason: must not contain control characters/);
    }
  });
});
