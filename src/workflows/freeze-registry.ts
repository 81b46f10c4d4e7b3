import { allHandlersFinished, condition, continueAsNew, getExternalWorkflowHandle, setHandler, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import { formatIssues } from '../domain/config';
import { type Freeze, FreezeArgsSchema, freezesHolding, unfreeze, UnfreezeArgsSchema } from '../domain/freezes';
import { freezesQuery, freezesSignal, freezeUpdate, subscribeFreezesSignal, unfreezeUpdate, unsubscribeFreezesSignal } from './messages';

export interface FreezeRegistryState {
  freezes: Freeze[];
  /** The number of the next freeze's ID. */
  next: number;
  /** Releases told of their service's freezes: workflow ID → service. */
  subscribers: Record<string, string>;
}

/** The arguments, or one line per problem naming its field: the CLI shows it as the refusal. */
function parsed<T>(schema: z.ZodType<T>, raw: unknown): T {
  const r = schema.safeParse(raw);
  if (!r.success) throw new Error(formatIssues(r.error).join('; '));
  return r.data;
}

/** Past this many events the registry carries its state into a new run, keeping each history short. */
const HISTORY_LIMIT = 5_000;

/**
 * The namespace's freezes, kept durably by the server: `rollgate freeze` and `unfreeze` are its
 * updates. Every running release subscribes with its service; the registry pushes it the freezes
 * that hold that service whenever they change, so a release waits on its own state, no polling.
 * A release that ended without unsubscribing is dropped once a push to it fails.
 */
export async function freezeRegistryWorkflow(state: FreezeRegistryState = { freezes: [], next: 1, subscribers: {} }): Promise<void> {
  const { subscribers } = state;
  let { freezes } = state;
  const owed = new Set<string>();
  const everyone = () => Object.keys(subscribers).forEach((id) => owed.add(id));
  const current = () => freezes.filter((f) => Date.parse(f.until) > Date.now());

  setHandler(freezesQuery, current);
  setHandler(subscribeFreezesSignal, ({ workflowId, service }) => {
    subscribers[workflowId] = service;
    owed.add(workflowId);
  });
  setHandler(unsubscribeFreezesSignal, ({ workflowId }) => {
    delete subscribers[workflowId];
    owed.delete(workflowId);
  });
  setHandler(
    freezeUpdate,
    (raw) => {
      const a = FreezeArgsSchema.parse(raw);
      const freeze: Freeze = { id: `F${state.next++}`, services: [...new Set(a.services)], reason: a.reason, by: a.by, at: new Date().toISOString(), until: new Date(a.until).toISOString() };
      freezes.push(freeze);
      everyone();
      return freeze;
    },
    {
      validator: (raw) => {
        const a = parsed(FreezeArgsSchema, raw);
        if (Date.parse(a.until) <= Date.now()) throw new Error(`until: ${a.until} has passed`);
      },
    },
  );
  setHandler(
    unfreezeUpdate,
    (raw) => {
      const { kept, ended, narrowed } = unfreeze(current(), UnfreezeArgsSchema.parse(raw));
      freezes = kept;
      everyone();
      return { ended, narrowed };
    },
    {
      validator: (raw) => {
        const a = parsed(UnfreezeArgsSchema, raw);
        const { ended, narrowed } = unfreeze(current(), a);
        if (ended.length + narrowed.length === 0) throw new Error(a.id !== undefined ? `no freeze ${a.id} holds now (rollgate freezes lists them)` : `no freeze names ${a.services!.join(', ')}`);
      },
    },
  );

  for (;;) {
    const before = freezes.length;
    freezes = current();
    if (freezes.length < before) everyone();
    if (owed.size > 0) await push([...owed]);
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_LIMIT) {
      await condition(allHandlersFinished);
      if (owed.size === 0) return continueAsNew<typeof freezeRegistryWorkflow>({ ...state, freezes });
    }
    const nextEnd = Math.min(...freezes.map((f) => Date.parse(f.until)));
    if (Number.isFinite(nextEnd)) await condition(() => owed.size > 0, Math.max(1, nextEnd - Date.now()));
    else await condition(() => owed.size > 0);
  }

  /** Tells each release the freezes of its service; one that has ended is dropped. */
  async function push(ids: string[]): Promise<void> {
    ids.forEach((id) => owed.delete(id));
    await Promise.all(
      ids
        .filter((id) => subscribers[id] !== undefined)
        .map(async (id) => {
          try {
            await getExternalWorkflowHandle(id).signal(freezesSignal, freezesHolding(freezes, subscribers[id]!, Date.now()));
          } catch {
            delete subscribers[id];
          }
        }),
    );
  }
}
