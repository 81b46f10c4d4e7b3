import { z } from 'zod';
import { formatIssues } from './config';
import type { Outcome } from './enums';
import { ACKNOWLEDGEMENTS, type Approval, type PendingApproval, ReleaseState } from './release';
import { SignedSchema } from './signed-request';

/**
 * How people steer a running release: the arguments of each update, and which state allows which
 * update. Pure, so that every rule has a table test; the workflow applies them in its handlers.
 */

/**
 * Control characters (C0, DEL, C1, the line and paragraph separators, bidirectional overrides) in a
 * name or a reason would forge lines in the record, the logs and chat: refused, not escaped.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
export const hasControlCharacters = (s: string): boolean => CONTROL.test(s);
const NO_CONTROL = 'must not contain control characters (newlines, carriage returns, other C0/C1 or U+2028/U+2029)';

/** Who steers: a name (for a signed request, the principal claimed). Checked before blanks are trimmed. */
const who = () => z.string().refine((s) => !hasControlCharacters(s), NO_CONTROL).trim().max(200);
const reasonText = () => z.string().refine((s) => !hasControlCharacters(s), NO_CONTROL).max(2000);
const requiredReason = () => reasonText().trim().min(1, 'a reason must be given');

/** Every update may carry a signed request (payload + SSH signature); the worker verifies it. */
const signed = { signed: SignedSchema.optional() };
/** `by` may only be left out of a signed request, whose key names the principal. */
const named =
  (verb: string) =>
  (a: { by?: string | undefined; signed?: unknown }, ctx: z.RefinementCtx): void => {
    if (a.signed === undefined && !a.by) ctx.addIssue({ code: 'custom', path: ['by'], message: `who ${verb} must be given (or sign the request with --key)` });
  };

/** Arguments of the approve / reject / abort updates, validated where they arrive. */
export const ApproveArgsSchema = z
  .strictObject({
    by: who().optional(),
    reason: reasonText().optional(),
    acknowledge: z.enum(ACKNOWLEDGEMENTS, { error: `must be one of ${ACKNOWLEDGEMENTS.join(', ')}` }).optional(),
    ...signed,
  })
  .superRefine(named('approves'));
export type ApproveArgs = z.input<typeof ApproveArgsSchema>;

export const RejectArgsSchema = z.strictObject({ by: who().optional(), reason: requiredReason(), ...signed }).superRefine(named('rejects'));
export type RejectArgs = z.input<typeof RejectArgsSchema>;

/** Anyone with access may abort (stopping must always be easy); a signed abort records its principal. */
export const AbortArgsSchema = z.strictObject({ reason: requiredReason(), by: who().optional(), ...signed });
export type AbortArgs = z.input<typeof AbortArgsSchema>;

export const PauseArgsSchema = z.strictObject({ by: who().optional(), reason: reasonText().optional(), ...signed }).superRefine(named('pauses'));
export type PauseArgs = z.input<typeof PauseArgsSchema>;

export const ResumeArgsSchema = z.strictObject({ by: who().optional(), ...signed }).superRefine(named('resumes'));
export type ResumeArgs = z.input<typeof ResumeArgsSchema>;

export const PromoteArgsSchema = z
  .strictObject({
    by: who().optional(),
    /** Skip to 100%: every remaining intermediate step, bake and hold is skipped; approval gates still hold. */
    full: z.boolean().default(false),
    ...signed,
  })
  .superRefine(named('promotes'));
export type PromoteArgs = z.input<typeof PromoteArgsSchema>;

/** Breaking a deployment window or a freeze: always with a reason, signed where the worker verifies signers. */
export const OverrideArgsSchema = z.strictObject({ by: who().optional(), reason: requiredReason(), ...signed }).superRefine(named('overrides'));
export type OverrideArgs = z.input<typeof OverrideArgsSchema>;

/** After a failed rollback: run it again, or record that a human restored the service. */
export const ResolveArgsSchema = z
  .strictObject({
    by: who().optional(),
    action: z.enum(['retry', 'restored'], { error: 'must be retry or restored' }),
    reason: requiredReason(),
    ...signed,
  })
  .superRefine(named('resolves'));
