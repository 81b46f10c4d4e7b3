/**
 * Removes known secret values and URL credentials from text that may reach workflow history,
 * records, logs or CI output (issue 13 §5): a deploy command's stderr, a webhook's answer, a
 * metric source's error. Secrets are known by value, so a command that prints its token in any
 * wording is caught; credentials in URLs are caught by shape, whether known or not.
 */

export const REDACTED = '[REDACTED]';

/** Shorter values would mask ordinary words; they are not redacted (and are weak secrets anyway). */
export const MIN_SECRET_LENGTH = 4;

/** `scheme://user:password@` or `scheme://token@`: the userinfo of a URL. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@'"<>]+@/gi;

export class Redactor {
  private readonly values: string[];

  constructor(values: Iterable<string | undefined>) {
    const all = new Set<string>();
    for (const v of values) {
      if (!v) continue;
      for (const form of [v, v.trim(), encodeURIComponent(v)]) if (form.length >= MIN_SECRET_LENGTH) all.add(form);
    }
    // Longest first, so that a secret containing another is replaced whole.
    this.values = [...all].sort((a, b) => b.length - a.length);
  }

  /** A redactor that also knows these values. */
  with(values: Iterable<string | undefined>): Redactor {
    return new Redactor([...this.values, ...values]);
  }

  redact(text: string): string {
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return out.replace(URL_USERINFO, `$1${REDACTED}@`);
  }

  get size(): number {
    return this.values.length;
  }
}

/** Variables whose names say they hold a secret, whatever a config calls them. */
const SECRET_NAME = /(SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE_?KEY|CREDENTIAL|WEBHOOK_URL|CODEC_KEY|ROUTING_?KEY)/i;

export const looksSecret = (name: string) => SECRET_NAME.test(name) && !/_FILE$/.test(name);

/** The password (or a lone token) in a URL's userinfo, decoded as a program would print it. */
function urlCredentials(value: string): string[] {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value)) return [];
  try {
    const u = new URL(value);
    const secret = u.password || u.username;
    return secret ? [secret, decodeURIComponent(secret)] : [];
  } catch {
    return [];
  }
}

/** A secret URL's path and query: a webhook's token lives there, and servers echo the path alone. */
function urlPath(value: string): string[] {
  if (!/^https?:\/\//i.test(value)) return [];
  try {
    const u = new URL(value);
    const path = u.pathname + u.search;
    return path.length >= 8 ? [path] : [];
  } catch {
    return [];
  }
}

/**
 * The values to redact from an environment: the named variables, every variable whose name says it
 * holds a secret, and the password of any URL with credentials (a Prometheus or database address).
 * A codec key list (`id:key,id:key`) gives each key as well.
 */
export function secretValues(env: Readonly<Record<string, string | undefined>>, names: Iterable<string> = []): string[] {
  const wanted = new Set(names);
  const out: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    out.push(...urlCredentials(value));
    if (!(wanted.has(name) || looksSecret(name))) continue;
    out.push(value, ...urlPath(value));
    if (/CODEC_KEYS$/.test(name)) for (const part of value.split(',')) out.push(part, part.slice(part.indexOf(':') + 1));
  }
  return out;
}
