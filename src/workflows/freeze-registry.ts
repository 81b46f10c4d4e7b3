import { z } from 'zod';
import { allHandlersFinished, ApplicationFailure, condition, continueAsNew, getExternalWorkflowHandle, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { VerifyResult } from '../activities/verify';
import { formatIssues } from '../domain/config';
import { type Freeze, FreezeArgsSchema, MAX_FREEZES, names, REGISTRY_HEAD, unfreeze, UNFREEZE, UnfreezeArgsSchema, unfreezeTarget } from '../domain/freezes';
import { serviceName } from '../domain/release';
import { parseSignedBody, type RequestContext, SIGNATURE_REFUSED, signedRequestRefusal } from '../domain/signed-request';
import { freezesChangedSignal, freezesQuery, freezeUpdate, subscribeFreezesSignal, unfreezeUpdate, unsubscribeFreezesSignal } from './messages';
import { failureMessage } from './run-state';

export interface FreezeRegistryState {
  freezes: Freeze[];
  /** The number of the next freeze's ID. */
  next: number;
  /** Releases woken when their service's freezes change: workflow ID → service. */
  subscribers: Record<string, string>;
  /** Releases owed a wake-up when the last run ended. */
  owed?: string[];
}

/** Past this many events the registry carries its state into a new run, keeping each history short. */
const HISTORY_LIMIT = 5_000;
/** Wake-ups in flight at once: well under the server's limit of pending signals. */
const BATCH = 500;

const SubscribeSchema = z.strictObject({ workflowId: z.string().min(1).max(255), service: serviceName });
const UnsubscribeSchema = z.strictObject({ workflowId: z.string().min(1).max(255) });

/** Verifies who unfreezes on this worker, against its allowed signers, while the update waits. */
const signatures = proxyLocalActivities<Pick<Activities, 'verifySteeringRequest'>>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3, initialInterval: '1 second', backoffCoefficient: 2 },
});

/** What a signed unfreeze must be signed for: this registry's run, the action and what it ends. */
const unfreezeContext = (a: { id?: string; services?: string[] }): RequestContext => ({
  releaseId: workflowInfo().workflowId,
  runId: workflowInfo().runId,
  head: REGISTRY_HEAD,
  action: UNFREEZE,
  target: unfreezeTarget(a),
});

/** The arguments, or one line per problem naming its field: the CLI shows it as the refusal. */
function parsed<T>(schema: z.ZodType<T>, raw: unknown): T {
  const r = schema.safeParse(raw);
  if (!r.success) throw new Error(formatIssues(r.error).join('; '));
  return r.data;
}

/**
 * The namespace's freezes, kept durably by the server: `rollgate freeze` and `unfreeze` are its
 * updates, and its query is what a release reads at every phase boundary. Running releases
 * subscribe with their service and are woken when its freezes change, so a release held by a
 * freeze goes on the moment it is lifted; a wake-up carries nothing, so a forged one changes
 * nothing. A release that ended without unsubscribing is dropped once a wake-up to it fails.
 */
