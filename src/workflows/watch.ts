import { CancellationScope, isCancellation, sleep } from '@temporalio/workflow';
import type { MetricState } from '../domain/analysis';
import { assessWatch, longestInterval, phaseVerdict, watchRound } from '../domain/bake';
import { isAnalysed, type Phase } from '../domain/plan';
import { StopKind, type StopReason, WaitReason } from '../domain/release';
import { notify } from './notifications';
import { failureMessage, now, type ReleaseRun } from './run-state';

/** Where a phase's metrics stand; a watch moves it on with every report, even when its wait throws. */
export interface MetricsHolder {
  current?: MetricState[];
}

/**
 * Runs `wait`, a wait for a human, while the checks of `phase`, whose canary is live, keep
 * measuring from `metrics`. A break that would roll a bake back sets `run.alarm`, which ends every
 * wait for a human and stops the release (a manual pause may be configured to only notify).
 */
export async function watchWhile<T>(run: ReleaseRun, phase: Phase | undefined, metrics: MetricsHolder, reason: WaitReason, wait: () => Promise<T>): Promise<T> {
  if (!phase || run.metrics.length === 0) return wait();
  let held: StopReason | undefined;
  run.status.watching = { phase: phase.id, reason, since: now(), readings: 0 };
  const scope = new CancellationScope();
  const watching = scope
    .run(() => watchLoop(run, phase, reason, metrics))
    .then(
      (found) => void (held = found),
      (e: unknown) => {
        if (!isCancellation(e)) run.alarm ??= { kind: StopKind.STEP_FAILED, message: `watching ${phase.id} during a wait failed: ${failureMessage(e)}` };
      },
    );
  try {
    const value = await wait();
    // A break held back during a pause stands when the release resumes; a promotion overrides it.
    if (held && !run.promoteRequest) run.alarm ??= held;
    return value;
  } finally {
    scope.cancel();
    await watching;
    delete run.status.watching;
  }
}

/**
 * `watchWhile` for a wait between phases: it watches the last phase that went live, if analysed,
 * from where its bake left its metrics, and files the readings of the wait under that phase.
 */
export async function watchLive<T>(run: ReleaseRun, reason: WaitReason, wait: () => Promise<T>): Promise<T> {
  const last = run.started.at(-1);
  const phase = last && isAnalysed(last) ? last : undefined;
  const analysed = phase && [...run.status.analysed].reverse().find((a) => a.phase === phase.id);
  const metrics: MetricsHolder = analysed ? { current: analysed.metrics } : {};
  try {
    return await watchWhile(run, phase, metrics, reason, wait);
  } finally {
    if (phase && metrics.current) {
      const filed = { phase: phase.id, verdict: phaseVerdict(metrics.current), metrics: metrics.current };
      if (analysed) Object.assign(analysed, filed);
      else run.status.analysed.push(filed);
      delete run.status.analysis;
    }
  }
}

/** Measures until a break: it raises the alarm, or, during a pause that only notifies, is returned. */
async function watchLoop(run: ReleaseRun, phase: Phase, reason: WaitReason, metrics: MetricsHolder): Promise<StopReason | undefined> {
  const { analysis } = run.config;
  const round = watchRound(longestInterval(analysis));
  for (;;) {
    const states = metrics.current;
    const began = Date.now();
    const result = await run.acts.monitor.monitorPhase({
      runKey: run.runKey,
      outDir: run.input.outDir,
      phase: phase.id,
      vars: run.queryVars(phase),
      analysis,
      subject: 'canary',
      baseline: run.baseline,
      ...(states ? { states } : {}),
      runForMs: round,
      watch: true,
    });
    metrics.current = result.states;
    run.status.analysis = { phase: phase.id, verdict: result.verdict.verdict, metrics: result.states };
    if (run.status.watching) run.status.watching.readings += result.measured;
    const stop = assessWatch(result, analysis.onError);
    if (stop) {
      if (reason === WaitReason.PAUSE && analysis.onFailureWhilePaused === 'notify') {
        await notify(run, 'analysis-failed-while-paused', `${run.input.service} ${run.version}: ${stop.message}`, `While paused: ${stop.message}. The release rolls back when it resumes; abort, or promote during a bake, instead.`, {
          urgent: true,
          key: `paused-failure-${phase.id}`,
        });
        return stop;
      }
      run.alarm = stop;
      return undefined;
    }
    // A report that came back early without a break (a fake monitor): measure no faster than a round.
    const left = round - (Date.now() - began);
    if (left > 0) await sleep(left);
  }
}
