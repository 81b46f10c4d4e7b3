import { z } from 'zod';
import { formatIssues } from './config';

/**
 * Signed steering requests (issue 13 §2): a person signs a canonical payload with an SSH key, the
 * way git signs commits (`ssh-keygen -Y sign -n rollgate`), and the worker verifies it against its
 * allowed-signers file. The payload binds the signature to one release, one run, one head commit,
 * one action on one target and a few minutes, so that it cannot be replayed anywhere else.
 */

/** The `-n` namespace of every rollgate signature: a signature made for git or another tool is refused. */
export const SIGNATURE_NAMESPACE = 'rollgate';
/** How long a signature made by the CLI stays valid. */
export const SIGNATURE_TTL_MS = 5 * 60_000;
/** The longest validity the worker accepts: a signature is a one-off request, not a standing token. */
export const MAX_SIGNATURE_TTL_MS = 15 * 60_000;
/** Clock skew tolerated between the signer's machine and the worker. */
export const CLOCK_SKEW_MS = 60_000;

/** What a signed payload says, in this key order (the CLI writes it so; the worker reads the bytes it verified). */
export const SignedBodySchema = z.strictObject({
  rollgate: z.literal('signed-request/v1'),
  releaseId: z.string().min(1).max(200),
  runId: z.string().min(1).max(100),
  head: z.string().min(1).max(255),
  action: z.string().min(1).max(20),
  /** Up to an unfreeze's 100 services. */
  target: z.string().min(1).max(7000),
  /** SHA-256 of the decision record the signer was shown, when status gave one. */
  record: z.string().max(100).optional(),
  /** The principal the signer claims; the key must belong to it. */
  by: z.string().max(200).optional(),
  reason: z.string().max(2000).optional(),
  /** What an approval acknowledges (`--acknowledge`): signed, so that no one adds it on the signer's behalf. */
  acknowledge: z.string().max(100).optional(),
  /** One-off: a request is accepted once per run. */
  nonce: z.string().regex(/^[0-9a-f]{16,64}$/, 'must be 16-64 hex digits'),
  expires: z.iso.datetime({ offset: true }),
});
export type SignedBody = z.output<typeof SignedBodySchema>;

/** A request's payload and its SSH signature (the armoured `-----BEGIN SSH SIGNATURE-----` text). Never the key. */
export const SignedSchema = z.strictObject({
  payload: z.string().min(1, 'signed.payload: must not be empty').max(12_000, 'signed.payload: is too long'),
  signature: z
    .string()
    .max(8000, 'signed.signature: is too long')
    .regex(/^-----BEGIN SSH SIGNATURE-----\n[A-Za-z0-9+/=\n]+-----END SSH SIGNATURE-----\n?$/, 'signed.signature: is not an SSH signature'),
});
export type Signed = z.output<typeof SignedSchema>;

/** What the release expects a request to be signed for, as the workflow knows it. */
export interface RequestContext {
  releaseId: string;
  runId: string;
  head: string;
  action: string;
  target: string;
  record?: string;
}

/** The payload the CLI signs: one line of JSON, fields in a fixed order. */
export function canonicalPayload(body: SignedBody): string {
  const ordered: SignedBody = {
    rollgate: body.rollgate,
    releaseId: body.releaseId,
    runId: body.runId,
    head: body.head,
    action: body.action,
    target: body.target,
    ...(body.record !== undefined ? { record: body.record } : {}),
    ...(body.by !== undefined ? { by: body.by } : {}),
    ...(body.reason !== undefined ? { reason: body.reason } : {}),
    ...(body.acknowledge !== undefined ? { acknowledge: body.acknowledge } : {}),
    nonce: body.nonce,
    expires: body.expires,
  };
  return `${JSON.stringify(ordered)}\n`;
}

/** Reads a signed payload, or throws one line naming what is wrong with it. */
export function parseSignedBody(payload: string): SignedBody {
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch {
    throw new Error('signed.payload: is not JSON');
  }
  const parsed = SignedBodySchema.safeParse(raw);
  if (!parsed.success) throw new Error(formatIssues(parsed.error, 'signed.payload').join('; '));
  return parsed.data;
}

/**
 * Why a signed request may not be used here and now, or undefined when its payload fits: made for
 * another release, run, head commit, action, target or decision record, expired, or valid too long.
 * The signature itself is checked by the worker (`ssh-keygen -Y verify`).
 */
export function signedRequestRefusal(body: SignedBody, expected: RequestContext, nowMs: number): string | undefined {
  const other = (what: string, got: string, want: string) => `the signature was made for ${what} ${JSON.stringify(got)}, not ${JSON.stringify(want)}: sign this request anew`;
  if (body.releaseId !== expected.releaseId) return other('release', body.releaseId, expected.releaseId);
  if (body.runId !== expected.runId) return other('run', body.runId, expected.runId);
  if (body.head !== expected.head) return other('head commit', body.head, expected.head);
  if (body.action !== expected.action) return other('action', body.action, expected.action);
  if (body.target !== expected.target) return other('target', body.target, expected.target);
  if (expected.record !== undefined && body.record !== expected.record) return other('decision record', body.record ?? '(none)', expected.record);
  const expires = Date.parse(body.expires);
  if (expires + CLOCK_SKEW_MS <= nowMs) return `the signature expired at ${body.expires}: sign the request anew`;
  if (expires - nowMs > MAX_SIGNATURE_TTL_MS + CLOCK_SKEW_MS) return `the signature is valid until ${body.expires}, longer than ${MAX_SIGNATURE_TTL_MS / 60_000} minutes: sign the request anew`;
  return undefined;
}

/** Who steered: the verified principal, or a typed name when the worker verifies no signatures. */
export interface Signer {
  by: string;
  verified: boolean;
}

/** The failure type of a refused signed request: not retried, shown to the person who sent it. */
export const SIGNATURE_REFUSED = 'SignatureRefused';
