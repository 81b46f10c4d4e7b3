import type { RollgateConfig } from './config';
import { formatDuration } from './duration';
import { Decision, type Outcome } from './enums';
import { isAnalysed, measures, type ReleasePlan } from './plan';
import type { Approval, DecisionResult, GateReport } from './release';

/**
 * The record's SIGN-OFF judgements: how confident the decision is, what it recommends, and when
 * the deployment runs. Pure, so that each rule has a table test and the README can state it.
 */

export const Confidence = { HIGH: 'HIGH', MEDIUM: 'MEDIUM', LOW: 'LOW' } as const;
export type Confidence = (typeof Confidence)[keyof typeof Confidence];

/** The rule, as the record and the README state it. */
export const CONFIDENCE_RULE =
  'HIGH with no doubt below; MEDIUM with one; LOW with two or more, or with an irreversible migration or a risk that could not be classified. Doubts: HIGH or CRITICAL risk; security passed with conditions; no metric check acts on a production phase; nothing verifies a stage but its command exit status (no smoke URL)';

export interface ConfidenceJudgement {
  level: Confidence;
  /** What lowered it, one line each; empty at HIGH. */
  doubts: string[];
}

/** How far the decision can be trusted, by the rule above; none for an aborted release. */
export function confidence(decision: DecisionResult, gates: GateReport, config: RollgateConfig): ConfidenceJudgement | undefined {
  const { risk, plan } = decision;
  if (decision.decision === Decision.ABORTED) return undefined;
  if (!risk || !plan) return { level: Confidence.LOW, doubts: ['the risk could not be classified'] };
  const doubts: string[] = [];
  if (risk.level === 'HIGH' || risk.level === 'CRITICAL') doubts.push(`${risk.level} risk`);
  if (gates.securityConditions.length > 0) doubts.push(`security passed with ${gates.securityConditions.length} condition${gates.securityConditions.length === 1 ? '' : 's'}`);
  const bakes = plan.phases.filter((p) => isAnalysed(p) && p.bakeMs > 0);
  const unwatched = bakes.filter((p) => !config.analysis.metrics.some((m) => !m.dryRun && measures(m, p)));
  if (unwatched.length > 0 && unwatched.length === bakes.length) doubts.push('no metric check acts on the production bakes');
  else if (unwatched.length > 0) doubts.push(`no metric check acts on ${unwatched.map((p) => p.title).join(', ')}: its judges need stable traffic to compare with`);
  if (!plan.phases.some((p) => p.smokeUrl)) doubts.push('no smoke URL: stages are verified by their command exit status only');
  const decisive = risk.irreversibleMigration ? 'an irreversible migration' : risk.escalation ? 'an escalation' : undefined;
  if (decisive) doubts.unshift(decisive);
  const level = decisive || doubts.length >= 2 ? Confidence.LOW : doubts.length === 1 ? Confidence.MEDIUM : Confidence.HIGH;
  return { level, doubts };
}

const ENDED: Record<Outcome, string> = {
  released: '✅ RELEASED',
  rolled_back: '↩️ ROLLED BACK: do not release this version again before the cause is fixed',
  rollback_failed: '🚨 A HUMAN MUST RESTORE THE SERVICE: the rollback failed',
  aborted: '⛔ STOPPED BEFORE RELEASE: see the results',
  escalated: '⚠️ A HUMAN DECIDES: rollgate has no plan for this change',
  partially_released: '⚠️ PARTIALLY RELEASED: a wave failed; the targets that had passed keep this version by a human\'s decision',
};

/** What the record recommends now: it changes once the sign-off it waits for has come, and says how it ended once it has. */
export function recommendation(decision: DecisionResult, approvals: readonly Approval[], outcome?: Outcome): string {
  if (decision.decision === Decision.ABORTED) return '⛔ DO NOT DEPLOY: a prerequisite failed';
  if (outcome) return ENDED[outcome];
  if (!decision.risk || !decision.plan) return '⚠️ A HUMAN DECIDES: rollgate has no plan for this change';
  const signedOff = approvals.some((a) => a.kind === 'release');
  if (decision.approvalRequired && !signedOff) return '⏳ PROCEED AFTER SIGN-OFF';
  return '✅ PROCEED WITH DEPLOYMENT';
}

export interface DeploymentWindow {
  from: string;
  /** The earliest end: every hold and bake of the plan, back to back; sign-off waits come on top. */
  to: string;
  plannedMs: number;
}

/** From the sign-off (or the start when none is needed) through every hold and bake of the plan. */
export function deploymentWindow(plan: ReleasePlan, startedAt: string, approvals: readonly Approval[]): DeploymentWindow {
  const signedAt = approvals.find((a) => a.kind === 'release')?.at;
  const from = signedAt && !Number.isNaN(Date.parse(signedAt)) ? signedAt : startedAt;
  const plannedMs = plan.phases.reduce((sum, p) => sum + p.holdMs + p.bakeMs, 0);
  return { from, to: new Date(Date.parse(from) + plannedMs).toISOString(), plannedMs };
}

/** `2026-01-05 12:00 UTC`: minutes are what a window is read in. */
const minute = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

export const windowLine = (w: DeploymentWindow, hasApprovals: boolean): string =>
  `${minute(w.from)} – ${minute(w.to)} at the earliest (${formatDuration(w.plannedMs)} of bakes and holds${hasApprovals ? '; each sign-off wait comes on top' : ''})`;