export type ResolveArgs = z.input<typeof ResolveArgsSchema>;

/** Approver names compare without case and surrounding space; an email matches its name part too. */
export function sameIdentity(a: string, b: string): boolean {
  const norm = (s: string) => s.trim().toLowerCase();
  const [x, y] = [norm(a), norm(b)];
  return x === y || x.split('@')[0] === y || y.split('@')[0] === x;
}

export const Steer = { APPROVE: 'approve', REJECT: 'reject', ABORT: 'abort', PAUSE: 'pause', RESUME: 'resume', PROMOTE: 'promote', RESOLVE: 'resolve', OVERRIDE: 'override' } as const;
export type Steer = (typeof Steer)[keyof typeof Steer];

export const STEERING_ARGS = {
  approve: ApproveArgsSchema,
  reject: RejectArgsSchema,
  abort: AbortArgsSchema,
  pause: PauseArgsSchema,
  resume: ResumeArgsSchema,
  promote: PromoteArgsSchema,
  resolve: ResolveArgsSchema,
  override: OverrideArgsSchema,
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
  /** Held by a deployment window or a freeze: what an override would break. */
  hold?: string;
}

/** Parses an update's arguments, throwing one line per problem that names the field. */
export function parseSteeringArgs<K extends Steer>(update: K, args: unknown): SteeringArgs[K] {
  const parsed = STEERING_ARGS[update].safeParse(args);
  if (!parsed.success) throw new Error(formatIssues(parsed.error).join('; '));
  return parsed.data as SteeringArgs[K];
}

const PAUSABLE: readonly ReleaseState[] = [ReleaseState.ROLLING_OUT, ReleaseState.DECIDING, ReleaseState.AWAITING_APPROVAL, ReleaseState.DEPLOYING, ReleaseState.BAKING, ReleaseState.WAITING_FOR_WINDOW, ReleaseState.FROZEN];
/** `--full` also while waiting for a window: the intermediate phases are skipped once it opens. */
const PROMOTABLE: readonly ReleaseState[] = [ReleaseState.ROLLING_OUT, ReleaseState.DEPLOYING, ReleaseState.BAKING, ReleaseState.PAUSED, ReleaseState.WAITING_FOR_WINDOW, ReleaseState.FROZEN];
/** What an override breaks: the wait for a window, or a freeze. */
const HELD: readonly ReleaseState[] = [ReleaseState.WAITING_FOR_WINDOW, ReleaseState.FROZEN];
/** Once a rollback has begun, an abort would change nothing: it is refused rather than accepted and ignored. */
const ROLLING_BACK: readonly ReleaseState[] = [ReleaseState.ROLLING_BACK, ReleaseState.VERIFYING_ROLLBACK];

/** Why the update may not run now, or undefined when it may: the validator's rule. */
export function steeringRefusal<K extends Steer>(update: K, args: SteeringArgs[K], view: SteeringView): string | undefined {
  const finished = view.state === ReleaseState.FINISHED ? `the release already finished: ${view.outcome}` : undefined;
  switch (update) {
    case Steer.APPROVE: {
      // Without a name (a signed request before its verification) only the state is judged; the handler judges the principal.
      const { by } = args as SteeringArgs['approve'];
      const pending = view.pendingApproval;
      if (!pending) {
        const done = view.approvals[view.approvals.length - 1];
        return done ? `nothing is waiting for approval (last approved by ${done.by} at ${done.at})` : `nothing is waiting for approval (state: ${view.state})`;
      }
      const already = view.approvals.find((x) => x.target === pending.target);
      if (already) return `already approved by ${already.by} at ${already.at}`;
      const { acknowledge } = args as SteeringArgs['approve'];
      if (pending.mustAcknowledge && acknowledge !== pending.mustAcknowledge) return ACKNOWLEDGE_REFUSAL[pending.mustAcknowledge];
      if (by === undefined) return undefined;
      if (pending.allowedApprovers.length > 0 && !pending.allowedApprovers.some((x) => sameIdentity(x, by)))
        return `${by} may not approve: approval.approvers allows ${pending.allowedApprovers.join(', ')}`;
      if (pending.excludedApprovers.some((x) => sameIdentity(x, by)))
        return `four eyes: ${by} is an author, committer or co-author of this change and may not approve a ${view.riskLevel ?? 'escalated'} release`;
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
      // A fleet's promotion goes to the bakes of the targets that run.
      if (!full && view.state !== ReleaseState.BAKING && view.state !== ReleaseState.PAUSED && view.state !== ReleaseState.ROLLING_OUT) return `nothing to promote: the release is ${view.state}, not baking`;
      // Paused between phases: a promote would end the next phase's bake before it began.
      if (!full && !view.inBake) return 'nothing to promote: the release is paused between phases, not in a bake';
      return PROMOTABLE.includes(view.state) ? undefined : `nothing to promote while ${view.state}`;
    }
    case Steer.RESOLVE:
      return view.state === ReleaseState.NEEDS_HUMAN ? undefined : `nothing to resolve: the release is ${view.state}`;
    case Steer.OVERRIDE:
      if (finished) return finished;
      return HELD.includes(view.state) && view.hold ? undefined : `nothing to override: the release is ${view.state}, not held by a deployment window or a freeze`;
  }
}

