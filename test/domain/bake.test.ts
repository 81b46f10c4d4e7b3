import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analysisVerdict, initialState, isStable, type Metric, MetricSchema, record, type Verdict } from '../../src/domain/analysis';
import { assessBake, assessWatch, BakeAction, type BakeReport, bakeRound, REPORT_EVERY_MS, watchRound } from '../../src/domain/bake';

const metrics: Metric[] = [
  MetricSchema.parse({ name: 'error-rate', query: 'q', successCondition: 'result <= 0.02', failureCondition: 'result > 0.05' }),
  MetricSchema.parse({ name: 'latency', query: 'q', successCondition: 'result < 0.3', dryRun: true }),
];

/** A report after one measurement per metric with these verdicts. */
function report(...verdicts: [Verdict, Verdict]): BakeReport {
  const states = metrics.map((m, i) =>
    record(m, initialState(m, 0), { metric: m.name, phase: 'canary-5', seq: 1, at: '2026-01-01T00:00:00Z', verdict: verdicts[i]!, value: 0.1, message: `${verdicts[i]} reading` }, 60_000),
  );
  return { states, verdict: analysisVerdict(metrics, states), stable: isStable(metrics, states) };
}

describe('assessBake: what one analysis report means for the release', () => {
  const cases: { name: string; report: BakeReport; remaining: number; onError: 'rollback' | 'pause'; want: string; kind?: string; broken?: string[] }[] = [
    { name: 'a failed acting metric rolls back, verified against it', report: report('failed', 'successful'), remaining: 60_000, onError: 'rollback', want: 'roll-back', kind: 'analysis-failed', broken: ['error-rate'] },
    { name: 'a failed metric rolls back even after the bake time', report: report('failed', 'successful'), remaining: 0, onError: 'pause', want: 'roll-back', kind: 'analysis-failed', broken: ['error-rate'] },
    { name: 'provider errors past the limit roll back with onError: rollback, nothing to verify', report: errors(5), remaining: 60_000, onError: 'rollback', want: 'roll-back', kind: 'analysis-error', broken: [] },
    { name: 'provider errors past the limit ask a human with onError: pause', report: errors(5), remaining: 60_000, onError: 'pause', want: 'ask-human' },
    { name: 'an inconclusive reading asks a human', report: report('inconclusive', 'successful'), remaining: 60_000, onError: 'rollback', want: 'ask-human' },
    { name: 'no data counts as inconclusive by default', report: report('no-data', 'successful'), remaining: 60_000, onError: 'rollback', want: 'ask-human' },
    { name: 'a dry-run metric never acts', report: report('successful', 'failed'), remaining: 60_000, onError: 'rollback', want: 'continue' },
    { name: 'passing with bake time left goes on', report: report('successful', 'successful'), remaining: 1, onError: 'rollback', want: 'continue' },
    { name: 'passing once the time is up is done', report: report('successful', 'successful'), remaining: 0, onError: 'rollback', want: 'done' },
    { name: 'time up but the last reading an error within its limit: measure on', report: errors(1), remaining: 0, onError: 'rollback', want: 'continue' },
  ];
  for (const c of cases)
    it(c.name, () => {
      const d = assessBake(c.report, c.remaining, c.onError);
      assert.equal(d.action, c.want);
      if (d.action === BakeAction.ROLL_BACK) {
        assert.equal(d.stop.kind, c.kind);
        assert.deepEqual(d.stop.brokenMetrics ?? [], c.broken);
        assert.match(d.stop.message, /^analysis (failed|error): error-rate/);
      }
      if (d.action === BakeAction.ASK_HUMAN) assert.match(d.reason, /^analysis (inconclusive|error): error-rate/);
      if (d.action === BakeAction.DONE) assert.equal(d.summary, 'error-rate 1/1 passed, latency 1/1 passed');
    });
});

/** A report after `n` consecutive provider errors of the acting metric (its limit is 4). */
function errors(n: number): BakeReport {
  const m = metrics[0]!;
  let s = initialState(m, 0);
  for (let i = 1; i <= n; i++) s = record(m, s, { metric: m.name, phase: 'p', seq: i, at: '2026-01-01T00:00:00Z', verdict: 'error', message: 'prometheus unreachable' }, 1000);
  const states = [s, initialState(metrics[1]!, 0)];
  return { states, verdict: analysisVerdict(metrics, states), stable: isStable(metrics, states) };
}

describe('bakeRound: how long the next monitor call measures', () => {
  it('up to one report while bake time is left', () => {
    assert.deepEqual(bakeRound(30 * 60_000, 60_000), { runForMs: REPORT_EVERY_MS, untilStable: false });
    assert.deepEqual(bakeRound(90_000, 60_000), { runForMs: 90_000, untilStable: false });
    assert.deepEqual(bakeRound(1, 60_000), { runForMs: 1, untilStable: false });
  });
  it('past the bake time, one interval at a time until every acting metric passes', () => {
    assert.deepEqual(bakeRound(0, 60_000), { runForMs: 60_000, untilStable: true });
    assert.deepEqual(bakeRound(-5_000, 10_000), { runForMs: 10_000, untilStable: true });
  });
});

describe('assessWatch: what a reading taken while a human is asked means', () => {
  it('rolls back on a failure, and on errors under onError: rollback; inconclusive readings only go on record', () => {
    assert.equal(assessWatch(report('failed', 'successful'), 'pause')?.kind, 'analysis-failed');
    assert.equal(assessWatch(report('inconclusive', 'successful'), 'rollback'), undefined);
    assert.equal(assessWatch(report('successful', 'failed'), 'rollback'), undefined, 'a dry-run metric never acts');
    const errors = metrics.map((m) => {
      let s = initialState(m, 0);
      for (let i = 1; i <= 5; i++) s = record(m, s, { metric: m.name, phase: 'p', seq: i, at: '2026-01-01T00:00:00Z', verdict: 'error', message: 'down' }, 1000);
      return s;
    });
    const erroring = { states: errors, verdict: analysisVerdict(metrics, errors), stable: false };
    assert.equal(assessWatch(erroring, 'rollback')?.kind, 'analysis-error');
    assert.equal(assessWatch(erroring, 'pause'), undefined);
  });

  it('reports a watch every three intervals, at least every 30 s and at most as often as a bake', () => {
    assert.equal(watchRound(2_000), 30_000);
    assert.equal(watchRound(60_000), 180_000);
    assert.equal(watchRound(10 * 60_000), REPORT_EVERY_MS);
  });
});
