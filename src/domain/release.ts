import type { Freeze } from './freezes';
import type { MetricState } from './analysis';
import { z } from 'zod';
import { type Decision, type Outcome, type PrerequisiteName, type RiskLevel, type Strategy } from './enums';
import type { ReleasePlan } from './plan';
import type { RiskAssessment } from './risk';
import type { PolicyProvenance } from './policy';
import type { FleetStatus } from './waves';

/**
 * A commit as CI names it: a ref, optionally followed by ancestry steps (`main~1`, `v1.4.0^`,
 * `HEAD~2`), or a commit id. It starts with a letter or digit, so that no tool it reaches (git, a
 * deploy command) can read it as an option such as `--force` (issue 13 §5).
 */
export const commitExpression = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'is too long')
  .regex(/^[^\s~^:?*[\\]+(?:[~^]\d*)*$/, 'is not a valid git ref')
  .regex(/^[A-Za-z0-9]/, 'must start with a letter or digit')
  .refine((r) => {
    const name = r.replace(/(?:[~^]\d*)*$/, '');
    return !name.includes('..') && !name.endsWith('.lock') && !name.endsWith('/') && !name.includes('@{');
  }, 'is not a valid git ref');

/**
 * The branch a base names, for the plan's merge step: `origin/main` is `main`; a commit id or an
 * expression such as `v1.2~1` names none.
 */
export function baseBranch(ref: string | undefined): string | undefined {
  if (!ref || ref === 'HEAD' || ref.startsWith('refs/tags/') || /[~^]/.test(ref) || /^[0-9a-f]{7,64}$/.test(ref)) return undefined;
  return ref.replace(/^(refs\/heads\/|refs\/remotes\/[^/]+\/|origin\/)/, '');
}

/**
 * A version as deploy commands receive it: nothing a shell or a path could misread, and a letter or
 * digit first, so `--version=--force` never reaches a command as an option (issue 13 §5).
 */
export const versionText = z
  .string()
  .regex(/^[\w.+:@/-]{1,128}$/, 'must be 1-128 letters, digits or . _ - + : @ /')
  .regex(/^[A-Za-z0-9]/, 'must start with a letter or digit');

export const serviceName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');

/** Everything the release workflow needs. Paths are absolute on the worker's machine; no secrets. */
const commitId = z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, 'must be a full commit id (40 or 64 hex digits)');

