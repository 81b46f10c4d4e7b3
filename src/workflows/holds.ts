import { CancellationScope, condition, getExternalWorkflowHandle, setHandler, workflowInfo } from '@temporalio/workflow';
import { describeFreeze, freezesHolding } from '../domain/freezes';
import type { Phase } from '../domain/plan';
import { ReleaseState, StepStatus, StopKind, WaitReason } from '../domain/release';
import { FREEZE_REGISTRY_ID, freezesSignal, subscribeFreezesSignal, unsubscribeFreezesSignal } from './messages';
import { type ReleaseRun, StopRelease } from './run-state';
import { watchLive } from './watch';

/**
 * What keeps a phase from starting: a pause, the deployment windows, a freeze of the service. Each
 * wait happens at a phase boundary, never mid-phase, with the phase that went live last watched;
 * after any of them all are checked again. A signed override breaks a window or a freeze.
 */
export async function waitToStart(run: ReleaseRun, phase: Phase): Promise<void> {
  for (;;) {
    if (run.status.paused) await waitWhilePaused(run);
    if (!(await windowOpen(run, phase))) continue;
    if (await unfrozen(run, phase)) return;
  }
}

/** A pause between phases: the phase that went live last is watched meanwhile. */
export async function waitWhilePaused(run: ReleaseRun): Promise<void> {
  run.setState(ReleaseState.PAUSED);
  await watchLive(run, WaitReason.PAUSE, () => condition(() => !run.status.paused || run.stopping()));
  run.throwIfAborted();
}

/** What ends a hold early: an abort, a pause, a change of freezes, an override. */
const wakes = (run: ReleaseRun) => {
  const seen = run.holdsChanged;
  return () => run.stopping() || run.status.paused !== undefined || run.holdsChanged !== seen;
};

/**
 * A phase starts only inside the deployment windows. Outside, the release waits until one opens,
 * or an override breaks the closed time. The windows are read by a local activity (time zones
 * are the runtime's data), so history keeps the answer. False when it waited: the caller asks again.
 */
async function windowOpen(run: ReleaseRun, phase: Phase): Promise<boolean> {
  const { windows } = run.config;
  if (windows.allow.length + windows.deny.length === 0) return true;
  const state = await run.acts.local.windowState({ windows, at: Date.now() });
  if (state.open) return true;
  const override = run.status.overrides?.find((o) => o.windowUntil !== undefined && state.opensAt !== undefined && Date.parse(o.windowUntil) >= state.opensAt);
  if (override) {
    run.note(`${phase.id}: deployment window`, StepStatus.DONE, `${state.reason}; overridden by ${override.by}: ${override.reason}`);
    return true;
  }
  if (state.opensAt === undefined) throw new StopRelease({ kind: StopKind.STEP_FAILED, message: `${phase.title}: ${state.reason}` });
  const opensAt = state.opensAt;
  run.status.window = { reason: state.reason, opensAt: new Date(opensAt).toISOString() };
  run.setState(ReleaseState.WAITING_FOR_WINDOW);
  try {
    const woken = wakes(run);
    await run.step(`${phase.id}: deployment window`, () => watchLive(run, WaitReason.WINDOW, () => condition(woken, Math.max(1, opensAt - Date.now()))), () => state.reason);
  } finally {
    delete run.status.window;
  }
  run.throwIfAborted();
  return false;
}

/** How long a release waits for the registry's first answer before it takes the freezes as none. */
const FIRST_ANSWER_MS = 60_000;

/** The freezes that hold this release now, those broken by an override left out. */
export function heldBy(run: ReleaseRun): ReturnType<typeof freezesHolding> {
  const broken = new Set((run.status.overrides ?? []).flatMap((o) => o.freezes ?? []));
  return freezesHolding(run.freezes ?? [], run.input.service, Date.now()).filter((f) => !broken.has(f.id));
}

/** No freeze holds the service (or an override broke those that do); else it waits. False when it waited. */
async function unfrozen(run: ReleaseRun, phase: Phase): Promise<boolean> {
  if (run.freezes === undefined && !(await condition(() => run.freezes !== undefined, FIRST_ANSWER_MS))) {
    run.freezes = [];
    run.note(`${phase.id}: freezes`, StepStatus.DONE, `the freeze registry did not answer within ${FIRST_ANSWER_MS / 1000} s: no freeze is known`);
  }
  const holding = heldBy(run);
  if (holding.length === 0) {
    const broken = freezesHolding(run.freezes ?? [], run.input.service, Date.now());
    if (broken.length) run.note(`${phase.id}: freeze`, StepStatus.DONE, `${broken.map((f) => f.id).join(', ')} overridden by ${run.status.overrides!.filter((o) => o.freezes?.length).map((o) => `${o.by}: ${o.reason}`).join('; ')}`);
    return true;
  }
  run.setState(ReleaseState.FROZEN);
  const endsAt = Math.min(...holding.map((f) => Date.parse(f.until)));
  const woken = wakes(run);
  await run.step(`${phase.id}: freeze`, () => watchLive(run, WaitReason.FREEZE, () => condition(woken, Math.max(1, endsAt - Date.now()))), () => `frozen: ${holding.map(describeFreeze).join('; ')}`);
  run.throwIfAborted();
  return false;
}

/**
 * Asks the namespace's freeze registry to push this release the freezes of its service, now and
 * whenever they change. Without a registry (no freeze was ever set) nothing is frozen.
 */
export async function subscribeToFreezes(run: ReleaseRun): Promise<void> {
  setHandler(freezesSignal, (freezes) => {
    run.freezes = freezes;
    run.status.freezes = freezes;
    run.holdsChanged++;
  });
  try {
    await getExternalWorkflowHandle(FREEZE_REGISTRY_ID).signal(subscribeFreezesSignal, { workflowId: workflowInfo().workflowId, service: run.input.service });
  } catch {
    run.freezes ??= [];
  }
}

/** The end of the release: the registry stops pushing to it. Whatever happens, the release has ended. */
export async function unsubscribeFromFreezes(): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    try {
      await getExternalWorkflowHandle(FREEZE_REGISTRY_ID).signal(unsubscribeFreezesSignal, { workflowId: workflowInfo().workflowId });
    } catch {
      // No registry, or it went: nothing to stop.
    }
  });
}
