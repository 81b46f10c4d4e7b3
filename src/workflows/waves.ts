import { CancellationScope, type ChildWorkflowHandle, condition, isCancellation, ParentClosePolicy, setHandler, startChild } from '@temporalio/workflow';
import { formatDuration } from '../domain/duration';
import { type Phase, PhaseAction, type ReleasePlan } from '../domain/plan';
import { ApprovalKind, ReleaseState, StepStatus, StopKind, type StopReason } from '../domain/release';
import { type FleetOrders, type FleetStatus, OnWaveFailure, type TargetOutcome, TargetOutcome as Outcomes, type TargetProgress, type TargetResult, type TargetState, isFailing, type Wave, waveVerdict } from '../domain/waves';
import { awaitApproval } from './approvals';
import { bake } from './bake';
import { waitWhilePaused } from './holds';
import { fleetOrdersChangedSignal, fleetOrdersQuery, freezesChangedSignal, targetBreakingSignal, targetWorkflowId } from './messages';
import { failureMessage, now, type ReleaseRun, StopRelease } from './run-state';
import { livePhase } from './watch';
import type { TargetInput, targetWorkflow } from './target';

/** What the release asks a human when a wave failed and its passed targets are held (fleet.onWaveFailure: hold). */
export const KEEP_TARGETS = 'keep-passed-targets';

/** The release's view of its waves and targets, in `status` from the start. */
export function startFleet(run: ReleaseRun): FleetStatus {
  const { fleet } = run.config;
  const status: FleetStatus = {
    onWaveFailure: fleet.onWaveFailure,
    waves: fleet.waves.map((w) => ({ targets: w.targets, maxFailedTargets: w.maxFailedTargets, bakeMs: w.bake, state: 'waiting' })),
    targets: fleet.waves.flatMap((w, i) => w.targets.map((name) => ({ name, wave: i, workflowId: targetWorkflowId(run.releaseId, name), state: 'waiting' as const }))),
  };
  run.status.fleet = status;
  setHandler(fleetOrdersQuery, () => ordersOf(run));
  setHandler(targetBreakingSignal, () => {
    run.targetWakeups++;
  });
  return status;
}

/** What the release orders its running targets now. */
function ordersOf(run: ReleaseRun): FleetOrders {
  return {
    ...(run.status.paused ? { paused: run.status.paused } : {}),
    promotions: run.promotions,
    full: run.fullPromotion,
    ...(run.promotedBy ? { promotedBy: run.promotedBy } : {}),
    ...(run.fleetStop ? { stop: run.fleetStop } : {}),
    ...(run.wavesDone ? { wavesDone: true } : {}),
  };
}

/**
 * The production phases of a fleet release, wave after wave: each wave's targets in parallel, each
 * in a child workflow that rolls itself back when it fails; a wave passes within its budget of
 * failed targets, then bakes before the next starts. Past the budget no later wave starts.
 */
export async function runWaves(run: ReleaseRun, plan: ReleasePlan): Promise<void> {
  const fleet = run.status.fleet!;
  const waves = run.config.fleet.waves;
  const watches = new Watches(run, plan);
  let over = false;
  try {
    for (const [i, wave] of waves.entries()) {
      if (i > 0 && waves[i - 1]!.bake > 0) {
        fleet.waves[i - 1]!.state = 'baking';
        try {
          await bake(run, `wave ${i}: bake ${formatDuration(waves[i - 1]!.bake)}`, waves[i - 1]!.bake, WAVE_BAKE, false);
        } finally {
          // The wave passed before its bake began; a stop during the bake is the release's, not the wave's.
          if (fleet.waves[i - 1]!.state === 'baking') fleet.waves[i - 1]!.state = 'passed';
        }
      }
      if (run.status.paused) await waitWhilePaused(run);
      run.throwIfAborted();
      fleet.waves[i]!.state = 'running';
      run.setState(ReleaseState.ROLLING_OUT);
      const { outcomes, unknown, baselines } = await runWave(run, plan, i, wave);
      if (run.stopping()) {
        fleet.waves[i]!.state = 'stopped';
        run.throwIfAborted();
      }
      const verdict = waveVerdict(i, wave, outcomes);
      // A target whose state is unknown fails its wave whatever the budget: nobody knows what it left behind.
      const passed = verdict.passed && unknown.length === 0;
      const message = unknown.length ? `${verdict.message}; the state of ${unknown.join(', ')} is unknown` : verdict.message;
      fleet.waves[i]!.state = passed ? (wave.bake > 0 && i < waves.length - 1 ? 'baking' : 'passed') : 'failed';
      fleet.waves[i]!.verdict = message;
      run.note(`wave ${i + 1}`, passed ? StepStatus.DONE : StepStatus.FAILED, message, { outsidePhase: true });
      if (!passed) throw new StopRelease({ kind: StopKind.WAVE_FAILED, message });
      if (i < waves.length - 1) watches.start(i, wave, baselines);
    }
    over = true;
  } finally {
    await watches.end(over);
  }
  // A watched target broke past its wave's budget as the last wave ended.
  if (run.alarm) throw new StopRelease(run.alarm);
}

