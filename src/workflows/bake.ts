import { CancellationScope, condition, isCancellation } from '@temporalio/workflow';
import type { MonitorResult } from '../activities/analysis';
import { forgive, type MetricState } from '../domain/analysis';
import { assessBake, BakeAction, bakeRound, longestInterval, phaseVerdict } from '../domain/bake';
import { ApprovalKind, ReleaseState, WaitReason } from '../domain/release';
import type { Phase } from '../domain/plan';
import { awaitApproval } from './approvals';
import { type ReleaseRun, StopRelease } from './run-state';
import { type MetricsHolder, watchWhile } from './watch';

/**
 * A durable wait after (or before) a phase's action. Pause stops the clock, promote ends the wait,
 * abort and broken metrics stop the release.
 */
export async function bake(run: ReleaseRun, name: string, ms: number, phase: Phase, analysed: boolean): Promise<void> {
  if (ms <= 0 || run.fullPromotion) return;
  const clock = new BakeClock(ms);
  const states: MetricsHolder = {};
  try {
    await run.step(name, () => (analysed ? monitoredBake(run, phase, clock, states) : timedBake(run, clock)), (d) => d);
  } finally {
    delete run.status.bakeEndsAt;
    delete run.status.bakeRemainingMs;
    if (states.current) {
      run.status.analysed.push({ phase: phase.id, verdict: phaseVerdict(states.current), metrics: states.current });
      delete run.status.analysis;
    }
  }
}

/**
 * The bake time left. A monitored bake's clock moves only by what its history holds (timers that
 * fired, the time a monitor call reports it measured), so that which calls follow never depends on
 * a worker's `Date.now()`: the SIGKILL fault test found a worker that had answered a query seeing
 * an older time for new events than a replay. A timed bake after a pause uses `Date.now()` for the
 * length of its one remaining timer, which no replay compares.
 */
class BakeClock {
  constructor(public remaining: number) {}
  private began = 0;

  start(): void {
    this.began = Date.now();
  }

  /** A timed bake's wait ended early (a pause): what is left, never used up unless a timer said so. */
  chargeWallTime(): void {
    this.charge(Date.now() - this.began);
  }

  /** Time that history vouches for, short of a fired timer: never used up by it. */
  charge(ms: number): void {
    this.remaining = Math.max(this.remaining - ms, 1);
  }

  /** A timer of `ms` fired. */
  fired(ms: number): void {
    this.remaining -= ms;
  }
}

/**
 * What a human asked, checked at the top of every round: abort stops the release, promote ends the
 * bake, pause waits (while the checks, in a monitored bake, keep measuring). Returns the bake's
 * result when it ends here; `waited` after a pause.
 */
async function answerPeople(run: ReleaseRun, clock: BakeClock, watched?: { phase: Phase; metrics: MetricsHolder }): Promise<{ ended: string } | 'waited' | undefined> {
  run.throwIfAborted();
  if (run.promoteRequest) {
    const { by } = run.promoteRequest;
    run.promoteRequest = undefined;
    return { ended: `promoted by ${by}` };
  }
  if (!run.status.paused) {
    run.setState(ReleaseState.BAKING);
    delete run.status.bakeRemainingMs;
    run.status.bakeEndsAt = new Date(Date.now() + Math.max(clock.remaining, 0)).toISOString();
    clock.start();
    return undefined;
  }
  run.setState(ReleaseState.PAUSED);
  run.status.bakeRemainingMs = Math.max(clock.remaining, 0);
  delete run.status.bakeEndsAt;
  await watchWhile(run, watched?.phase, watched?.metrics ?? {}, WaitReason.PAUSE, () => condition(() => !run.status.paused || run.stopping() || run.promoteRequest !== undefined));
  return 'waited';
}