/** Why an approval without its acknowledgement is refused, and what to send instead. */
const ACKNOWLEDGE_REFUSAL = {
  'irreversible-migration':
    'this release runs an irreversible migration: a rollback restores the code, never the data the migration drops. Read the record\'s ROLLBACK PLAN, then approve with --acknowledge irreversible-migration',
} as const;

/**
 * The updates that need a verified principal when the worker has an allowed-signers file: each can
 * let a change through (approve, promote, resume, resolve, override) or end it in someone's name (reject).
 * Abort and pause stay open to anyone with access: stopping must always be easy.
 */
export const SIGNED_STEERING: readonly Steer[] = [Steer.APPROVE, Steer.REJECT, Steer.RESUME, Steer.PROMOTE, Steer.RESOLVE, Steer.OVERRIDE];
export const needsSignature = (update: Steer): boolean => SIGNED_STEERING.includes(update);

/** What a signed request of `update` is for, as both the CLI (from status) and the workflow name it. */
export function requestTarget(update: Steer, args: { full?: boolean; action?: string }, pendingTarget: string | undefined, hold?: string): string {
  switch (update) {
    case Steer.APPROVE:
    case Steer.REJECT:
      return pendingTarget ?? '(nothing pending)';
    case Steer.PROMOTE:
      return args.full ? 'full' : 'current bake';
    case Steer.RESOLVE:
      return args.action ?? 'retry';
    case Steer.OVERRIDE:
      // What it breaks: a signature for a window wait never breaks a freeze set meanwhile.
      return hold ?? '(nothing held)';
    default:
      return 'release';
  }
}

/** Every identity of a change's commits (author, committer, Co-authored-by, the verified signer; names and emails): four eyes exclude them all. */
export function changeIdentities(
  commits: readonly { author: string; email: string; committer?: string; committerEmail?: string; coAuthors?: readonly { name: string; email: string }[]; signer?: string }[],
): string[] {
  const all = commits.flatMap((c) => [c.author, c.email, c.committer ?? '', c.committerEmail ?? '', ...(c.coAuthors ?? []).flatMap((a) => [a.name, a.email]), c.signer ?? '']);
  return [...new Set(all.map((s) => s.trim()).filter(Boolean))];
}

/**
 * Who may sign off must be known before a sign-off is asked for: an approver list that is empty
 * while the worker verifies no one (no allowed-signers file) would let anyone with access approve,
 * a configuration error, not an open door. With allowed signers, their principals are the set.
 */
export function approverListProblem(approvers: readonly string[], allowedSigners: boolean): string | undefined {
  if (approvers.length > 0 || allowedSigners) return undefined;
  return 'approval.approvers is empty and the worker verifies no signers (ROLLGATE_ALLOWED_SIGNERS): anyone could approve. Name who may approve in the worker policy or rollgate.yaml, or give the worker an allowed-signers file';
}
