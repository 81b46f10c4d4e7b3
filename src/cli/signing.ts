import { randomBytes } from 'node:crypto';
import { access, constants } from 'node:fs/promises';
import { InputError } from '../domain/errors';
import { canonicalPayload, type RequestContext, type Signed, SIGNATURE_TTL_MS } from '../domain/signed-request';
import { signPayload } from '../evidence/ssh-signature';

/** Refuses a `--key` this user cannot read, before anything is sent. */
export async function readableKey(key: string): Promise<void> {
  try {
    await access(key, constants.R_OK);
  } catch {
    throw new InputError(`--key: cannot read ${key}`);
  }
}

/**
 * Signs a request with the person's SSH key (ssh-keygen -Y sign, as git signs commits) for what it
 * acts on (`context`) and what it says, one-off and valid for a few minutes. Only the payload and
 * the signature are sent; the key never leaves this machine.
 */
export async function signRequest(key: string, context: RequestContext, says: { by?: string | undefined; reason?: string | undefined; acknowledge?: string | undefined }): Promise<Signed> {
  const payload = canonicalPayload({
    rollgate: 'signed-request/v1',
    ...context,
    ...(says.by ? { by: says.by } : {}),
    ...(says.reason ? { reason: says.reason } : {}),
    ...(says.acknowledge ? { acknowledge: says.acknowledge } : {}),
    nonce: randomBytes(16).toString('hex'),
    expires: new Date(Date.now() + SIGNATURE_TTL_MS).toISOString(),
  });
  try {
    return { payload, signature: await signPayload(key, payload, { interactive: true }) };
  } catch (e) {
    throw new InputError((e as Error).message);
  }
}
