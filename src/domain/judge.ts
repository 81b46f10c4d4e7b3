/**
 * The sequential canary judge (issue 15): canary against stable on counts, anytime-valid.
 *
 * Each look brings the counts since the phase started, per track: events (errors, or requests
 * slower than a latency bound) out of trials (requests). Between two looks, given how many events
 * both tracks had together, the canary's share of them is binomial with
 * p(θ) = e^θ·n_c / (e^θ·n_c + n_s), where n_c and n_s are the tracks' requests in that interval and
 * θ the log of the canary's event rate over the stable's (the Poisson model of Lindon, Sanden and
 * Shirikian, KDD 2022, conditioned on the requests each track really served, so no traffic share
 * needs to be known). Multiplying these likelihoods over the looks and mixing over θ gives an
 * e-process: under "the canary is no worse than the smallest effect worth catching" its expected
 * value never exceeds one, so by Ville's inequality it crosses 1/α with probability at most α
 * however often it is looked at. The same likelihood, inverted, gives a confidence sequence for
 * the effect.
 */

/** Events out of trials, as counted since the phase started. */
export interface Counts {
  events: number;
  trials: number;
}

export interface JudgeLook {
  at: number;
  canary: Counts;
  stable: Counts;
}

export interface JudgeSettings {
  /** The bound on ever flagging a canary no worse than `minEffect`, over the whole phase. */
  alpha: number;
  /** The smallest relative increase worth catching: 0.05 flags only a canary more than 5% worse. */
  minEffect: number;
  /** Fewer events than this in both tracks together, or fewer canary trials: too little to judge. */
  minEvents: number;
  minTrials: number;
}

export const DEFAULT_JUDGE: JudgeSettings = { alpha: 0.01, minEffect: 0.05, minEvents: 20, minTrials: 500 };

/** The grid of θ (log rate ratio, canary over stable) the likelihood is kept on: ratios from e^-2.5 ≈ 0.08 to e^2.5 ≈ 12. */
const THETA_MIN = -2.5;
const THETA_STEP = 0.025;
const GRID = 201;
export const thetaAt = (i: number): number => THETA_MIN + i * THETA_STEP;

/**
 * The alternatives the test mixes over, as offsets above the null boundary in θ: a half-normal
 * prior of scale 0.5 (effects up to about 3× the boundary carry weight), discretised on the grid.
 * Tuned with `npm run bench:judge`: narrower priors lose on large effects, wider ones on small.
 */
const TEST_PRIOR = priorWeights(Array.from({ length: 120 }, (_, j) => (j + 1) * THETA_STEP), 0.5);
/** The confidence sequence's mixture: symmetric around each candidate θ, a little wider (0.7) to cover both sides. */
const CS_OFFSETS = Array.from({ length: 121 }, (_, j) => (j - 60) * THETA_STEP * 2);
const CS_PRIOR = priorWeights(CS_OFFSETS, 0.7);

function priorWeights(offsets: number[], scale: number): { offset: number; logWeight: number }[] {
  const raw = offsets.map((d) => Math.exp(-(d * d) / (2 * scale * scale)));
  const total = raw.reduce((a, b) => a + b, 0);
  return offsets.map((offset, j) => ({ offset, logWeight: Math.log(raw[j]! / total) }));
}

export interface JudgeState {
  /** The counts at the last look: the next look's increment starts here. */
  last: { canary: Counts; stable: Counts };
  /** Log-likelihood of the looks so far at each grid point (up to a constant). */
  grid: number[];
  /** Log-likelihood at the null boundary θ0 and at each test alternative θ0 + offset. */
  nullLogLik: number;
  altLogLik: number[];
  /** The running intersection of the confidence sequence, in θ. */
  lower: number;
  upper: number;
  /** log of the e-value at the last look, and the largest it has been. */
  logE: number;
  maxLogE: number;
  /** When the e-value first reached 1/α. */
  crossedAt?: number;
  looks: number;
}

