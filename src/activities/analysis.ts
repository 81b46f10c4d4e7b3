import { join } from 'node:path';
import {
  type AnalysisConfig,
  analysisVerdict,
  comparisons,
  DEFAULT_SCRAPE_INTERVAL_MS,
  initialState,
  isDone,
  isStable,
  judgeCounts,
  judgeReading,
  measurementsPath,
  type Measurement,
  type Metric,
  MetricPhase,
  type MetricState,
  type Observation,
  record,
  sincePhase,
  warmUpFor,
} from '../domain/analysis';
import { compactJudgeState } from '../domain/judge';
import { type QueryVars, renderQuery } from '../domain/promql';
import { appendLine } from './out-files';
import { type MetricProvider, ProviderError, QueryRejected } from './prometheus';

export interface MonitorInput {
  runKey: string;
  outDir: string;
  phase: string;
  vars: QueryVars;
  analysis: AnalysisConfig;
  /** What {{selector}} selects: the canary while it runs next to stable; stable when verifying a rollback. */
  subject: 'canary' | 'stable';
  baseline: Record<string, number>;
  /** One per metric of `analysis.metrics`, in order; absent at the start of a phase. */
  states?: MetricState[];
  /** Measure for this long, then report; earlier when a limit is broken. */
  runForMs: number;
  /** Return as soon as every acting metric's latest measurement passed. */
  untilStable?: boolean;
  /**
   * Watching while a human is asked: metrics that went inconclusive (or erroring, with
   * `onError: pause`) keep measuring, and the call returns early only for a break that rolls back.
   */
  watch?: boolean;
}

export interface MonitorResult {
  states: MetricState[];
  verdict: ReturnType<typeof analysisVerdict>;
  stable: boolean;
  measured: number;
  /** How long this call measured: the workflow charges it to a bake that a verdict cut short. */
  elapsedMs: number;
}

export interface MonitorHooks {
  signal?: AbortSignal;
  heartbeat?: (states: MetricState[]) => void;
  /** Waits, rejecting when cancelled. */
  sleep: (ms: number) => Promise<void>;
  onMeasurement?: (m: Measurement) => void;
}

/** The file with every measurement of a release run, for the record and the report. */
export const measurementsFile = (outDir: string, runKey: string) => join(outDir, measurementsPath(runKey));

const intervalOf = (a: AnalysisConfig, m: Metric) => m.interval ?? a.interval;

/** One measurement: the subject query, plus the stable query or the captured baseline where the conditions compare. */
export async function observe(provider: MetricProvider, input: Pick<MonitorInput, 'vars' | 'analysis' | 'subject' | 'baseline'>, metric: Metric, signal?: AbortSignal): Promise<Observation> {
  if (metric.judge) return observeCounts(provider, input, metric, signal);
  const needs = comparisons(metric);
  const q = (subject: 'canary' | 'stable') => renderQuery(metric.query, input.vars, input.analysis.selectors, subject);
  try {
    const [result, stable] = await Promise.all([provider.query(q(input.subject), signal), needs.stable ? provider.query(q('stable'), signal) : undefined]);
    if (result.kind === 'no-data') return result;
    if (stable?.kind === 'no-data') return { kind: 'no-data', message: `stable: ${stable.message}` };
    const obs: Observation = { kind: 'value', value: result.value };
    if (stable) obs.stable = stable.value;
    if (needs.baseline && input.baseline[metric.name] !== undefined) obs.baseline = input.baseline[metric.name]!;
    return obs;
  } catch (e) {
    if (e instanceof ProviderError) return { kind: 'error', message: e.message };
    throw e;
  }
}

/**
 * A judge's counts since its phase started, canary and stable: events (`query`) and trials
 * (`judge.trials`). No requests counted yet is no data; no events counted is zero events (a
 * healthy track may have no error series at all). Counts are whole: `increase` extrapolates.
 */