export const ReleaseInputSchema = z.strictObject({
  releaseId: z.string().min(1),
  service: serviceName,
  repo: z.string().min(1),
  /** Commits, never names: a name (a tag the change made, a branch that moved) could point elsewhere by the time the worker reads it. */
  base: commitId,
  head: commitId,
  reportsDir: z.string().min(1),
  junit: z.array(z.string().min(1)).default([]),
  outDir: z.string().min(1),
  usersAffected: z.number().int().nonnegative().optional(),
  version: versionText.optional(),
  previousVersion: versionText.optional(),
  /** The names the CLI was given for base and head, for people: the commits above are what count. */
  refs: z.strictObject({ base: commitExpression, head: commitExpression }).optional(),
  /** Where the repository's rollgate.yaml lies, relative to `repo`: the worker reads it at `base` itself (none: rollgate.yaml or rollgate.yml, else the defaults). */
  policyFile: z
    .string()
    .min(1)
    .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'must be a path inside the repository')
    .optional(),
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

/** An evidence file as it was read, so an auditor can match it to the CI artefact. */
export interface EvidenceDigest {
  kind: 'qa' | 'security' | 'junit';
  /** A report's name in the reports folder; a JUnit file relative to the repository where it is inside it. */
  file: string;
  /** SHA-256 of the bytes that were judged, in hex. */
  sha256: string;
}

export interface GateReport {
  prerequisites: PrerequisiteResult[];
  securityConditions: string[];
  tests?: { passed: number; total: number; source: string };
  /** Every evidence file read, with its digest. */
  evidence?: EvidenceDigest[];
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

export const StepStatus = { RUNNING: 'running', DONE: 'done', FAILED: 'failed' } as const;
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

export interface StepRecord {
  name: string;
  /** The plan phase the step belongs to, if any: the timeline and the charts group by it. */
  phase?: string;
  status: StepStatus;
  startedAt: string;
  endedAt?: string;
  detail?: string;
  /** Set on a wait for a human's approval: what was asked, and how the wait ended. */
  approval?: { kind: ApprovalKind; outcome?: ApprovalOutcome };
}

export const ApprovalKind = { RELEASE: 'release', PHASE: 'phase', ANALYSIS: 'analysis' } as const;
export type ApprovalKind = (typeof ApprovalKind)[keyof typeof ApprovalKind];

/** `analysis_failed`: the checks, still measuring while the human was asked, broke first. */
export const ApprovalOutcome = { APPROVED: 'approved', REJECTED: 'rejected', TIMED_OUT: 'timed_out', ABORTED: 'aborted', ANALYSIS_FAILED: 'analysis_failed' } as const;
export type ApprovalOutcome = (typeof ApprovalOutcome)[keyof typeof ApprovalOutcome];

/** What a human is asked to approve: the release, a gated phase, or a phase's inconclusive analysis (its `round`th). */
export type ApprovalTarget =
  | { kind: typeof ApprovalKind.RELEASE }
  | { kind: typeof ApprovalKind.PHASE; phase: string }
  | { kind: typeof ApprovalKind.ANALYSIS; phase: string; round: number };

/** The target as people name it: "release", the phase id, or "<phase>: analysis" (" #n" from the second round on). */
export function approvalTargetId(t: ApprovalTarget): string {
  switch (t.kind) {
    case ApprovalKind.RELEASE:
      return 'release';
    case ApprovalKind.PHASE:
      return t.phase;
    case ApprovalKind.ANALYSIS:
      return `${t.phase}: analysis${t.round > 1 ? ` #${t.round}` : ''}`;
  }
}

/** What a sign-off must say it knows, beyond approving: a rollback that cannot restore everything. */
export const Acknowledgement = { IRREVERSIBLE_MIGRATION: 'irreversible-migration' } as const;
export type Acknowledgement = (typeof Acknowledgement)[keyof typeof Acknowledgement];
export const ACKNOWLEDGEMENTS = Object.values(Acknowledgement) as [Acknowledgement, ...Acknowledgement[]];

export interface PendingApproval {
  kind: ApprovalKind;
  /** `approvalTargetId` of what is asked: "release", a phase id, "<phase>: analysis". */
  target: string;
  /** The phase it belongs to; none for the release sign-off. */
  phase?: string;
  reason: string;
  requestedAt: string;
  deadline: string;
  /** Empty: anyone may approve. */
  allowedApprovers: string[];
  /** For CRITICAL releases: the change's authors, who may not approve it. */
  excludedApprovers: string[];
  /** An approval must carry this acknowledgement (`approve --acknowledge …`), or it is refused. */
  mustAcknowledge?: Acknowledgement;
}

export interface Approval {
  kind: ApprovalKind;
  target: string;
  phase?: string;
  /** The verified principal of a signed approval; else the name as typed. */
  by: string;
  /** Signed by a key of the worker's allowed signers; false: the worker verifies no signatures, the name is as typed. */
  verified?: boolean;
  at: string;
  reason?: string;
  /** What the approver acknowledged with the approval. */
  acknowledged?: Acknowledgement;
}

export const ReleaseState = {
  DECIDING: 'deciding',
  AWAITING_APPROVAL: 'awaiting-approval',
  DEPLOYING: 'deploying',
  BAKING: 'baking',
  PAUSED: 'paused',
  /** Between phases, outside the deployment windows: the next phase starts when one opens. */
  WAITING_FOR_WINDOW: 'waiting-for-window',
  /** A fleet release: the targets of a wave run their phases, each in its own child workflow. */
  ROLLING_OUT: 'rolling-out',
  /** Between phases, held by a freeze of its service: the next phase starts when it ends. */
  FROZEN: 'frozen',
  ROLLING_BACK: 'rolling-back',
  VERIFYING_ROLLBACK: 'verifying-rollback',
  NEEDS_HUMAN: 'needs-human',
  FINISHED: 'finished',
} as const;
export type ReleaseState = (typeof ReleaseState)[keyof typeof ReleaseState];

/** Why a release ended before it was released: read by the ledger, the worker's metrics and the record. */
export const StopKind = {
  /** A prerequisite failed: nothing started. */
  GATES: 'gates',
  /** Escalated with no plan to follow. */
  ESCALATED: 'escalated',
  ABORTED: 'aborted',
  REJECTED: 'rejected',
  APPROVAL_TIMEOUT: 'approval-timeout',
  /** A human was to be asked, but nobody is named or verified to answer (a configuration error). */
  NO_APPROVER: 'no-approver',
  ANALYSIS_FAILED: 'analysis-failed',
  ANALYSIS_ERROR: 'analysis-error',
  STEP_FAILED: 'step-failed',
  /** More targets of a wave failed than its budget allows. */
  WAVE_FAILED: 'wave-failed',
  CANCELLED: 'cancelled',
} as const;
export type StopKind = (typeof StopKind)[keyof typeof StopKind];

export interface StopReason {
  kind: StopKind;
  /** For people: the record, status and the ledger's `reason`. Never parsed. */
  message: string;
  /** Metrics that broke their thresholds: the rollback is verified against them. */
  brokenMetrics?: string[];
}

/** Why a release waits for a human while its checks keep measuring: an approval, or a pause. */
export const WaitReason = { APPROVAL: 'approval', PAUSE: 'pause', WINDOW: 'window', FREEZE: 'freeze', LATER_WAVES: 'later waves' } as const;
export type WaitReason = (typeof WaitReason)[keyof typeof WaitReason];

export interface ReleaseStatus {
  releaseId: string;
  /** A target of a fleet release (its child workflow): the target's name. */
  target?: string;
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
  /** Outside the deployment windows: why, and when the next phase may start. */
  window?: { reason: string; opensAt: string };
  /** The freezes that hold this release's service, as the registry answered at the last phase boundary. */
  freezes?: Freeze[];
  /** Held at a phase boundary by a window or a freeze: what an override would break (and a signed one is signed for). */
  hold?: { kind: 'window' | 'freeze'; target: string };
  /** Windows and freezes broken by a signed override, each with who and why. */
  overrides?: Override[];
  /** Metric values captured before the release changed anything. */
  baseline?: Record<string, number>;
  /** The phase being analysed now, its metrics' counts and latest measurements. */
  analysis?: PhaseAnalysis;
  /** While a human is asked: the live phase whose checks keep measuring, why, since when, how many readings so far. */
  watching?: { phase: string; reason: WaitReason; since: string; readings: number; /** A break found during a pause set to only notify: it stands on resume. */ held?: string };
  /** Every analysed phase so far, with its final counts. */
  analysed: PhaseAnalysis[];
  /** Where every measurement of this run is kept. */
  measurementsFile?: string;
  /** Set when the rollback failed: what a human is asked to do. */
  needsHuman?: { reason: string; since: string; options: string[] };
  /** SHA-256 of the decision record as last written. */
  recordSha256?: string;
  /** What a signed steering request is signed for (filled in by the status query): see src/domain/signed-request. */
  signing?: { releaseId: string; runId: string; head: string; record?: string };
  /** Where the release policy came from: the repository's file, the worker's policy, what each overrode or raised. */
  policy?: PolicyProvenance;
  /** A fleet release: its waves and targets, each target's phases and outcome. */
  fleet?: FleetStatus;
  /** The fingerprint of the input it was started with: `rollgate start` attaches only to the same input. */
  inputFingerprint?: string;
}

/** A deployment window or freeze broken for this release: who, why, and what it broke. */
export interface Override {
  by: string;
  verified: boolean;
  at: string;
  reason: string;
  /** What it broke, in words: `deployment window until …`, or the freezes by ID. */
  broke: string;
  /** The freezes it broke (`freezeKey`: ID and when set); or the end of the closed window it broke. */
  freezes?: string[];
  windowUntil?: string;
  /** A fleet's target whose hold it broke (sent to `<release ID>/<target>`); none: the release's own. */
  target?: string;
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
  /** Why it stopped, for people; `stopKind` says it for programs. */
  reason?: string;
  stopKind?: StopKind;
  /** What failed after the outcome was settled (the record, the ledger): reported, never undoing it. */
  problems?: string[];
}

