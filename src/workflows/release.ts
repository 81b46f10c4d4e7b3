import type { z } from 'zod';
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, StepInput } from '../activities';
import type { MonitorResult } from '../activities/analysis';
import { alertRules } from '../domain/alerts';
import { comparisons, describeBreak, forgive, measurementsPath, type Metric, MetricPhase, type MetricState } from '../domain/analysis';
import type { ChangeSet } from '../domain/changeset';
import { commandFor, idempotencyKey, ROLLBACK, rollbackStep, stepVars } from '../domain/command';
import { formatIssues } from '../domain/config';
import { formatDuration } from '../domain/duration';
import { type Decision, FailureType, type Outcome } from '../domain/enums';
import { ledgerEntry } from '../domain/ledger';
import { isAnalysed, isIntermediate, type Phase, PhaseAction, rollbackTargets } from '../domain/plan';
import { evaluateRelease } from '../domain/evaluate';
import { recordFileName, renderDecisionRecord } from '../domain/record';
import {
  AbortArgsSchema,
  type Approval,
  ApproveArgsSchema,
  type DecisionResult,
  type GateReport,
  PauseArgsSchema,
  PromoteArgsSchema,
  RejectArgsSchema,
  ResolveArgsSchema,
  ResumeArgsSchema,
  approvalKind,
  approvalStepName,
  type ReleaseInput,
  ReleaseInputSchema,
  type ReleaseResult,
  releaseDurations,
  type ReleaseState,
  type ReleaseStatus,
  sameIdentity,
  type StepRecord,
} from '../domain/release';
import { abortUpdate, approveUpdate, pauseUpdate, promoteUpdate, rejectUpdate, RELEASE_STATE_ATTRIBUTE, resolveUpdate, resumeUpdate, statusQuery } from './messages';

// The monitor reports at least this often, which bounds both the staleness of `status` and the
// history: about a dozen events per report, so about 150 per monitored hour.
const REPORT_EVERY_MS = 5 * 60_000;

/** Patch: a failed rollback used to end the release; now it waits for a human. */
const WAIT_FOR_HUMAN_AFTER_FAILED_ROLLBACK = 'wait-for-human-after-failed-rollback';

/** Patch: notifications at the spec's points (before deploying, approval needed, each phase, rollback, release). */
const NOTIFICATIONS = 'notifications';

/** Patch: a finished release's record gains charts of its measurements. */
const RELEASE_REPORT = 'release-report';

/** Patch: releases with metric checks write their Prometheus alerting rules. */
const ALERT_RULES = 'alert-rules';

/**
 * Patch: the bake clock advances by timers that fired, never by Date.now() arithmetic, which must
 * not decide anything: a worker that answered a query before a workflow task can see an older time
 * for the new events than a replay does (found by the SIGKILL fault test).
 */
const BAKE_CLOCK_FROM_TIMERS = 'bake-clock-from-timers';

/** Patch: every metric query is run once before the first deploy; one Prometheus rejects ends the release. */
const CHECK_QUERIES = 'check-queries';

/**
 * Patch: the reads before the decision and the first record run as local activities, side by side
 * where they can: no server round trip each on the path from `rollgate start` to the decision.
 */
const FAST_DECISION = 'fast-decision';

/** Patch: releases started with the RollgateState search attribute keep it up to date. */
const STATE_SEARCH_ATTRIBUTE = 'state-search-attribute';

/** Ends the release early (abort, rejection, deadline, broken metric); what was changed is rolled back. Not an error of the workflow. */
class Stop extends Error {
  constructor(
    message: string,
    /** Metrics that broke their thresholds: the rollback is verified against them. */
    readonly brokenMetrics: string[] = [],
  ) {
    super(message);
  }
}

/** Validates update arguments, throwing one line per problem that names the field. */
function parseArgs<T>(schema: z.ZodType<T>, args: unknown): T {
  const parsed = schema.safeParse(args);
  if (!parsed.success) throw new Error(formatIssues(parsed.error).join('; '));
  return parsed.data;
}

const now = () => new Date().toISOString();

/**
 * One release, from "CI says go" to a written decision, a sign-off where the risk asks for one,
 * the phases of its plan with durable bakes, a rollback when a step fails, and one ledger line.
 */
