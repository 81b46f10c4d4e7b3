import { z } from 'zod';
import { type Condition, type ConditionScope, parseCondition } from './condition';
import { durationMs, parseDuration } from './duration';
import { secretEnvName } from './env';
import { type Counts, DEFAULT_JUDGE, initialJudgeState, judgeLook, type JudgeState, percentChange as pct } from './judge';

/**
 * Metric analysis with Argo Rollouts' semantics: per metric an interval, an optional count, an
 * initial delay, a success and a failure condition (neither true: inconclusive), and limits on
 * failed, inconclusive and consecutive error measurements. "No data" and "provider error" are kept
 * apart from "threshold broken" everywhere.
 */

export const Verdict = {
  SUCCESSFUL: 'successful',
  FAILED: 'failed',
  INCONCLUSIVE: 'inconclusive',
  NO_DATA: 'no-data',
  /** No data yet, and none since the phase began, within the metric's warm-up: counts for nothing. */
  WARMING_UP: 'warming-up',
  ERROR: 'error',
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** Where a metric stands in a phase: the worst limit it has broken, or still running. */
export const MetricPhase = {
  RUNNING: 'running',
  FAILED: 'failed',
  ERROR: 'error',
  INCONCLUSIVE: 'inconclusive',
} as const;
export type MetricPhase = (typeof MetricPhase)[keyof typeof MetricPhase];

const condition = z.string().min(1).transform((src, ctx) => {
  try {
    parseCondition(src);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `invalid condition "${src}": ${(e as Error).message}` });
    return z.NEVER;
  }
  return src;
});

const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const labels = z.record(z.string().regex(labelName, 'must be a Prometheus label name'), z.string());

export const MetricSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, . _ - (max 63)'),
    /** PromQL with {{service}} {{version}} {{previousVersion}} {{phase}} {{stage}} {{selector}} {{stableSelector}} {{canarySelector}}. */
    /** Its placeholders are checked with the whole config, which knows the targets' labels. */
    query: z.string().min(1),
    successCondition: condition.optional(),
    failureCondition: condition.optional(),
    interval: durationMs().optional(),
    count: z.number().int().positive().optional(),
    initialDelay: durationMs({ allowZero: true }).prefault('0s'),
    /**
     * How long after the first measurement a phase's metric may return no data before that counts
     * (a new track has no series until it is scraped). Default: the longest of two intervals, the
     * query's longest range and three scrape intervals.
     */
    warmUp: durationMs({ allowZero: true }).optional(),
    failureLimit: z.number().int().nonnegative().default(0),
    inconclusiveLimit: z.number().int().nonnegative().default(0),
    consecutiveErrorLimit: z.number().int().nonnegative().default(4),
    /** What an empty result counts as. Never a pass. */
    noData: z.enum(['inconclusive', 'failed']).default('inconclusive'),
    /** Measured and reported, never acts. */
    dryRun: z.boolean().default(false),
    /**
     * The sequential judge (src/domain/judge.ts) instead of conditions: `query` counts the events
     * (errors, or requests slower than a bound) and `trials` the requests, each since the phase
     * started (`increase(…[{{sincePhase}}])`), canary against stable through {{selector}}.
     */
    judge: z
      .strictObject({
        trials: z.string().min(1),
        alpha: z.number().gt(0, 'must be above 0').lt(1, 'must be below 1').default(DEFAULT_JUDGE.alpha),
        minEffect: z.number().nonnegative().default(DEFAULT_JUDGE.minEffect),
        minEvents: z.number().int().nonnegative().default(DEFAULT_JUDGE.minEvents),
        minTrials: z.number().int().nonnegative().default(DEFAULT_JUDGE.minTrials),
      })
      .optional(),
  })
  .superRefine((m, ctx) => {
    if (m.judge && (m.successCondition || m.failureCondition)) ctx.addIssue({ code: 'custom', path: ['judge'], message: 'a judge decides by itself: give it or conditions, not both' });
    if (!m.judge && !m.successCondition && !m.failureCondition)
      ctx.addIssue({ code: 'custom', path: ['successCondition'], message: 'give a successCondition, a failureCondition or both (or a judge)' });
  });
