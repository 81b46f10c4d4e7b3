import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_JUDGE, initialJudgeState, judgeLook, type JudgeReading, type JudgeState, latencyBound, slowerThan } from '../../src/domain/judge';
import { HEALTHY, phase, type Scenario } from '../../bench/judge/traffic';

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
