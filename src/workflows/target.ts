import { ApplicationFailure, CancellationScope, condition, getExternalWorkflowHandle, isCancellation, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ChangeSet } from '../domain/changeset';
import { FailureType, Outcome } from '../domain/enums';
import { firstDeployPhase, type ReleasePlan } from '../domain/plan';
import type { ReleaseTerms } from '../domain/policy';
import { type DecisionResult, type Override, type ParsedReleaseInput, ReleaseState, type ReleaseResult, StepStatus, StopKind, type StopReason, WaitReason } from '../domain/release';
import { type FleetOrders, type Target, TargetOutcome, type TargetResult, phaseStates, targetVars } from '../domain/waves';
import { preflightChecks } from './checks';
import { finish } from './closing';
import { compensate } from './compensation';
import { FREEZE_STEP, listenForFreezes, WINDOW_STEP } from './holds';
import { fleetOrdersChangedSignal, targetBreakingSignal, targetWorkflowId } from './messages';
import { runPhase } from './phases';
import { failureMessage, ReleaseRun, StopRelease, stopReasonOf } from './run-state';
import { installSteering } from './steering';
import { watchLive } from './watch';

/** What a fleet release gives the child workflow of one target: everything was decided by the release. */
export interface TargetInput {
  /**
   * rollout: the target's phases of the plan; watch: once it passed, its live production watched
   * until the later waves pass (rolled back if it breaks); rollback: undo what its rollout started.
   */
  mode: 'rollout' | 'watch' | 'rollback';
  release: ParsedReleaseInput;
  target: Target;
  terms: ReleaseTerms;
  /** With the plan of the target's phases (the production ones). */
  decision: DecisionResult;
  change?: ChangeSet;
  /** The release's promotions when the target started: only later ones end its bakes. */
  promotions: number;
  fullPromotion: boolean;
  /** watch and rollback: the phases the target's rollout started; rollback: why the release rolls it back. */
  started?: string[];
  reason?: StopReason;
  /** watch: what the rollout's checks compared against. */
  baseline?: Record<string, number>;
  /** rollout: the overrides given to the release itself; one that covers a target's hold breaks it too. */
  overrides?: Override[];
}

/**
 * One target of a fleet release: its phases, analysed on its own metrics (its labels fill the
 * queries and commands), rolled back at once when it fails. Runs only as a child of its release,
 * which decided everything it is given; people steer it through the release (pause, resume,
 * promote, abort), and may answer its own sign-offs and a failed rollback on it directly.
 */
export async function targetWorkflow(input: TargetInput): Promise<TargetResult> {
  const { parent, workflowId } = workflowInfo();
  // The parent is set by the server, never by whoever starts a workflow: a target runs only for the release that started it, under its own name.
  if (!parent) throw ApplicationFailure.nonRetryable('a target runs only as a child workflow of its release: start the release instead', FailureType.INVALID_INPUT);
  const expected = targetWorkflowId(parent.workflowId, input.target.name, input.mode);
  if (input.release.releaseId !== parent.workflowId || workflowId !== expected)
    throw ApplicationFailure.nonRetryable(`a target of release ${parent.workflowId} runs as ${expected}, not ${workflowId} for ${input.release.releaseId}`, FailureType.INVALID_INPUT);
  const run = new ReleaseRun(input.release, { name: input.target.name, labels: targetVars(input.target), parent: { workflowId: parent.workflowId, runId: parent.runId } });
  run.adoptPolicy(input.terms);
  run.decision = input.decision;
  if (input.change) run.change = input.change;
  run.status.decision = input.decision.decision;
  if (input.decision.risk) {
    run.status.riskLevel = input.decision.risk.level;
    run.status.strategy = input.decision.risk.strategy;
  }
  run.fullPromotion = input.fullPromotion;
  if (input.overrides?.length) run.status.overrides = [...input.overrides];
  installSteering(run);
  const plan = input.decision.plan!;
  if (input.mode !== 'rollout') run.started.push(...plan.phases.filter((p) => input.started?.includes(p.id)));
  if (input.mode === 'rollback') return targetResult(run, plan, await compensate(run, input.reason!));
  followOrders(run, input.promotions);
  if (input.mode === 'watch') {
    run.baseline = input.baseline ?? {};
    return targetResult(run, plan, await watchReleased(run));
  }
  listenForFreezes(run);
  return targetResult(run, plan, await rollOut(run, plan));
}

async function rollOut(run: ReleaseRun, plan: ReleasePlan): Promise<ReleaseResult> {
  try {
    // Its own queries checked and its own baseline: its labels pick its series.
    await preflightChecks(run, firstDeployPhase(plan)!);
    for (const phase of plan.phases) await runPhase(run, phase);
  } catch (e) {
    // A target rolls itself back even when the release is cancelled, and tells the release how it ended.
    return CancellationScope.nonCancellable(async () => {
      const reason = stopReasonOf(e);
      // Broken (or aborted on its own), not stopped by its release: the release is woken now, so that it can stop the wave's others before this rollback ends.
      if (!run.fleetStop && reason.kind !== StopKind.CANCELLED) await wakeRelease(run);
      return compensate(run, reason);
    });
  }
  return finish(run, Outcome.RELEASED);
}

/**
 * A target that passed, watched live (its thresholds; a judge sits out 100%) until the release says
 * every wave passed or it stops. A break rolls the target back at once and ends it failed: the
 * release counts it against its wave's budget. Ended by its release, it stays released.
 */
