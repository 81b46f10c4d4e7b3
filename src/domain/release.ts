import type { MetricState } from './analysis';
import { z } from 'zod';
import { ConfigSchema } from './config';
import { type Decision, type Outcome, type PrerequisiteName, type RiskLevel, type Strategy } from './enums';
import type { ReleasePlan } from './plan';
import type { RiskAssessment } from './risk';

/** A git ref as accepted on the command line: no option-like or shell-meaningful leading characters. */
export const gitRef = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'is too long')
  .regex(/^[^-\s~^:?*[\\][^\s~^:?*[\\]*$/, 'is not a valid git ref')
  .refine((r) => !r.includes('..') && !r.endsWith('.lock') && !r.endsWith('/') && !r.includes('@{'), 'is not a valid git ref');

export const serviceName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');

/** Everything the release workflow needs. Paths are absolute on the worker's machine; no secrets. */
export const ReleaseInputSchema = z.strictObject({
  releaseId: z.string().min(1),
  service: serviceName,
  repo: z.string().min(1),
  base: gitRef,
  head: gitRef,
  reportsDir: z.string().min(1),
  junit: z.array(z.string().min(1)).default([]),
  outDir: z.string().min(1),
  usersAffected: z.number().int().nonnegative().optional(),
  version: z.string().min(1).max(128).optional(),
  previousVersion: z.string().min(1).max(128).optional(),
  config: ConfigSchema,
});
export type ReleaseInput = z.input<typeof ReleaseInputSchema>;
export type ParsedReleaseInput = z.output<typeof ReleaseInputSchema>;

export interface PrerequisiteResult {
  name: PrerequisiteName;
  passed: boolean;
  detail: string;
  /** The report or files this came from, relative to the reports folder where possible. */
  source?: string;
}

export interface GateReport {
  prerequisites: PrerequisiteResult[];
  securityConditions: string[];
  tests?: { passed: number; total: number; source: string };
}

export interface DecisionResult {
  decision: Decision;
  /** Why the decision is what it is, one line each. */
  because: string[];
  prerequisites: PrerequisiteResult[];
  risk?: RiskAssessment;
  strategy?: Strategy;
  plan?: ReleasePlan;
  /** Sign-off needed before anything is deployed. */
  approvalRequired: boolean;
}

/** The release decision: prerequisites first (any failure aborts), then the risk's escalations. */
export function decide(gates: GateReport, risk: RiskAssessment | undefined, plan: ReleasePlan | undefined, approvalLevels: readonly string[], riskError?: string): DecisionResult {
  const failed = gates.prerequisites.filter((p) => !p.passed);
  if (failed.length > 0)
    return {
      decision: 'ABORTED',
      because: failed.map((p) => `Prerequisite ${p.name} failed: ${p.detail}`),
      prerequisites: gates.prerequisites,
      ...(risk ? { risk, strategy: risk.strategy } : {}),
      approvalRequired: false,
    };
  if (!risk)
    return { decision: 'ESCALATED', because: [riskError ?? 'Risk cannot be classified'], prerequisites: gates.prerequisites, approvalRequired: true };
  const base = { prerequisites: gates.prerequisites, risk, strategy: risk.strategy, ...(plan ? { plan } : {}) };
  if (risk.escalation) return { decision: 'ESCALATED', because: [risk.escalation], ...base, approvalRequired: true };
  return {
    decision: 'APPROVED',
    because: [`All prerequisites passed; ${risk.level} risk → ${risk.strategy}`],
    ...base,
    approvalRequired: approvalLevels.includes(risk.level),
  };
}

export const StepStatus = { RUNNING: 'running', DONE: 'done', FAILED: 'failed', SKIPPED: 'skipped' } as const;
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

export interface StepRecord {
  name: string;
  /** The plan phase the step belongs to, if any: the timeline and the charts group by it. */
  phase?: string;
  status: StepStatus;
  startedAt: string;
  endedAt?: string;
  detail?: string;
}

export type ApprovalKind = 'release' | 'phase' | 'analysis';

/** "release" for the sign-off, "<phase>: analysis…" after an inconclusive analysis, else a gated phase. */
export function approvalKind(target: string): ApprovalKind {
  return target === 'release' ? 'release' : target.includes(': analysis') ? 'analysis' : 'phase';
}

export interface PendingApproval {
  kind: ApprovalKind;
  /** Phase id for a gated phase; "release" for the sign-off. */
  target: string;
  reason: string;
  requestedAt: string;
  deadline: string;
  /** Empty: anyone may approve. */
  allowedApprovers: string[];
  /** For CRITICAL releases: the change's authors, who may not approve it. */
  excludedApprovers: string[];
}

export interface Approval {
  target: string;
  by: string;
  at: string;
  reason?: string;
}

export type ReleaseState = 'deciding' | 'awaiting-approval' | 'deploying' | 'baking' | 'paused' | 'rolling-back' | 'verifying-rollback' | 'needs-human' | 'finished';

export interface ReleaseStatus {
  releaseId: string;
  service: string;
  state: ReleaseState;
  currentStep?: string;
  steps: StepRecord[];
  pendingApproval?: PendingApproval;
  approvals: Approval[];
  decision?: Decision;
  riskLevel?: RiskLevel;
  strategy?: Strategy;
  recordPath?: string;
  outcome?: Outcome;
  /** Bake end time while baking (ISO); while paused, the time left instead. */
  bakeEndsAt?: string;
  bakeRemainingMs?: number;
  paused?: { by: string; at: string; reason?: string };
  /** Metric values captured before the release changed anything. */
  baseline?: Record<string, number>;
  /** The phase being analysed now, its metrics' counts and latest measurements. */
  analysis?: PhaseAnalysis;
  /** Every analysed phase so far, with its final counts. */
  analysed: PhaseAnalysis[];
  /** Where every measurement of this run is kept. */
  measurementsFile?: string;
  /** Set when the rollback failed: what a human is asked to do. */
  needsHuman?: { reason: string; since: string; options: string[] };
}

export interface PhaseAnalysis {
  phase: string;
  verdict: string;
  metrics: MetricState[];
}

export interface ReleaseResult {
  releaseId: string;
  outcome: Outcome;
  decision: Decision;
  recordPath?: string;
  reason?: string;
}

/** Arguments of the approve / reject / abort updates, validated where they arrive. */
export const ApproveArgsSchema = z.strictObject({
  by: z.string().trim().min(1, 'by: who approves must be given').max(200),
  reason: z.string().max(2000).optional(),
});
export type ApproveArgs = z.input<typeof ApproveArgsSchema>;

export const RejectArgsSchema = z.strictObject({
  by: z.string().trim().min(1, 'by: who rejects must be given').max(200),
  reason: z.string().trim().min(1, 'reason: a reason must be given').max(2000),
});
export type RejectArgs = z.input<typeof RejectArgsSchema>;

export const AbortArgsSchema = z.strictObject({
  reason: z.string().trim().min(1, 'reason: a reason must be given').max(2000),
  by: z.string().trim().max(200).optional(),
});
export type AbortArgs = z.input<typeof AbortArgsSchema>;

export const PauseArgsSchema = z.strictObject({
  by: z.string().trim().min(1, 'by: who pauses must be given').max(200),
  reason: z.string().max(2000).optional(),
});
export type PauseArgs = z.input<typeof PauseArgsSchema>;

export const ResumeArgsSchema = z.strictObject({ by: z.string().trim().min(1, 'by: who resumes must be given').max(200) });
export type ResumeArgs = z.input<typeof ResumeArgsSchema>;

export const PromoteArgsSchema = z.strictObject({
  by: z.string().trim().min(1, 'by: who promotes must be given').max(200),
  /** Skip to 100%: every remaining intermediate step, bake and hold is skipped; approval gates still hold. */
  full: z.boolean().default(false),
});
export type PromoteArgs = z.input<typeof PromoteArgsSchema>;

/** After a failed rollback: run it again, or record that a human restored the service. */
export const ResolveArgsSchema = z.strictObject({
  by: z.string().trim().min(1, 'by: who resolves must be given').max(200),
  action: z.enum(['retry', 'restored'], { error: 'action: must be retry or restored' }),
  reason: z.string().trim().min(1, 'reason: a reason must be given').max(2000),
});
export type ResolveArgs = z.input<typeof ResolveArgsSchema>;

/** Approver names compare without case and surrounding space; an email matches its name part too. */
export function sameIdentity(a: string, b: string): boolean {
  const norm = (s: string) => s.trim().toLowerCase();
  const [x, y] = [norm(a), norm(b)];
  return x === y || x.split('@')[0] === y || y.split('@')[0] === x;
}

export interface PhaseTimelineEntry {
  phase: string;
  started: string;
  ended?: string;
  approvedBy?: string;
}

/** Phases in the order they ran: their first step's start, their last step's end, and who approved them. */
export function phaseTimeline(steps: readonly StepRecord[], approvals: readonly Approval[]): PhaseTimelineEntry[] {
  const phases = new Map<string, PhaseTimelineEntry>();
  for (const s of steps) {
    if (!s.phase) continue;
    const entry = phases.get(s.phase) ?? { phase: s.phase, started: s.startedAt };
    if (s.endedAt) entry.ended = s.endedAt;
    phases.set(s.phase, entry);
  }
  for (const a of approvals) {
    const entry = phases.get(a.target.replace(/: analysis.*$/, ''));
    if (entry) entry.approvedBy = [entry.approvedBy, a.by].filter(Boolean).join(', ');
  }
  return [...phases.values()];
}

/** How long a release's phases and its waits for a human took: what the worker's histograms observe. */
export interface ReleaseDurations {
  phases: { phase: string; seconds: number }[];
  approvals: { kind: ApprovalKind; outcome: 'approved' | 'rejected' | 'timed_out' | 'aborted'; seconds: number }[];
}

const APPROVAL_STEP = 'approval: ';
const seconds = (from: string, to: string) => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

export function releaseDurations(steps: readonly StepRecord[]): ReleaseDurations {
  const phases = phaseTimeline(steps, []).flatMap((p) => (p.ended ? [{ phase: p.phase, seconds: seconds(p.started, p.ended) }] : []));
  const approvals = steps.flatMap((s) => {
    if (!s.name.startsWith(APPROVAL_STEP) || !s.endedAt || s.status === 'running') return [];
    const outcome = s.status === 'done' ? 'approved' : s.detail?.startsWith('rejected') ? 'rejected' : s.detail?.startsWith('no approval') ? 'timed_out' : 'aborted';
    return [{ kind: approvalKind(s.name.slice(APPROVAL_STEP.length)), outcome, seconds: seconds(s.startedAt, s.endedAt) } as const];
  });
  return { phases, approvals };
}

/** The step name of a wait for approval of `target`. */
export const approvalStepName = (target: string) => `${APPROVAL_STEP}${target}`;
