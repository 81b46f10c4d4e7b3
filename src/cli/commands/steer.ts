import { z } from 'zod';
import type { WorkflowHandle } from '@temporalio/client';
import { connectClient } from '../../connection/client';
import { InputError } from '../../domain/errors';
import { ACKNOWLEDGEMENTS, type Acknowledgement } from '../../domain/release';
import type { Signed } from '../../domain/signed-request';
import { hasControlCharacters, requestTarget, type Steer } from '../../domain/steering';
import { abortUpdate, approveUpdate, overrideUpdate, pauseUpdate, promoteUpdate, rejectUpdate, resolveUpdate, resumeUpdate, statusQuery } from '../../workflows/messages';
import { ExitCode } from '../exit-code';
import { type FlagSpec, type Options, type Out, parseFlags, refused, releaseId } from '../flags';
import { readableKey, signRequest } from '../signing';
import { describeClientError } from '../temporal';

/** Every steering command takes the same flags; the table says which each one needs or refuses. */
const steerOptions = {
  by: { type: 'string' },
  key: { type: 'string' },
  reason: { type: 'string' },
  full: { type: 'boolean' },
  retry: { type: 'boolean' },
  restored: { type: 'boolean' },
  acknowledge: { type: 'string' },
} as const satisfies Options;

interface SteerFlags {
  id: string;
  by?: string;
  /** The SSH key that signs the request: its principal is who acts, as the worker verifies it. */
  key?: string;
  reason?: string;
  full?: boolean;
  retry?: boolean;
  restored?: boolean;
  /** What an approval acknowledges: `irreversible-migration`. */
  acknowledge?: Acknowledgement;
}

interface Steering {
  /** How `--by` reads in "who … must be given"; absent when `--by` is optional. */
  by?: string;
  reasonRequired?: boolean;
  /** The update, and the line printed once the release took it. */
  send: (handle: WorkflowHandle, f: SteerFlags, signed: { signed?: Signed }) => Promise<string>;
}

/** `--by` when given; a signed request may leave it to the key. */
const named = (f: SteerFlags) => (f.by ? { by: f.by } : {});
const verifiedNote = (a: { verified?: boolean }) => (a.verified ? ' (signature verified)' : ' (unverified: the worker checks no signatures)');

const STEERING = {
  approve: {
    by: 'approves',
    send: async (h, f, s) => {
      const a = await h.executeUpdate(approveUpdate, { args: [{ ...named(f), ...(f.reason ? { reason: f.reason } : {}), ...(f.acknowledge ? { acknowledge: f.acknowledge } : {}), ...s }] });
      return `approved ${a.target} of ${f.id} as ${a.by}${verifiedNote(a)}${a.acknowledged ? `, acknowledging: ${a.acknowledged}` : ''}`;
    },
  },
  reject: {
    by: 'rejects',
    reasonRequired: true,
    send: async (h, f, s) => {
      await h.executeUpdate(rejectUpdate, { args: [{ ...named(f), reason: f.reason!, ...s }] });
      return `rejected ${f.id}`;
    },
  },
  abort: {
    reasonRequired: true,
    send: async (h, f, s) => {
      await h.executeUpdate(abortUpdate, { args: [{ reason: f.reason!, ...named(f), ...s }] });
      return `aborting ${f.id}: it rolls back what it changed`;
    },
  },
  pause: {
    by: 'pauses',
    send: async (h, f, s) => {
      await h.executeUpdate(pauseUpdate, { args: [{ ...named(f), ...(f.reason ? { reason: f.reason } : {}), ...s }] });
      return `paused ${f.id}: the bake clock stops until rollgate resume; the checks keep measuring the live canary`;
    },
  },
  resume: {
    by: 'resumes',
    send: async (h, f, s) => {
      await h.executeUpdate(resumeUpdate, { args: [{ ...named(f), ...s }] });
      return `resumed ${f.id}`;
    },
  },
  promote: {
    by: 'promotes',
    send: async (h, f, s) => {
      const r = await h.executeUpdate(promoteUpdate, { args: [{ ...named(f), full: f.full ?? false, ...s }] });
      return `promoting ${f.id}: ${r.promoting}`;
    },
  },
  override: {
    by: 'overrides',
    reasonRequired: true,
    send: async (h, f, s) => {
      const r = await h.executeUpdate(overrideUpdate, { args: [{ ...named(f), reason: f.reason!, ...s }] });
      return `overriding for ${f.id}: ${r.overriding}; its next phase starts now`;
    },
  },
  resolve: {
    by: 'resolves',
    reasonRequired: true,
    send: async (h, f, s) => {
      await h.executeUpdate(resolveUpdate, { args: [{ ...named(f), action: f.retry ? 'retry' : 'restored', reason: f.reason!, ...s }] });
      return f.retry ? `retrying the rollback of ${f.id}` : `recorded that ${f.by ?? 'a human'} restored ${f.id} by hand`;
    },
  },
} as const satisfies Record<string, Steering>;

