import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PendingApproval, ReleaseState } from '../../src/domain/release';
import { canonicalPayload, parseSignedBody, type SignedBody, signedRequestRefusal } from '../../src/domain/signed-request';
import { approverListProblem, changeIdentities, needsSignature, parseSteeringArgs, requestTarget, Steer, type SteeringArgs, steeringRefusal, type SteeringView } from '../../src/domain/steering';

const pending = (over: Partial<PendingApproval> = {}): PendingApproval => ({
  kind: 'release',
  target: 'release',
  reason: 'HIGH risk needs a sign-off',
  requestedAt: '2026-01-01T00:00:00Z',
  deadline: '2026-01-02T00:00:00Z',
  allowedApprovers: [],
  excludedApprovers: [],
  ...over,
});
const view = (state: ReleaseState, over: Partial<SteeringView> = {}): SteeringView => ({ state, approvals: [], inBake: state === 'baking' || state === 'paused', ...over });
const refusal = <K extends Steer>(update: K, args: SteeringArgs[K], v: SteeringView) => steeringRefusal(update, args, v);

describe('steering rules: which state allows which update', () => {
  const states: ReleaseState[] = ['deciding', 'awaiting-approval', 'deploying', 'baking', 'paused', 'waiting-for-window', 'frozen', 'rolling-back', 'verifying-rollback', 'needs-human', 'finished'];
  const allowed = (update: Steer, args: never, over: (s: ReleaseState) => Partial<SteeringView> = () => ({})) =>
    states.filter((s) => refusal(update, args, view(s, { ...(s === 'finished' ? { outcome: 'released' } : {}), ...over(s) })) === undefined);

  it('pause: while deciding, waiting for a sign-off, deploying, baking, or held by a window or a freeze', () => {
    assert.deepEqual(allowed(Steer.PAUSE, { by: 'a' } as never), ['deciding', 'awaiting-approval', 'deploying', 'baking', 'waiting-for-window', 'frozen']);
  });
  it('resume: only while paused, whatever the state shows', () => {
    assert.deepEqual(allowed(Steer.RESUME, { by: 'a' } as never), []);
    assert.deepEqual(allowed(Steer.RESUME, { by: 'a' } as never, () => ({ paused: { by: 'x', at: 't' } })), states);
  });
  it('promote: the current bake only while baking or paused; --full also while deploying or held (it takes effect once the hold ends)', () => {
    assert.deepEqual(allowed(Steer.PROMOTE, { by: 'a', full: false } as never), ['baking', 'paused']);
    assert.deepEqual(allowed(Steer.PROMOTE, { by: 'a', full: true } as never), ['deploying', 'baking', 'paused', 'waiting-for-window', 'frozen']);
  });
  it('override: only while held by a deployment window or a freeze', () => {
    assert.deepEqual(allowed(Steer.OVERRIDE, { by: 'a', reason: 'hotfix' } as never, () => ({ hold: 'freeze F1' })), ['waiting-for-window', 'frozen']);
    assert.deepEqual(allowed(Steer.OVERRIDE, { by: 'a', reason: 'hotfix' } as never), [], 'the hold just ended: nothing to break');
    assert.equal(refusal(Steer.OVERRIDE, { by: 'a', reason: 'r' }, view('baking')), 'nothing to override: the release is baking, not held by a deployment window or a freeze');
  });
  it('promote: never while paused between phases, where it would end the next bake before it began', () => {
    assert.equal(refusal(Steer.PROMOTE, { by: 'a', full: false }, view('paused', { inBake: false })), 'nothing to promote: the release is paused between phases, not in a bake');
    assert.equal(refusal(Steer.PROMOTE, { by: 'a', full: false }, view('paused', { inBake: true })), undefined);
    assert.equal(refusal(Steer.PROMOTE, { by: 'a', full: true }, view('paused', { inBake: false })), undefined);
  });
  it('abort: before the rollback begins, once; refused, not ignored, once it has', () => {
    assert.deepEqual(allowed(Steer.ABORT, { reason: 'r' } as never), ['deciding', 'awaiting-approval', 'deploying', 'baking', 'paused', 'waiting-for-window', 'frozen']);
    assert.equal(refusal(Steer.ABORT, { reason: 'r' }, view('rolling-back')), 'the release is already rolling-back: nothing is left to abort');
    assert.match(refusal(Steer.ABORT, { reason: 'r' }, view('needs-human')) ?? '', /waits for a human: rollgate resolve/);
    assert.equal(refusal(Steer.ABORT, { reason: 'r' }, view('baking', { abortRequested: { reason: 'wrong build' } })), 'abort already requested: wrong build');
    assert.equal(refusal(Steer.ABORT, { reason: 'r' }, view('finished', { outcome: 'rolled_back' })), 'the release already finished: rolled_back');
  });
  it('resolve: only a release that needs a human after a failed rollback', () => {
    assert.deepEqual(allowed(Steer.RESOLVE, { by: 'a', action: 'retry', reason: 'r' } as never), ['needs-human']);
  });
  it('approve and reject: only while something waits for approval', () => {
    assert.deepEqual(allowed(Steer.APPROVE, { by: 'a' } as never), []);
    assert.deepEqual(allowed(Steer.REJECT, { by: 'a', reason: 'r' } as never), []);
    assert.deepEqual(allowed(Steer.REJECT, { by: 'a', reason: 'r' } as never, () => ({ pendingApproval: pending() })), states);
  });
  it('pause twice names who paused', () => {
    assert.equal(refusal(Steer.PAUSE, { by: 'b' }, view('baking', { paused: { by: 'ann', at: 'T' } })), 'already paused by ann at T');
  });
});