async function observeCounts(provider: MetricProvider, input: Pick<MonitorInput, 'vars' | 'analysis'>, metric: Metric, signal?: AbortSignal): Promise<Observation> {
  const q = (template: string, subject: 'canary' | 'stable') => provider.query(renderQuery(template, input.vars, input.analysis.selectors, subject), signal);
  try {
    const [ce, ct, se, st] = await Promise.all([q(metric.query, 'canary'), q(metric.judge!.trials, 'canary'), q(metric.query, 'stable'), q(metric.judge!.trials, 'stable')]);
    if (ct.kind === 'no-data') return { kind: 'no-data', message: `canary requests: ${ct.message}` };
    if (st.kind === 'no-data') return { kind: 'no-data', message: `stable requests: ${st.message}` };
    const whole = (r: typeof ce) => (r.kind === 'value' ? Math.max(0, Math.round(r.value)) : 0);
    return { kind: 'counts', canary: { events: whole(ce), trials: whole(ct) }, stable: { events: whole(se), trials: whole(st) } };
  } catch (e) {
    if (e instanceof ProviderError) return { kind: 'error', message: e.message };
    throw e;
  }
}

/**
 * Measures every metric on its own interval for `runForMs`, appending each measurement to the
 * run's file, and returns early when a limit breaks (or, with untilStable, when all pass).
 * Heartbeats carry the states, so a retried attempt resumes where the last one stopped.
 */
export async function monitor(provider: MetricProvider, input: MonitorInput, hooks: MonitorHooks): Promise<MonitorResult> {
  const metrics = input.analysis.metrics;
  const pausing = input.analysis.onError === 'pause';
  // A watch keeps measuring what a human is being asked about; only a break that rolls back ends it.
  const measuring = (phase: MetricPhase) =>
    phase === MetricPhase.RUNNING || (input.watch === true && (phase === MetricPhase.INCONCLUSIVE || (pausing && phase === MetricPhase.ERROR)));
  const breaksWatch = (verdict: MonitorResult['verdict']['verdict']) => verdict === 'failed' || (verdict === 'error' && !pausing);
  const start = Date.now();
  let states = input.states ?? (await phaseStart(provider, input, start, hooks.signal));
  const deadline = start + input.runForMs;
  const file = measurementsFile(input.outDir, input.runKey);
  let measured = 0;
  // A judge's state goes back to the workflow compacted: it is written to history with every report.
  const result = (): MonitorResult => ({ states: states.map((s) => (s.judge ? { ...s, judge: compactJudgeState(s.judge) } : s)), verdict: analysisVerdict(metrics, states), stable: isStable(metrics, states), measured, elapsedMs: Date.now() - start });

  const beat = () => hooks.heartbeat?.(states);
  for (;;) {
    beat();
    // A watch measures past `count`: a wait for a human is never left blind.
    const due = metrics.map((m, i) => ({ m, i, s: states[i]! })).filter(({ m, s }) => measuring(s.phase) && (input.watch === true || !isDone(m, s)));
    const next = Math.min(...due.map((d) => d.s.nextAt));
    if (!Number.isFinite(next) || next > deadline) {
      const wait = deadline - Date.now();
      if (wait > 0) await sliced(hooks.sleep, beat, wait);
      return result();
    }
    if (next > Date.now()) await sliced(hooks.sleep, beat, next - Date.now());
    for (const { m, i, s } of due.filter((d) => d.s.nextAt <= Date.now())) {
      const obs = await observe(provider, m.judge ? { ...input, vars: { ...input.vars, sincePhase: sincePhase(s, Date.now()) } } : input, m, hooks.signal);
      const at = Date.now();
      // A judge weighs the counts; past the bake's time (untilStable), too little traffic is inconclusive.
      const counted = m.judge && obs.kind === 'counts' ? judgeCounts(m, s, obs, at, input.untilStable === true) : undefined;
      const judged = counted ?? judgeReading(m, s, obs, at);
      const measurement: Measurement = {
        metric: m.name,
        phase: input.phase,
        seq: s.measured + 1,
        at: new Date(at).toISOString(),
        verdict: judged.verdict,
        ...(obs.kind === 'value' ? { value: obs.value, ...(obs.baseline !== undefined ? { baseline: obs.baseline } : {}), ...(obs.stable !== undefined ? { stable: obs.stable } : {}) } : {}),
        ...(counted?.value !== undefined ? { value: counted.value } : {}),
        ...(judged.message ? { message: judged.message } : {}),
        ...(counted ? { judge: counted.judge } : {}),
      };
      await appendLine(file, JSON.stringify(measurement), { root: input.outDir });
      hooks.onMeasurement?.(measurement);
      const before = counted ? { ...s, judge: counted.state } : s;
      states = states.map((x, j) => (j === i ? record(m, before, measurement, intervalOf(input.analysis, m)) : x));
      measured++;
    }
    const verdict = analysisVerdict(metrics, states).verdict;
    if (input.watch ? breaksWatch(verdict) : verdict !== 'running' || (input.untilStable && isStable(metrics, states))) return result();
  }
}

