import { readFileSync } from 'node:fs';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { type ConnectionSettings, connectionSettings, tlsOptions } from '../domain/connection';
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