export type MetricInput = z.input<typeof MetricSchema>;
export type Metric = z.output<typeof MetricSchema>;

/** Where the metrics come from and the names of the variables holding its credentials: a worker policy may own it. */
export const PrometheusSourceSchema = z
  .strictObject({
    /** Else the worker's ROLLGATE_PROMETHEUS_URL. */
    address: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    /** Names of environment variables of the worker that hold credentials; never the secrets themselves. */
    bearerTokenEnv: secretEnvName('ROLLGATE_PROMETHEUS_').default('ROLLGATE_PROMETHEUS_TOKEN'),
    usernameEnv: secretEnvName('ROLLGATE_PROMETHEUS_').default('ROLLGATE_PROMETHEUS_USERNAME'),
    passwordEnv: secretEnvName('ROLLGATE_PROMETHEUS_').default('ROLLGATE_PROMETHEUS_PASSWORD'),
    timeout: durationMs().prefault('10s'),
    /** For the default warm-up. Else read from the server's configuration (global scrape_interval), else 1m. */
    scrapeInterval: durationMs().optional(),
  });

export const AnalysisConfigSchema = z
  .strictObject({
    provider: z.enum(['prometheus'], { error: 'unknown metric provider (known: prometheus)' }).default('prometheus'),
    prometheus: PrometheusSourceSchema.prefault({}),
    interval: durationMs().prefault('1m'),
    /** How long an inconclusive analysis waits for a human before it rolls back. */
    inconclusiveTimeout: durationMs().prefault('1h'),
    /** A metric source that keeps failing (errors past consecutiveErrorLimit): roll back, or wait for a human as for an inconclusive analysis. */
    onError: z.enum(['rollback', 'pause'], { error: 'must be rollback or pause' }).default('rollback'),
    /**
     * A check that fails while someone paused the release by hand: roll back, or only tell people
     * (the failure stands when the release resumes). Waits for an approval always roll back.
     */
    onFailureWhilePaused: z.enum(['rollback', 'notify'], { error: 'must be rollback or notify' }).default('rollback'),
    /** After a rollback, how long the broken metrics have to come back within their thresholds. */
    verifyWindow: durationMs({ allowZero: true }).prefault('5m'),
    selectors: z.strictObject({ stable: labels.default({}), canary: labels.default({}) }).prefault({}),
    metrics: z
      .array(MetricSchema)
      .default([])
      .superRefine((ms, ctx) => {
        const seen = new Set<string>();
        ms.forEach((m, i) => {
          if (seen.has(m.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${m.name}" is used twice` });
          seen.add(m.name);
        });
      }),
  })
  .prefault({});
export type AnalysisConfig = z.output<typeof AnalysisConfigSchema>;

export interface Measurement {
  metric: string;
  phase: string;
  /** Per metric and phase, from 1; a retried monitor writes the same seq again. */
  seq: number;
  at: string;
  verdict: Verdict;
  value?: number;
  baseline?: number;
  stable?: number;
  message?: string;
  /** A judge's reading: counts since the phase started, the effect with its confidence sequence, the evidence. */
  judge?: JudgeMeasurement;
}

export interface JudgeMeasurement {
  canary: Counts;
  stable: Counts;
  /** The canary's event rate over the stable's, minus one; null before any events. */
  effect: number | null;
  effectLower: number;
  effectUpper: number;
  eValue: number;
  pValue: number;
  crossedAt?: string;
}

export interface MetricState {
  metric: string;
  measured: number;
  successful: number;
  failed: number;
  inconclusive: number;
  noData: number;
  /** No-data readings within the warm-up, before the phase saw any data: they count for nothing. */
  warmingUp: number;
  errors: number;
  consecutiveErrors: number;
  /** A reading of this phase returned a value: from now on no data counts. */
  seenData: boolean;
  /** Epoch ms when the warm-up ends. */
  warmUpUntil: number;
  /** Epoch ms of the next measurement. */
  nextAt: number;
  phase: MetricPhase;
  last?: Measurement;
  /** The latest few measurements, for status. The full series goes to the analysis file. */
  recent: Measurement[];
  /** A judge's evidence so far, and when its phase started (its counts run from there). */
  judge?: JudgeState & { startedAt: number };
}

export const RECENT = 10;

/** The file, under the output folder, that keeps every measurement of a release run. */
export const measurementsPath = (runKey: string): string => `analysis/${runKey.replace(/[^\w.@-]+/g, '_')}.jsonl`;

/** A metric's state at the start of a phase; `warmUpMs` is its resolved warm-up (see `warmUpFor`). */
export function initialState(metric: Metric, startMs: number, warmUpMs = 0): MetricState {
  return {
    ...(metric.judge ? { judge: { ...initialJudgeState(), startedAt: startMs } } : {}),
    metric: metric.name,
    measured: 0,
    successful: 0,
    failed: 0,
    inconclusive: 0,
    noData: 0,
    warmingUp: 0,
    errors: 0,
    consecutiveErrors: 0,
    seenData: false,
    warmUpUntil: startMs + metric.initialDelay + warmUpMs,
    nextAt: startMs + metric.initialDelay,
    phase: MetricPhase.RUNNING,
    recent: [],
  };
}

/** What one query round gave, before judging it. */
export type Observation =
  | { kind: 'value'; value: number; baseline?: number; stable?: number }
  | { kind: 'counts'; canary: Counts; stable: Counts }
  | { kind: 'no-data'; message: string }
  | { kind: 'error'; message: string };

const compiled = new Map<string, Condition>();
const compile = (src: string) => {
  let c = compiled.get(src);
  if (!c) compiled.set(src, (c = parseCondition(src)));
  return c;
};

/** The variables a metric's conditions use beyond `result`: which extra queries a measurement needs. */
export function comparisons(metric: Metric): { baseline: boolean; stable: boolean } {
  const vars = [metric.successCondition, metric.failureCondition].filter((c): c is string => !!c).flatMap((c) => compile(c).variables);
  return { baseline: vars.includes('baseline'), stable: vars.includes('stable') };
}

/** Argo's rule: failure true → failed; else success given → its truth (inconclusive when a failure condition was also given); else successful. */
export function judge(metric: Metric, obs: Observation): { verdict: Verdict; message?: string } {
  if (obs.kind === 'error') return { verdict: Verdict.ERROR, message: obs.message };
  if (obs.kind === 'no-data') return { verdict: Verdict.NO_DATA, message: obs.message };
  if (obs.kind === 'counts') return { verdict: Verdict.NO_DATA, message: 'counts are for a judge' };
  const scope: ConditionScope = { result: obs.value };
  if (obs.baseline !== undefined) scope.baseline = obs.baseline;
  if (obs.stable !== undefined) scope.stable = obs.stable;
  try {
    if (metric.failureCondition && compile(metric.failureCondition).test(scope))
      return { verdict: Verdict.FAILED, message: `${metric.failureCondition} (result ${fmt(obs.value)}${refs(obs)})` };
    if (metric.successCondition) {
      if (compile(metric.successCondition).test(scope)) return { verdict: Verdict.SUCCESSFUL };
      return metric.failureCondition
        ? { verdict: Verdict.INCONCLUSIVE, message: `neither ${metric.successCondition} nor ${metric.failureCondition} (result ${fmt(obs.value)}${refs(obs)})` }
        : { verdict: Verdict.FAILED, message: `not ${metric.successCondition} (result ${fmt(obs.value)}${refs(obs)})` };
    }
    return { verdict: Verdict.SUCCESSFUL };
  } catch (e) {
    // A reference the check needs is missing (no baseline): no data, not a pass.
    return { verdict: Verdict.NO_DATA, message: (e as Error).message };
  }
}

/**
 * Judges a reading taken at `atMs`: no data before the phase has seen any, within the warm-up, is
 * warming up rather than no data.
 */
export function judgeReading(metric: Metric, state: MetricState, obs: Observation, atMs: number): { verdict: Verdict; message?: string } {
  const judged = judge(metric, obs);
  if (judged.verdict !== Verdict.NO_DATA || state.seenData || atMs >= state.warmUpUntil) return judged;
  return { verdict: Verdict.WARMING_UP, message: `no data yet, warming up until ${new Date(state.warmUpUntil).toISOString()}: ${judged.message}` };
}

/**
 * A judge's reading at `atMs`, from the counts since its phase started: a regression fails; too
 * little traffic to judge is warming up while the bake runs and inconclusive once its time is up
 * (`ending`); otherwise it passes. Returns the judge's next state with the verdict.
 */
export function judgeCounts(
  metric: Metric,
  state: MetricState,
  counts: { canary: Counts; stable: Counts },
  atMs: number,
  ending: boolean,
): { verdict: Verdict; message: string; value?: number; judge: JudgeMeasurement; state: NonNullable<MetricState['judge']> } {
  const settings = metric.judge!;
  const before = state.judge ?? { ...initialJudgeState(), startedAt: atMs };
  const { state: next, reading } = judgeLook(settings, before, { at: atMs, ...counts });
  const seen = `canary ${counts.canary.events}/${counts.canary.trials}, stable ${counts.stable.events}/${counts.stable.trials}`;
  const effect = reading.effect === null ? 'no events yet' : `effect ${pct(reading.effect)} (${pct(reading.effectLower)} to ${pct(reading.effectUpper)})`;
  const evidence = `e-value ${fmt(reading.eValue)} (flags at ${fmt(1 / settings.alpha)})`;
  const judged: JudgeMeasurement = {
    canary: counts.canary,
    stable: counts.stable,
    effect: reading.effect,
    effectLower: reading.effectLower,
    effectUpper: reading.effectUpper,
    eValue: reading.eValue,
    pValue: reading.pValue,
    ...(reading.crossedAt !== undefined ? { crossedAt: new Date(reading.crossedAt).toISOString() } : {}),
  };
  const common = { judge: judged, state: { ...next, startedAt: before.startedAt }, ...(reading.effect !== null ? { value: reading.effect } : {}) };
  if (reading.verdict === 'regression') return { verdict: Verdict.FAILED, message: `regression: ${effect}, ${evidence}; ${seen}`, ...common };
  if (reading.verdict === 'not-flagged') return { verdict: Verdict.SUCCESSFUL, message: `not flagged: ${effect}, ${evidence}; ${seen}`, ...common };
  const little = `too little traffic to judge (${seen}; needs ${settings.minEvents} events and ${settings.minTrials} canary requests)`;
  return { verdict: ending ? Verdict.INCONCLUSIVE : Verdict.WARMING_UP, message: little, ...common };
}

/** How long since a judge's phase started, as a PromQL range for `increase(…[{{sincePhase}}])`. */
export const sincePhase = (state: MetricState, atMs: number): string => `${Math.max(1, Math.ceil((atMs - (state.judge?.startedAt ?? atMs)) / 1000))}s`;

/** The longest range or subquery window in a PromQL query (`[5m]`, `[1h:1m]`), 0 without one. */
export function longestRange(query: string): number {
  const ranges = [...query.matchAll(/\[\s*((?:\d+(?:ms|s|m|h|d))+)\s*(?::[^\]]*)?\]/g)].map((m) => parseDuration(m[1]!) ?? 0);
  return Math.max(0, ...ranges);
}

/** Prometheus's own default, for a source that does not say. */
export const DEFAULT_SCRAPE_INTERVAL_MS = 60_000;

/**
 * A metric's warm-up: as configured, else long enough for a new track's first series to be scraped
 * and its query's window to hold data: two intervals, the query's longest range (at most 5 min),
 * three scrapes.
 */
export function warmUpFor(metric: Metric, intervalMs: number, scrapeIntervalMs: number): number {
  return metric.warmUp ?? Math.max(2 * intervalMs, Math.min(longestRange(metric.query), MAX_RANGE_WARM_UP_MS), 3 * scrapeIntervalMs);
}

/** A rate has data after two scrapes whatever its range: a long range stretches the default warm-up only this far. */
export const MAX_RANGE_WARM_UP_MS = 5 * 60_000;

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(4).replace(/\.?0+$/, ''));
const refs = (o: { baseline?: number; stable?: number }) =>
  `${o.baseline !== undefined ? `, baseline ${fmt(o.baseline)}` : ''}${o.stable !== undefined ? `, stable ${fmt(o.stable)}` : ''}`;