export function initialJudgeState(): JudgeState {
  return {
    last: { canary: { events: 0, trials: 0 }, stable: { events: 0, trials: 0 } },
    grid: new Array<number>(GRID).fill(0),
    nullLogLik: 0,
    altLogLik: new Array<number>(TEST_PRIOR.length).fill(0),
    lower: THETA_MIN,
    upper: thetaAt(GRID - 1),
    logE: 0,
    maxLogE: 0,
    looks: 0,
  };
}

/** The binomial log-likelihood of x canary events out of n, at θ, with the interval's requests r = n_c / n_s. */
function logLik(theta: number, x: number, n: number, r: number): number {
  // log p = θ + log r − log(e^θ r + 1); log(1 − p) = −log(e^θ r + 1)
  const denom = Math.log1p(Math.exp(theta) * r);
  return x * (theta + Math.log(r)) - n * denom;
}

const logSumExp = (xs: number[]): number => {
  const m = Math.max(...xs);
  return m === -Infinity ? -Infinity : m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
};

/** A relative effect as people read it: `+95.3%`, `-4%`. */
export const percentChange = (x: number): string => `${x >= 0 ? '+' : ''}${Math.round(x * 1000) / 10}%`;

/**
 * `not-flagged` is no proof of health: the e-process bounds false rollbacks, not missed ones. The
 * confidence sequence says how large a regression the data still allows.
 */
export type JudgeVerdict = 'regression' | 'not-flagged' | 'too-little-data';

export interface JudgeReading {
  verdict: JudgeVerdict;
  /** The evidence against "no regression beyond minEffect": the e-value, and its always-valid p-value min(1, 1/max e). */
  eValue: number;
  pValue: number;
  /** The canary's event rate over the stable's, minus one (0.5: 50% more), and its confidence sequence. */
  effect: number | null;
  effectLower: number;
  effectUpper: number;
  canary: Counts;
  stable: Counts;
  crossedAt?: number;
}

/**
 * Takes one look: the counts since the phase started. Counts that went down (a counter reset the
 * query did not hide) are taken as a new start for that track, and the interval adds nothing.
 */
export function judgeLook(settings: JudgeSettings, state: JudgeState, look: JudgeLook, opts: { interval?: boolean } = {}): { state: JudgeState; reading: JudgeReading } {
  const dc = diff(look.canary, state.last.canary);
  const ds = diff(look.stable, state.last.stable);
  const next: JudgeState = { ...state, last: { canary: look.canary, stable: look.stable }, looks: state.looks + 1 };
  const n = dc.events + ds.events;
  if (n > 0 && dc.trials > 0 && ds.trials > 0) {
    const r = dc.trials / ds.trials;
    const x = dc.events;
    const theta0 = Math.log1p(settings.minEffect);
    next.grid = state.grid.map((l, i) => l + logLik(thetaAt(i), x, n, r));
    next.nullLogLik = state.nullLogLik + logLik(theta0, x, n, r);
    next.altLogLik = state.altLogLik.map((l, j) => l + logLik(theta0 + TEST_PRIOR[j]!.offset, x, n, r));
    next.logE = logSumExp(next.altLogLik.map((l, j) => l + TEST_PRIOR[j]!.logWeight)) - next.nullLogLik;
    next.maxLogE = Math.max(state.maxLogE, next.logE);
    // The interval costs more than the test: a caller that only needs the verdict may leave it out.
    const bounds = opts.interval === false ? undefined : confidenceBounds(next.grid, settings.alpha);
    // The running intersection; an empty set (which happens with probability at most α) keeps the last.
    if (bounds && Math.max(state.lower, bounds.lower) <= Math.min(state.upper, bounds.upper)) {
      next.lower = Math.max(state.lower, bounds.lower);
      next.upper = Math.min(state.upper, bounds.upper);
    }
    if (next.crossedAt === undefined && next.logE >= Math.log(1 / settings.alpha)) next.crossedAt = look.at;
  }
  const totals = { canary: look.canary, stable: look.stable };
  const enough = totals.canary.events + totals.stable.events >= settings.minEvents && totals.canary.trials >= settings.minTrials;
  const verdict: JudgeVerdict = next.crossedAt !== undefined ? 'regression' : enough ? 'not-flagged' : 'too-little-data';
  const best = next.looks > 0 && next.grid.some((l) => l !== 0) ? thetaAt(argmax(next.grid)) : null;
  return {
    state: next,
    reading: {
      verdict,
      eValue: Math.exp(next.logE),
      pValue: Math.min(1, Math.exp(-next.maxLogE)),
      effect: best === null ? null : Math.expm1(best),
      effectLower: Math.expm1(next.lower),
      effectUpper: Math.expm1(next.upper),
      ...totals,
      ...(next.crossedAt !== undefined ? { crossedAt: next.crossedAt } : {}),
    },
  };
}

