import { readFileSync } from 'node:fs';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { type ConnectionSettings, connectionSettings, tlsOptions } from '../domain/connection';
import { RELEASE_STATE_ATTRIBUTE } from '../workflows/messages';
import { InputError } from './errors';

export async function connectClient(env: NodeJS.ProcessEnv = process.env): Promise<{ client: Client; settings: ConnectionSettings; close: () => Promise<void> }> {
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
  const connection = await Connection.connect({
    address: settings.address,
    connectTimeout: '10 seconds',
    ...(tls ? { tls } : {}),
    ...(settings.apiKeyVar ? { apiKey: env[settings.apiKeyVar] as string } : {}),
  }).catch((e: Error) => {
    throw new Error(`cannot reach Temporal at ${settings.address} (TEMPORAL_ADDRESS): ${e.message}`);
  });
  return { client: new Client({ connection, namespace: settings.namespace }), settings, close: () => connection.close() };
}

export const uiLink = (namespace: string, workflowId: string, env: NodeJS.ProcessEnv = process.env) =>
  `${(env.ROLLGATE_UI_URL || 'http://localhost:8233').replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;

/** Turns the client's errors into one line a person can act on. */
export function describeClientError(e: unknown, id?: string): Error {
  if (e instanceof WorkflowNotFoundError || (e as Error)?.name === 'WorkflowNotFoundError') return new InputError(`release ${id}: not found`);
  const err = e as Error & { cause?: Error };
  if (err?.name === 'WorkflowUpdateFailedError' && err.cause) return new InputError(`release ${id}: ${err.cause.message}`);
  if (/workflow execution already completed/i.test(err?.message ?? '')) return new InputError(`release ${id}: already finished`);
  if (/not found/i.test(err?.message ?? '')) return new InputError(`release ${id}: not found`);
  return err instanceof Error ? err : new Error(String(e));
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