describe('steering rules: who may approve', () => {
  const waiting = (p: Partial<PendingApproval>) => view('awaiting-approval', { pendingApproval: pending(p), riskLevel: 'CRITICAL' });
  it('says what was approved last when nothing waits', () => {
    assert.equal(
      refusal(Steer.APPROVE, { by: 'bob' }, view('baking', { approvals: [{ kind: 'release', target: 'release', by: 'ann', at: 'T' }] })),
      'nothing is waiting for approval (last approved by ann at T)',
    );
    assert.equal(refusal(Steer.APPROVE, { by: 'bob' }, view('baking')), 'nothing is waiting for approval (state: baking)');
  });
  it('refuses a second approval of the same target', () => {
    const v = { ...waiting({}), approvals: [{ kind: 'release' as const, target: 'release', by: 'ann', at: 'T' }] };
    assert.equal(refusal(Steer.APPROVE, { by: 'bob' }, v), 'already approved by ann at T');
  });
  it('allows only the listed approvers, by name or email, without case', () => {
    const v = waiting({ allowedApprovers: ['Ann@example.com', 'bob'] });
    assert.equal(refusal(Steer.APPROVE, { by: 'ann' }, v), undefined);
    assert.equal(refusal(Steer.APPROVE, { by: ' BOB ' }, v), undefined);
    assert.equal(refusal(Steer.APPROVE, { by: 'mallory' }, v), 'mallory may not approve: approval.approvers allows Ann@example.com, bob');
  });
  it('four eyes: an author may not approve, by name or email', () => {
    const v = waiting({ excludedApprovers: ['Alice Author', 'alice@example.com'] });
    assert.equal(refusal(Steer.APPROVE, { by: 'alice' }, v), 'four eyes: alice is an author, committer or co-author of this change and may not approve a CRITICAL release');
    assert.equal(refusal(Steer.APPROVE, { by: 'alice author' }, v), 'four eyes: alice author is an author, committer or co-author of this change and may not approve a CRITICAL release');
    assert.equal(refusal(Steer.APPROVE, { by: 'bob' }, v), undefined);
  });
  it('an irreversible migration: the approval must acknowledge that a rollback cannot restore its data', () => {
    const v = waiting({ mustAcknowledge: 'irreversible-migration' });
    assert.match(refusal(Steer.APPROVE, { by: 'bob' }, v) ?? '', /^this release runs an irreversible migration: a rollback restores the code, never the data .* approve with --acknowledge irreversible-migration$/);
    assert.match(refusal(Steer.APPROVE, {}, v) ?? '', /--acknowledge irreversible-migration/, 'judged before the signer is known');
    assert.equal(refusal(Steer.APPROVE, { by: 'bob', acknowledge: 'irreversible-migration' }, v), undefined);
    assert.equal(refusal(Steer.APPROVE, { by: 'bob', acknowledge: 'irreversible-migration' }, waiting({})), undefined, 'an acknowledgement no one asked for harms nothing');
    assert.throws(() => parseSteeringArgs(Steer.APPROVE, { by: 'bob', acknowledge: 'whatever' }), /acknowledge: must be one of irreversible-migration/);
  });
});

