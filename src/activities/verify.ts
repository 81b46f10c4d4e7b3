import { access, constants } from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import { parseSignedBody, type RequestContext, type Signed, SIGNATURE_REFUSED, signedRequestRefusal } from '../domain/signed-request';
import { UNFREEZE } from '../domain/freezes';
import { needsSignature, type Steer } from '../domain/steering';
import { SignatureRefused, verifySignature } from '../evidence/ssh-signature';

/** A steering request (or an unfreeze) as the workflow received it, with what it expects the request to be signed for. */
export interface VerifyRequest {
  update: Steer | typeof UNFREEZE;
  /** The name the request gives: with a signature, the principal claimed. */
  by?: string;
  /** The request's reason: a signed payload must carry the same. */
  reason?: string;
  /** The approval's acknowledgement: a signed payload must carry the same. */
  acknowledge?: string;
  signed?: Signed;
  expect: RequestContext;
}

/** Who sent the request: verified when signed by a key of the worker's allowed signers. */
export interface VerifyResult {
  by?: string;
  verified: boolean;
  /** The signed request's one-off nonce, which the release accepts once. */
  nonce?: string;
}

// A refusal is the verifier doing its job: benign, so the worker logs it at debug level, not as an activity failure.
const refuse = (message: string) => ApplicationFailure.create({ message, type: SIGNATURE_REFUSED, nonRetryable: true, category: ApplicationFailureCategory.BENIGN });

/** An unfreeze breaks a freeze for every release it holds: it needs a signature wherever an override does. */
const mustBeSigned = (update: VerifyRequest['update']): boolean => update === UNFREEZE || needsSignature(update);

/**
 * Verifies a steering request. `signers` is the worker's allowed-signers file (its policy): with
 * one, approve, reject, resume, promote, resolve, override and unfreeze must be signed by a key in it, and the verified
 * principal is who acted; without one, names are taken as typed and marked unverified.
 */
export async function verifySteeringRequest(req: VerifyRequest, signers: string | undefined, nowMs = Date.now()): Promise<VerifyResult> {
  if (!req.signed) {
    if (signers && mustBeSigned(req.update))
      throw refuse(`${req.update}: this worker verifies who steers a release: sign the request with your SSH key (rollgate ${req.update} ${req.update === UNFREEZE ? 'FREEZE_ID' : 'ID'} --key ~/.ssh/id_ed25519)`);
    return { ...(req.by ? { by: req.by } : {}), verified: false };
  }
  let body;
  try {
    body = parseSignedBody(req.signed.payload);
  } catch (e) {
    throw refuse((e as Error).message);
  }
  if (req.by !== undefined && body.by !== undefined && req.by !== body.by) throw refuse(`by: the request names ${req.by}, its signed payload ${body.by}`);
  if ((req.reason ?? undefined) !== (body.reason ?? undefined)) throw refuse('reason: differs from the reason the request was signed with');
  if ((req.acknowledge ?? undefined) !== (body.acknowledge ?? undefined)) throw refuse('acknowledge: differs from what the request was signed to acknowledge');
  const wrong = signedRequestRefusal(body, req.expect, nowMs);
  if (wrong) throw refuse(wrong);
  const claimed = req.by ?? body.by;
  if (!signers) {
    // Nothing to verify the key against: the request acts under the name it gives, marked unverified.
    if (!claimed && mustBeSigned(req.update)) throw refuse(`by: who ${req.update}s must be given: this worker has no allowed-signers file to verify the key against`);
    return { ...(claimed ? { by: claimed } : {}), verified: false, nonce: body.nonce };
  }
  try {
    await access(signers, constants.R_OK);
  } catch {
    throw refuse("the worker's allowed-signers file (ROLLGATE_ALLOWED_SIGNERS) cannot be read: ask the worker's operator");
  }
  try {
    return { by: await verifySignature(signers, req.signed.payload, req.signed.signature, claimed), verified: true, nonce: body.nonce };
  } catch (e) {
    if (e instanceof SignatureRefused) throw refuse(e.message);
    throw e;
  }
}