/** The states a phase starts from: each metric's warm-up resolved against the source's scrape interval. */
async function phaseStart(provider: MetricProvider, input: MonitorInput, start: number, signal?: AbortSignal): Promise<MetricState[]> {
  const { analysis } = input;
  const needsScrape = analysis.metrics.some((m) => m.warmUp === undefined);
  const scrape = !needsScrape
    ? DEFAULT_SCRAPE_INTERVAL_MS
    : (analysis.prometheus.scrapeInterval ?? (await provider.scrapeInterval?.(signal).catch(() => undefined)) ?? DEFAULT_SCRAPE_INTERVAL_MS);
  // A watch's canary has been live a whole bake: no initial delay.
  return analysis.metrics.map((m) => initialState(input.watch ? { ...m, initialDelay: 0 } : m, start, warmUpFor(m, intervalOf(analysis, m), scrape)));
}

/** Sleeps in slices so that heartbeats (and with them cancellation) keep flowing. */
async function sliced(sleep: (ms: number) => Promise<void>, beat: () => void, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (let left = ms; left > 0; left = end - Date.now()) {
    await sleep(Math.min(left, 1000));
    beat();
  }
}

/**
 * Runs every metric's query once, as the analysis will (canary selector, and stable where it is
 * compared), before anything is deployed: the queries Prometheus rejects, named; an empty list when
 * all are accepted. No data is fine here; an unreachable Prometheus throws ProviderError.
 */
export async function checkQueries(provider: MetricProvider, input: Pick<MonitorInput, 'vars' | 'analysis'>, signal?: AbortSignal): Promise<string[]> {
  const rejected: string[] = [];
  for (const m of input.analysis.metrics) {
    const subjects = comparisons(m).stable || m.judge ? (['canary', 'stable'] as const) : (['canary'] as const);
    const queries = m.judge ? [['query', m.query] as const, ['judge.trials', m.judge.trials] as const] : [['query', m.query] as const];
    check: for (const [field, template] of queries)
      for (const subject of subjects) {
        try {
          await provider.query(renderQuery(template, input.vars, input.analysis.selectors, subject), signal);
        } catch (e) {
          if (!(e instanceof QueryRejected)) throw e;
          rejected.push(`analysis.metrics ${m.name}: Prometheus rejects its ${field === 'query' ? 'query' : 'judge.trials query'} (${subject}): ${e.message}`);
          break check;
        }
      }
  }
  return rejected;
}

/** Reads the baseline of every metric that compares against one, with the stable selector, before anything changes. */
export async function captureBaseline(
  provider: MetricProvider,
  input: Pick<MonitorInput, 'vars' | 'analysis'>,
  signal?: AbortSignal,
): Promise<{ values: Record<string, number>; missing: Record<string, string> }> {
  const values: Record<string, number> = {};
  const missing: Record<string, string> = {};
  for (const m of input.analysis.metrics.filter((x) => comparisons(x).baseline)) {
    try {
      const res = await provider.query(renderQuery(m.query, input.vars, input.analysis.selectors, 'stable'), signal);
      if (res.kind === 'value') values[m.name] = res.value;
      else missing[m.name] = res.message;
    } catch (e) {
      if (!(e instanceof ProviderError)) throw e;
      missing[m.name] = e.message;
    }
  }
  return { values, missing };
}
