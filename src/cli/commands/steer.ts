import { z } from 'zod';
import type { WorkflowHandle } from '@temporalio/client';
import { connectClient } from '../../connection/client';
import { abortUpdate, approveUpdate, pauseUpdate, promoteUpdate, rejectUpdate, resolveUpdate, resumeUpdate } from '../../workflows/messages';
import { ExitCode } from '../exit-code';
import { type FlagSpec, given, type Options, type Out, parseFlags, refused, releaseId } from '../flags';
import { describeClientError } from '../temporal';

/** Every steering command takes the same flags; the table says which each one needs or refuses. */
const steerOptions = {
  by: { type: 'string' },
  reason: { type: 'string' },
  full: { type: 'boolean' },
  retry: { type: 'boolean' },
  restored: { type: 'boolean' },
} as const satisfies Options;

interface SteerFlags {
  id: string;
  by?: string;
  reason?: string;
  full?: boolean;
  retry?: boolean;
  restored?: boolean;
}

interface Steering {
  /** How `--by` reads in "who … must be given"; absent when `--by` is optional. */
  by?: string;
  reasonRequired?: boolean;
  /** The update, and the line printed once the release took it. */
  send: (handle: WorkflowHandle, f: SteerFlags) => Promise<string>;
}

const STEERING = {
  approve: {
    by: 'approves',
    send: async (h, f) => {
      const a = await h.executeUpdate(approveUpdate, { args: [{ by: f.by!, ...(f.reason ? { reason: f.reason } : {}) }] });
      return `approved ${a.target} of ${f.id} as ${a.by}`;
    },
  },
  reject: {
    by: 'rejects',
    reasonRequired: true,
    send: async (h, f) => {
      await h.executeUpdate(rejectUpdate, { args: [{ by: f.by!, reason: f.reason! }] });
      return `rejected ${f.id}`;
    },
  },
  abort: {
    reasonRequired: true,
    send: async (h, f) => {
      await h.executeUpdate(abortUpdate, { args: [{ reason: f.reason!, ...(f.by ? { by: f.by } : {}) }] });
      return `aborting ${f.id}: it rolls back what it changed`;
    },
  },
  pause: {
    by: 'pauses',
    send: async (h, f) => {
      await h.executeUpdate(pauseUpdate, { args: [{ by: f.by!, ...(f.reason ? { reason: f.reason } : {}) }] });
      return `paused ${f.id}: the bake clock stops until rollgate resume; the checks keep measuring the live canary`;
    },
  },
  resume: {
    by: 'resumes',
    send: async (h, f) => {
      await h.executeUpdate(resumeUpdate, { args: [{ by: f.by! }] });
      return `resumed ${f.id}`;
    },
  },
  promote: {
    by: 'promotes',
    send: async (h, f) => {
      const r = await h.executeUpdate(promoteUpdate, { args: [{ by: f.by!, full: f.full ?? false }] });
      return `promoting ${f.id}: ${r.promoting}`;
    },
  },
  resolve: {
    by: 'resolves',
    reasonRequired: true,
    send: async (h, f) => {
      await h.executeUpdate(resolveUpdate, { args: [{ by: f.by!, action: f.retry ? 'retry' : 'restored', reason: f.reason! }] });
      return f.retry ? `retrying the rollback of ${f.id}` : `recorded that ${f.by} restored ${f.id} by hand`;
    },
  },
} as const satisfies Record<string, Steering>;

export type SteerCommand = keyof typeof STEERING;
export const STEER_COMMANDS = Object.keys(STEERING) as SteerCommand[];

/** The flags of one steering command: the release ID, then what the table asks of --by and --reason. */
export function steerFlags(command: SteerCommand) {
  const rule: Steering = STEERING[command];
  const reason = 'a reason must be given';
  const schema = z
    .strictObject({
      id: releaseId(command),
      by: rule.by ? given(`who ${rule.by} must be given`) : z.string().optional(),
      reason: rule.reasonRequired ? given(reason) : z.string().optional(),
      full: command === 'promote' ? z.boolean().optional() : refused('only promote takes it'),
      retry: command === 'resolve' ? z.boolean().optional() : refused('only resolve takes it'),
      restored: command === 'resolve' ? z.boolean().optional() : refused('only resolve takes it'),
    })
    .refine((f) => command !== 'resolve' || !!f.retry !== !!f.restored, 'give exactly one of --retry (run the rollback again) or --restored (a human restored the service)');
  return { command, options: steerOptions, positionals: ['id'], schema } satisfies FlagSpec<typeof schema>;
}

/** `rollgate approve | reject | abort | pause | resume | promote | resolve`: one update to a running release. */
export async function steerCommand(command: SteerCommand, args: string[], out: Out): Promise<number> {
  const flags: SteerFlags = parseFlags(steerFlags(command), args);
  const { client, close } = await connectClient();
  try {
    const handle = client.workflow.getHandle(flags.id);
    try {
      out.log(await STEERING[command].send(handle, flags));
    } catch (e) {
      throw describeClientError(e, flags.id);
    }
    return ExitCode.OK;
  } finally {
    await close();
  }
}
