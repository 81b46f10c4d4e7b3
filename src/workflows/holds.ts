import { CancellationScope, condition, getExternalWorkflowHandle, setHandler, workflowInfo } from '@temporalio/workflow';
import { describeFreeze, type Freeze, freezeKey } from '../domain/freezes';
import type { Phase } from '../domain/plan';
import { type Override, ReleaseState, StepStatus, StopKind, WaitReason } from '../domain/release';
import { FREEZE_REGISTRY_ID, freezesChangedSignal, subscribeFreezesSignal, unsubscribeFreezesSignal } from './messages';
import { failureMessage, type ReleaseRun, StopRelease } from './run-state';
import { watchLive } from './watch';

/** The steps of a wait at a phase boundary (`<phase>: deployment window`): what a fleet's release copies from its targets. */
export const WINDOW_STEP = ': deployment window';
export const FREEZE_STEP = ': freeze';

/**
 * What keeps a phase from starting: a pause, the deployment windows, a freeze of the service. Each
 * wait happens at a phase boundary, never mid-phase, with the phase that went live last watched;
 * after any of them all are checked again, and a pause or an abort that came meanwhile is taken
 * before the phase starts. A signed override breaks a window or a freeze.
 */
export async function waitToStart(run: ReleaseRun, phase: Phase): Promise<void> {
  for (;;) {
    if (run.status.paused) await waitWhilePaused(run);
    if (!(await windowOpen(run, phase))) continue;
    if (!(await unfrozen(run, phase))) continue;
    run.throwIfAborted();
    if (!run.status.paused) return;
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
    run.note(`${phase.id}${WINDOW_STEP}`, StepStatus.DONE, `${state.reason}; overridden by ${override.by}: ${override.reason}`);
    return true;
  }
  if (state.opensAt === undefined) throw new StopRelease({ kind: StopKind.STEP_FAILED, message: `${phase.title}: ${state.reason}` });
  const opensAt = state.opensAt;
  run.status.window = { reason: state.reason, opensAt: new Date(opensAt).toISOString() };
  run.status.hold = { kind: 'window', target: `window until ${run.status.window.opensAt}` };
  run.setState(ReleaseState.WAITING_FOR_WINDOW);
  try {
    const woken = wakes(run);
    await run.step(`${phase.id}${WINDOW_STEP}`, () => watchLive(run, WaitReason.WINDOW, () => condition(woken, Math.max(1, opensAt - Date.now()))), () => state.reason);
  } finally {
    delete run.status.window;
    delete run.status.hold;
  }
  run.throwIfAborted();
  return false;
}

/** How long a release that cannot read the freezes waits before it asks again. */
const UNREADABLE_RETRY_MS = 60_000;
/** What an override of an unreadable registry breaks. */
const UNREADABLE = 'freeze registry unreachable';

/** The freezes among `freezes` that an override of this release has broken. */
const overridden = (run: ReleaseRun) => new Set((run.status.overrides ?? []).flatMap((o) => o.freezes ?? []));

/**
 * No freeze holds the service (or an override broke those that do); else it waits. The freezes
 * come from the registry's own state, read by a local activity at each boundary, so the answer is
 * in history and no message can change it; the registry's push only wakes the wait. A registry
 * that cannot be read holds the release (overridable), never lets it through. False when it waited.
 */
async function unfrozen(run: ReleaseRun, phase: Phase): Promise<boolean> {
  let holding: Freeze[] | undefined;
  let problem: string | undefined;
  try {
    // `since`: a read the worker shares must have started once this boundary asked (after any wake-up that led here).
    holding = await run.acts.local.freezesHolding({ service: run.input.service, since: Date.now() });
  } catch (e) {
    problem = failureMessage(e);
  }
  if (holding) run.status.freezes = holding;
  const broken = overridden(run);
  const left = holding?.filter((f) => !broken.has(freezeKey(f)));
  if (left?.length === 0) {
    if (holding!.length) run.note(`${phase.id}${FREEZE_STEP}`, StepStatus.DONE, `${holding!.map((f) => f.id).join(', ')} overridden by ${overriders(run, (o) => (o.freezes?.length ?? 0) > 0)}`);
    return true;
  }
  if (problem && run.status.overrides?.some((o) => o.broke === UNREADABLE)) {
    run.note(`${phase.id}${FREEZE_STEP}`, StepStatus.DONE, `${UNREADABLE} (${problem}); overridden by ${overriders(run, (o) => o.broke === UNREADABLE)}`);
    return true;
  }
  run.status.hold = { kind: 'freeze', target: left ? `freeze ${left.map((f) => f.id).join(', ')}` : UNREADABLE };
  run.setState(ReleaseState.FROZEN);
  const endsAt = left ? Math.min(...left.map((f) => Date.parse(f.until))) : Date.now() + UNREADABLE_RETRY_MS;
  const woken = wakes(run);
  try {
    const why = left ? `frozen: ${left.map(describeFreeze).join('; ')}` : `${UNREADABLE}: ${problem}; asks again in ${UNREADABLE_RETRY_MS / 1000} s`;
    await run.step(`${phase.id}${FREEZE_STEP}`, () => watchLive(run, WaitReason.FREEZE, () => condition(woken, Math.max(1, endsAt - Date.now()))), () => why);
  } finally {
    delete run.status.hold;
  }
  run.throwIfAborted();
  return false;
}

const overriders = (run: ReleaseRun, which: (o: Override) => boolean) =>
  (run.status.overrides ?? [])
    .filter(which)
    .map((o) => `${o.by}: ${o.reason}`)
    .join('; ');

/** What an override breaks now: the freezes or the window the release waits for. Undefined when it waits for neither. */
export function currentHold(run: ReleaseRun): Pick<Override, 'broke' | 'freezes' | 'windowUntil'> | undefined {
  const hold = run.status.hold;
  if (!hold) return undefined;
  if (hold.kind === 'window') return { broke: `the deployment window closed until ${run.status.window!.opensAt}`, windowUntil: run.status.window!.opensAt };
  if (hold.target === UNREADABLE) return { broke: UNREADABLE };
  const broken = overridden(run);
  const left = (run.status.freezes ?? []).filter((f) => !broken.has(freezeKey(f)));
  return { broke: `freeze ${left.map((f) => f.id).join(', ')}`, freezes: left.map(freezeKey) };
}

/** Asks the namespace's freeze registry to wake this release whenever the freezes of its service change. */
export async function subscribeToFreezes(run: ReleaseRun): Promise<void> {
  listenForFreezes(run);
  try {
    await getExternalWorkflowHandle(FREEZE_REGISTRY_ID).signal(subscribeFreezesSignal, { workflowId: workflowInfo().workflowId, service: run.input.service });
  } catch {
    // No registry yet: each boundary still reads the freezes; a wait for one ends at its end.
  }
}

/**
 * Only a wake-up: the freezes themselves are read from the registry at the boundary. A fleet's
 * target listens without subscribing: its release, subscribed, passes the registry's wake-ups on,
 * so that a thousand targets do not each signal the registry twice.
 */
export function listenForFreezes(run: ReleaseRun): void {
  setHandler(freezesChangedSignal, () => {
    run.holdsChanged++;
  });
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
