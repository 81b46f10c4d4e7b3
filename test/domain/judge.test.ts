import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compactJudgeState, DEFAULT_JUDGE, initialJudgeState, judgeLook, type JudgeReading, type JudgeState, latencyBound, slowerThan } from '../../src/domain/judge';
import { HEALTHY, phase, type Scenario } from '../../bench/judge/traffic';
import { initialState, judgeCounts, MetricSchema, sincePhase } from '../../src/domain/analysis';
import { renderQuery } from '../../src/domain/promql';

/** Runs the error-rate judge over a simulated phase; returns the reading at each look. */
function judgeErrors(scenario: Scenario, seed: number, opts: { interval?: boolean } = {}): JudgeReading[] {
  let state: JudgeState = initialJudgeState();
  const readings: JudgeReading[] = [];
  for (const l of phase(scenario, seed)) {
    const r = judgeLook(DEFAULT_JUDGE, state, { at: l.at, canary: { events: l.canary.errors, trials: l.canary.requests }, stable: { events: l.stable.errors, trials: l.stable.requests } }, opts);
    state = r.state;
    readings.push(r.reading);
  }
  return readings;
}

describe('the sequential judge: one look at a time', () => {
  const look = (at: number, canary: [number, number], stable: [number, number]) => ({ at, canary: { events: canary[0], trials: canary[1] }, stable: { events: stable[0], trials: stable[1] } });

  it('too little data until the minimum counts; then no regression when the canary does as well', () => {
    let s = initialJudgeState();
    let r = judgeLook(DEFAULT_JUDGE, s, look(10, [1, 100], [19, 1900]));
    assert.equal(r.reading.verdict, 'too-little-data');
    s = r.state;
    r = judgeLook(DEFAULT_JUDGE, s, look(20, [5, 600], [95, 11400]));
    assert.equal(r.reading.verdict, 'not-flagged');
    assert.ok(r.reading.eValue < 1 / DEFAULT_JUDGE.alpha);
    assert.ok(r.reading.effectLower < 0 && r.reading.effectUpper > 0, `the interval ${r.reading.effectLower}..${r.reading.effectUpper} holds no effect`);
  });

  it('flags a canary that fails three times as often, and keeps when it crossed', () => {
    let s = initialJudgeState();
    let crossed: number | undefined;
    for (let i = 1; i <= 30; i++) {
      const r = judgeLook(DEFAULT_JUDGE, s, look(i * 10, [i * 7, i * 250], [i * 47, i * 4750]));
      s = r.state;
      crossed ??= r.reading.crossedAt;
    }
    assert.ok(crossed !== undefined && crossed <= 300, `crossed at ${crossed}`);
    assert.equal(s.crossedAt, crossed);
    const last = judgeLook(DEFAULT_JUDGE, s, look(310, [217, 7750], [1457, 147250]));
    assert.equal(last.reading.verdict, 'regression');
    assert.ok(last.reading.effectLower > 0.5, `the interval's lower end ${last.reading.effectLower} excludes small effects`);
    assert.ok(last.reading.pValue <= DEFAULT_JUDGE.alpha);
  });

  it('never flags a canary that is better than stable, however long it is watched', () => {
    let s = initialJudgeState();
    for (let i = 1; i <= 360; i++) s = judgeLook(DEFAULT_JUDGE, s, look(i * 10, [i * 1, i * 250], [i * 48, i * 4750]), { interval: false }).state;
    assert.equal(s.crossedAt, undefined);
  });

  it('a counter reset skips its interval rather than reading negative counts', () => {
    const s = judgeLook(DEFAULT_JUDGE, initialJudgeState(), look(10, [10, 1000], [100, 10000])).state;
    const after = judgeLook(DEFAULT_JUDGE, s, look(20, [2, 200], [110, 11000]));
    assert.deepEqual(after.state.grid, s.grid, 'the interval after the reset adds nothing');
  });

  it('compacted between monitor calls, as it travels through history, it reads as before: 40% smaller, the same verdicts, the e-value within 0.1%', (t) => {
    const regressed = { ...HEALTHY, errorFactor: 2 };
    for (const [scenario, seed] of [[HEALTHY, 1], [regressed, 2]] as const) {
      let full: JudgeState = initialJudgeState();
      let compact: JudgeState = initialJudgeState();
      [...phase(scenario, seed)].forEach((l, i) => {
        const counts = { at: l.at, canary: { events: l.canary.errors, trials: l.canary.requests }, stable: { events: l.stable.errors, trials: l.stable.requests } };
        const a = judgeLook(DEFAULT_JUDGE, full, counts);
        const b = judgeLook(DEFAULT_JUDGE, compact, counts);
        full = a.state;
        // A report every 5 minutes: 30 looks of 10 s.
        compact = i % 30 === 29 ? compactJudgeState(b.state) : b.state;
        assert.equal(b.reading.verdict, a.reading.verdict);
        assert.equal(b.reading.crossedAt, a.reading.crossedAt);
        assert.ok(Math.abs(Math.log(b.reading.eValue / a.reading.eValue)) < 1e-3, `look ${i}: e-value ${b.reading.eValue} against ${a.reading.eValue}`);
        assert.deepEqual([b.reading.effect, b.reading.effectLower, b.reading.effectUpper], [a.reading.effect, a.reading.effectLower, a.reading.effectUpper]);
      });
      const [before, after] = [JSON.stringify(full).length, JSON.stringify(compactJudgeState(full)).length];
      t.diagnostic(`an hour of looks: ${before} → ${after} characters of JSON (${Math.round(100 - (100 * after) / before)}% smaller)`);
      assert.ok(after <= before * 0.6);
    }
  });

  it('the latency bound: the largest bucket at least 1% of stable requests exceed', () => {
    const bounds = [0.1, 0.25, 0.5, 1];
    // Cumulative: 900 at or below 0.1 s, 980 at 0.25, 995 at 0.5, 999 at 1, 1000 in all.
    assert.equal(latencyBound(bounds, [900, 980, 995, 999, 1000], 0.99), 1);
    assert.equal(latencyBound(bounds, [0, 0, 0, 0, 0], 0.99), undefined);
    assert.deepEqual(slowerThan([900, 980, 995, 999, 1000], 1), { events: 20, trials: 1000 });
  });
});