export async function freezeRegistryWorkflow(state: FreezeRegistryState = { freezes: [], next: 1, subscribers: {} }): Promise<void> {
  const subscribers = new Map(Object.entries(state.subscribers));
  let freezes = state.freezes;
  const owed = new Set(state.owed ?? []);
  /** Which subscription a wake-up went to: a release that subscribed again meanwhile is not dropped for the old one. */
  const generation = new Map<string, number>();
  let generations = 0;
  const wake = (changed: readonly Freeze[]) => {
    for (const [id, service] of subscribers) if (changed.some((f) => names(f, service))) owed.add(id);
  };
  const current = () => freezes.filter((f) => Date.parse(f.until) > Date.now());

  setHandler(freezesQuery, current);
  // Signals are anyone's to send: a malformed one is dropped, never allowed to fail the registry.
  setHandler(subscribeFreezesSignal, (raw) => {
    const r = SubscribeSchema.safeParse(raw);
    if (!r.success) return;
    subscribers.set(r.data.workflowId, r.data.service);
    generation.set(r.data.workflowId, ++generations);
  });
  setHandler(unsubscribeFreezesSignal, (raw) => {
    const r = UnsubscribeSchema.safeParse(raw);
    if (!r.success) return;
    subscribers.delete(r.data.workflowId);
    owed.delete(r.data.workflowId);
  });
  setHandler(
    freezeUpdate,
    (raw) => {
      const a = FreezeArgsSchema.parse(raw);
      const freeze: Freeze = { id: `F${state.next++}`, services: [...new Set(a.services)], reason: a.reason, by: a.by, at: new Date().toISOString(), until: new Date(a.until).toISOString() };
      freezes.push(freeze);
      wake([freeze]);
      return freeze;
    },
    {
      validator: (raw) => {
        const a = parsed(FreezeArgsSchema, raw);
        if (Date.parse(a.until) <= Date.now()) throw new Error(`until: ${a.until} has passed`);
        if (current().length >= MAX_FREEZES) throw new Error(`${MAX_FREEZES} freezes are in force already: end some, or freeze --all`);
      },
    },
  );
  /** An update was refused after it reached history since the loop last checked the history's length. */
  let refusedSinceCheck = false;
  /** Nonces of the signed unfreezes accepted in this run: each is good once (a signature names its run). */
  const used = new Set<string>();
  const nothingToEnd = (a: { id?: string; services?: string[] }) => (a.id !== undefined ? `no freeze ${a.id} holds now (rollgate freezes lists them)` : `no freeze names ${a.services!.join(', ')}`);
  setHandler(
    unfreezeUpdate,
    async (raw) => {
      const a = UnfreezeArgsSchema.parse(raw);
      // Lifting a freeze breaks it for every release it holds: where the worker verifies signers, only a signed request may.
      let sender: VerifyResult;
      try {
        sender = await signatures.verifySteeringRequest({
          update: UNFREEZE,
          ...(a.by !== undefined ? { by: a.by } : {}),
          ...(a.reason !== undefined ? { reason: a.reason } : {}),
          ...(a.signed ? { signed: a.signed } : {}),
          expect: unfreezeContext(a),
        });
      } catch (e) {
        refusedSinceCheck = true;
        throw ApplicationFailure.create({ message: failureMessage(e), type: SIGNATURE_REFUSED, nonRetryable: true });
      }
      if (sender.nonce) {
        if (used.has(sender.nonce)) throw ApplicationFailure.create({ message: 'this signed request was already used: sign a new one', type: SIGNATURE_REFUSED, nonRetryable: true });
        used.add(sender.nonce);
      }
      // Read again after the verification: the freezes may have moved meanwhile.
      const before = current();
      const { kept, ended, narrowed } = unfreeze(before, a);
      if (ended.length + narrowed.length === 0) throw ApplicationFailure.create({ message: nothingToEnd(a), type: 'UnfreezeRefused', nonRetryable: true });
      freezes = kept;
      // The services a freeze held before it ended or narrowed are those to wake.
      const changed = new Set([...ended, ...narrowed].map((f) => f.id));
      wake(before.filter((f) => changed.has(f.id)));
      return { ended, narrowed, by: sender.by ?? a.by ?? 'someone unnamed', verified: sender.verified };
    },
    {
      validator: (raw) => {
        const a = parsed(UnfreezeArgsSchema, raw);
        const { ended, narrowed } = unfreeze(current(), a);
        if (ended.length + narrowed.length === 0) throw new Error(nothingToEnd(a));
        // A signed request made for another registry run, another freeze, expired or used: refused before it reaches history.
        if (a.signed) {
          const body = parseSignedBody(a.signed.payload);
          if (used.has(body.nonce)) throw new Error('this signed request was already used: sign a new one');
          const wrong = signedRequestRefusal(body, unfreezeContext(a), Date.now());
          if (wrong) throw new Error(wrong);
        }
      },
    },
  );

  const historyFull = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_LIMIT;
  for (;;) {
    refusedSinceCheck = false;
    const expired = freezes.filter((f) => Date.parse(f.until) <= Date.now());
    if (expired.length) {
      freezes = current();
      wake(expired);
    }
    if (owed.size > 0) await push([...owed].slice(0, BATCH));
    if (historyFull()) {
      await condition(allHandlersFinished);
      // Wake-ups still owed go with the state: none is lost, and a busy registry still moves on.
      return continueAsNew<typeof freezeRegistryWorkflow>({ freezes, next: state.next, subscribers: Object.fromEntries(subscribers), owed: [...owed] });
    }
    if (owed.size > 0) continue;
    const nextEnd = Math.min(...freezes.map((f) => Date.parse(f.until)));
    // An update refused after it reached history (an unsigned unfreeze) wakes the loop too, so that refusals alone move the registry to a new run past the limit.
    if (Number.isFinite(nextEnd)) await condition(() => owed.size > 0 || refusedSinceCheck, Math.max(1, nextEnd - Date.now()));
    else await condition(() => owed.size > 0 || refusedSinceCheck);
  }

  /** Wakes these releases; one that has ended is dropped, unless it subscribed again meanwhile. */
  async function push(ids: string[]): Promise<void> {
    await Promise.all(
      ids.map(async (id) => {
        owed.delete(id);
        if (!subscribers.has(id)) return;
        const gen = generation.get(id);
        try {
          await getExternalWorkflowHandle(id).signal(freezesChangedSignal);
        } catch {
          if (generation.get(id) === gen) subscribers.delete(id);
        }
      }),
    );
  }
}