/**
 * The targets of the waves that passed, each watched on its live production by a child workflow of
 * its own (`<release>/<target>/watch`) until every wave has passed or the release stops. A target
 * that breaks wakes the release and rolls itself back; it counts against its wave's budget as soon
 * as the release reads it rolling back, and past the budget the release stops.
 */
class Watches {
  private readonly running = new Map<string, ChildWorkflowHandle<typeof targetWorkflow>>();
  private readonly watched: Promise<void>[] = [];
  private readonly waveOf = new Map<string, { index: number; wave: Wave }>();
  /** Watched targets that broke: read rolling back, or ended so. */
  private readonly broken = new Set<string>();
  private ended = false;

  constructor(
    private readonly run: ReleaseRun,
    private readonly plan: ReleasePlan,
  ) {}

  /** Watches the released targets of a wave that passed, those with acting checks that can measure their live phase. */
  start(index: number, wave: Wave, baselines: ReadonlyMap<string, Record<string, number>>): void {
    const phases = targetPhases(this.plan);
    for (const name of wave.targets) {
      const progress = progressOf(this.run, name);
      const live = livePhase(this.run, phases.filter((p) => progress.started?.includes(p.id)));
      if (progress.state !== Outcomes.RELEASED || !live || !this.run.metricsFor(live).some((m) => !m.dryRun)) continue;
      this.waveOf.set(name, { index, wave });
      // Not cancelled with the release: the release ends each watch (see `end`), and settles its target after.
      if (this.watched.length === 0) this.watched.push(CancellationScope.nonCancellable(() => this.listen()));
      this.watched.push(CancellationScope.nonCancellable(() => this.watch(progress, baselines.get(name))));
    }
  }

