import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Approval, approvalTargetId, type StepRecord } from '../../src/domain/release';
import { phaseTimeline, releaseDurations } from '../../src/domain/timeline';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
const stepOf = (name: string, from: number, to: number | undefined, extra: Partial<StepRecord> = {}): StepRecord => ({
  name,
  status: to === undefined ? 'running' : 'done',
  startedAt: at(from),
  ...(to === undefined ? {} : { endedAt: at(to) }),
  ...extra,
});

describe('approval targets', () => {
  it('names the sign-off, a gated phase and each round of an inconclusive analysis', () => {
    assert.equal(approvalTargetId({ kind: 'release' }), 'release');
    assert.equal(approvalTargetId({ kind: 'phase', phase: 'production-switch' }), 'production-switch');
    assert.equal(approvalTargetId({ kind: 'analysis', phase: 'canary-5', round: 1 }), 'canary-5: analysis');
    assert.equal(approvalTargetId({ kind: 'analysis', phase: 'canary-5', round: 2 }), 'canary-5: analysis #2');
  });
});

describe('release durations for the worker\'s histograms', () => {
  it('measures each phase from its first step to its last, and leaves out a phase still running', () => {
    const d = releaseDurations([
      stepOf('prerequisites', 0, 1),
      stepOf('staging: deploy', 10, 20, { phase: 'staging' }),
      stepOf('staging: bake', 20, 920, { phase: 'staging' }),
      stepOf('production: deploy', 930, undefined, { phase: 'production' }),
    ]);
    assert.deepEqual(d.phases, [{ phase: 'staging', seconds: 910 }]);
  });

  it('reads each answered approval\'s kind and outcome from the step, never from its text', () => {
    const d = releaseDurations([
      stepOf('approval: release', 0, 600, { approval: { kind: 'release', outcome: 'approved' } }),
      // The detail reads like an approval, the typed outcome says rejected: the type wins.
      stepOf('approval: production-switch', 700, 760, { status: 'failed', detail: 'approved by nobody', approval: { kind: 'phase', outcome: 'rejected' } }),
      stepOf('approval: canary-5: analysis', 800, 900, { status: 'failed', approval: { kind: 'analysis', outcome: 'timed_out' } }),
      stepOf('approval: canary-50: analysis', 900, 950, { status: 'failed', approval: { kind: 'analysis', outcome: 'aborted' } }),
      stepOf('approval: canary-100', 1000, undefined, { approval: { kind: 'phase' } }),
      // A step named like an approval that is none is not counted.
      stepOf('approval: fake', 1000, 1001),
    ]);
    assert.deepEqual(d.approvals, [
      { kind: 'release', outcome: 'approved', seconds: 600 },
      { kind: 'phase', outcome: 'rejected', seconds: 60 },
      { kind: 'analysis', outcome: 'timed_out', seconds: 100 },
      { kind: 'analysis', outcome: 'aborted', seconds: 50 },
    ]);
  });
});

describe('phase timeline', () => {
  it('puts each approval on its phase by the phase it names, including analysis rounds', () => {
    const approvals: Approval[] = [
      { kind: 'release', target: 'release', by: 'ann', at: at(0) },
      { kind: 'analysis', target: 'production-canary-5: analysis #2', phase: 'production-canary-5', by: 'bob', at: at(50) },
      { kind: 'phase', target: 'production-switch', phase: 'production-switch', by: 'cy', at: at(60) },
    ];
    const t = phaseTimeline(
      [stepOf('d', 10, 20, { phase: 'production-canary-5' }), stepOf('b', 20, 100, { phase: 'production-canary-5' }), stepOf('s', 100, 110, { phase: 'production-switch' })],
      approvals,
    );
    assert.deepEqual(t, [
      { phase: 'production-canary-5', started: at(10), ended: at(100), approvedBy: 'bob' },
      { phase: 'production-switch', started: at(100), ended: at(110), approvedBy: 'cy' },
    ]);
  });
});