/** A bake of time alone: staging, and phases with no metric checks. */
async function timedBake(run: ReleaseRun, clock: BakeClock): Promise<string> {
  for (;;) {
    const answered = await answerPeople(run, clock);
    if (answered === 'waited') continue;
    if (answered) return answered.ended;
    if (!(await condition(() => run.interrupted(), clock.remaining))) return '';
    clock.chargeWallTime();
  }
}

/**
 * A bake watched through the metrics, one monitor report at a time. Each report is judged by the
 * pure `assessBake`: roll back, ask a human, done, or measure on. Past the bake time it keeps
 * measuring until every acting metric passes or a limit breaks.
 */
async function monitoredBake(run: ReleaseRun, phase: Phase, clock: BakeClock, states: MetricsHolder): Promise<string> {
  const longest = longestInterval(run.analysisFor(phase));
  let inconclusiveRounds = 0;
  for (;;) {
    const answered = await answerPeople(run, clock, { phase, metrics: states });
    if (answered === 'waited') continue;
    if (answered) return answered.ended;
    const round = bakeRound(clock.remaining, longest);
    const report = await monitorRound(run, phase, round, clock, states.current);
    if (!report) continue;
    states.current = report.states;
    const decision = assessBake(report, clock.remaining, run.config.analysis.onError);
    run.status.analysis = { phase: phase.id, verdict: report.verdict.verdict, metrics: report.states };
    switch (decision.action) {
      case BakeAction.ROLL_BACK:
        throw new StopRelease(decision.stop);
      case BakeAction.ASK_HUMAN: {
        // Each such reading asks again; an approval covers only its own. The checks measure on meanwhile.
        inconclusiveRounds++;
        const target = { kind: ApprovalKind.ANALYSIS, phase: phase.id, round: inconclusiveRounds } as const;
        await watchWhile(run, phase, states, WaitReason.APPROVAL, () => awaitApproval(run, target, decision.reason, run.config.analysis.inconclusiveTimeout));
        states.current = states.current!.map(forgive);
        break;
      }
      case BakeAction.DONE:
        return decision.summary;
      case BakeAction.CONTINUE:
        break;
    }
  }
}

/**
 * One monitor call, raced against what people ask: its report, or undefined when a person
 * interrupted it first (the call is then cancelled) or it was cancelled. Advances the clock.
 */
async function monitorRound(
  run: ReleaseRun,
  phase: Phase,
  round: { runForMs: number; untilStable: boolean },
  clock: BakeClock,
  states: MetricState[] | undefined,
): Promise<MonitorResult | undefined> {
  let settled: { result: MonitorResult } | { failure: unknown } | undefined;
  const scope = new CancellationScope();
  scope
    .run(() =>
      run.acts.monitor.monitorPhase({
        runKey: run.runKey,
        outDir: run.outDir,
        phase: phase.id,
        vars: run.queryVars(phase),
        analysis: run.analysisFor(phase),
        subject: 'canary',
        baseline: run.baseline,
        ...(states ? { states } : {}),
        runForMs: round.runForMs,
        untilStable: round.untilStable,
      }),
    )
    .then(
      (result) => void (settled = { result }),
      (failure) => void (settled = { failure }),
    );
  const decided = () =>
    settled !== undefined && ('failure' in settled || settled.result.verdict.verdict !== 'running' || (clock.remaining <= 0 && settled.result.stable));
  const timedOut = !(await condition(() => run.interrupted() || decided(), round.runForMs));
  if (!run.interrupted()) await condition(() => run.interrupted() || settled !== undefined);
  if (timedOut) clock.fired(round.runForMs);
  // Cut short by a verdict: charge what the monitor measured. Cut short by a person (a pause): not
  // charged; after the resume the round is measured again in full, at most one report longer.
  else if (settled && 'result' in settled && clock.remaining > 0) clock.charge(settled.result.elapsedMs);
  if (!settled) {
    scope.cancel();
    return undefined;
  }
  if ('failure' in settled) {
    if (isCancellation(settled.failure)) return undefined;
    throw settled.failure;
  }
  return settled.result;
}