export type SteerCommand = keyof typeof STEERING;
export const STEER_COMMANDS = Object.keys(STEERING) as SteerCommand[];

/** The flags of one steering command: the release ID, then what the table asks of --by and --reason. */
export function steerFlags(command: SteerCommand) {
  const rule: Steering = STEERING[command];
  const reason = 'a reason must be given';
  // Control characters would forge lines wherever the name or reason is shown: refused here, and again by the workflow.
  const plain = <T extends z.ZodType<string | undefined>>(s: T) => s.refine((v) => v === undefined || !hasControlCharacters(v), NO_CONTROL);
  const schema = z
    .strictObject({
      id: releaseId(command),
      by: plain(z.string().optional()),
      key: z.string().min(1, 'must name an SSH key file').optional(),
      reason: plain(z.string().optional()),
      full: command === 'promote' ? z.boolean().optional() : refused('only promote takes it'),
      retry: command === 'resolve' ? z.boolean().optional() : refused('only resolve takes it'),
      restored: command === 'resolve' ? z.boolean().optional() : refused('only resolve takes it'),
      acknowledge: command === 'approve' ? z.enum(ACKNOWLEDGEMENTS, { error: `must be one of ${ACKNOWLEDGEMENTS.join(', ')}` }).optional() : refused('only approve takes it'),
    })
    // A signed request may leave --by out: the key's principal, as the worker's allowed signers name it, acts.
    // --by, then --reason, are judged even when another flag is wrong (`when`), in this order.
    .refine((f) => !rule.by || f.key !== undefined || !!f.by?.trim(), { path: ['by'], message: `who ${rule.by} must be given (or sign with --key)`, when: () => true })
    .refine((f) => f.key === undefined || f.by === undefined || !!f.by.trim(), { path: ['by'], message: 'must not be blank', when: () => true })
    .refine((f) => !rule.reasonRequired || !!f.reason?.trim(), { path: ['reason'], message: reason, when: () => true })
    .refine((f) => command !== 'resolve' || !!f.retry !== !!f.restored, 'give exactly one of --retry (run the rollback again) or --restored (a human restored the service)');
  return { command, options: steerOptions, positionals: ['id'], schema } satisfies FlagSpec<typeof schema>;
}

const NO_CONTROL = 'must not contain control characters (newlines, carriage returns, other C0/C1 or U+2028/U+2029)';

/** `rollgate approve | reject | abort | pause | resume | promote | resolve`: one update to a running release. */
export async function steerCommand(command: SteerCommand, args: string[], out: Out): Promise<number> {
  const parsed: SteerFlags = parseFlags(steerFlags(command), args);
  // The workflow trims what it is sent; a signed payload must say exactly what it receives.
  const flags: SteerFlags = { ...parsed, ...(parsed.by !== undefined ? { by: parsed.by.trim() } : {}), ...(parsed.reason !== undefined ? { reason: parsed.reason.trim() } : {}) };
  if (flags.key !== undefined) await readableKey(flags.key);
  const { client, close } = await connectClient();
  try {
    const handle = client.workflow.getHandle(flags.id);
    try {
      const signed = flags.key !== undefined ? { signed: await signFor(handle, command, flags, flags.key) } : {};
      out.log(await STEERING[command].send(handle, flags, signed));
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw describeClientError(e, flags.id);
    }
    return ExitCode.OK;
  } finally {
    await close();
  }
}

/** Signs the request for what the release shows now: its run, head commit, record and the target acted on. */
async function signFor(handle: WorkflowHandle, command: SteerCommand, f: SteerFlags, key: string): Promise<Signed> {
  const status = await handle.query(statusQuery);
  if (!status.signing) throw new InputError(`release ${f.id}: it was started by a rollgate that takes no signed requests; use --by`);
  const target = requestTarget(command as Steer, { full: f.full ?? false, action: f.retry ? 'retry' : 'restored' }, status.pendingApproval?.target, status.hold?.target);
  return signRequest(key, { ...status.signing, action: command, target }, f);
}
