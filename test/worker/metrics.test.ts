import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ledgerEntry } from '../../src/domain/ledger';
import { type StopKind, StopKind as Kind } from '../../src/domain/release';
import { ROLLBACK_REASON, WorkerMetrics } from '../../src/worker/metrics';

const rolledBack = (kind: StopKind | undefined, message: string) =>
  ledgerEntry({
    releaseId: 'r',
    run: 'r@1',
    service: 'checkout',
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T00:10:00Z',
    decision: 'APPROVED',
    outcome: 'rolled_back',
    ...(kind ? { reason: { kind, message } } : {}),
    version: 'v2',
    rollbackStartedAt: '2026-01-01T00:05:00Z',
    rollbackFinishedAt: '2026-01-01T00:06:00Z',
  });

describe('worker metrics: rollbacks by reason', () => {
  it('labels each rollback by the kind of its stop, whatever its message says', async () => {
    const m = new WorkerMetrics();
    // A message that reads like another kind: only the kind counts.
    m.releaseFinished(rolledBack(Kind.ANALYSIS_FAILED, 'aborted by nobody: analysis'));
    m.releaseFinished(rolledBack(Kind.ANALYSIS_ERROR, 'analysis error: prometheus unreachable'));
    m.releaseFinished(rolledBack(Kind.APPROVAL_TIMEOUT, 'no approval within 1h'));
    m.releaseFinished(rolledBack(Kind.STEP_FAILED, 'analysis failed: looks like a metric'));
    m.releaseFinished(rolledBack(undefined, 'a line written before kinds existed'));
    const text = await m.registry.metrics();
    const count = (reason: string) => Number(text.match(new RegExp(`^rollgate_rollbacks_total\\{reason="${reason}",outcome="rolled_back"\\} (\\d+)$`, 'm'))?.[1] ?? 0);
    assert.deepEqual([count('metric'), count('approval'), count('step'), count('abort'), count('other')], [2, 1, 1, 0, 1]);
  });

  it('has a label for every stop kind', () => {
    assert.deepEqual(Object.keys(ROLLBACK_REASON).sort(), Object.values(Kind).sort());
  });
});
