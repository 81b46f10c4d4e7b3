import type { StepInput } from '../activities';
import { commandFor, FLAG_ROLLBACK_STEP, ROLLBACK, rollbackStep, stepVars } from '../domain/command';
import { formatDuration } from '../domain/duration';
import { isAnalysed, isIntermediate, type Phase, PhaseAction } from '../domain/plan';
import { ApprovalKind, ReleaseState, StepStatus, WaitReason } from '../domain/release';
import { awaitApproval } from './approvals';
import { bake } from './bake';
import { waitToStart } from './holds';
import { notify } from './notifications';
import { now, type ReleaseRun } from './run-state';
import { watchLive } from './watch';

/** One phase of the plan: its sign-off, its hold, its action (and smoke test), its bake. */
export async function runPhase(run: ReleaseRun, phase: Phase): Promise<void> {
  await run.inPhase(phase, async () => {
    if (skippedByPromotion(run, phase)) return;
    const analysed = run.metricsFor(phase).length > 0 && isAnalysed(phase);
    const owed = run.owedSignOffs.splice(0);
    if (phase.approval || owed.length > 0) {
      const skipped = owed.length > 0 ? `the sign-off of ${owed.join(', ')}, skipped by promote --full` : '';
      const why = `${phase.title} needs ${phase.approval ? `a human approval${skipped ? ` and ${skipped}` : ''}` : skipped}`;
      await watchLive(run, WaitReason.APPROVAL, () => awaitApproval(run, { kind: ApprovalKind.PHASE, phase: phase.id }, why));
    }
    await bake(run, `${phase.id}: rollback window`, phase.holdMs, phase, analysed);
    run.throwIfAborted();
    await waitToStart(run, phase);
    // A full promotion sent during the hold, a pause or a window wait skips this phase too.
    if (skippedByPromotion(run, phase)) return;
    await applyPhase(run, phase);
    run.throwIfAborted();
    await bake(run, `${phase.id}: bake ${formatDuration(phase.bakeMs)}`, phase.bakeMs, phase, analysed);
    const where = `${phase.action} ${phase.stage}${phase.weight < 100 && phase.action !== PhaseAction.MERGE ? ` at ${phase.weight}%` : ''}`;
    await notify(run, 'phase-done', `${run.input.service} ${run.version}: ${phase.title} done`, `${phase.title}: ${where} is done${phase.bakeMs ? ' and its bake passed' : ''}.`, {
      key: `phase-done-${phase.id}`,
    });
  });
}

/** After `promote --full` an intermediate phase is skipped, never its sign-off: the next phase that runs asks for it. */
function skippedByPromotion(run: ReleaseRun, phase: Phase): boolean {
  if (!run.fullPromotion || !isIntermediate(phase)) return false;
  if (phase.approval) run.owedSignOffs.push(phase.title);
  run.note(`${phase.id}: skipped (promoted to 100%)${phase.approval ? '; its sign-off moves to the next phase' : ''}`, StepStatus.DONE);
  return true;
}

/** The phase's action on the target, then its smoke test. */
async function applyPhase(run: ReleaseRun, phase: Phase): Promise<void> {
  run.setState(ReleaseState.DEPLOYING);
  // Counted before the call: a step that failed halfway may have changed the target.
  run.started.push(phase);
  const label = `${phase.id}: ${phase.action} ${phase.stage}${phase.weight < 100 && phase.action !== PhaseAction.MERGE ? ` ${phase.weight}%` : ''}`;
  const { featureFlag } = run.config;
  if (phase.action === PhaseAction.ENABLE_FLAG && featureFlag.provider === 'flagd')
    await run.step(label, () => run.acts.quick.setFlag(flagInput(run, phase.weight)), (r) => (r.changed ? `${featureFlag.flag} on for ${phase.weight}%` : 'already set'));
  else await run.step(label, () => run.acts.targets.deploy(stepInput(run, phase, phase.action, phase.id)), (r) => (r.skipped ? 'already applied (idempotency key)' : `${r.durationMs} ms`));
  await smokeTest(run, phase, `${phase.id}: smoke test`);
  if (!run.productionAt && phase.stage.startsWith('production') && phase.weight === 100 && phase.action !== PhaseAction.RETIRE) run.productionAt = now();
}

export async function smokeTest(run: ReleaseRun, phase: Phase, name: string, url = phase.smokeUrl): Promise<void> {
  if (url) await run.step(name, () => run.acts.smoke.smokeTest({ url }), (d) => d);
}

/** Undoes one phase: the flag off for a flag rollout, else the rollback command for its stage. */
export async function undoPhase(run: ReleaseRun, phase: Phase): Promise<void> {
  const { featureFlag } = run.config;
  if (phase.action !== PhaseAction.ENABLE_FLAG) {
    await run.step(`rollback ${phase.stage}`, () => run.acts.targets.rollback(stepInput(run, phase, ROLLBACK, rollbackStep(phase.stage))));
    return;
  }
  if (featureFlag.provider === 'flagd') await run.step('rollback: flag off', () => run.acts.quick.setFlag(flagInput(run, 0)), () => `${featureFlag.flag} off`);
  else await run.step('rollback: flag off', () => run.acts.targets.rollback(stepInput(run, { ...phase, weight: 0 }, PhaseAction.DISABLE_FLAG, FLAG_ROLLBACK_STEP)));
}

const flagInput = (run: ReleaseRun, percentage: number) => ({
  flag: run.config.featureFlag.flag!,
  percentage,
  file: run.config.featureFlag.file!,
  // Relative to the repository (anchored when the policy was read), or the worker policy's own absolute path.
  cwd: run.input.repo,
});

function stepInput(run: ReleaseRun, phase: Phase, action: string, step: string): StepInput {
  const { deploy } = run.config;
  return {
    ...(deploy.provider === 'webhook' ? { target: { provider: 'webhook' as const, ...deploy.webhook } } : {}),
    command: commandFor(action, deploy),
    cwd: deploy.cwd ?? run.input.repo,
    timeoutMs: deploy.timeout,
    outDir: run.outDir,
    ...stepVars(phase, action, step, run.ref),
  };
}
