import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { approvalKind, approvalStepName, releaseDurations, type StepRecord } from '../../src/domain/release';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
const stepOf = (name: string, from: number, to: number | undefined, extra: Partial<StepRecord> = {}): StepRecord => ({
  name,
  status: to === undefined ? 'running' : 'done',
  startedAt: at(from),
  ...(to === undefined ? {} : { endedAt: at(to) }),
  ...extra,
});

describe('approval kinds', () => {
  it('tells the sign-off, a gated phase and an inconclusive analysis apart', () => {
    assert.equal(approvalKind('release'), 'release');
    assert.equal(approvalKind('production-switch'), 'phase');
    assert.equal(approvalKind('canary-5: analysis'), 'analysis');
    assert.equal(approvalKind('canary-5: analysis #2'), 'analysis');
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

  it('names each answered approval\'s outcome from its step', () => {
    const d = releaseDurations([
      stepOf(approvalStepName('release'), 0, 600),
      stepOf(approvalStepName('production-switch'), 700, 760, { status: 'failed', detail: 'rejected by bob: not today' }),
      stepOf(approvalStepName('canary-5: analysis'), 800, 900, { status: 'failed', detail: 'no approval within 1h' }),
      stepOf(approvalStepName('canary-50: analysis'), 900, 950, { status: 'failed', detail: 'aborted by carol: wrong build' }),
      stepOf(approvalStepName('canary-100'), 1000, undefined),
    ]);
    assert.deepEqual(d.approvals, [
      { kind: 'release', outcome: 'approved', seconds: 600 },
      { kind: 'phase', outcome: 'rejected', seconds: 60 },
      { kind: 'analysis', outcome: 'timed_out', seconds: 100 },
      { kind: 'analysis', outcome: 'aborted', seconds: 50 },
    ]);
  });
});
