import { type AnalysisConfig, type AnalysisVerdict, describeBreak, MetricPhase, type MetricState } from './analysis';
import { StopKind, type StopReason } from './release';

/**
 * The bake loop's decisions, pure: what one analysis report means for the release (in the style of
 * Argo Rollouts' assessMetricStatus), and how long the next report may take.
 */

/** The monitor reports at least this often: it bounds the staleness of `status` and the history (about a dozen events a report). */
export const REPORT_EVERY_MS = 5 * 60_000;

export const BakeAction = { CONTINUE: 'continue', ASK_HUMAN: 'ask-human', ROLL_BACK: 'roll-back', DONE: 'done' } as const;
export type BakeAction = (typeof BakeAction)[keyof typeof BakeAction];

export type BakeDecision =
  | { action: typeof BakeAction.CONTINUE }
  | { action: typeof BakeAction.ASK_HUMAN; reason: string }
  | { action: typeof BakeAction.ROLL_BACK; stop: StopReason }
  | { action: typeof BakeAction.DONE; summary: string };

/** One report of the monitor. */
export interface BakeReport {
  states: MetricState[];
  verdict: { verdict: AnalysisVerdict; metrics: string[] };
  /** Every acting metric's latest measurement passed. */
  stable: boolean;
}

/**
 * Failed, or erroring past its limit with `onError: rollback` → roll back (verified against the
 * failed metrics); inconclusive or erroring with `onError: pause` → ask a human; once the bake time
 * is up and every acting metric last passed → done; else go on measuring.
 */
export function assessBake(report: BakeReport, remainingMs: number, onError: AnalysisConfig['onError']): BakeDecision {
  const { verdict, metrics } = report.verdict;
  const broken = () => metrics.map((name) => describeBreak(report.states.find((s) => s.metric === name)!)).join('; ');
  if (verdict === 'failed') return { action: BakeAction.ROLL_BACK, stop: { kind: StopKind.ANALYSIS_FAILED, message: `analysis failed: ${broken()}`, brokenMetrics: metrics } };
  if (verdict === 'error' && onError === 'rollback') return { action: BakeAction.ROLL_BACK, stop: { kind: StopKind.ANALYSIS_ERROR, message: `analysis error: ${broken()}` } };
  if (verdict === 'inconclusive' || verdict === 'error') return { action: BakeAction.ASK_HUMAN, reason: `analysis ${verdict}: ${broken()}` };
  if (remainingMs <= 0 && report.stable)
    return { action: BakeAction.DONE, summary: report.states.map((s) => `${s.metric} ${s.successful}/${s.measured} passed`).join(', ') };
  return { action: BakeAction.CONTINUE };
}

/** A phase's analysis in one word, for status and the record: a metric past a limit broke it. */
export const phaseVerdict = (states: readonly MetricState[]): 'passed' | 'broken' => (states.some((s) => s.phase !== MetricPhase.RUNNING) ? 'broken' : 'passed');

/** The longest measurement interval of the analysis' metrics. */
export const longestInterval = (analysis: Pick<AnalysisConfig, 'interval' | 'metrics'>): number => Math.max(0, ...analysis.metrics.map((m) => m.interval ?? analysis.interval));

/**
 * How long the next monitor call measures: up to a report's length while bake time is left; past
 * it, one interval at a time until every acting metric passes (`untilStable`).
 */
export function bakeRound(remainingMs: number, longestIntervalMs: number): { runForMs: number; untilStable: boolean } {
  return remainingMs > 0 ? { runForMs: Math.min(remainingMs, REPORT_EVERY_MS), untilStable: false } : { runForMs: longestIntervalMs, untilStable: true };
}

/**
 * While people are asked (an inconclusive reading, a pause, a phase's sign-off) the checks keep
 * measuring: a break that would roll a bake back rolls back now. Inconclusive or erroring readings
 * under `onError: pause` only go on record; the human already decides.
 */
export function assessWatch(report: BakeReport, onError: AnalysisConfig['onError']): StopReason | undefined {
  const decision = assessBake(report, 1, onError);
  return decision.action === BakeAction.ROLL_BACK ? decision.stop : undefined;
}

/** A watch's rounds are shorter than a bake's reports: `status` shows the readings of a wait sooner. */
export const WATCH_REPORT_MIN_MS = 30_000;

/** How long one monitor call of a watch measures before it reports (earlier on a break). */
export const watchRound = (longestIntervalMs: number): number => Math.min(REPORT_EVERY_MS, Math.max(WATCH_REPORT_MIN_MS, 3 * longestIntervalMs));
