import type { RestoreHistory } from '../domain/dora';
import { isCancellation, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { measurementsPath } from '../domain/analysis';
import type { QueryVars } from '../domain/promql';
import type { ChangeSet } from '../domain/changeset';
import type { ReleaseRef } from '../domain/command';
import { builtInConfig, type RollgateConfig } from '../domain/config';
import type { ReleaseTerms } from '../domain/policy';
import { approverListProblem } from '../domain/steering';
import { Decision, RiskLevel } from '../domain/enums';
import { measures, type Phase } from '../domain/plan';
import {
  type DecisionResult,
  type GateReport,
  type ParsedReleaseInput,
  ReleaseState,
  type ReleaseStatus,
  type StepRecord,
  StepStatus,
  StopKind,
  type StopReason,
} from '../domain/release';
import type { SteeringView } from '../domain/steering';
import { activityGroups, type ActivityGroups } from './activity-groups';
import { RELEASE_STATE_ATTRIBUTE } from './messages';

/** Ends the release early (abort, rejection, deadline, broken metric): what was changed is rolled back. Not an error of the workflow. */
/** A target of a fleet release, as its child workflow knows it: its name, its placeholders, the release that runs it. */
export interface FleetTarget {
  name: string;
  /** `target` and the target's labels: what its commands and queries fill in. */
  labels: Record<string, string>;
  parent: { workflowId: string; runId: string };
}

export class StopRelease extends Error {
  constructor(readonly reason: StopReason) {
    super(reason.message);
  }
}

export const now = () => new Date().toISOString();

/** Why a release (or a target) stopped, from what its story threw. */
export function stopReasonOf(e: unknown): StopReason {
  if (isCancellation(e)) return { kind: StopKind.CANCELLED, message: 'the workflow was cancelled' };
  if (e instanceof StopRelease) return e.reason;
  return { kind: StopKind.STEP_FAILED, message: `step failed: ${failureMessage(e)}` };
}

/** The innermost message of an activity failure, for records and status. */
export function failureMessage(e: unknown): string {
  let err = e as { message?: string; cause?: unknown } | undefined;
  while (err?.cause && (err.cause as { message?: string }).message) err = err.cause as typeof err;
  return err?.message ?? String(e);
}

/**
 * Everything one release run knows and has been asked, in one object: what `status` shows, what
 * people requested through the steering updates, what the release learned while deciding, and
 * what a rollback must undo. The rooms of the workflow read and change it; nothing else holds state.
 */
export class ReleaseRun {
  /** The effective policy: the repository's at the base, under the worker's, with the floors (see `adoptPolicy`); the defaults until then. */
  config: RollgateConfig = builtInConfig();
  /** The policy as the worker resolved it: what a fleet release hands its targets. */
  terms?: ReleaseTerms;
  readonly releaseId: string;
  /** Idempotency keys and the ledger line belong to this run: a later run under the same workflow ID must not inherit them. */
  readonly runKey: string;
  readonly version: string;
  readonly previousVersion: string;
  readonly startedAt = now();
  acts: ActivityGroups;
  /** Why no sign-off could be trusted (nobody named, nobody verified), when that is so. */
  approverProblem: string | undefined = undefined;
  /** Where this release writes: the CLI's choice, or the worker policy's folder for the service. */
  outDir: string;
  readonly status: ReleaseStatus;

  // What people asked, through the steering updates.
  abortRequest?: { reason: string; by?: string };
  rejection?: { by: string; reason: string };
  promoteRequest?: { by: string; full: boolean };
  /** `promote --full`: every remaining intermediate step, bake and hold is skipped. */
  fullPromotion = false;
  /** Sign-offs of phases a full promotion skipped: the next phase that runs asks for them. */
  readonly owedSignOffs: string[] = [];
  resolution?: { by: string; action: 'retry' | 'restored'; reason: string };
  /** A break the checks found while people were asked: it ends the wait and stops the release. */
  alarm?: StopReason;
  /** Counts the registry's wake-ups and the overrides: a hold wakes when either moves. */
  holdsChanged = 0;
  /** A fleet release: the promotions its running targets are to take (each ends their current bake). */
  promotions = 0;
  promotedBy?: string;
  /** A fleet release that stops: why its running targets roll themselves back (on a target: the stop its release ordered). */
  fleetStop?: { by?: string; reason: string };
  /** A fleet release: its targets' wake-ups as they break (each read from the targets' own queries). */
  targetWakeups = 0;
  /** A fleet release whose waves all passed: its watched targets stop watching (and a watched target that heard it). */
  wavesDone = false;

  // What the release learned.
  gates: GateReport = { prerequisites: [], securityConditions: [] };
  change?: ChangeSet;
  decision?: DecisionResult;
  baseline: Record<string, number> = {};
  charts: { metric: string; file: string }[] = [];
  /** The alerting rules beside the record, by file name, once written. */
  alertRulesFile?: string;
  /** Pages opened and not yet resolved, by incident: the end of a release resolves what is left. */
  readonly openPages = new Set<string>();
  /** This service's past rollbacks, measured from the ledger: the record's rollback estimate. */
  restoreHistory?: RestoreHistory;
  /** Phases whose action has started: what a rollback must undo. */
  readonly started: Phase[] = [];
  productionAt?: string;
  rollbackStartedAt?: string;
  rollbackEndedAt?: string;

  /** The phase whose steps run now; steps outside phases (gates, sign-off, rollback) have none. */
  private currentPhase: string | undefined;
  /** Only a release started with the attribute upserts it: the namespace has it registered. */
  private publishedState = workflowInfo().typedSearchAttributes.get(RELEASE_STATE_ATTRIBUTE);
  private readonly publishesState = this.publishedState !== undefined;

  /**
   * `target`: this run rolls one target of a fleet release out (or back), as a child workflow of the
   * release; its keys are its own (`<release ID>/<target>@<run>`), its record and ledger line the release's.
   */
  constructor(
    readonly input: ParsedReleaseInput,
    readonly target?: FleetTarget,
  ) {
    this.releaseId = input.releaseId;
    // The run ID's random end, not its start: a UUIDv7 begins with the time, which anyone could guess.
    this.runKey = `${target ? workflowInfo().workflowId : input.releaseId}@${workflowInfo().firstExecutionRunId.replace(/-/g, '').slice(-8)}`;
    this.version = input.version ?? input.head;
    this.previousVersion = input.previousVersion ?? input.base;
    this.acts = activityGroups(this.config);
    this.outDir = input.outDir;
    this.status = { releaseId: input.releaseId, ...(target ? { target: target.name } : {}), service: input.service, state: ReleaseState.DECIDING, steps: [], approvals: [], analysed: [] };
    if (this.config.analysis.metrics.length > 0) this.status.measurementsFile = measurementsPath(this.runKey);
  }

  /**
   * Adopts the policy the worker resolved (the repository's at the base, under the worker's, with
   * the floors). The activity groups follow the effective timeouts.
   */
  adoptPolicy(terms: ReleaseTerms): void {
    const { config, provenance, allowedSigners, workerOut } = terms;
    this.terms = terms;
    this.config = config;
    this.acts = activityGroups(config);
    if (workerOut) this.outDir = `${workerOut.replace(/\/+$/, '')}/${this.input.service}`;
    this.status.policy = provenance;
    this.approverProblem = approverListProblem(config.approval.approvers, allowedSigners);
    if (config.analysis.metrics.length > 0) this.status.measurementsFile = measurementsPath(this.runKey);
    else delete this.status.measurementsFile;
  }

  /** Where people answer this run: the release, or a target's own workflow (`<release ID>/<target>`). */
  get steeringId(): string {
    return this.target ? workflowInfo().workflowId : this.releaseId;
  }

  get ref(): ReleaseRef {
    return { releaseId: this.releaseId, runKey: this.runKey, version: this.version, previousVersion: this.previousVersion, commit: this.input.head, ...(this.target ? { labels: this.target.labels } : {}) };
  }

  get metrics() {
    return this.config.analysis.metrics;
  }

  /** The checks that can measure `phase`: a judge sits out a phase where the stable takes no traffic. */
  metricsFor(phase: Pick<Phase, 'weight'>) {
    return this.metrics.filter((m) => measures(m, phase));
  }

  /** The analysis settings for `phase`, with only the checks that can measure it. */
  analysisFor(phase: Pick<Phase, 'weight'>) {
    return { ...this.config.analysis, metrics: this.metricsFor(phase) };
  }

  setState(state: ReleaseState): void {
    this.status.state = state;
    if (!this.publishesState || state === this.publishedState) return;
    upsertSearchAttributes([{ key: RELEASE_STATE_ATTRIBUTE, value: state }]);
    this.publishedState = state;
  }

  /** Runs one step of the release, recorded in `status` with its outcome and timing. */
  async step<T>(name: string, fn: () => Promise<T>, detail?: (t: T) => string, extra: Pick<StepRecord, 'approval'> = {}): Promise<T> {
    const rec: StepRecord = { name, ...(this.currentPhase ? { phase: this.currentPhase } : {}), status: StepStatus.RUNNING, startedAt: now(), ...extra };
    this.status.steps.push(rec);
    this.status.currentStep = name;
    try {
      const result = await fn();
      rec.status = StepStatus.DONE;
      const d = detail?.(result);
      if (d) rec.detail = d;
      return result;
    } catch (e) {
      rec.status = StepStatus.FAILED;
      rec.detail = failureMessage(e);
      throw e;
    } finally {
      rec.endedAt = now();
    }
  }

  /** A step that took no time: a skip, a resolution, a failure that did not stop the release. */
  note(name: string, stepStatus: StepStatus, detail?: string, opts: { outsidePhase?: boolean } = {}): void {
    const at = now();
    const phase = opts.outsidePhase ? undefined : this.currentPhase;
    this.status.steps.push({ name, ...(phase ? { phase } : {}), status: stepStatus, startedAt: at, endedAt: at, ...(detail ? { detail } : {}) });
  }

  async inPhase(phase: Phase, fn: () => Promise<void>): Promise<void> {
    this.currentPhase = phase.id;
    try {
      await fn();
    } finally {
      this.currentPhase = undefined;
    }
  }

  /** Something a person asked (or the watch found) that a wait must stop for. */
  interrupted(): boolean {
    return this.stopping() || this.status.paused !== undefined || this.promoteRequest !== undefined;
  }

  /** An abort, or a break found while people were asked: the release must stop. */
  stopping(): boolean {
    return this.abortRequest !== undefined || this.alarm !== undefined;
  }

  throwIfAborted(): void {
    const a = this.abortRequest;
    if (a) throw new StopRelease({ kind: StopKind.ABORTED, message: `aborted${a.by ? ` by ${a.by}` : ''}: ${a.reason}` });
    if (this.alarm) throw new StopRelease(this.alarm);
  }

  /** The change's authors and their emails: excluded from approving where four eyes apply. */
  authors(): string[] {
    return [...new Set((this.change?.commits ?? []).flatMap((c) => [c.author, c.email]).filter(Boolean))];
  }

  fourEyes(): boolean {
    return this.decision?.risk?.level === RiskLevel.CRITICAL || this.decision?.decision === Decision.ESCALATED;
  }

  queryVars(phase: Pick<Phase, 'id' | 'stage'>): QueryVars {
    return { service: this.input.service, version: this.version, previousVersion: this.previousVersion, phase: phase.id, stage: phase.stage, ...(this.target ? { labels: this.target.labels } : {}) };
  }

  /** What the steering rules judge an update against. */
  steeringView(): SteeringView {
    const s = this.status;
    return {
      state: s.state,
      approvals: s.approvals,
      ...(s.outcome ? { outcome: s.outcome } : {}),
      ...(s.pendingApproval ? { pendingApproval: s.pendingApproval } : {}),
      ...(s.paused ? { paused: s.paused } : {}),
      ...(this.abortRequest ? { abortRequested: this.abortRequest } : {}),
      ...(this.decision?.risk ? { riskLevel: this.decision.risk.level } : {}),
      ...(s.hold ? { hold: s.hold.target } : {}),
      // A fleet's wave: its targets' bakes take a promotion.
      inBake: s.bakeEndsAt !== undefined || s.bakeRemainingMs !== undefined || s.state === ReleaseState.ROLLING_OUT,
    };
  }
}
