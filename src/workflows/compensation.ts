import { condition } from '@temporalio/workflow';
import { formatDuration } from '../domain/duration';
import { Outcome } from '../domain/enums';
import { rollbackTargets, type Phase, verificationUrl } from '../domain/plan';
import { ReleaseState, type ReleaseResult, StepStatus, type StopReason } from '../domain/release';
import { appendNotes, finish } from './closing';
import { writeRecord } from './decision-record';
import { notify } from './notifications';
import { smokeTest, undoPhase } from './phases';
import { fleetProductionAt, settleTargets } from './waves';
import { failureMessage, now, type ReleaseRun } from './run-state';

/**
 * Ends a release that stopped early: aborted if nothing was changed, else rolled back. A rollback
 * that fails keeps every piece of state and waits for a human (the spec's contingency): retry it,
 * or record that the release was restored by hand. It never ends silently.
 */
export async function compensate(run: ReleaseRun, reason: StopReason): Promise<ReleaseResult> {
  const toUndo = rollbackTargets(run.started);
  // A fleet's targets first (production), then what the release itself changed (staging).
  const targets = run.status.fleet ? await settleTargets(run, reason) : { kept: false, changed: false, unrestored: [] };
  run.productionAt ??= fleetProductionAt(run);
  if (targets.kept) return finish(run, Outcome.PARTIALLY_RELEASED, reason);
  // A target whose state is unknown is left for a human (`status` names it); the release says so.
  const unrestored = targets.unrestored.length > 0 ? { ...reason, message: `${reason.message}; ${targets.unrestored.join(', ')} could not be restored: a human must check ${targets.unrestored.length > 1 ? 'them' : 'it'}` } : undefined;
  if (toUndo.length === 0) return finish(run, unrestored ? Outcome.ROLLBACK_FAILED : targets.changed ? Outcome.ROLLED_BACK : Outcome.ABORTED, unrestored ?? reason);
  if (await rollback(run, toUndo, reason)) return finish(run, unrestored ? Outcome.ROLLBACK_FAILED : Outcome.ROLLED_BACK, unrestored ?? reason);
  const failed = `${reason.message}; the rollback failed too: a human must restore the release`;
  for (let round = 1; ; round++) {
    run.setState(ReleaseState.NEEDS_HUMAN);
    run.status.needsHuman = {
      reason: failed,
      since: now(),
      options: [`rollgate resolve ${run.steeringId} --retry --by NAME --reason TEXT`, `rollgate resolve ${run.steeringId} --restored --by NAME --reason TEXT`],
    };
    await notify(
      run,
      'rollback-failed',
      `URGENT: the rollback of ${run.input.service} ${run.version} failed`,
      `${failed}.\nEverything is kept; the release waits for a human: \`rollgate resolve ${run.steeringId} --retry\` or \`--restored\`.`,
      // Each round is told; the page stays one incident until a human resolves it.
      { urgent: true, key: `rollback-failed-${round}`, page: { action: 'trigger', incident: 'rollback-failed', severity: 'critical' } },
    );
    await writeRecord(run, { outcome: Outcome.ROLLBACK_FAILED, reason: { ...reason, message: `${failed}; waiting for a human decision` } });
    // The spec's "if deployment fails, update NOTES.md": now, not once a human has resolved it, days later maybe.
    if (round === 1) await appendNotes(run, Outcome.ROLLBACK_FAILED, { ...reason, message: failed }, '#rollback-failed').catch((e: unknown) => run.note('notes', StepStatus.FAILED, failureMessage(e), { outsidePhase: true }));
    await condition(() => run.resolution !== undefined);
    const r = run.resolution!;
    run.resolution = undefined;
    delete run.status.needsHuman;
    run.note(`resolved by ${r.by}: ${r.action}`, StepStatus.DONE, r.reason);
    await notify(run, 'rollback-resolved', `Resolved: ${run.input.service} ${run.version}`, `${r.by}: ${r.action}.`, {
      key: `rollback-resolved-${round}`,
      page: { action: 'resolve', incident: 'rollback-failed' },
    });
    if (r.action === 'restored') {
      run.rollbackEndedAt = now();
      return finish(run, Outcome.ROLLED_BACK, { ...reason, message: `${reason.message}; the rollback failed and ${r.by} restored the release by hand: ${r.reason}` });
    }
    if (await rollback(run, toUndo, reason)) return finish(run, Outcome.ROLLED_BACK, { ...reason, message: `${reason.message}; the rollback succeeded when ${r.by} retried it` });
  }
}

/** Undoes the phases (most recent first), smoke-tests each, and verifies the broken metrics. True when it all held. */
async function rollback(run: ReleaseRun, phases: Phase[], reason: StopReason): Promise<boolean> {
  run.setState(ReleaseState.ROLLING_BACK);
  if (!run.rollbackStartedAt)
    await notify(run, 'rollback', `Rolling back ${run.input.service} ${run.version}`, `${reason.message}.\nRolling back ${phases.map((p) => p.stage).join(', ')} to ${run.previousVersion}.`);
  run.rollbackStartedAt ??= now();
  try {
    for (const phase of phases) {
      await undoPhase(run, phase);
      await smokeTest(run, phase, `verify ${phase.stage}: smoke test`, verificationUrl(phase, run.config));
    }
    // A judge weighs the canary against stable: with the canary gone there is nothing left for it to verify.
    const broken = (reason.brokenMetrics ?? []).filter((name) => !run.metrics.find((m) => m.name === name)?.judge);
    if (broken.length > 0 && run.config.analysis.verifyWindow > 0) await verifyMetrics(run, broken);
    return true;
  } catch {
    return false;
  } finally {
    run.rollbackEndedAt = now();
  }
}

/** The metrics that broke must come back within their thresholds, measured on the stable version, within the window. */
async function verifyMetrics(run: ReleaseRun, names: string[]): Promise<void> {
  const { analysis } = run.config;
  run.setState(ReleaseState.VERIFYING_ROLLBACK);
  // Failures while the old readings age out of the query windows are expected: no limits here.
  const lenient = run.metrics
    .filter((m) => names.includes(m.name))
    .map((m) => ({ ...m, dryRun: false, initialDelay: 0, count: undefined, failureLimit: 1e9, inconclusiveLimit: 1e9, consecutiveErrorLimit: 1e9 }));
  const phase = { id: 'rollback-verification', stage: 'production' };
  await run.step(
    `verify rollback: ${names.join(', ')}`,
    async () => {
      const r = await run.acts.verify.monitorPhase({
        runKey: run.runKey,
        outDir: run.outDir,
        phase: phase.id,
        vars: run.queryVars(phase),
        analysis: { ...analysis, metrics: lenient },
        subject: 'stable',
        baseline: run.baseline,
        runForMs: analysis.verifyWindow,
        untilStable: true,
      });
      run.status.analysed.push({ phase: phase.id, verdict: r.stable ? 'passed' : 'broken', metrics: r.states });
      if (!r.stable)
        throw new Error(`${names.join(', ')} not back within thresholds after ${formatDuration(analysis.verifyWindow)}: ${r.states.map((x) => x.last?.message ?? x.last?.verdict ?? 'not measured').join('; ')}`);
      return r.states.map((x) => `${x.metric} ${x.last?.value ?? ''}`).join(', ');
    },
    (d) => d,
  );
}
