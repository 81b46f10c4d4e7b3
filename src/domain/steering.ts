import { z } from 'zod';
import { formatIssues } from './config';
import type { Outcome } from './enums';
import { type Approval, type PendingApproval, ReleaseState } from './release';

/**
 * How people steer a running release: the arguments of each update, and which state allows which
 * update. Pure, so that every rule has a table test; the workflow applies them in its handlers.
 */

/** Arguments of the approve / reject / abort updates, validated where they arrive. */
export const ApproveArgsSchema = z.strictObject({
  by: z.string().trim().min(1, 'by: who approves must be given').max(200),
  reason: z.string().max(2000).optional(),
});
export type ApproveArgs = z.input<typeof ApproveArgsSchema>;

export const RejectArgsSchema = z.strictObject({
  by: z.string().trim().min(1, 'by: who rejects must be given').max(200),
  reason: z.string().trim().min(1, 'reason: a reason must be given').max(2000),
});
export type RejectArgs = z.input<typeof RejectArgsSchema>;

export const AbortArgsSchema = z.strictObject({
  reason: z.string().trim().min(1, 'reason: a reason must be given').max(2000),
  by: z.string().trim().max(200).optional(),
});
export type AbortArgs = z.input<typeof AbortArgsSchema>;

export const PauseArgsSchema = z.strictObject({
  by: z.string().trim().min(1, 'by: who pauses must be given').max(200),
  reason: z.string().max(2000).optional(),
});
export type PauseArgs = z.input<typeof PauseArgsSchema>;

export const ResumeArgsSchema = z.strictObject({ by: z.string().trim().min(1, 'by: who resumes must be given').max(200) });
export type ResumeArgs = z.input<typeof ResumeArgsSchema>;

export const PromoteArgsSchema = z.strictObject({
  by: z.string().trim().min(1, 'by: who promotes must be given').max(200),
  /** Skip to 100%: every remaining intermediate step, bake and hold is skipped; approval gates still hold. */
  full: z.boolean().default(false),
});
export type PromoteArgs = z.input<typeof PromoteArgsSchema>;

/** After a failed rollback: run it again, or record that a human restored the service. */
export const ResolveArgsSchema = z.strictObject({
  by: z.string().trim().min(1, 'by: who resolves must be given').max(200),
  action: z.enum(['retry', 'restored'], { error: 'action: must be retry or restored' }),
  reason: z.string().trim().min(1, 'reason: a reason must be given').max(2000),
});
export type ResolveArgs = z.input<typeof ResolveArgsSchema>;

/** Approver names compare without case and surrounding space; an email matches its name part too. */
export function sameIdentity(a: string, b: string): boolean {
  const norm = (s: string) => s.trim().toLowerCase();
  const [x, y] = [norm(a), norm(b)];
  return x === y || x.split('@')[0] === y || y.split('@')[0] === x;
}

export const Steer = { APPROVE: 'approve', REJECT: 'reject', ABORT: 'abort', PAUSE: 'pause', RESUME: 'resume', PROMOTE: 'promote', RESOLVE: 'resolve' } as const;
export type Steer = (typeof Steer)[keyof typeof Steer];

export const STEERING_ARGS = {
  approve: ApproveArgsSchema,
  reject: RejectArgsSchema,
  abort: AbortArgsSchema,
  pause: PauseArgsSchema,
  resume: ResumeArgsSchema,
  promote: PromoteArgsSchema,
  resolve: ResolveArgsSchema,
} as const satisfies Record<Steer, z.ZodType>;
export type SteeringArgs = { [K in Steer]: z.output<(typeof STEERING_ARGS)[K]> };
export type SteeringInput = { [K in Steer]: z.input<(typeof STEERING_ARGS)[K]> };

/** What the steering rules look at: a view of the run state. */
export interface SteeringView {
  state: ReleaseState;
  outcome?: Outcome;
  pendingApproval?: PendingApproval;
  approvals: readonly Approval[];
  paused?: { by: string; at: string };
  abortRequested?: { reason: string };
  /** The risk level that makes the change's authors unfit to approve it, when they are excluded. */
  riskLevel?: string;
  /** A bake (or hold) is running or paused: what a promote without --full ends. */
  inBake: boolean;
}