describe('steering arguments', () => {
  it('name the field that is wrong', () => {
    assert.throws(() => parseSteeringArgs(Steer.APPROVE, {}), /^Error: by: /);
    assert.throws(() => parseSteeringArgs(Steer.REJECT, { by: 'b' }), /reason: /);
    assert.throws(() => parseSteeringArgs(Steer.RESOLVE, { by: 'b', action: 'nuke', reason: 'r' }), /action: must be retry or restored/);
    assert.throws(() => parseSteeringArgs(Steer.PAUSE, { by: 'b', extra: 1 }), /extra/);
  });
  it('an override must say why', () => {
    assert.throws(() => parseSteeringArgs(Steer.OVERRIDE, { by: 'a', reason: '  ' }), /reason: a reason must be given/);
    assert.throws(() => parseSteeringArgs(Steer.OVERRIDE, { reason: 'hotfix' }), /by: who overrides must be given/);
  });
  it('fill defaults: promote is not --full unless asked', () => {
    assert.deepEqual(parseSteeringArgs(Steer.PROMOTE, { by: 'b' }), { by: 'b', full: false });
  });
});

describe('signed steering (issue 13 §2)', () => {
  const signed = { payload: '{}\n', signature: '-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n' };
  it('by may be left out of a signed request only: the key names the principal', () => {
    assert.throws(() => parseSteeringArgs(Steer.APPROVE, {}), /^Error: by: who approves must be given \(or sign the request with --key\)$/);
    assert.deepEqual(parseSteeringArgs(Steer.APPROVE, { signed }), { signed });
    assert.deepEqual(parseSteeringArgs(Steer.PROMOTE, { signed, full: true }), { signed, full: true });
    assert.throws(() => parseSteeringArgs(Steer.APPROVE, { signed: { ...signed, signature: 'trust me' } }), /signed.signature: is not an SSH signature/);
  });
  it('a blank name is no name; names are trimmed once checked', () => {
    assert.throws(() => parseSteeringArgs(Steer.PAUSE, { by: '   ' }), /^Error: by: who pauses must be given/);
    assert.deepEqual(parseSteeringArgs(Steer.PAUSE, { by: ' ann ' }), { by: 'ann' });
  });
  it('approve without a name yet (a signed request before verification) is judged on the state only', () => {
    const v = view('awaiting-approval', { pendingApproval: pending({ allowedApprovers: ['bob'], excludedApprovers: ['alice'] }) });
    assert.equal(refusal(Steer.APPROVE, {}, v), undefined);
    assert.equal(refusal(Steer.APPROVE, {}, view('baking')), 'nothing is waiting for approval (state: baking)');
  });
  it('which updates need a signature where the worker verifies them', () => {
    assert.deepEqual(Object.values(Steer).filter(needsSignature), ['approve', 'reject', 'resume', 'promote', 'resolve', 'override']);
  });
  it('what a request is signed for', () => {
    assert.equal(requestTarget(Steer.OVERRIDE, {}, undefined, 'window until 2026-12-07T08:00:00.000Z'), 'window until 2026-12-07T08:00:00.000Z');
    assert.equal(requestTarget(Steer.OVERRIDE, {}, undefined), '(nothing held)');
    assert.equal(requestTarget(Steer.APPROVE, {}, 'production-switch'), 'production-switch');
    assert.equal(requestTarget(Steer.REJECT, {}, undefined), '(nothing pending)');
    assert.equal(requestTarget(Steer.PROMOTE, { full: true }, undefined), 'full');
    assert.equal(requestTarget(Steer.PROMOTE, { full: false }, undefined), 'current bake');
    assert.equal(requestTarget(Steer.RESOLVE, { action: 'restored' }, undefined), 'restored');
    assert.equal(requestTarget(Steer.ABORT, {}, undefined), 'release');
  });
  it('four eyes: every author, committer and co-author, by name and email', () => {
    assert.deepEqual(
      changeIdentities([
        { author: 'Dependabot', email: 'support@github.com', committer: 'Alice', committerEmail: 'alice@example.com', coAuthors: [{ name: 'Carol', email: 'carol@example.com' }] },
        { author: 'Alice', email: 'alice@example.com' },
      ]),
      ['Dependabot', 'support@github.com', 'Alice', 'alice@example.com', 'Carol', 'carol@example.com'],
    );
  });
  it('an empty approver list is a configuration error unless the worker verifies signers', () => {
    assert.match(approverListProblem([], false)!, /^approval\.approvers is empty and the worker verifies no signers \(ROLLGATE_ALLOWED_SIGNERS\): anyone could approve/);
    assert.equal(approverListProblem(['bob'], false), undefined);
    assert.equal(approverListProblem([], true), undefined, 'the allowed signers are the approvers');
  });
});