export async function releaseWorkflow(rawInput: ReleaseInput): Promise<ReleaseResult> {
  const parsed = ReleaseInputSchema.safeParse(rawInput);
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(`invalid release input: ${formatIssues(parsed.error).join('; ')}`, FailureType.INVALID_INPUT);
  const input = parsed.data;
  const config = input.config;
  const { releaseId } = input;
  const startedAt = now();
  // Idempotency keys and the ledger line belong to this release run: a later release of the same
  // commit (a new run under the same workflow ID) must not inherit them.
  const runKey = `${releaseId}@${workflowInfo().firstExecutionRunId.slice(0, 8)}`;

  // Every activity heartbeats: a worker that dies mid-call is noticed after this long.
  const heartbeatTimeout = config.heartbeatTimeout;
  const quick = proxyActivities<Activities>({
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout,
    retry: { maximumAttempts: 5, initialInterval: '1 second', backoffCoefficient: 2 },
  });
  const smoke = proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    heartbeatTimeout,
    retry: { maximumAttempts: 5, initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '20 seconds' },
  });
  // A lost notification never stops a release: a few retries, then it is recorded and skipped.
  const notifying = proxyActivities<Activities>({
    startToCloseTimeout: '1 minute',
    heartbeatTimeout,
    retry: { maximumAttempts: 4, initialInterval: '2 seconds', backoffCoefficient: 2 },
  });
  // The decision's reads and first record: short, on this worker.
  const local = proxyLocalActivities<Activities>({
    startToCloseTimeout: '2 minutes',
    retry: { maximumAttempts: 5, initialInterval: '1 second', backoffCoefficient: 2 },
  });
  // Deploys and rollbacks: long, heartbeating, few retries.
  const targets = proxyActivities<Activities>({
    startToCloseTimeout: config.deploy.timeout + 60_000,
    heartbeatTimeout,
    retry: { maximumAttempts: 3, initialInterval: '5 seconds', backoffCoefficient: 2 },
  });

  const metrics: Metric[] = config.analysis.metrics;
  const longestInterval = () => Math.max(...metrics.map((m) => m.interval ?? config.analysis.interval));
  // The monitor: one call per report, which may run one interval past the bake's end.
  const monitoring = proxyActivities<Activities>({
    startToCloseTimeout: Math.max(REPORT_EVERY_MS, metrics.length ? longestInterval() : 0) + 5 * 60_000,
    heartbeatTimeout,
    // Pause, promote and abort do not wait for the monitor to notice its cancellation.
    cancellationType: ActivityCancellationType.TRY_CANCEL,
    retry: { maximumAttempts: 10, initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  });
  // Verifying a rollback: one monitor call for the whole window.
  const verifying = proxyActivities<Activities>({
    startToCloseTimeout: config.analysis.verifyWindow + 5 * 60_000,
    heartbeatTimeout,
    retry: { maximumAttempts: 5, initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  });

  const status: ReleaseStatus = { releaseId, service: input.service, state: 'deciding', steps: [], approvals: [], analysed: [] };
  // Only a release started with the attribute may upsert it: the namespace has it registered.
  let publishedState = workflowInfo().typedSearchAttributes.get(RELEASE_STATE_ATTRIBUTE);
  const publishesState = publishedState !== undefined && patched(STATE_SEARCH_ATTRIBUTE);
  const setState = (state: ReleaseState) => {
    status.state = state;
    if (!publishesState || state === publishedState) return;
    upsertSearchAttributes([{ key: RELEASE_STATE_ATTRIBUTE, value: state }]);
    publishedState = state;
  };
  if (config.analysis.metrics.length > 0) status.measurementsFile = measurementsPath(runKey);
  let gates: GateReport = { prerequisites: [], securityConditions: [] };
  let change: ChangeSet | undefined;
  let decision: DecisionResult | undefined;
  let abortRequest: { reason: string; by?: string } | undefined;
  let rejection: { by: string; reason: string } | undefined;
  /** Phases whose action has started: what a rollback must undo. */
  const started: Phase[] = [];
  let productionAt: string | undefined;
  let rollbackStartedAt: string | undefined;
  let rollbackEndedAt: string | undefined;
  let promoteRequest: { by: string; full: boolean } | undefined;
  let fullPromotion = false;
  let resolution: { by: string; action: 'retry' | 'restored'; reason: string } | undefined;
  let baseline: Record<string, number> = {};
  const version = input.version ?? input.head;
  const previousVersion = input.previousVersion ?? input.base;
  const release = { releaseId, runKey, version, previousVersion };

  const authors = () => [...new Set((change?.commits ?? []).flatMap((c) => [c.author, c.email]).filter(Boolean))];
  const fourEyes = () => decision?.risk?.level === 'CRITICAL' || decision?.decision === 'ESCALATED';

  setHandler(statusQuery, () => status);

  setHandler(
    approveUpdate,
    (args) => {
      const a = parseArgs(ApproveArgsSchema, args);
      const approval: Approval = { target: status.pendingApproval!.target, by: a.by, at: now(), ...(a.reason ? { reason: a.reason } : {}) };
      status.approvals.push(approval);
      return approval;
    },
    {
      validator: (args) => {
        const { by } = parseArgs(ApproveArgsSchema, args);
        const pending = status.pendingApproval;
        if (!pending) {
          const done = status.approvals[status.approvals.length - 1];
          throw new Error(done ? `nothing is waiting for approval (last approved by ${done.by} at ${done.at})` : `nothing is waiting for approval (state: ${status.state})`);
        }
        const already = status.approvals.find((x) => x.target === pending.target);
        if (already) throw new Error(`already approved by ${already.by} at ${already.at}`);
        if (pending.allowedApprovers.length > 0 && !pending.allowedApprovers.some((x) => sameIdentity(x, by)))
          throw new Error(`${by} may not approve: approval.approvers allows ${pending.allowedApprovers.join(', ')}`);
        if (pending.excludedApprovers.some((x) => sameIdentity(x, by)))
          throw new Error(`four eyes: ${by} is an author of this change and may not approve a ${decision?.risk?.level ?? 'escalated'} release`);
      },
    },
  );

  setHandler(
    rejectUpdate,
    (args) => {
      const r = parseArgs(RejectArgsSchema, args);
      rejection = { by: r.by, reason: r.reason };
      return { rejected: true as const };
    },
    {
      validator: (args) => {
        parseArgs(RejectArgsSchema, args);
        if (!status.pendingApproval) throw new Error(`nothing is waiting for approval (state: ${status.state})`);
      },
    },
  );

  setHandler(
    abortUpdate,
    (args) => {
      const a = parseArgs(AbortArgsSchema, args);
      abortRequest = { reason: a.reason, ...(a.by ? { by: a.by } : {}) };
      return { aborting: true as const };
    },
    {
      validator: (args) => {
        parseArgs(AbortArgsSchema, args);
        if (status.state === 'finished') throw new Error(`the release already finished: ${status.outcome}`);
        if (abortRequest) throw new Error(`abort already requested: ${abortRequest.reason}`);
      },
    },
  );

  setHandler(
    pauseUpdate,
    (args) => {
      const a = parseArgs(PauseArgsSchema, args);
      status.paused = { by: a.by, at: now(), ...(a.reason ? { reason: a.reason } : {}) };
      return { paused: true as const };
    },
    {
      validator: (args) => {
        parseArgs(PauseArgsSchema, args);
        if (status.state === 'finished') throw new Error(`the release already finished: ${status.outcome}`);
        if (status.paused) throw new Error(`already paused by ${status.paused.by} at ${status.paused.at}`);
        if (!['deciding', 'awaiting-approval', 'deploying', 'baking'].includes(status.state)) throw new Error(`cannot pause while ${status.state}`);
      },
    },
  );

  setHandler(
    resumeUpdate,
    (args) => {
      parseArgs(ResumeArgsSchema, args);
      delete status.paused;
      return { resumed: true as const };
    },
    {
      validator: (args) => {
        parseArgs(ResumeArgsSchema, args);
        if (!status.paused) throw new Error(`the release is not paused (state: ${status.state})`);
      },
    },
  );

  setHandler(
    promoteUpdate,
    (args) => {
      const a = parseArgs(PromoteArgsSchema, args);
      promoteRequest = { by: a.by, full: a.full ?? false };
      if (promoteRequest.full) fullPromotion = true;
      return { promoting: promoteRequest.full ? 'to 100%, skipping the remaining steps and bakes' : `ending ${status.currentStep ?? 'the current bake'} now` };
    },
    {
      validator: (args) => {
        const a = parseArgs(PromoteArgsSchema, args);
        if (status.state === 'finished') throw new Error(`the release already finished: ${status.outcome}`);
        if (!a.full && status.state !== 'baking' && status.state !== 'paused') throw new Error(`nothing to promote: the release is ${status.state}, not baking`);
        if (!['deploying', 'baking', 'paused'].includes(status.state)) throw new Error(`nothing to promote while ${status.state}`);
      },
    },
  );

  setHandler(
    resolveUpdate,
    (args) => {
      const r = parseArgs(ResolveArgsSchema, args);
      resolution = { by: r.by, action: r.action, reason: r.reason };
      return { resolving: r.action };
    },
    {
      validator: (args) => {
        parseArgs(ResolveArgsSchema, args);
        if (status.state !== 'needs-human') throw new Error(`nothing to resolve: the release is ${status.state}`);
      },
    },
  );

  /** The phase whose steps run now; steps outside phases (gates, release sign-off, rollback) have none. */
  let currentPhase: string | undefined;

  async function step<T>(name: string, fn: () => Promise<T>, detail?: (t: T) => string): Promise<T> {
    const rec: StepRecord = { name, ...(currentPhase ? { phase: currentPhase } : {}), status: 'running', startedAt: now() };
    status.steps.push(rec);
    status.currentStep = name;
    try {
      const result = await fn();
      rec.status = 'done';
      const d = detail?.(result);
      if (d) rec.detail = d;
      return result;
    } catch (e) {
      rec.status = 'failed';
      rec.detail = failureMessage(e);
      throw e;
    } finally {
      rec.endedAt = now();
    }
  }

  const abortStop = () => new Stop(`aborted${abortRequest?.by ? ` by ${abortRequest.by}` : ''}: ${abortRequest?.reason}`);

  /** Sends one notification through every configured channel; failures are recorded, never thrown. */
  async function send(event: string, title: string, text: string, opts: { urgent?: boolean; key?: string } = {}): Promise<void> {
    const { slackWebhookUrlEnv, webhookUrlEnv, webhookSecretEnv } = config.notify;
    try {
      await notifying.notify({
        outDir: input.outDir,
        targets: { slackWebhookUrlEnv, webhookUrlEnv, webhookSecretEnv },
        notification: { releaseId, service: input.service, event, urgent: opts.urgent ?? false, title, text, key: idempotencyKey(runKey, `notify-${opts.key ?? event}`) },
      });
    } catch (e) {
      status.steps.push({ name: `notify ${event}`, status: 'failed', startedAt: now(), endedAt: now(), detail: failureMessage(e) });
    }
  }

  /** Notifications at the spec's communication points, for runs that started with them. */
  async function announce(event: string, title: string, text: string, opts: { urgent?: boolean; key?: string } = {}): Promise<void> {
    if (patched(NOTIFICATIONS)) await send(event, title, text, opts);
  }

  const interrupted = () => abortRequest !== undefined || status.paused !== undefined || promoteRequest !== undefined;

  /**
   * A durable wait after (or before) a phase's action, during which its metrics are analysed when
   * the phase is watched. Pause stops the clock, promote ends the wait, abort and broken metrics
   * stop the release. The bake ends once its time is up and every acting metric last passed.
   */
  async function watch(name: string, ms: number, phase: Phase): Promise<void> {
    if (ms <= 0 || fullPromotion) return;
    const analysed = metrics.length > 0 && isAnalysed(phase);
    let remaining = ms;
    const timersOnly = patched(BAKE_CLOCK_FROM_TIMERS);
    /** After a wait that ended early (a pause): what is left, never used up unless a timer said so. */
    const elapse = (began: number) => {
      remaining = timersOnly ? Math.max(remaining - (Date.now() - began), 1) : remaining - (Date.now() - began);
    };
    let inconclusiveRounds = 0;
    let states: MetricState[] | undefined;
    const publish = (verdict: string) => {
      if (!states) return;
      status.analysis = { phase: phase.id, verdict, metrics: states };
    };
    try {
      await step(name, async () => {
        for (;;) {
          if (abortRequest) throw abortStop();
          if (promoteRequest) {
            const by = promoteRequest.by;
            promoteRequest = undefined;
            return `promoted by ${by}`;
          }
          if (status.paused) {
            setState('paused');
            status.bakeRemainingMs = Math.max(remaining, 0);
            delete status.bakeEndsAt;
            await condition(() => !status.paused || abortRequest !== undefined || promoteRequest !== undefined);
            continue;
          }
          setState('baking');
          delete status.bakeRemainingMs;
          status.bakeEndsAt = new Date(Date.now() + Math.max(remaining, 0)).toISOString();
          const began = Date.now();
          if (!analysed) {
            const ended = !(await condition(interrupted, remaining));
            elapse(began);
            if (ended) return '';
            continue;
          }
          // Past the bake time, keep measuring until every metric passes or a limit breaks.
          const runForMs = remaining > 0 ? Math.min(remaining, REPORT_EVERY_MS) : longestInterval();
          let result: MonitorResult | undefined;
          let failure: unknown;
          const scope = new CancellationScope();
          scope
            .run(() =>
              monitoring.monitorPhase({
                runKey,
                outDir: input.outDir,
                phase: phase.id,
                vars: queryVars(phase),
                analysis: config.analysis,
                subject: 'canary',
                baseline,
                ...(states ? { states } : {}),
                runForMs,
                untilStable: remaining <= 0,
              }),
            )
            .then(
              (r) => void (result = r),
              (e) => void (failure = e),
            );
          const decided = () => failure !== undefined || (result !== undefined && (result.verdict.verdict !== 'running' || (remaining <= 0 && result.stable)));
          const timedOut = !(await condition(() => interrupted() || decided(), runForMs));
          if (!interrupted()) await condition(() => interrupted() || result !== undefined || failure !== undefined);
          if (timersOnly && timedOut) remaining -= runForMs;
          else if (!timersOnly || remaining > 0) elapse(began);
          if (result === undefined && failure === undefined) {
            scope.cancel();
            continue;
          }
          if (failure !== undefined && !isCancellation(failure)) throw failure;
          if (!result) continue;
          states = result.states;
          publish(result.verdict.verdict);
          const broken = result.verdict.metrics.map((m) => describeBreak(states![metrics.findIndex((x) => x.name === m)]!));
          const { verdict } = result.verdict;
          if (verdict === 'failed' || (verdict === 'error' && config.analysis.onError === 'rollback'))
            throw new Stop(`analysis ${verdict}: ${broken.join('; ')}`, verdict === 'failed' ? result.verdict.metrics : []);
          if (verdict === 'inconclusive' || verdict === 'error') {
            // Each such reading asks again; an approval covers only its own.
            inconclusiveRounds++;
            await awaitApproval(`${phase.id}: analysis${inconclusiveRounds > 1 ? ` #${inconclusiveRounds}` : ''}`, `analysis ${verdict}: ${broken.join('; ')}`, config.analysis.inconclusiveTimeout);
            states = states.map(forgive);
            continue;
          }
          if (remaining <= 0 && result.stable) return `${states.map((s) => `${s.metric} ${s.successful}/${s.measured} passed`).join(', ')}`;
        }
      }, (d) => d);
    } finally {
      delete status.bakeEndsAt;
      delete status.bakeRemainingMs;
      if (states) {
        status.analysed.push({ phase: phase.id, verdict: states.some((s) => s.phase !== MetricPhase.RUNNING) ? 'broken' : 'passed', metrics: states });
        delete status.analysis;
      }
    }
  }

  const queryVars = (phase: Phase) => ({ service: input.service, version, previousVersion, phase: phase.id, stage: phase.stage });

  async function awaitApproval(target: string, reason: string, timeout = config.approval.timeout): Promise<void> {
    const before = status.state;
    setState('awaiting-approval');
    status.pendingApproval = {
      kind: approvalKind(target),
      target,
      reason,
      requestedAt: now(),
      deadline: new Date(Date.now() + timeout).toISOString(),
      allowedApprovers: config.approval.approvers,
      excludedApprovers: fourEyes() ? authors() : [],
    };
    await writeRecord();
    await announce('approval-needed', `Approval needed: ${input.service} ${version}`, `${reason}.\n\`rollgate approve ${releaseId} --by NAME\` (or reject) before ${status.pendingApproval.deadline}.`, {
      key: `approval-needed-${target}`,
    });
    try {
      await step(approvalStepName(target), async () => {
        const answered = await condition(
          () => status.approvals.some((a) => a.target === target) || rejection !== undefined || abortRequest !== undefined,
          timeout,
        );
        if (abortRequest) throw abortStop();
        if (rejection) throw new Stop(`rejected by ${rejection.by}: ${rejection.reason}`);
        if (!answered) throw new Stop(`no approval within ${formatDuration(timeout)}`);
      }, () => {
        const a = status.approvals.find((x) => x.target === target);
        return a ? `approved by ${a.by}` : '';
      });
    } finally {
      delete status.pendingApproval;
      setState(before);
    }
  }

  const stepInput = (phase: Phase, action: string, step: string): StepInput => ({
    ...(config.deploy.provider === 'webhook' ? { target: { provider: 'webhook' as const, ...config.deploy.webhook } } : {}),
    command: commandFor(action, config.deploy),
    cwd: config.deploy.cwd ?? input.repo,
    timeoutMs: config.deploy.timeout,
    outDir: input.outDir,
    ...stepVars(phase, action, step, release),
  });

  async function runPhase(phase: Phase): Promise<void> {
    if (fullPromotion && isIntermediate(phase)) {
      status.steps.push({ name: `${phase.id}: skipped (promoted to 100%)`, phase: phase.id, status: 'done', startedAt: now(), endedAt: now() });
      return;
    }
    currentPhase = phase.id;
    try {
      await runPhaseSteps(phase);
    } finally {
      currentPhase = undefined;
    }
  }

  async function runPhaseSteps(phase: Phase): Promise<void> {
    if (phase.approval) await awaitApproval(phase.id, `${phase.title} needs a human approval`);
    await watch(`${phase.id}: rollback window`, phase.holdMs, phase);
    if (abortRequest) throw abortStop();
    if (status.paused) await waitWhilePaused();
    setState('deploying');
    // Counted before the call: a step that failed halfway may have changed the target.
    started.push(phase);
    const label = `${phase.id}: ${phase.action} ${phase.stage}${phase.weight < 100 ? ` ${phase.weight}%` : ''}`;
    if (phase.action === PhaseAction.ENABLE_FLAG && config.featureFlag.provider === 'flagd')
      await step(label, () => quick.setFlag(flagInput(phase.weight)), (r) => (r.changed ? `${config.featureFlag.flag} on for ${phase.weight}%` : 'already set'));
    else
      await step(label, () => targets.deploy(stepInput(phase, phase.action, phase.id)), (r) =>
        r.skipped ? 'already applied (idempotency key)' : `${r.durationMs} ms`,
      );
    if (phase.smokeUrl) await step(`${phase.id}: smoke test`, () => smoke.smokeTest({ url: phase.smokeUrl! }), (d) => d);
    if (!productionAt && phase.stage.startsWith('production') && phase.weight === 100 && phase.action !== 'retire') productionAt = now();
    if (abortRequest) throw abortStop();
    await watch(`${phase.id}: bake ${formatDuration(phase.bakeMs)}`, phase.bakeMs, phase);
    await announce('phase-done', `${input.service} ${version}: ${phase.title} done`, `${phase.title}: ${phase.action} ${phase.stage}${phase.weight < 100 ? ` at ${phase.weight}%` : ''} is done${phase.bakeMs ? ' and its bake passed' : ''}.`, {
      key: `phase-done-${phase.id}`,
    });
  }

  async function waitWhilePaused(): Promise<void> {
    setState('paused');
    await condition(() => !status.paused || abortRequest !== undefined);
    if (abortRequest) throw abortStop();
  }

  const flagInput = (percentage: number) => ({ flag: config.featureFlag.flag!, percentage, file: config.featureFlag.file!, cwd: config.deploy.cwd ?? input.repo });

  /** Undoes one phase: the flag off for a flag rollout, else the rollback command for its stage. */
  async function undo(phase: Phase): Promise<void> {
    if (phase.action !== PhaseAction.ENABLE_FLAG) {
      await step(`rollback ${phase.stage}`, () => targets.rollback(stepInput(phase, ROLLBACK, rollbackStep(phase.stage))));
      return;
    }
    if (config.featureFlag.provider === 'flagd') await step('rollback: flag off', () => quick.setFlag(flagInput(0)), () => `${config.featureFlag.flag} off`);
    else await step('rollback: flag off', () => targets.rollback(stepInput({ ...phase, weight: 0 }, PhaseAction.DISABLE_FLAG, 'rollback-flag')));
  }

  async function rollback(phases: Phase[], brokenMetrics: string[], reason: string): Promise<boolean> {
    setState('rolling-back');
    if (!rollbackStartedAt) await announce('rollback', `Rolling back ${input.service} ${version}`, `${reason}.\nRolling back ${phases.map((p) => p.stage).join(', ')} to ${previousVersion}.`);
    rollbackStartedAt ??= now();
    try {
      for (const phase of phases) {
        await undo(phase);
        if (phase.smokeUrl) await step(`verify ${phase.stage}: smoke test`, () => smoke.smokeTest({ url: phase.smokeUrl! }), (d) => d);
      }
      if (brokenMetrics.length > 0 && config.analysis.verifyWindow > 0) await verifyMetrics(brokenMetrics);
      return true;
    } catch {
      return false;
    } finally {
      rollbackEndedAt = now();
    }
  }

  /** The metrics that broke must come back within their thresholds, measured on the stable version, within the window. */
  async function verifyMetrics(names: string[]): Promise<void> {
    setState('verifying-rollback');
    // Failures while the old readings age out of the query windows are expected: no limits here.
    const lenient = metrics
      .filter((m) => names.includes(m.name))
      .map((m) => ({ ...m, dryRun: false, initialDelay: 0, count: undefined, failureLimit: 1e9, inconclusiveLimit: 1e9, consecutiveErrorLimit: 1e9 }));
    await step(`verify rollback: ${names.join(', ')}`, async () => {
      const r = await verifying.monitorPhase({
        runKey,
        outDir: input.outDir,
        phase: 'rollback-verification',
        vars: queryVars({ id: 'rollback-verification', stage: 'production' } as Phase),
        analysis: { ...config.analysis, metrics: lenient },
        subject: 'stable',
        baseline,
        runForMs: config.analysis.verifyWindow,
        untilStable: true,
      });
      status.analysed.push({ phase: 'rollback-verification', verdict: r.stable ? 'passed' : 'broken', metrics: r.states });
      if (!r.stable) throw new Error(`${names.join(', ')} not back within thresholds after ${formatDuration(config.analysis.verifyWindow)}: ${r.states.map((x) => x.last?.message ?? x.last?.verdict ?? 'not measured').join('; ')}`);
      return r.states.map((x) => `${x.metric} ${x.last?.value ?? ''}`).join(', ');
    }, (d) => d);
  }

  let charts: { metric: string; file: string }[] = [];

  /** `first`: the first write, which the worker's metrics count (a local activity when `fast`). */
  async function writeRecord(
    results?: { outcome: Outcome; reason?: string },
    first?: { decided?: { strategy: string; risk: string }; decision: { decision: Decision; seconds: number }; fast: boolean },
  ): Promise<void> {
    if (!decision) return;
    const content = renderDecisionRecord({
      releaseId,
      runKey,
      service: input.service,
      timestamp: startedAt,
      branch: input.head,
      base: input.base,
      ...(change ? { commit: change.headSha } : {}),
      version,
      previousVersion,
      decision,
      gates,
      files: change?.files ?? [],
      config,
      approvals: status.approvals,
      ...(status.pendingApproval ? { pendingApproval: status.pendingApproval } : {}),
      ...(results
        ? {
            results: {
              ...results,
              steps: status.steps,
              ...(rollbackStartedAt ? { rollbackStartedAt } : {}),
              ...(rollbackEndedAt ? { rollbackEndedAt } : {}),
              ...(status.baseline ? { baseline: status.baseline } : {}),
              ...(status.analysed.length ? { analysed: status.analysed, measurementsFile: measurementsPath(runKey) } : {}),
              ...(charts.length ? { charts } : {}),
            },
          }
        : {}),
    });
    const { fast, ...counted } = first ?? { fast: false };
    status.recordPath = await (fast ? local : quick).writeDecisionRecord({ outDir: input.outDir, fileName: recordFileName(startedAt), releaseId, content, ...counted });
  }

  async function finish(outcome: Outcome, reason?: string): Promise<ReleaseResult> {
    setState('finished');
    status.outcome = outcome;
    delete status.currentStep;
    const finalDecision: Decision = decision?.decision ?? 'ESCALATED';
    if (status.analysed.length > 0 && status.recordPath && patched(RELEASE_REPORT)) {
      // A phase starts with its first step.
      const phases = (decision?.plan?.phases ?? []).flatMap((p) => {
        const first = status.steps.find((s) => s.phase === p.id);
        return first ? [{ id: p.id, at: first.startedAt }] : [];
      });
      try {
        charts = await quick.writeReport({ outDir: input.outDir, runKey, recordPath: status.recordPath, metrics, phases, ...(rollbackStartedAt ? { rollbackAt: rollbackStartedAt } : {}) });
      } catch (e) {
        status.steps.push({ name: 'report charts', status: 'failed', startedAt: now(), endedAt: now(), detail: failureMessage(e) });
      }
    }
    await writeRecord({ outcome, ...(reason ? { reason } : {}) });
    const headCommit = change?.commits[0];
    await quick.recordLedger({
      outDir: input.outDir,
      entry: ledgerEntry({
        releaseId,
        run: runKey,
        service: input.service,
        startedAt,
        finishedAt: now(),
        decision: finalDecision,
        outcome,
        ...(reason ? { reason } : {}),
        ...(decision?.risk ? { riskLevel: decision.risk.level, strategy: decision.risk.strategy } : {}),
        ...(status.recordPath ? { recordPath: status.recordPath } : {}),
        ...(change ? { commit: change.headSha } : {}),
        ...(headCommit ? { commitTime: headCommit.time } : {}),
        version,
        ...(productionAt ? { productionAt } : {}),
        ...(rollbackStartedAt ? { rollbackStartedAt } : {}),
        ...(rollbackEndedAt ? { rollbackFinishedAt: rollbackEndedAt } : {}),
      }),
      durations: releaseDurations(status.steps),
    });
    return { releaseId, outcome, decision: finalDecision, ...(status.recordPath ? { recordPath: status.recordPath } : {}), ...(reason ? { reason } : {}) };
  }

  /** Ends a release that stopped early: aborted if nothing was changed, else rolled back. */
  async function stopWith(reason: string, brokenMetrics: string[] = []): Promise<ReleaseResult> {
    const toUndo = rollbackTargets(started);
    if (toUndo.length === 0) return finish('aborted', reason);
    if (await rollback(toUndo, brokenMetrics, reason)) return finish('rolled_back', reason);
    const failed = `${reason}; the rollback failed too: a human must restore the release`;
    if (!patched(WAIT_FOR_HUMAN_AFTER_FAILED_ROLLBACK)) return finish('rollback_failed', failed);
    // The spec's contingency: tell people, keep every piece of state, and wait; never end silently.
    for (let round = 1; ; round++) {
      setState('needs-human');
      status.needsHuman = {
        reason: failed,
        since: now(),
        options: [`rollgate resolve ${releaseId} --retry --by NAME --reason TEXT`, `rollgate resolve ${releaseId} --restored --by NAME --reason TEXT`],
      };
      await send('rollback-failed', `URGENT: the rollback of ${input.service} ${version} failed`, `${failed}.\nEverything is kept; the release waits for a human: \`rollgate resolve ${releaseId} --retry\` or \`--restored\`.`, {
        urgent: true,
        key: `rollback-failed-${round}`,
      });
      await writeRecord({ outcome: 'rollback_failed', reason: `${failed}; waiting for a human decision` });
      await condition(() => resolution !== undefined);
      const r = resolution!;
      resolution = undefined;
      delete status.needsHuman;
      status.steps.push({ name: `resolved by ${r.by}: ${r.action}`, status: 'done', startedAt: now(), endedAt: now(), detail: r.reason });
      if (r.action === 'restored') {
        rollbackEndedAt = now();
        return finish('rolled_back', `${reason}; the rollback failed and ${r.by} restored the release by hand: ${r.reason}`);
      }
      if (await rollback(toUndo, brokenMetrics, reason)) return finish('rolled_back', `${reason}; the rollback succeeded when ${r.by} retried it`);
    }
  }

  try {
    const fast = patched(FAST_DECISION);
    const reads = fast ? local : quick;
    const readGates = () =>
      step('prerequisites', () => reads.checkPrerequisites({ repo: input.repo, base: input.base, head: input.head, reportsDir: input.reportsDir, junit: input.junit }), (g) =>
        g.prerequisites.map((p) => `${p.name} ${p.passed ? 'ok' : 'FAILED'}`).join(', '),
      );
    let riskError: string | undefined;
    const readChange = async () => {
      try {
        change = await step('change set', () => reads.readChangeSet({ repo: input.repo, base: input.base, head: input.head, migrations: config.risk.migrations }), (c) =>
          `${c.files.length} files, ${c.commits.length} commits`,
        );
      } catch (e) {
        riskError = failureMessage(e);
      }
    };
    if (fast) [gates] = await Promise.all([readGates(), readChange()]);
    else {
      gates = await readGates();
      await readChange();
    }
    decision = evaluateRelease(gates, change, config, input.usersAffected, riskError);
    const { risk, plan } = decision;
    status.decision = decision.decision;
    if (risk) {
      status.riskLevel = risk.level;
      status.strategy = risk.strategy;
    }
    const goesAhead = risk && plan && decision.decision !== 'ABORTED' ? { strategy: risk.strategy, risk: risk.level } : undefined;
    const decisionTook = { decision: decision.decision, seconds: (Date.now() - Date.parse(startedAt)) / 1000 };
    await step('decision record', () => writeRecord(undefined, { ...(goesAhead ? { decided: goesAhead } : {}), decision: decisionTook, fast }), () => `${decision!.decision}${risk ? `, ${risk.level} → ${risk.strategy}` : ''}`);

    if (decision.decision === 'ABORTED') return await finish('aborted', decision.because.join('; '));
    if (decision.decision === 'ESCALATED' && !plan) return await finish('escalated', decision.because.join('; '));
    if (decision.approvalRequired)
      await awaitApproval('release', decision.decision === 'ESCALATED' ? `Escalated: ${decision.because.join('; ')}` : `${risk!.level} risk needs a sign-off`);

    if (metrics.length > 0 && patched(CHECK_QUERIES))
      await step('metric queries', () => quick.checkQueries({ vars: queryVars(plan!.phases[0]!), analysis: config.analysis }), (d) => d);
    if (metrics.some((m) => comparisons(m).baseline)) {
      const captured = await step('baseline', () => quick.captureBaseline({ vars: queryVars(plan!.phases[0]!), analysis: config.analysis }), (b) =>
        [...Object.entries(b.values).map(([k, v]) => `${k} ${v}`), ...Object.entries(b.missing).map(([k, why]) => `${k}: ${why}`)].join(', '),
      );
      baseline = captured.values;
      status.baseline = baseline;
    }
    if (metrics.length > 0 && status.recordPath && patched(ALERT_RULES)) {
      const { rules, skipped } = alertRules({ releaseId, vars: queryVars(plan!.phases[0]!), metrics, selectors: config.analysis.selectors, baseline, interval: config.analysis.interval });
      await step('alert rules', () => quick.writeAlertRules({ recordPath: status.recordPath!, rules }), (path) =>
        `${path}${skipped.length ? `; skipped ${skipped.map((x) => `${x.metric} (${x.why})`).join(', ')}` : ''}`,
      );
    }
    await announce('deploy-starting', `Deploying ${input.service} ${version}`, `${risk!.level} risk → ${risk!.strategy}: ${plan!.phases.map((p) => p.title).join(' → ')}.`);
    for (const phase of plan!.phases) await runPhase(phase);
    await announce('released', `Released ${input.service} ${version}`, `${input.service} ${version} is released (${risk!.strategy}).`);
    return await finish('released');
  } catch (e) {
    if (isCancellation(e)) {
      await CancellationScope.nonCancellable(() => stopWith('the workflow was cancelled'));
      throw e;
    }
    const reason = e instanceof Stop ? e.message : `step failed: ${failureMessage(e)}`;
    return await CancellationScope.nonCancellable(() => stopWith(reason, e instanceof Stop ? e.brokenMetrics : []));
  }
}

/** The innermost message of an activity failure, for records and status. */
function failureMessage(e: unknown): string {
  let err = e as { message?: string; cause?: unknown } | undefined;
  while (err?.cause && (err.cause as { message?: string }).message) err = err.cause as typeof err;
  return err?.message ?? String(e);
}
