import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { connectClient, currentFreezes } from '../../connection/client';
import { parseDuration } from '../../domain/duration';
import { InputError } from '../../domain/errors';
import { ALL_SERVICES, describeFreeze, type Freeze, REGISTRY_HEAD, UNFREEZE, unfreezeTarget } from '../../domain/freezes';
import { FREEZE_REGISTRY_ID, freezeUpdate, unfreezeUpdate } from '../../workflows/messages';
import { ExitCode } from '../exit-code';
import { type FlagSpec, type Out, parseFlags } from '../flags';
import { readableKey, signRequest } from '../signing';

/**
 * `rollgate freeze | unfreeze | freezes`: the namespace's freezes, kept by the freeze registry
 * workflow on the server. A freeze stops every release of the services it names from starting a
 * new phase until it ends; the running phase finishes.
 */

const services = { service: { type: 'string', multiple: true }, all: { type: 'boolean' } } as const;
const servicesOf = (f: { service?: string[] | undefined; all?: boolean | undefined }) => (f.all ? [ALL_SERVICES] : f.service);
const oneOf = (f: { service?: string[] | undefined; all?: boolean | undefined }) => (f.service?.length ? 1 : 0) + (f.all ? 1 : 0) === 1;

/** `--until` as an instant (ISO 8601 with its offset) or a duration from now (`3d`, `12h`). */
const until = z.string({ error: 'when the freeze ends must be given (an ISO 8601 instant, or a duration such as 3d)' }).transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms !== undefined && ms > 0) return new Date(Date.now() + ms).toISOString();
  if (z.iso.datetime({ offset: true }).safeParse(text).success) return new Date(text).toISOString();
  ctx.addIssue({ code: 'custom', message: `"${text}" is neither an ISO 8601 instant (2026-12-27T08:00:00Z) nor a duration (3d, 12h)` });
  return z.NEVER;
});

const FreezeFlagsSchema = z
  .strictObject({ service: z.array(z.string()).optional(), all: z.boolean().optional(), reason: z.string({ error: 'a reason must be given' }), until, by: z.string({ error: 'who freezes must be given' }) })
  .refine(oneOf, { message: 'name the services (--service, repeatable) or --all, one of them', path: ['service'] });
export const freezeFlags = { command: 'freeze', options: { ...services, reason: { type: 'string' }, until: { type: 'string' }, by: { type: 'string' } }, schema: FreezeFlagsSchema } satisfies FlagSpec<
  typeof FreezeFlagsSchema
>;

const UnfreezeFlagsSchema = z
  .strictObject({
    id: z.string().optional(),
    service: z.array(z.string()).optional(),
    all: z.boolean().optional(),
    reason: z.string().trim().optional(),
    by: z.string().trim().optional(),
    /** The SSH key that signs the request: its principal is who unfreezes, as the worker verifies it. */
    key: z.string().min(1, 'must name an SSH key file').optional(),
  })
  .refine((f) => (f.id !== undefined ? 1 : 0) + (f.service?.length ? 1 : 0) + (f.all ? 1 : 0) === 1, { message: 'give a freeze ID, --service or --all, one of them', path: ['id'] })
  .refine((f) => f.key !== undefined || f.by !== undefined, { message: 'who unfreezes must be given (or sign with --key)', path: ['by'], when: () => true })
  .refine((f) => f.by === undefined || f.by !== '', { message: 'must not be blank', path: ['by'], when: () => true });
export const unfreezeFlags = {
  command: 'unfreeze',
  options: { ...services, reason: { type: 'string' }, by: { type: 'string' }, key: { type: 'string' } },
  positionals: ['id'],
  schema: UnfreezeFlagsSchema,
} satisfies FlagSpec<typeof UnfreezeFlagsSchema>;

const FreezesFlagsSchema = z.strictObject({ json: z.boolean().default(false) });
export const freezesFlags = { command: 'freezes', options: { json: { type: 'boolean' } }, schema: FreezesFlagsSchema } satisfies FlagSpec<typeof FreezesFlagsSchema>;

/**
 * One call to the registry; its refusal (the field and what is wrong) as one line. Only workers
 * start the registry, on the task queue they poll: one started here on another would never answer.
 */
async function registry<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const { client, close } = await connectClient();
  try {
    return await fn(client);
  } catch (e) {
    const err = e as Error & { cause?: Error };
    if (err?.name === 'WorkflowUpdateFailedError' && err.cause) throw new InputError(err.cause.message);
    if (err?.name === 'WorkflowNotFoundError') throw new InputError(`no freeze registry runs in this namespace: a rollgate worker starts it (${FREEZE_REGISTRY_ID})`);
    throw e;
  } finally {
    await close();
  }
}

export async function freezeCommand(args: string[], out: Out): Promise<number> {
  const f = parseFlags(freezeFlags, args);
  const freeze = await registry((c) => c.workflow.getHandle(FREEZE_REGISTRY_ID).executeUpdate(freezeUpdate, { args: [{ services: servicesOf(f)!, reason: f.reason, by: f.by, until: f.until }] }));
  out.log(`frozen: ${describeFreeze(freeze)}`);
  out.log(`  releases of ${freeze.services.includes(ALL_SERVICES) ? 'every service' : freeze.services.join(', ')} start no new phase until then; rollgate unfreeze ${freeze.id} (--key SSH_KEY | --by NAME) ends it`);
  return ExitCode.OK;
}

export async function unfreezeCommand(args: string[], out: Out): Promise<number> {
  const f = parseFlags(unfreezeFlags, args);
  if (f.key !== undefined) await readableKey(f.key);
  const which = f.id !== undefined ? { id: f.id } : { services: servicesOf(f)! };
  const named = { ...(f.by ? { by: f.by } : {}), ...(f.reason ? { reason: f.reason } : {}) };
  const r = await registry(async (c) => {
    const handle = c.workflow.getHandle(FREEZE_REGISTRY_ID);
    // Signed for the registry's current run and what it ends.
    const signed =
      f.key === undefined ? {} : { signed: await signRequest(f.key, { releaseId: FREEZE_REGISTRY_ID, runId: (await handle.describe()).runId, head: REGISTRY_HEAD, action: UNFREEZE, target: unfreezeTarget(which) }, named) };
    return handle.executeUpdate(unfreezeUpdate, { args: [{ ...which, ...named, ...signed }] });
  });
  for (const x of r.ended) out.log(`ended: ${describeFreeze(x)}`);
  for (const x of r.narrowed) out.log(`narrowed: ${describeFreeze(x)}`);
  out.log(`  by ${r.by}${r.verified ? ' (signature verified)' : ' (unverified: the worker checks no signatures)'}`);
  return ExitCode.OK;
}

export async function freezesCommand(args: string[], out: Out): Promise<number> {
  const f = parseFlags(freezesFlags, args);
  const list: Freeze[] = await registry(currentFreezes);
  if (f.json) out.log(JSON.stringify(list, null, 2));
  else if (list.length === 0) out.log('no freezes');
  else for (const x of list) out.log(describeFreeze(x));
  return ExitCode.OK;
}
