import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIGNATURE_NAMESPACE } from '../domain/signed-request';

/**
 * SSH signatures as git makes them (`ssh-keygen -Y`): the CLI signs a request with the person's
 * key, the worker verifies it against its allowed-signers file. Only the payload and the armoured
 * signature travel; the private key stays where it is and is never read by this code.
 */

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sshKeygen(args: string[], input: string, opts: { timeoutMs?: number; interactive?: boolean } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    // A key with a passphrase asks on the terminal (ssh-keygen opens it itself), never on our stdin.
    const child = spawn('ssh-keygen', args, { stdio: ['pipe', 'pipe', opts.interactive ? 'inherit' : 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject((e as NodeJS.ErrnoException).code === 'ENOENT' ? new Error('ssh-keygen not found: install OpenSSH 8.2 or later') : e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

/** The last meaningful line ssh-keygen said, for an error message (it never prints key material). */
const said = (r: Run) =>
  r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Signing data on standard input/.test(l))
    .pop() ?? `ssh-keygen exited with ${r.code}`;

/** Signs `payload` with the key at `keyPath` (or the public key of an agent's key) in the rollgate namespace. */
export async function signPayload(keyPath: string, payload: string, opts: { interactive?: boolean } = {}): Promise<string> {
  const r = await sshKeygen(['-q', '-Y', 'sign', '-f', keyPath, '-n', SIGNATURE_NAMESPACE], payload, { timeoutMs: 120_000, ...opts });
  if (r.code !== 0 || !r.stdout.includes('-----BEGIN SSH SIGNATURE-----')) throw new Error(`--key: cannot sign with ${keyPath}: ${said(r)}`);
  return r.stdout;
}

/** A signature that does not verify: the message says why, for the person who sent it. */
export class SignatureRefused extends Error {
  override readonly name = 'SignatureRefused';
}

/**
 * The principal that signed `payload` in the rollgate namespace, according to the allowed-signers
 * file: `ssh-keygen -Y find-principals` names the principals of the signing key, `-Y verify` checks
 * the signature for the one chosen (`claimed`, when the request names one). Refused otherwise.
 */
export async function verifySignature(allowedSigners: string, payload: string, signature: string, claimed?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-sig-'));
  try {
    const sig = join(dir, 'request.sig');
    await writeFile(sig, signature, { mode: 0o600 });
    const found = await sshKeygen(['-Y', 'find-principals', '-f', allowedSigners, '-s', sig, '-n', SIGNATURE_NAMESPACE], payload);
    if (found.code !== 0) {
      if (/No principal matched/i.test(found.stderr)) throw new SignatureRefused('the signing key is not in the worker\'s allowed signers');
      throw new SignatureRefused(`the signature cannot be read: ${said(found)}`);
    }
    // A line of the file may name several principals, or patterns (`*@example.com`): only a claimed name is checked against a pattern.
    const principals = [...new Set(found.stdout.split(/[\n,]/).map((l) => l.trim()).filter(Boolean))];
    const literal = principals.filter((p) => !/[*?!]/.test(p));
    let principal: string;
    if (claimed !== undefined) {
      if (!principals.includes(claimed) && literal.length === principals.length) throw new SignatureRefused(`the signing key belongs to ${principals.join(', ')}, not ${claimed}`);
      principal = claimed;
    } else if (literal.length === 1 && principals.length === 1) principal = literal[0] as string;
    else throw new SignatureRefused(`the signing key matches ${principals.join(', ')}: name the principal with --by`);
    const verified = await sshKeygen(['-Y', 'verify', '-f', allowedSigners, '-I', principal, '-n', SIGNATURE_NAMESPACE, '-s', sig], payload);
    if (verified.code !== 0) throw new SignatureRefused(`the signature does not verify for ${principal}: ${said(verified)}`);
    return principal;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
