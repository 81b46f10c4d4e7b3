import { readFileSync } from 'node:fs';
import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { InputError } from '../domain/errors';
import { FREEZE_REGISTRY_ID, FREEZE_REGISTRY_WORKFLOW, fleetOrdersQuery, freezesQuery, RELEASE_STATE_ATTRIBUTE, statusQuery } from '../workflows/messages';
import type { FleetOrders, TargetState } from '../domain/waves';
import type { Freeze } from '../domain/freezes';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { type ConnectionSettings, connectionSettings, tlsOptions } from './settings';
import { withSecretFiles } from './secrets';
import { dataConverterFromEnv } from './codec';

/**
 * The settings and connection options of the Temporal CLI's environment variables (address, TLS
 * files, API key variable), for both the CLI's client and the worker's native connection.
 */
export function connectionOptions(given: NodeJS.ProcessEnv = process.env): {
  settings: ConnectionSettings;
  options: { address: string; tls?: TLSConfig; apiKey?: string };
} {
  // TEMPORAL_API_KEY_FILE may give the key, so that it need not sit in the environment (issue 13 §5).
  const env = withSecretFiles(given, ['TEMPORAL_API_KEY']);
  let settings: ConnectionSettings;
  try {
    settings = connectionSettings(env);
  } catch (e) {
    throw new InputError((e as Error).message);
  }
  const tls = tlsOptions(settings, (path, variable) => {
    try {
      return readFileSync(path);
    } catch {
      throw new InputError(`${variable}: cannot read ${path}`);
    }
  });
  return { settings, options: { address: settings.address, ...(tls ? { tls } : {}), ...(settings.apiKeyVar ? { apiKey: env[settings.apiKeyVar] as string } : {}) } };
}

/** A client connection with the Temporal CLI's environment variables, for the CLI and the worker's visibility queries. */
export async function connectClient(env: NodeJS.ProcessEnv = process.env): Promise<{ client: Client; settings: ConnectionSettings; close: () => Promise<void> }> {
  const { settings, options } = connectionOptions(env);
  const dataConverter = dataConverterFromEnv(env);
  const connection = await Connection.connect({ ...options, connectTimeout: '10 seconds' }).catch((e: Error) => {
    throw new Error(`cannot reach Temporal at ${settings.address} (TEMPORAL_ADDRESS): ${e.message}`);
  });
  // The same codec keys as the worker: payloads the CLI sends are encrypted, those it reads decrypted.
  return { client: new Client({ connection, namespace: settings.namespace, ...(dataConverter ? { dataConverter } : {}) }), settings, close: () => connection.close() };
}

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

/** Whether the namespace has rollgate's state search attribute (a Keyword); false when it cannot tell. */
export async function stateAttributeRegistered(client: Client): Promise<boolean> {
  try {
    const r = await client.connection.operatorService.listSearchAttributes({ namespace: client.options.namespace });
    return r.customAttributes?.[RELEASE_STATE_ATTRIBUTE.name] === KEYWORD;
  } catch {
    return false;
  }
}

/** Registers the state search attribute when it is missing; the reason when that is not allowed. */
export async function registerStateAttribute(client: Client): Promise<{ registered: true } | { registered: false; why: string }> {
  if (await stateAttributeRegistered(client)) return { registered: true };
  try {
    await client.connection.operatorService.addSearchAttributes({ namespace: client.options.namespace, searchAttributes: { [RELEASE_STATE_ATTRIBUTE.name]: KEYWORD } });
    return { registered: true };
  } catch (e) {
    return { registered: false, why: (e as Error).message };
  }
}

/** The freeze registry runs once per namespace, on the task queue of the worker that started it: every worker starts it if none runs. */
export async function ensureFreezeRegistry(client: Client, taskQueue: string): Promise<void> {
  try {
    await client.workflow.start(FREEZE_REGISTRY_WORKFLOW, { workflowId: FREEZE_REGISTRY_ID, taskQueue, args: [] });
  } catch (e) {
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
  }
}

/**
 * `currentFreezes` for a worker: a boundary that asks at `since` (its workflow's time) shares a read
 * that started at or after then, in flight or done, so that it sees the registry as it was when it
 * asked, or later. Every phase boundary of every release (a thousand targets of a fleet) reads the
 * freezes; one registry answering each in turn was the bottleneck (bench/waves.ts).
 */
export function sharedFreezeReads(client: Client): (since?: number) => Promise<Freeze[]> {
  let last: { at: number; read: Promise<Freeze[]> } | undefined;
  return (since = Date.now()) => {
    if (!last || last.at < since) {
      const read = currentFreezes(client);
      last = { at: Date.now(), read };
      // A failed read is not shared beyond those already waiting on it.
      read.catch(() => {
        if (last?.read === read) last = undefined;
      });
    }
    return last.read;
  };
}

/** The freezes in force, from the registry's own state; none where no registry was ever started. */
export async function currentFreezes(client: Client): Promise<Freeze[]> {
  try {
    return await client.workflow.getHandle(FREEZE_REGISTRY_ID).query(freezesQuery);
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return [];
    throw e;
  }
}

/** How a fleet release's running targets stand, each from its own status query; one that does not answer is left out. */
export async function targetStates(client: Client, targets: { workflowId: string; runId: string }[]): Promise<Record<string, TargetState>> {
  const read = await Promise.all(
    targets.map(async (t) => {
      const s = await client.workflow
        .getHandle(t.workflowId, t.runId)
        .query(statusQuery)
        .catch(() => undefined);
      return s ? [[t.workflowId, { state: s.state, ...(s.outcome ? { outcome: s.outcome } : {}) }] as const] : [];
    }),
  );
  return Object.fromEntries(read.flat());
}

/** What a fleet release orders its targets now, from its own query. */
export const fleetOrders = (client: Client, release: { workflowId: string; runId: string }): Promise<FleetOrders> =>
  client.workflow.getHandle(release.workflowId, release.runId).query(fleetOrdersQuery);