  /** Every watch told to end (the waves passed, or the release stops) and waited for. */
  async end(wavesPassed: boolean): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      this.ended = true;
      if (wavesPassed) this.run.wavesDone = true;
      else this.run.fleetStop ??= { reason: this.run.abortRequest?.reason ?? this.run.alarm?.message ?? 'the release stopped' };
      await wakeTargets(this.running.values());
      await Promise.all(this.watched);
    });
  }

  /** The wake-ups of targets that break: a watched target read rolling back counts at once, not when its rollback has ended. */
  private async listen(): Promise<void> {
    let seen = this.run.targetWakeups;
    for (;;) {
      await condition(() => this.ended || this.run.targetWakeups !== seen);
      if (this.ended) return;
      seen = this.run.targetWakeups;
      const reading = [...this.running.entries()].filter(([name]) => !this.broken.has(name));
      if (reading.length === 0) continue;
      let states: Record<string, TargetState>;
      try {
        states = await this.run.acts.local.targetStates({ targets: reading.map(([, h]) => ({ workflowId: h.workflowId, runId: h.firstExecutionRunId })) });
      } catch (e) {
        // Their results still count when they come.
        this.run.note('watched targets\' states', StepStatus.FAILED, failureMessage(e), { outsidePhase: true });
        continue;
      }
      for (const [name, h] of reading) {
        const state = states[h.workflowId];
        if (!this.running.has(name) || this.broken.has(name) || !state || !isFailing(state)) continue;
        this.broken.add(name);
        this.judge(name, `${name} broke while watched and is rolling back`);
      }
    }
  }

  private async watch(progress: TargetProgress, baseline: Record<string, number> | undefined): Promise<void> {
    const { run } = this;
    const name = progress.name;
    const given = JSON.stringify(ordersOf(run));
    progress.watch = { state: 'watching', since: now() };
    let result: TargetResult | (TargetResult & { unknown: true });
    try {
      const handle = await startChild<typeof targetWorkflow>('targetWorkflow', {
        workflowId: targetWorkflowId(run.releaseId, name, 'watch'),
        args: [{ ...targetInput(run, this.plan, name, 'watch'), ...(baseline ? { baseline } : {}) }],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
      this.running.set(name, handle);
      if (JSON.stringify(ordersOf(run)) !== given) await wakeTargets([handle]);
      result = await settle(handle, progress);
    } catch (e) {
      // Unwatched, a target could break unseen: the release stops as if it had.
      progress.watch = { ...progress.watch, state: 'lost', endedAt: now(), message: failureMessage(e) };
      run.alarm ??= { kind: StopKind.STEP_FAILED, message: `${name} could not be watched: ${failureMessage(e)}` };
      return;
    } finally {
      this.running.delete(name);
    }
    if (result.outcome === Outcomes.RELEASED) {
      if (this.ended || run.wavesDone || run.fleetStop) {
        progress.watch = { ...progress.watch, state: 'passed', endedAt: now() };
        return;
      }
      // It ended before the release ended it (cancelled from outside): unwatched, the target could break unseen.
      const message = `the watch of ${name} ended before the later waves passed: ${name} is no longer watched`;
      progress.watch = { ...progress.watch, state: 'lost', endedAt: now(), message };
      run.alarm ??= { kind: StopKind.STEP_FAILED, message };
      return;
    }
    progress.watch = { ...progress.watch, state: 'broke', endedAt: now(), ...(result.reason ? { message: result.reason } : {}) };
    adopt(run, progress, result);
    const broke = `${name} broke while watched: ${result.reason ?? result.outcome}`;
    run.note(`${name}: watched`, StepStatus.FAILED, `${broke}; ${result.outcome.replace(/_/g, ' ')}`, { outsidePhase: true });
    this.broken.add(name);
    this.judge(name, broke, 'unknown' in result);
  }

  /** A watched target broke: its wave judged again with it failed; past the budget (or in an unknown state) the release stops. */
  private judge(name: string, broke: string, unknown = false): void {
    const { index, wave } = this.waveOf.get(name)!;
    const fleet = this.run.status.fleet!;
    const outcomes = Object.fromEntries(wave.targets.map((t) => [t, this.broken.has(t) ? Outcomes.ROLLED_BACK : (progressOf(this.run, t).state as TargetOutcome)]));
    const verdict = waveVerdict(index, wave, outcomes);
    if (verdict.passed && !unknown) return;
    if (this.run.alarm) return;
    const message = `${verdict.message}${unknown ? `; the state of ${name} is unknown` : ''}; ${broke}`;
    fleet.waves[index]!.state = 'failed';
    fleet.waves[index]!.verdict = message;
    fleet.stoppedBy = wave.targets.filter((t) => this.broken.has(t));
    this.run.alarm = { kind: StopKind.WAVE_FAILED, message };
  }
}

/** Wakes targets to read the release's orders: the wake-up carries nothing. */
const wakeTargets = (handles: Iterable<ChildWorkflowHandle<typeof targetWorkflow>>) => Promise.all([...handles].map((h) => h.signal(fleetOrdersChangedSignal).catch(() => undefined)));

/** In production once the last target that got there is: what the ledger's deployment time says. */
export function fleetProductionAt(run: ReleaseRun): string | undefined {
  return (run.status.fleet?.targets ?? [])
    .map((t) => t.productionAt)
    .filter((t): t is string => t !== undefined)
    .sort()
    .at(-1);
}

/** The bake between waves: timed, stopped by a pause, ended by a promotion. */
const WAVE_BAKE: Phase = { id: 'wave-bake', title: 'Bake between waves', action: PhaseAction.DEPLOY, stage: 'production', weight: 100, holdMs: 0, bakeMs: 0, approval: false };

/**
 * One wave: its targets started together; what people ask forwarded to those still running; how
 * each ended, and which ended without telling (their state unknown). Every target is waited for,
 * even when the release is cancelled meanwhile: its result is what the rollback works from.
 */
async function runWave(
  run: ReleaseRun,
  plan: ReleasePlan,
  index: number,
  wave: Wave,
): Promise<{ outcomes: Record<string, TargetOutcome>; unknown: string[]; baselines: Map<string, Record<string, number>> }> {
  const outcomes: Record<string, TargetOutcome> = {};
  const unknown: string[] = [];
  const baselines = new Map<string, Record<string, number>>();
  const running = new Map<string, ChildWorkflowHandle<typeof targetWorkflow>>();
  const failed = () => Object.values(outcomes).filter((o) => o !== Outcomes.RELEASED).length;
  const one = async (name: string) => {
    const progress = progressOf(run, name);
    const given = JSON.stringify(ordersOf(run));
    let result: TargetResult;
    try {
      const handle = await startChild<typeof targetWorkflow>('targetWorkflow', {
        workflowId: progress.workflowId,
        args: [targetInput(run, plan, name, 'rollout')],
        // A release that ends (even terminated) asks its running targets to stop: each rolls itself back.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
      running.set(name, handle);
      progress.state = 'running';
      // Orders given while it started: it reads them at once.
      if (JSON.stringify(ordersOf(run)) !== given) await wakeTargets([handle]);
      result = await settle(handle, progress);
    } catch (e) {
      // It never started: nothing of it changed.
      result = { target: name, outcome: Outcomes.NOT_STARTED, reason: `could not start: ${failureMessage(e)}`, phases: {}, started: [] };
    }
    running.delete(name);
    if ('unknown' in result) unknown.push(name);
    if (result.baseline) baselines.set(name, result.baseline);
    adopt(run, progress, result);
    outcomes[name] = result.outcome;
    // Past the budget (or with a target in an unknown state), those still running are stopped: the wave has failed whatever they do.
    if ((failed() > wave.maxFailedTargets || unknown.length > 0) && !run.fleetStop) run.fleetStop = { reason: pastBudget(failed()) };
  };
  const pastBudget = (count: number) => `wave ${index + 1} failed: ${count} of ${wave.targets.length} targets failed, ${wave.maxFailedTargets} allowed`;
  /** A target woke the release as it broke: those rolling back count before their results come, read from their own queries. */
  const countBreaking = async () => {
    const reading = [...running.values()];
    let states: Record<string, TargetState>;
    try {
      states = await run.acts.local.targetStates({ targets: reading.map((h) => ({ workflowId: h.workflowId, runId: h.firstExecutionRunId })) });
    } catch (e) {
      if (isCancellation(e)) throw e;
      // Their results still count when they come.
      run.note(`wave ${index + 1}: targets' states`, StepStatus.FAILED, failureMessage(e), { outsidePhase: true });
      return;
    }
    // Only those still running: a result that came meanwhile is counted in failed() already.
    const breaking = [...running.values()].filter((h) => reading.includes(h) && states[h.workflowId] && isFailing(states[h.workflowId]!)).length;
    if (failed() + breaking > wave.maxFailedTargets && !run.fleetStop) run.fleetStop = { reason: pastBudget(failed() + breaking) };
  };
  let done = false;
  const all = Promise.all(wave.targets.map(one)).finally(() => {
    done = true;
  });
  let sent = JSON.stringify(ordersOf(run));
  let holds = run.holdsChanged;
  let wakeups = run.targetWakeups;
  try {
    while (!done) {
      await condition(
        () => done || run.promoteRequest !== undefined || (run.stopping() && !run.fleetStop) || JSON.stringify(ordersOf(run)) !== sent || run.holdsChanged !== holds || run.targetWakeups !== wakeups,
      );
      if (run.targetWakeups !== wakeups) {
        wakeups = run.targetWakeups;
        if (!run.fleetStop && running.size > 0) await countBreaking();
      }
      if (run.holdsChanged !== holds) {
        // The registry's wake-up (or an override), passed on: each target reads the freezes again at its boundary.
        holds = run.holdsChanged;
        await Promise.all([...running.values()].map((h) => h.signal(freezesChangedSignal).catch(() => undefined)));
      }
      takePromotion(run);
      if (run.stopping() && !run.fleetStop) run.fleetStop = { reason: run.abortRequest?.reason ?? run.alarm?.message ?? 'stopped', ...(run.abortRequest?.by ? { by: run.abortRequest.by } : {}) };
      const orders = JSON.stringify(ordersOf(run));
      if (orders === sent) continue;
      sent = orders;
      // Only a wake-up: each target reads the orders from the release's query.
      await wakeTargets(running.values());
    }
  } catch (e) {
    // Cancelled: the running targets are stopped, and waited for, before the release compensates.
    await CancellationScope.nonCancellable(async () => {
      run.fleetStop ??= { reason: 'the release was cancelled' };
      await wakeTargets(running.values());
      await all;
    });
    throw e;
  }
  await all;
  return { outcomes, unknown, baselines };
}

/** A promotion for the running targets: each takes it only in a bake. Noted with who asked. */
function takePromotion(run: ReleaseRun): void {
  const p = run.promoteRequest;
  if (!p) return;
  run.promoteRequest = undefined;
  run.promotions++;
  run.promotedBy = p.by;
  run.note(`promote${p.full ? ' --full' : ''} by ${p.by}`, StepStatus.DONE, p.full ? 'every remaining intermediate phase and wave bake skipped on every target' : 'the running targets\' current bakes end', { outsidePhase: true });
}

/**
 * A target's result. A child that failed without one (it should not) is marked unknown: what it
 * had started stays recorded, and the release treats it as changed.
 */
async function settle(handle: ChildWorkflowHandle<typeof targetWorkflow>, progress: TargetProgress): Promise<TargetResult | (TargetResult & { unknown: true })> {
  try {
    return await handle.result();
  } catch (e) {
    return {
      target: progress.name,
      outcome: Outcomes.ROLLBACK_FAILED,
      reason: `its workflow ${handle.workflowId} failed, its state unknown (a human must check it): ${failureMessage(e)}`,
      phases: progress.phases ?? {},
      started: progress.started ?? [],
      unknown: true,
    };
  }
}

function progressOf(run: ReleaseRun, name: string): TargetProgress {
  return run.status.fleet!.targets.find((t) => t.name === name)!;
}

function adopt(run: ReleaseRun, progress: TargetProgress, result: TargetResult): void {
  // The target's own overrides and waits, for the release's record and ledger: why it waited, and who broke a hold.
  for (const o of result.overrides ?? []) (run.status.overrides ??= []).push({ ...o, broke: `${result.target}: ${o.broke}` });
  for (const { phase: _phase, ...w } of result.waits ?? []) run.status.steps.push({ ...w, name: `${result.target}: ${w.name}` });
  progress.state = result.outcome;
  progress.phases = { ...progress.phases, ...result.phases };
  if (result.reason) progress.reason = result.reason;
  else delete progress.reason;
  // A rollback's result lists no phases started: what the rollout started stays.
  if (result.started.length > 0) progress.started = result.started;
  if (result.productionAt) progress.productionAt = result.productionAt;
  if (result.rollbackStartedAt) progress.rollbackStartedAt = result.rollbackStartedAt;
  if (result.rollbackEndedAt) progress.rollbackEndedAt = result.rollbackEndedAt;
}

/** What a target's child workflow is given: the release's input, policy and decision, with the target's phases of the plan. */
function targetInput(run: ReleaseRun, plan: ReleasePlan, name: string, mode: TargetInput['mode'], reason?: StopReason): TargetInput {
  const target = run.config.fleet.targets.find((t) => t.name === name)!;
  const progress = progressOf(run, name);
  return {
    mode,
    release: run.input,
    target,
    terms: run.terms!,
    decision: { ...run.decision!, plan: { ...plan, phases: targetPhases(plan) } },
    // Who wrote the change (four eyes on its sign-offs), not its files: the release judged those.
    ...(run.change ? { change: { ...run.change, files: [] } } : {}),
    promotions: run.promotions,
    fullPromotion: run.fullPromotion,
    ...(mode !== 'rollout' ? { started: progress.started ?? [] } : {}),
    // The release's own overrides (not its targets'): one that covers a target's hold breaks it too.
    ...(mode === 'rollout' && run.status.overrides?.some((o) => !o.target) ? { overrides: run.status.overrides.filter((o) => !o.target) } : {}),
    ...(mode === 'rollback' ? { reason: reason! } : {}),
  };
}

/** Each target runs the production phases; the merge and staging run once, in the release. */
export const targetPhases = (plan: ReleasePlan): Phase[] => plan.phases.filter((p) => p.stage.startsWith('production'));
export const releasePhases = (plan: ReleasePlan): Phase[] => plan.phases.filter((p) => !p.stage.startsWith('production'));

/**
 * The targets after the release stopped: those still running have rolled themselves back; those
 * that passed are rolled back, each in a child workflow of its own, or, when a wave failed and the
 * fleet holds, kept if a human says so. `kept` when they were kept; `changed` when any target was changed.
 */
export async function settleTargets(run: ReleaseRun, reason: StopReason): Promise<{ kept: boolean; changed: boolean; unrestored: string[] }> {
  const fleet = run.status.fleet!;
  const passed = fleet.targets.filter((t) => t.state === Outcomes.RELEASED);
  const changed = () => fleet.targets.some((t) => (t.started?.length ?? 0) > 0);
  const unrestored = () => fleet.targets.filter((t) => t.state === Outcomes.ROLLBACK_FAILED).map((t) => t.name);
  if (passed.length > 0 && reason.kind === StopKind.WAVE_FAILED && fleet.onWaveFailure === OnWaveFailure.HOLD) {
    // A wave that failed while watched raised the alarm: it is the stop reason now, and must not end the wait for the human.
    if (run.alarm?.message === reason.message) run.alarm = undefined;
    try {
      const names = passed.map((t) => t.name).join(', ');
      await awaitApproval(run, { kind: ApprovalKind.PHASE, phase: KEEP_TARGETS }, `${reason.message}. ${names} passed and hold ${run.version}: approve to keep them, reject to roll them back`);
      return { kept: true, changed: true, unrestored: unrestored() };
    } catch (e) {
      if (!(e instanceof StopRelease)) throw e;
      run.note(`keep ${passed.map((t) => t.name).join(', ')}`, StepStatus.FAILED, `${e.reason.message}: rolled back`, { outsidePhase: true });
    }
  }
  if (passed.length > 0) {
    run.setState(ReleaseState.ROLLING_BACK);
    run.rollbackStartedAt ??= now();
    const plan = run.decision!.plan!;
    await Promise.all(
      passed.map(async (progress) => {
        progress.state = 'rolling-back';
        const handle = await startChild<typeof targetWorkflow>('targetWorkflow', {
          workflowId: targetWorkflowId(run.releaseId, progress.name, 'rollback'),
          args: [targetInput(run, plan, progress.name, 'rollback', reason)],
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        });
        adopt(run, progress, await settle(handle, progress));
      }),
    );
  }
  // The time to restore runs from the failing wave's first rollback (or this one) to the last: a target rolled back within its budget in an earlier wave is not part of it.
  const last = Math.max(-1, ...fleet.targets.filter((t) => t.state !== 'waiting' && t.state !== Outcomes.NOT_STARTED).map((t) => t.wave));
  const rolledBack = fleet.targets.filter((t) => t.rollbackStartedAt && (t.wave === last || passed.includes(t) || fleet.stoppedBy?.includes(t.name)));
  if (rolledBack.length > 0) {
    run.rollbackStartedAt = [run.rollbackStartedAt, ...rolledBack.map((t) => t.rollbackStartedAt)].filter((t): t is string => t !== undefined).sort()[0];
    run.rollbackEndedAt = rolledBack.map((t) => t.rollbackEndedAt ?? now()).sort().at(-1);
  }
  return { kept: false, changed: changed(), unrestored: unrestored() };
}