async function watchReleased(run: ReleaseRun): Promise<ReleaseResult> {
  run.setState(ReleaseState.BAKING);
  try {
    await run.step(
      'watched while the later waves roll out',
      async () => {
        await watchLive(run, WaitReason.LATER_WAVES, () => condition(() => run.wavesDone || run.stopping()));
        if (run.alarm) throw new StopRelease(run.alarm);
        // An abort sent to the watch itself asks for this target to be rolled back: it counts as a break.
        if (run.abortRequest && !run.fleetStop) run.throwIfAborted();
        return run.wavesDone ? 'every later wave passed' : `the release stops: ${run.fleetStop?.reason ?? ''}`;
      },
      (d) => d,
    );
  } catch (e) {
    if (e instanceof StopRelease)
      return CancellationScope.nonCancellable(async () => {
        await wakeRelease(run);
        return compensate(run, e.reason);
      });
    // Cancelled: it leaves the target as it is, released; a release that did not end the watch stops (see Watches).
    if (!isCancellation(e)) throw e;
  }
  return CancellationScope.nonCancellable(() => finish(run, Outcome.RELEASED));
}

/** Wakes the release as this target breaks, before its rollback: the release reads how its targets stand from their own queries. */
async function wakeRelease(run: ReleaseRun): Promise<void> {
  run.setState(ReleaseState.ROLLING_BACK);
  const { workflowId, runId } = run.target!.parent;
  await getExternalWorkflowHandle(workflowId, runId)
    .signal(targetBreakingSignal)
    .catch(() => undefined);
}

/**
 * Takes the release's orders: pause and resume, promotions, a stop. The release's signal only wakes
 * the target; the orders are read from the release's own query by a local activity, so that they
 * are in this target's history and no message from anyone else can steer it.
 */
function followOrders(run: ReleaseRun, promotionsAtStart: number): void {
  const release = run.target!.parent;
  let wakeups = 1;
  let read = 0;
  let promotions = promotionsAtStart;
  let pausedByRelease = false;
  setHandler(fleetOrdersChangedSignal, () => {
    wakeups++;
  });
  const take = (orders: FleetOrders) => {
    if (orders.wavesDone) run.wavesDone = true;
    if (orders.stop) run.fleetStop ??= orders.stop;
    if (orders.stop && !run.abortRequest) run.abortRequest = { reason: `the release stops: ${orders.stop.reason}`, ...(orders.stop.by ? { by: orders.stop.by } : {}) };
    if (orders.paused && !run.status.paused) {
      run.status.paused = { ...orders.paused, reason: `the release is paused${orders.paused.reason ? `: ${orders.paused.reason}` : ''}` };
      pausedByRelease = true;
    } else if (!orders.paused && pausedByRelease) {
      delete run.status.paused;
      pausedByRelease = false;
    }
    if (orders.full) run.fullPromotion = true;
    if (orders.promotions > promotions) {
      promotions = orders.promotions;
      // Only a bake under way ends: a promotion is never kept for a bake that has not begun.
      const baking = run.status.bakeEndsAt !== undefined || run.status.bakeRemainingMs !== undefined;
      if (baking || orders.full) run.promoteRequest = { by: `${orders.promotedBy ?? 'someone'} (the release)`, full: orders.full };
    }
  };
  const follow = async () => {
    let failed = false;
    for (;;) {
      // After a failed read, asked again within a minute, whether or not the release wakes it.
      if (failed) await condition(() => wakeups !== read, ORDERS_RETRY_MS);
      else await condition(() => wakeups !== read);
      read = wakeups;
      try {
        take(await run.acts.local.fleetOrders(release));
        failed = false;
      } catch (e) {
        if (isCancellation(e)) throw e;
        failed = true;
        run.note('orders of the release', StepStatus.FAILED, `${failureMessage(e)}; read again within a minute`, { outsidePhase: true });
      }
    }
  };
  // A cancelled target stops following: it is rolling itself back.
  follow().catch((e: unknown) => {
    if (!isCancellation(e)) throw e;
  });
}

const ORDERS_RETRY_MS = 60_000;

const OUTCOMES: Partial<Record<Outcome, TargetOutcome>> = {
  [Outcome.RELEASED]: TargetOutcome.RELEASED,
  [Outcome.ROLLED_BACK]: TargetOutcome.ROLLED_BACK,
  [Outcome.ROLLBACK_FAILED]: TargetOutcome.ROLLBACK_FAILED,
};

/** How the target ended, for the release: its outcome, each phase it reached, what a later rollback must undo. */
function targetResult(run: ReleaseRun, plan: ReleasePlan, result: ReleaseResult): TargetResult {
  const phases = phaseStates(run.status.steps, plan.phases.map((p) => p.id));
  const waits = run.status.steps.filter((s) => s.name.endsWith(WINDOW_STEP) || s.name.endsWith(FREEZE_STEP));
  return {
    target: run.target!.name,
    outcome: OUTCOMES[result.outcome] ?? TargetOutcome.ABORTED,
    ...(result.reason ? { reason: result.reason } : {}),
    phases,
    started: [...new Set(run.started.map((p) => p.id))],
    ...(run.productionAt ? { productionAt: run.productionAt } : {}),
    ...(run.rollbackStartedAt ? { rollbackStartedAt: run.rollbackStartedAt } : {}),
    ...(run.rollbackEndedAt ? { rollbackEndedAt: run.rollbackEndedAt } : {}),
    ...(Object.keys(run.baseline).length > 0 ? { baseline: run.baseline } : {}),
    ...(run.status.overrides?.some((o) => o.target) ? { overrides: run.status.overrides.filter((o) => o.target) } : {}),
    ...(waits.length > 0 ? { waits } : {}),
  };
}