/** Adds one measurement to a metric's state and moves its phase when a limit is broken. */
export function record(metric: Metric, state: MetricState, m: Measurement, interval: number): MetricState {
  const s: MetricState = { ...state, measured: state.measured + 1, last: m, recent: [...state.recent, m].slice(-RECENT), nextAt: Date.parse(m.at) + interval };
  switch (m.verdict) {
    case Verdict.SUCCESSFUL:
      s.successful++;
      s.consecutiveErrors = 0;
      s.seenData = true;
      break;
    case Verdict.FAILED:
      s.failed++;
      s.consecutiveErrors = 0;
      s.seenData = true;
      break;
    case Verdict.INCONCLUSIVE:
      s.inconclusive++;
      s.consecutiveErrors = 0;
      s.seenData = true;
      break;
    case Verdict.WARMING_UP:
      s.warmingUp++;
      s.consecutiveErrors = 0;
      break;
    case Verdict.NO_DATA:
      s.noData++;
      s.consecutiveErrors = 0;
      break;
    case Verdict.ERROR:
      s.errors++;
      s.consecutiveErrors++;
      break;
  }
  s.phase = metricPhase(metric, s);
  return s;
}

function metricPhase(metric: Metric, s: MetricState): MetricPhase {
  const noDataAsFailed = metric.noData === 'failed' ? s.noData : 0;
  const noDataAsInconclusive = metric.noData === 'inconclusive' ? s.noData : 0;
  if (s.failed + noDataAsFailed > metric.failureLimit) return MetricPhase.FAILED;
  if (s.consecutiveErrors > metric.consecutiveErrorLimit) return MetricPhase.ERROR;
  if (s.inconclusive + noDataAsInconclusive > metric.inconclusiveLimit) return MetricPhase.INCONCLUSIVE;
  return MetricPhase.RUNNING;
}