describe('the sequential judge on simulated traffic (500 req/s, canary 5%, 1% errors, a look every 10 s for an hour)', () => {
  it('flags at most α of healthy canaries, however often it looks: 400 A/A phases', () => {
    let flagged = 0;
    for (let seed = 1; seed <= 400; seed++) if (judgeErrors(HEALTHY, seed, { interval: false }).at(-1)!.verdict === 'regression') flagged++;
    // α = 1%: 4 expected at most; the binomial's 99.9% bound over 400 phases is 11.
    assert.ok(flagged <= 11, `${flagged} of 400 healthy canaries flagged`);
  });

  it('catches an error rate going from 1% to 2% within minutes, with an interval around the true effect', () => {
    const times: number[] = [];
    for (let seed = 1; seed <= 40; seed++) {
      const readings = judgeErrors({ ...HEALTHY, errorFactor: 2 }, 500 + seed, { interval: seed <= 3 });
      const crossed = readings.find((r) => r.crossedAt !== undefined)?.crossedAt;
      assert.ok(crossed !== undefined, `seed ${seed}: missed within the hour`);
      times.push(crossed);
      if (seed <= 3) {
        const last = readings.at(-1)!;
        assert.ok(last.effectLower <= 1 && last.effectUpper >= 1, `seed ${seed}: the interval ${last.effectLower}..${last.effectUpper} holds the true +100%`);
      }
    }
    times.sort((a, b) => a - b);
    assert.ok(times[19]! <= 600, `median ${times[19]} s`);
  });
});

describe('a judge as an analysis metric', () => {
  const metric = MetricSchema.parse({ name: 'errors-judge', query: 'sum(increase(errors_total{{{selector}}}[{{sincePhase}}]))', judge: { trials: 'sum(increase(requests_total{{{selector}}}[{{sincePhase}}]))' } });

  it('takes its settings, or the defaults; conditions beside a judge, or neither, are refused', () => {
    assert.deepEqual(metric.judge, { trials: 'sum(increase(requests_total{{{selector}}}[{{sincePhase}}]))', ...DEFAULT_JUDGE });
    const both = MetricSchema.safeParse({ name: 'x', query: 'q', failureCondition: 'result > 1', judge: { trials: 't' } });
    assert.equal(both.success, false);
    assert.match(JSON.stringify(both.error?.issues), /a judge decides by itself/);
    assert.match(JSON.stringify(MetricSchema.safeParse({ name: 'x', query: 'q' }).error?.issues), /\(or a judge\)/);
    assert.equal(MetricSchema.safeParse({ name: 'x', query: 'q', judge: { trials: 't', alpha: 1 } }).success, false);
  });

  it('its counts run from its phase start: {{sincePhase}} renders the time since then, one minute before a phase', () => {
    const state = initialState(metric, 1_000_000);
    assert.equal(sincePhase(state, 1_000_000 + 95_500), '96s');
    const vars = { service: 's', version: 'v2', previousVersion: 'v1', phase: 'p', stage: 'production' };
    const selectors = { stable: { track: 'stable' }, canary: { track: 'canary' } };
    assert.equal(renderQuery(metric.query, { ...vars, sincePhase: '96s' }, selectors, 'canary'), 'sum(increase(errors_total{track="canary"}[96s]))');
    assert.equal(renderQuery(metric.query, vars, selectors, 'stable'), 'sum(increase(errors_total{track="stable"}[1m]))');
    assert.equal(renderQuery(metric.query, { ...vars, sincePhase: '1h] or vector(1) #' }, selectors, 'stable'), 'sum(increase(errors_total{track="stable"}[1m]))', 'never text that is not a range');
  });

  it('too little traffic warms up while the bake runs, and is inconclusive once its time is up', () => {
    const state = initialState(metric, 0);
    const few = { canary: { events: 0, trials: 10 }, stable: { events: 1, trials: 190 } };
    assert.equal(judgeCounts(metric, state, few, 10_000, false).verdict, 'warming-up');
    const ending = judgeCounts(metric, state, few, 10_000, true);
    assert.equal(ending.verdict, 'inconclusive');
    assert.match(ending.message, /^too little traffic to judge \(canary 0\/10, stable 1\/190; needs 20 events and 500 canary requests\)$/);
  });

  it('a canary three times as bad fails with its effect, interval and evidence; the state carries on', () => {
    let state = initialState(metric, 0);
    let last;
    for (let i = 1; i <= 20; i++) {
      last = judgeCounts(metric, state, { canary: { events: i * 8, trials: i * 250 }, stable: { events: i * 48, trials: i * 4750 } }, i * 10_000, false);
      state = { ...state, judge: last.state };
    }
    assert.equal(last!.verdict, 'failed');
    assert.match(last!.message, /^regression: effect \+\d+(\.\d)?% \(\+\d+(\.\d)?% to \+\d+(\.\d)?%\), e-value \S+ \(flags at 100\); canary 160\/5000, stable 960\/95000$/);
    assert.ok(last!.judge.crossedAt && last!.judge.effectLower > 0.5);
    assert.equal(state.judge!.startedAt, 0);
  });
});
