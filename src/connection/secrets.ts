import { readFileSync } from 'node:fs';
import { InputError } from '../domain/errors';
import { Redactor, secretValues } from '../domain/redact';

/**
 * Secrets as files (issue 13 §5): `NAME_FILE=/run/secrets/name` gives NAME's value, so the secret
 * need not sit in the worker's environment, which a deploy command running as the same user can read.
 */
export const FILE_SUFFIX = '_FILE';

/**
 * The secrets rollgate itself reads, by their default names; a release's config may name others.
 * ROLLGATE_PROMETHEUS_URL may hold credentials: a file may give it, and its password is redacted
 * (as any URL's is), not the whole address.
 */
export const KNOWN_SECRET_VARIABLES = [
  'TEMPORAL_API_KEY',
  'ROLLGATE_CODEC_KEY',
  'ROLLGATE_CODEC_KEYS',
  'ROLLGATE_CODEC_AUTH_TOKEN',
  'ROLLGATE_PROMETHEUS_TOKEN',
  'ROLLGATE_PROMETHEUS_PASSWORD',
  'ROLLGATE_DEPLOY_WEBHOOK_URL',
  'ROLLGATE_DEPLOY_WEBHOOK_SECRET',
  'ROLLGATE_SLACK_WEBHOOK_URL',
  'ROLLGATE_WEBHOOK_URL',
  'ROLLGATE_WEBHOOK_SECRET',
  'ROLLGATE_PAGERDUTY_ROUTING_KEY',
] as const;

type Env = Readonly<Record<string, string | undefined>>;

/** The value of a secret variable, from NAME or from the file NAME_FILE names (one trailing newline dropped). */
export function secretValue(env: Env, name: string, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): string | undefined {
  const path = env[`${name}${FILE_SUFFIX}`];
  if (!path) return env[name];
  if (env[name]) throw new InputError(`${name} and ${name}${FILE_SUFFIX} are both set: give one`);
  let text: string;
  try {
    text = read(path);
  } catch (e) {
    // The path is not secret; the reason (ENOENT, EACCES) is what a person fixes.
    throw new InputError(`${name}${FILE_SUFFIX}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return text.replace(/\r?\n$/, '');
}

/** Variables that may be given as files: the secrets, and addresses that may hold credentials. */
export const FILE_VARIABLES = [...KNOWN_SECRET_VARIABLES, 'ROLLGATE_PROMETHEUS_URL'] as const;

/** A copy of the environment with these secrets (default: the known ones) read from their files where NAME_FILE is set. */
export function withSecretFiles(env: Env, names: Iterable<string> = FILE_VARIABLES, read?: (path: string) => string): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  for (const name of names) {
    const value = secretValue(env, name, read);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * A redactor of every secret the worker holds: the known variables and those a release names, read
 * from their files too, and every variable whose name says it is secret. A file that cannot be read
 * here is left to fail where the secret is used, with its own message.
 */
export function redactorFromEnv(env: Env, names: Iterable<string> = []): Redactor {
  const all = [...KNOWN_SECRET_VARIABLES, ...names];
  const resolved: Record<string, string | undefined> = { ...env };
  for (const name of [...all, ...FILE_VARIABLES]) {
    try {
      resolved[name] = secretValue(env, name);
    } catch {
      /* reported where it is used */
    }
  }
  return new Redactor(secretValues(resolved, all));
}