/** Log-likelihoods are kept to this precision between monitor calls. */
const KEPT = 1e5;

/**
 * The state as it travels between monitor calls, and so through workflow history, 40% smaller:
 * only differences of log-likelihoods count, so the grid is kept relative to its top and the
 * test's alternatives relative to its null, each to 1e-5. The rounding moves a log e-value by at
 * most 5e-6 per call: a factor of at most 1.015 on the e-value after 2,880 calls (a day of
 * 30-second watch reports, the most frequent).
 */
export function compactJudgeState<S extends JudgeState>(s: S): S {
  const keep = (v: number) => Math.round(v * KEPT) / KEPT;
  const top = Math.max(...s.grid);
  return { ...s, grid: s.grid.map((l) => keep(l - top)), nullLogLik: 0, altLogLik: s.altLogLik.map((l) => keep(l - s.nullLogLik)) };
}

/** The interval's counts; a counter that went down restarted, and its interval is skipped. */
function diff(now: Counts, before: Counts): Counts {
  if (now.events < before.events || now.trials < before.trials) return { events: 0, trials: 0 };
  return { events: now.events - before.events, trials: now.trials - before.trials };
}

function argmax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

/**
 * The θ the data has not ruled out at level α: each grid point θ0 is tested against the
 * symmetric mixture around it; the bounds are the smallest and largest θ0 not rejected, widened by
 * one grid step (a true θ between two grid points is kept). Every grid point is scanned: the kept
 * set of a binomial likelihood need not be an interval, and its hull is a superset, still valid.
 */
function confidenceBounds(grid: number[], alpha: number): { lower: number; upper: number } | undefined {
  const threshold = Math.log(1 / alpha);
  const kept = (i: number) => {
    const terms: number[] = [];
    for (const { offset, logWeight } of CS_PRIOR) {
      const j = i + Math.round(offset / THETA_STEP);
      if (j >= 0 && j < grid.length) terms.push(grid[j]! + logWeight);
    }
    return logSumExp(terms) - grid[i]! < threshold;
  };
  let lo = -1;
  let hi = -1;
  for (let i = 0; i < grid.length; i++)
    if (kept(i)) {
      if (lo === -1) lo = i;
      hi = i;
    }
  if (lo === -1) return undefined;
  // At the grid's ends the bound is open: e^±2.5 stands for "at most" / "at least".
  return { lower: thetaAt(Math.max(0, lo - 1)), upper: thetaAt(Math.min(grid.length - 1, hi + 1)) };
}

/**
 * The latency bound the judge counts slow requests above: the largest histogram bound that at
 * least a (1 − quantile) share of the stable track's requests exceed, from its cumulative bucket
 * counts (`_bucket{le}`, +Inf last). Chosen once, from data before the counts it judges.
 */
export function latencyBound(bounds: readonly number[], stableCumulative: readonly number[], quantile: number): number | undefined {
  const total = stableCumulative[stableCumulative.length - 1] ?? 0;
  if (total <= 0) return undefined;
  let chosen: number | undefined;
  bounds.forEach((_, i) => {
    if ((total - stableCumulative[i]!) / total >= 1 - quantile) chosen = i;
  });
  return chosen;
}

/** Requests slower than the bound at `index`, out of all: the latency judge's counts. */
export const slowerThan = (cumulative: readonly number[], index: number): Counts => {
  const trials = cumulative[cumulative.length - 1] ?? 0;
  return { events: trials - (cumulative[index] ?? trials), trials };
};