describe('signed payloads', () => {
  const b: SignedBody = { rollgate: 'signed-request/v1', releaseId: 'r', runId: 'x', head: 'h', action: 'approve', target: 'release', by: 'bob', nonce: '0123456789abcdef', expires: '2026-01-01T00:05:00.000Z' };
  it('one line of JSON in a fixed order, read back as it was', () => {
    const { by, ...rest } = b;
    const p = canonicalPayload({ ...rest, by } as SignedBody);
    assert.equal(p, '{"rollgate":"signed-request/v1","releaseId":"r","runId":"x","head":"h","action":"approve","target":"release","by":"bob","nonce":"0123456789abcdef","expires":"2026-01-01T00:05:00.000Z"}\n');
    assert.deepEqual(parseSignedBody(p), b);
  });
  it('what is not a payload is refused, naming the field', () => {
    assert.throws(() => parseSignedBody('approve it'), /^Error: signed.payload: is not JSON$/);
    assert.throws(() => parseSignedBody(JSON.stringify({ ...b, nonce: 'x' })), /signed.payload.nonce: must be 16-64 hex digits/);
    assert.throws(() => parseSignedBody(JSON.stringify({ ...b, extra: 1 })), /extra/);
  });
  it('the expiry with a minute of clock skew, and no more than 15 minutes ahead', () => {
    const ctx = { releaseId: 'r', runId: 'x', head: 'h', action: 'approve', target: 'release' };
    const at = Date.parse(b.expires);
    assert.equal(signedRequestRefusal(b, ctx, at - 60_000), undefined);
    assert.equal(signedRequestRefusal(b, ctx, at + 59_000), undefined);
    assert.match(signedRequestRefusal(b, ctx, at + 60_000) ?? '', /expired/);
    assert.match(signedRequestRefusal(b, ctx, at - 17 * 60_000) ?? '', /longer than 15 minutes/);
  });
});
