import { DEFAULT_JUDGE, initialJudgeState, judgeLook, type JudgeState, latencyBound, slowerThan } from '../../src/domain/judge';
import { bucketProbabilities, DEFAULT_BUCKETS, HEALTHY, type Look, type Scenario, type TrackCounters } from './traffic';

/**
 * The judges the benchmark compares on identical streams (issue 15), each for one check: the
 * error rate, or the p99 latency. `look` returns true when the judge would roll the canary back.
 */
export type Check = 'errors' | 'latency';

export interface Judge {
  look(l: Look): boolean;
}

export interface JudgeKind {
  name: string;
  /** `baseline`: the stable track's histogram before the phase (cumulative buckets). */
  make(check: Check, scenario: Scenario, baseline: number[]): Judge;
}

const WINDOW_LOOKS = 6; // a 1-minute window at a look every 10 s, as rate(…[1m]) would give

/** histogram_quantile's linear interpolation inside the bucket that holds the quantile. */
export function histogramQuantile(q: number, cumulative: readonly number[], bounds = DEFAULT_BUCKETS): number | undefined {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  const i = cumulative.findIndex((c) => c >= rank);
  if (i >= bounds.length) return bounds[bounds.length - 1];
  const lower = i === 0 ? 0 : bounds[i - 1]!;
  const below = i === 0 ? 0 : cumulative[i - 1]!;
  const inBucket = cumulative[i]! - below;
  return inBucket <= 0 ? bounds[i] : lower + (bounds[i]! - lower) * ((rank - below) / inBucket);
}

/** The last minute's counts of one track, summed over the intervals. */
function windowOf(history: TrackCounters[]): TrackCounters {
  const last = history.slice(-WINDOW_LOOKS);
  const n = last[0]?.buckets.length ?? 0;
  return last.reduce((acc, t) => ({ requests: acc.requests + t.requests, errors: acc.errors + t.errors, buckets: acc.buckets.map((c, i) => c + t.buckets[i]!) }), { requests: 0, errors: 0, buckets: new Array<number>(n).fill(0) });
}

const valueOf = (check: Check, t: TrackCounters): number | undefined => (check === 'errors' ? (t.requests > 0 ? t.errors / t.requests : undefined) : histogramQuantile(0.99, t.buckets));

/** A fixed line, as Argo Rollouts or Flagger would draw it: error rate over 5%, or p99 over 500 ms, on the last minute. */
export const threshold: JudgeKind = {
  name: 'threshold (errors > 5%, p99 > 500 ms, 1-minute window)',
  make(check) {
    const canary: TrackCounters[] = [];
    return {
      look(l) {
        canary.push(l.interval.canary);
        const v = valueOf(check, windowOf(canary));
        return v !== undefined && v > (check === 'errors' ? 0.05 : 0.5);
      },
    };
  },
};

/** A relative line on the last minute: the canary worse than 1.5× the stable track. */
export const relative: JudgeKind = {
  name: 'relative (canary > 1.5 × stable, 1-minute window)',
  make(check) {
    const canary: TrackCounters[] = [];
    const stable: TrackCounters[] = [];
    return {
      look(l) {
        canary.push(l.interval.canary);
        stable.push(l.interval.stable);
        const c = valueOf(check, windowOf(canary));
        const s = valueOf(check, windowOf(stable));
        return c !== undefined && s !== undefined && c > 1.5 * s && (check === 'latency' || c > 0);
      },
    };
  },
};

/**
 * Kayenta's style: the per-interval values of each track compared by a one-sided Mann–Whitney U
 * test at 98% confidence, re-run at every look on everything collected so far (each run a fresh
 * fixed-horizon test). Rank sums are kept as the samples come, with the tie correction.
 */
