import { CancellationScope, isCancellation, sleep } from '@temporalio/workflow';
import type { MetricState } from '../domain/analysis';
import { assessWatch, longestInterval, phaseVerdict, watchRound } from '../domain/bake';
import { isAnalysed, type Phase, PhaseAction } from '../domain/plan';
import { type ReleaseStatus, StopKind, type StopReason, WaitReason } from '../domain/release';
import { notify } from './notifications';
import { failureMessage, now, type ReleaseRun } from './run-state';

/** Where a phase's metrics stand; a watch moves it on with every report, even when its wait throws. */
export interface MetricsHolder {
  current?: MetricState[];
}

/**
 * Runs `wait`, a wait for a human, while the checks of `phase`, whose canary is live, keep
 * measuring from `metrics` (filed under `label`). A break that would roll a bake back sets
 * `run.alarm`, which ends every wait for a human and stops the release; during a manual pause set
 * to only notify, people are told and the break stands once the release resumes.
 */
export async function watchWhile<T>(run: ReleaseRun, phase: Phase | undefined, metrics: MetricsHolder, reason: WaitReason, wait: () => Promise<T>, label = phase?.id): Promise<T> {
  if (!phase || !label || run.metricsFor(phase).length === 0) return wait();
  let held: StopReason | undefined;
  const watching = (run.status.watching = { phase: label, reason, since: now(), readings: 0 } as NonNullable<ReleaseStatus['watching']>);
  const scope = new CancellationScope();
  const watched = scope.run(() => watchLoop(run, phase, label, metrics)).then(
    (found) => {
      if (!found) return;
      if (reason === WaitReason.PAUSE && run.config.analysis.onFailureWhilePaused === 'notify') {
        held = found;
        watching.held = found.message;
        // Outside the watch's scope: the end of the wait does not cancel the message.
        void notify(run, 'analysis-failed-while-paused', `${run.input.service} ${run.version}: ${found.message}`, `While paused: ${found.message}. The release rolls back when it resumes; abort, or promote during a bake, instead.`, {
          urgent: true,
          key: `paused-failure-${label}`,
        });
      } else run.alarm ??= found;
    },
    (e: unknown) => {
      if (!isCancellation(e)) run.alarm ??= { kind: StopKind.STEP_FAILED, message: `watching ${label} during a wait failed: ${failureMessage(e)}` };
    },
  );
  const stopWatching = async () => {
    scope.cancel();
    await watched;
    delete run.status.watching;
  };
  try {
    const value = await wait();
    await stopWatching();
    // A break held back during a pause stands when the release resumes; a promotion overrides it.
    if (held && !run.promoteRequest) run.alarm ??= held;
    return value;
  } finally {
    await stopWatching();
  }
}

/**
 * `watchWhile` for a wait between phases: it watches the last phase that went live, when it takes
 * traffic and is analysed, and files the readings of the wait on their own ("<phase> (approval)").
 */
export async function watchLive<T>(run: ReleaseRun, reason: WaitReason, wait: () => Promise<T>): Promise<T> {
  const live = livePhase(run, run.started);
  const label = live && `${live.id} (${reason})`;
  const metrics: MetricsHolder = {};
  try {
    return await watchWhile(run, live, metrics, reason, wait, label);
  } finally {
    if (label && metrics.current) {
      run.status.analysed.push({ phase: label, verdict: phaseVerdict(metrics.current), metrics: metrics.current });
      delete run.status.analysis;
    }
  }
}

/**
 * What a wait watches: the last phase of `started` that put the new version live (a retire of the
 * old one changes no traffic), when it takes traffic and has checks that can measure it.
 */
export function livePhase(run: ReleaseRun, started: readonly Phase[]): Phase | undefined {
  const last = started.filter((p) => p.action !== PhaseAction.RETIRE).at(-1);
  return last && isAnalysed(last) && last.weight > 0 && run.metricsFor(last).length > 0 ? last : undefined;
}

/** Measures until a check breaks, and returns the break; cancelled when the wait ends first. */
async function watchLoop(run: ReleaseRun, phase: Phase, label: string, metrics: MetricsHolder): Promise<StopReason> {
  const analysis = run.analysisFor(phase);
  const round = watchRound(longestInterval(analysis));
  for (;;) {
    const states = metrics.current;
    const result = await run.acts.monitor.monitorPhase({
      runKey: run.runKey,
      outDir: run.outDir,
      phase: label,
      vars: run.queryVars(phase),
      analysis,
      subject: 'canary',
      baseline: run.baseline,
      ...(states ? { states } : {}),
      runForMs: round,
      watch: true,
    });
    metrics.current = result.states;
    run.status.analysis = { phase: label, verdict: result.verdict.verdict, metrics: result.states };
    if (run.status.watching) run.status.watching.readings += result.measured;
    const stop = assessWatch(result, analysis.onError);
    if (stop) return stop;
    // A report that came back early without a break (a fake monitor): no faster than a round. The
    // time is what the monitor measured, as history holds it, never this worker's clock.
    if (result.elapsedMs < round) await sleep(round - result.elapsedMs);
  }
}
