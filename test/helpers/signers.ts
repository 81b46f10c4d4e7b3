import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalPayload, type Signed, type SignedBody, SIGNATURE_TTL_MS } from '../../src/domain/signed-request';
import { signPayload } from '../../src/evidence/ssh-signature';
import { tempDir } from './fixtures';

/** SSH keys made with the real ssh-keygen, and a worker's allowed-signers file naming some of them. */
export interface Keyring {
  dir: string;
  /** The allowed-signers file: every person given, except those marked `outsider`. */
  allowedSigners: string;
  /** The private key file of a person. */
  key: (name: string) => string;
}

/**
 * `people`: name → principal (an email, as git's allowed-signers files name people); `outsiders` get keys but no line.
 * `namespaces`: what each line allows its key to sign (`git,rollgate` lets git verify commits with the same file).
 */
export function keyring(people: Record<string, string>, outsiders: string[] = [], namespaces = 'rollgate'): Keyring {
  const dir = tempDir('rollgate-keys-');
  const lines: string[] = [];
  for (const [name, principal] of Object.entries(people)) {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', principal, '-f', join(dir, name)]);
    if (!outsiders.includes(name)) lines.push(`${principal} namespaces="${namespaces}" ${readFileSync(join(dir, `${name}.pub`), 'utf8').trim()}`);
  }
  const allowedSigners = join(dir, 'allowed_signers');
  writeFileSync(allowedSigners, `${lines.join('\n')}\n`);
  return { dir, allowedSigners, key: (name) => join(dir, name) };
}

export const nonce = () => randomBytes(16).toString('hex');

/** A payload as the CLI builds it, with what a test overrides. */
export function body(over: Partial<SignedBody> & Pick<SignedBody, 'releaseId' | 'runId' | 'head' | 'action' | 'target'>, nowMs = Date.now()): SignedBody {
  return { rollgate: 'signed-request/v1', nonce: nonce(), expires: new Date(nowMs + SIGNATURE_TTL_MS).toISOString(), ...over };
}

/** Signs a payload with a key, as `rollgate approve --key` does. */
export async function sign(key: string, b: SignedBody): Promise<Signed> {
  const payload = canonicalPayload(b);
  return { payload, signature: await signPayload(key, payload) };
}

/** Signs with ssh-keygen in another namespace (git's), which rollgate must not accept. */
export function signInNamespace(key: string, payload: string, namespace: string): string {
  return execFileSync('ssh-keygen', ['-q', '-Y', 'sign', '-f', key, '-n', namespace], { input: payload, encoding: 'utf8' });
}