export const kayenta: JudgeKind = {
  name: 'Kayenta style (Mann–Whitney at 98%, re-run every look)',
  make(check) {
    const canary: number[] = [];
    const stable: number[] = [];
    let u = 0; // pairs where the canary's value is higher, ties counting half
    const ties = new Map<number, number>();
    let tieTerm = 0;
    const below = (sorted: number[], v: number) => {
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (sorted[mid]! < v) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    const atMost = (sorted: number[], v: number) => {
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (sorted[mid]! <= v) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    const insert = (sorted: number[], v: number) => sorted.splice(atMost(sorted, v), 0, v);
    const tie = (v: number) => {
      const t = ties.get(v) ?? 0;
      tieTerm += 3 * t * t + 3 * t;
      ties.set(v, t + 1);
    };
    return {
      look(l) {
        const c = valueOf(check, l.interval.canary);
        const s = valueOf(check, l.interval.stable);
        if (c !== undefined) {
          const lt = below(stable, c);
          u += lt + (atMost(stable, c) - lt) / 2;
          insert(canary, c);
          tie(c);
        }
        if (s !== undefined) {
          const gt = canary.length - atMost(canary, s);
          u += gt + (atMost(canary, s) - below(canary, s)) / 2;
          insert(stable, s);
          tie(s);
        }
        const n1 = canary.length;
        const n2 = stable.length;
        if (n1 < 3 || n2 < 3) return false;
        const n = n1 + n2;
        const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
        if (variance <= 0) return false;
        const z = (u - (n1 * n2) / 2 - 0.5) / Math.sqrt(variance);
        return z > 2.054; // one-sided p < 0.02
      },
    };
  },
};

/** rollgate's sequential judge at α = 1%: errors out of requests, or requests slower than the stable's p99 bucket. */
export const sequential: JudgeKind = {
  name: 'rollgate sequential (α = 1%)',
  make(check, _scenario, baseline) {
    let state: JudgeState = initialJudgeState();
    // The slow-request bound comes from the stable track before the phase, so it is fixed before the counts it judges.
    const bound = latencyBound(DEFAULT_BUCKETS, baseline, 0.99);
    return {
      look(l) {
        if (check === 'errors') {
          state = judgeLook(DEFAULT_JUDGE, state, { at: l.at, canary: { events: l.canary.errors, trials: l.canary.requests }, stable: { events: l.stable.errors, trials: l.stable.requests } }, { interval: false }).state;
          return state.crossedAt !== undefined;
        }
        if (bound === undefined) return false;
        state = judgeLook(DEFAULT_JUDGE, state, { at: l.at, canary: slowerThan(l.canary.buckets, bound), stable: slowerThan(l.stable.buckets, bound) }, { interval: false }).state;
        return state.crossedAt !== undefined;
      },
    };
  },
};

/**
 * The lower bound: Wald's sequential probability ratio test on the canary's counts,
 * knowing the true rates of both hypotheses (stable's, and the canary's real one). On the same
 * counts no test that does not know them is faster on average (SPRT minimises the expected time,
 * not its median); a test on the whole histogram could see a latency shift sooner. Undefined for
 * a healthy canary (the hypotheses coincide).
 */
export const oracle: JudgeKind = {
  name: 'reference: SPRT on the same counts, knowing the true rates',
  make(check, scenario) {
    const probs = (factor: number) => bucketProbabilities(scenario.latency, factor);
    // The same slow-request bound the sequential judge picks, from the true stable distribution.
    const stableTail = (i: number) => probs(1).slice(i + 1).reduce((a, b) => a + b, 0);
    const bound = DEFAULT_BUCKETS.reduce<number | undefined>((chosen, _, i) => (stableTail(i) >= 0.01 ? i : chosen), undefined)!;
    const p0 = check === 'errors' ? scenario.errorRate : stableTail(bound);
    const p1 = check === 'errors' ? Math.min(1, scenario.errorRate * scenario.errorFactor) : probs(scenario.latencyFactor).slice(bound + 1).reduce((a, b) => a + b, 0);
    const [hit, miss] = [Math.log(p1 / p0), Math.log((1 - p1) / (1 - p0))];
    let llr = 0;
    return {
      look(l) {
        if (p1 === p0) return false;
        const t = l.interval.canary;
        const events = check === 'errors' ? t.errors : t.requests - t.buckets[bound]!;
        llr += events * hit + (t.requests - events) * miss;
        return llr >= Math.log(1 / 0.01);
      },
    };
  },
};

export const JUDGES: JudgeKind[] = [threshold, relative, kayenta, sequential, oracle];
export { HEALTHY };