/** Parses an update's arguments, throwing one line per problem that names the field. */
export function parseSteeringArgs<K extends Steer>(update: K, args: unknown): SteeringArgs[K] {
  const parsed = STEERING_ARGS[update].safeParse(args);
  if (!parsed.success) throw new Error(formatIssues(parsed.error).join('; '));
  return parsed.data as SteeringArgs[K];
}

const PAUSABLE: readonly ReleaseState[] = [ReleaseState.DECIDING, ReleaseState.AWAITING_APPROVAL, ReleaseState.DEPLOYING, ReleaseState.BAKING];
const PROMOTABLE: readonly ReleaseState[] = [ReleaseState.DEPLOYING, ReleaseState.BAKING, ReleaseState.PAUSED];
/** Once a rollback has begun, an abort would change nothing: it is refused rather than accepted and ignored. */
const ROLLING_BACK: readonly ReleaseState[] = [ReleaseState.ROLLING_BACK, ReleaseState.VERIFYING_ROLLBACK];

/** Why the update may not run now, or undefined when it may: the validator's rule. */
export function steeringRefusal<K extends Steer>(update: K, args: SteeringArgs[K], view: SteeringView): string | undefined {
  const finished = view.state === ReleaseState.FINISHED ? `the release already finished: ${view.outcome}` : undefined;
  switch (update) {
    case Steer.APPROVE: {
      const { by } = args as SteeringArgs['approve'];
      const pending = view.pendingApproval;
      if (!pending) {
        const done = view.approvals[view.approvals.length - 1];
        return done ? `nothing is waiting for approval (last approved by ${done.by} at ${done.at})` : `nothing is waiting for approval (state: ${view.state})`;
      }
      const already = view.approvals.find((x) => x.target === pending.target);
      if (already) return `already approved by ${already.by} at ${already.at}`;
      if (pending.allowedApprovers.length > 0 && !pending.allowedApprovers.some((x) => sameIdentity(x, by)))
        return `${by} may not approve: approval.approvers allows ${pending.allowedApprovers.join(', ')}`;
      if (pending.excludedApprovers.some((x) => sameIdentity(x, by)))
        return `four eyes: ${by} is an author of this change and may not approve a ${view.riskLevel ?? 'escalated'} release`;
      return undefined;
    }
    case Steer.REJECT:
      return view.pendingApproval ? undefined : `nothing is waiting for approval (state: ${view.state})`;
    case Steer.ABORT:
      if (finished) return finished;
      if (view.abortRequested) return `abort already requested: ${view.abortRequested.reason}`;
      if (ROLLING_BACK.includes(view.state)) return `the release is already ${view.state}: nothing is left to abort`;
      if (view.state === ReleaseState.NEEDS_HUMAN) return 'the rollback failed and waits for a human: rollgate resolve ID --retry or --restored';
      return undefined;
    case Steer.PAUSE:
      if (finished) return finished;
      if (view.paused) return `already paused by ${view.paused.by} at ${view.paused.at}`;
      return PAUSABLE.includes(view.state) ? undefined : `cannot pause while ${view.state}`;
    case Steer.RESUME:
      return view.paused ? undefined : `the release is not paused (state: ${view.state})`;
    case Steer.PROMOTE: {
      if (finished) return finished;
      const { full } = args as SteeringArgs['promote'];
      if (!full && view.state !== ReleaseState.BAKING && view.state !== ReleaseState.PAUSED) return `nothing to promote: the release is ${view.state}, not baking`;
      // Paused between phases: a promote would end the next phase's bake before it began.
      if (!full && !view.inBake) return 'nothing to promote: the release is paused between phases, not in a bake';
      return PROMOTABLE.includes(view.state) ? undefined : `nothing to promote while ${view.state}`;
    }
    case Steer.RESOLVE:
      return view.state === ReleaseState.NEEDS_HUMAN ? undefined : `nothing to resolve: the release is ${view.state}`;
  }
}
