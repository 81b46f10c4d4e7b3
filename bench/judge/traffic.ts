/**
 * Simulated canary traffic for the judges (issue 15): requests split between a stable and a canary
 * track, errors per request, latencies log-normal into Prometheus' default histogram buckets, read
 * as the counters a Prometheus query would return at each look. Seeded, so that every judge sees
 * identical streams and a run can be repeated.
 */

/** Prometheus' default histogram buckets (client_golang's DefBuckets), in seconds; +Inf is implicit. */
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** mulberry32: a small, fast, seedable generator with a full 2^32 period. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const normal = (u: () => number): number => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());

/** Poisson by inversion for small means, else the normal approximation (rounded, never negative). */
export function poisson(u: () => number, mean: number): number {
  if (mean <= 0) return 0;
  if (mean < 30) {
    let k = 0;
    let p = Math.exp(-mean);
    let cdf = p;
    const x = u();
    while (x > cdf && k < 1000) {
      k++;
      p *= mean / k;
      cdf += p;
    }
    return k;
  }
  return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(u)));
}

/** Binomial: exact inversion while the expected count of the rarer outcome is small, else the normal approximation. */
export function binomial(u: () => number, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - binomial(u, n, 1 - p);
  if (n * p < 30) {
    // Inversion on the binomial recurrence P(k+1) = P(k)·(n−k)/(k+1)·p/(1−p).
    const x = u();
    let k = 0;
    let prob = Math.exp(n * Math.log1p(-p));
    let cdf = prob;
    while (x > cdf && k < n) {
      prob *= ((n - k) / (k + 1)) * (p / (1 - p));
      k++;
      cdf += prob;
    }
    return k;
  }
  const mean = n * p;
  return Math.min(n, Math.max(0, Math.round(mean + Math.sqrt(mean * (1 - p)) * normal(u))));
}

/** The standard normal CDF (Abramowitz and Stegun 7.1.26 through erf; error below 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

export interface Latency {
  /** Median latency in seconds and the log-normal's σ. */
  median: number;
  sigma: number;
}

/** The chance of each bucket (the last is +Inf) for a log-normal latency scaled by `factor`. */
export function bucketProbabilities(l: Latency, factor: number, buckets = DEFAULT_BUCKETS): number[] {
  const cdf = buckets.map((b) => normalCdf(Math.log(b / (l.median * factor)) / l.sigma));
  return [...cdf, 1].map((c, i) => c - (i === 0 ? 0 : cdf[i - 1]!));
}

/** The true quantile q of the scaled log-normal: what a judge that knows everything would see. */
export const trueQuantile = (l: Latency, factor: number, zq: number): number => l.median * factor * Math.exp(l.sigma * zq);

/** Counts since the phase started, per track, as Prometheus counters hold them. */
export interface TrackCounters {
  requests: number;
  errors: number;
  /** Cumulative per bucket, as `_bucket{le}` is: requests at or below each bound, then +Inf. */
  buckets: number[];
}

export interface Look {
  /** Seconds since the phase started. */
  at: number;
  canary: TrackCounters;
  stable: TrackCounters;
  /** This interval's requests, errors and bucket counts (not cumulative), per track. */
  interval: { canary: TrackCounters; stable: TrackCounters };
}

export interface Scenario {
  requestsPerSecond: number;
  canaryShare: number;
  errorRate: number;
  /** The canary's error rate over the stable's (1: healthy). */
  errorFactor: number;
  latency: Latency;
  /** The canary's latencies over the stable's (1: healthy); p99 +20% is 1.2. */
  latencyFactor: number;
  lookEverySeconds: number;
  phaseSeconds: number;
}

export const HEALTHY: Scenario = {
  requestsPerSecond: 500,
  canaryShare: 0.05,
  errorRate: 0.01,
  errorFactor: 1,
  latency: { median: 0.08, sigma: 0.6 },
  latencyFactor: 1,
  lookEverySeconds: 10,
  phaseSeconds: 3600,
};

const empty = (n: number): TrackCounters => ({ requests: 0, errors: 0, buckets: new Array<number>(n).fill(0) });

/** Multinomial counts of n requests over the bucket chances, by conditional binomials. */
function spread(u: () => number, n: number, probs: number[]): number[] {
  const counts: number[] = [];
  let left = n;
  let mass = 1;
  for (const p of probs) {
    const k = mass <= 0 ? 0 : binomial(u, left, Math.min(1, p / mass));
    counts.push(k);
    left -= k;
    mass -= p;
  }
  counts[counts.length - 1]! += left;
  return counts;
}

/**
 * The stable track's latency histogram over the minute before the phase, all traffic on it: what a
 * judge may read before the canary starts (as rollgate's baseline is captured before the first deploy).
 */
export function baselineBuckets(s: Scenario, seed: number): number[] {
  const u = rng(seed ^ 0x9e3779b9);
  let running = 0;
  return spread(u, poisson(u, s.requestsPerSecond * 60), bucketProbabilities(s.latency, 1)).map((k) => (running += k));
}

/** One phase's looks: every `lookEverySeconds`, the counters since the start and the interval's own counts. */
export function* phase(s: Scenario, seed: number): Generator<Look> {
  const u = rng(seed);
  const stableProbs = bucketProbabilities(s.latency, 1);
  const canaryProbs = bucketProbabilities(s.latency, s.latencyFactor);
  const nb = stableProbs.length;
  const total = { canary: empty(nb), stable: empty(nb) };
  for (let at = s.lookEverySeconds; at <= s.phaseSeconds; at += s.lookEverySeconds) {
    const requests = poisson(u, s.requestsPerSecond * s.lookEverySeconds);
    const canaryRequests = binomial(u, requests, s.canaryShare);
    const track = (n: number, errorRate: number, probs: number[]): TrackCounters => {
      const perBucket = spread(u, n, probs);
      let running = 0;
      return { requests: n, errors: binomial(u, n, errorRate), buckets: perBucket.map((k) => (running += k)) };
    };
    const interval = {
      canary: track(canaryRequests, Math.min(1, s.errorRate * s.errorFactor), canaryProbs),
      stable: track(requests - canaryRequests, s.errorRate, stableProbs),
    };
    for (const side of ['canary', 'stable'] as const) {
      total[side].requests += interval[side].requests;
      total[side].errors += interval[side].errors;
      total[side].buckets = total[side].buckets.map((c, i) => c + interval[side].buckets[i]!);
    }
    yield { at, canary: { ...total.canary, buckets: [...total.canary.buckets] }, stable: { ...total.stable, buckets: [...total.stable.buckets] }, interval };
  }
}