/** After a human said go on: an inconclusive or erroring metric starts counting again. */
export function forgive(s: MetricState): MetricState {
  if (s.phase === MetricPhase.INCONCLUSIVE) return { ...s, inconclusive: 0, noData: 0, phase: MetricPhase.RUNNING };
  if (s.phase === MetricPhase.ERROR) return { ...s, consecutiveErrors: 0, phase: MetricPhase.RUNNING };
  return s;
}

/** The metric took its `count` readings; warming-up readings are not among them. */
export const isDone = (metric: Metric, s: MetricState) => metric.count !== undefined && s.measured - (s.warmingUp ?? 0) >= metric.count;

export type AnalysisVerdict = 'running' | 'failed' | 'error' | 'inconclusive';

/** The worst phase over the metrics that act (dry-run ones never do). */
export function analysisVerdict(metrics: readonly Metric[], states: readonly MetricState[]): { verdict: AnalysisVerdict; metrics: string[] } {
  for (const verdict of ['failed', 'error', 'inconclusive'] as const) {
    const names = metrics.filter((m, i) => !m.dryRun && states[i]?.phase === verdict).map((m) => m.name);
    if (names.length) return { verdict, metrics: names };
  }
  return { verdict: 'running', metrics: [] };
}

/**
 * Stable enough to go on: every acting metric has been measured and its latest measurement passed.
 * A bake that ends on an error, no data or an inconclusive reading keeps analysing instead.
 */
export function isStable(metrics: readonly Metric[], states: readonly MetricState[]): boolean {
  return metrics.every((m, i) => m.dryRun || states[i]?.last?.verdict === Verdict.SUCCESSFUL);
}

/** One line for a metric that broke: what it measured against which condition. */
export function describeBreak(state: MetricState): string {
  const last = state.last;
  if (state.phase === MetricPhase.ERROR) return `${state.metric}: ${state.consecutiveErrors} consecutive provider errors (${last?.message ?? 'unknown'})`;
  return `${state.metric} ${state.phase}: ${last?.message ?? last?.verdict ?? 'no measurement'}`;
}
