import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { InputError } from '../domain/errors';
import type { ReleaseStatus } from '../domain/release';
import { liveTargetWorkflow } from '../domain/waves';
import { connectClient } from '../connection/client';
import { statusQuery } from '../workflows/messages';

/** The Temporal UI page of a release, for people following it from CI. */
export const uiLink = (namespace: string, workflowId: string, env: NodeJS.ProcessEnv = process.env) =>
  `${(env.ROLLGATE_UI_URL || 'http://localhost:8233').replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;

/** Turns the client's errors into one line a person can act on. */
export function describeClientError(e: unknown, id?: string): Error {
  if (e instanceof WorkflowNotFoundError || (e as Error)?.name === 'WorkflowNotFoundError') return new InputError(`release ${id}: not found`);
  const err = e as Error & { cause?: Error };
  // The worker encrypts payloads and this process has no key (or another one).
  if (/binary\/encrypted|codec keys/.test(`${err?.message ?? ''} ${err?.cause?.message ?? ''}`))
    return new InputError(`release ${id}: its payloads are encrypted with a key this process lacks: set ROLLGATE_CODEC_KEY or ROLLGATE_CODEC_KEYS as for the worker (${err.cause?.message ?? err.message})`);
  if (err?.name === 'WorkflowUpdateFailedError' && err.cause) return new InputError(`release ${id}: ${err.cause.message}`);
  if (/workflow execution already completed/i.test(err?.message ?? '')) return new InputError(`release ${id}: already finished`);
  if (/not found/i.test(err?.message ?? '')) return new InputError(`release ${id}: not found`);
  return err instanceof Error ? err : new Error(String(e));
}

/** The status query of one release, with client errors turned into one clear line. */
/** A fleet release's running targets, each as its child workflow answers now (none where it cannot be read). */
export async function queryTargets(status: ReleaseStatus, connected?: Client): Promise<Record<string, ReleaseStatus>> {
  const live = (status.fleet?.targets ?? []).flatMap((t) => {
    const id = liveTargetWorkflow(t);
    return id ? [{ name: t.name, id }] : [];
  });
  if (live.length === 0) return {};
  const { client, close } = connected ? { client: connected, close: async () => undefined } : await connectClient();
  try {
    const read = await Promise.all(live.map(async (t) => [t.name, await client.workflow.getHandle(t.id).query(statusQuery).catch(() => undefined)] as const));
    return Object.fromEntries(read.filter((r): r is readonly [string, ReleaseStatus] => r[1] !== undefined));
  } finally {
    await close();
  }
}

export async function queryStatus(id: string): Promise<ReleaseStatus> {
  const { client, close } = await connectClient();
  try {
    return await client.workflow.getHandle(id).query(statusQuery);
  } catch (e) {
    throw describeClientError(e, id);
  } finally {
    await close();
  }
}
