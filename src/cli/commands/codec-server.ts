import { z } from 'zod';
import { codecFromEnv } from '../../connection/codec';
import { codecServer } from '../../connection/codec-server';
import { secretValue } from '../../connection/secrets';
import { InputError } from '../../domain/errors';
import { ExitCode } from '../exit-code';
import { type FlagSpec, type Out, parseFlags, quoted } from '../flags';

const listen = z.string().transform((text, ctx) => {
  const i = text.lastIndexOf(':');
  const port = Number(text.slice(i + 1));
  if (i > 0 && Number.isInteger(port) && port >= 0 && port <= 65_535) return { host: text.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
  ctx.addIssue({ code: 'custom', message: 'is not HOST:PORT' });
  return z.NEVER;
});

const origin = z.string().refine((o) => o === '*' || /^https?:\/\/[^/\s]+$/.test(o), 'is not an origin (scheme://host[:port], no path)');

const CodecServerFlagsSchema = z.strictObject({
  listen: quoted(listen).default({ host: '127.0.0.1', port: 8888 }),
  origin: z.array(quoted(origin)).optional(),
});

export const codecServerFlags = {
  command: 'codec-server',
  options: { listen: { type: 'string' }, origin: { type: 'string', multiple: true } },
  schema: CodecServerFlagsSchema,
} satisfies FlagSpec<typeof CodecServerFlagsSchema>;

/** The UIs of a local dev server and of the compose stack, and the one ROLLGATE_UI_URL names. */
export function defaultOrigins(env: NodeJS.ProcessEnv): string[] {
  const out = ['http://localhost:8233', 'http://127.0.0.1:8233', 'http://localhost:8080', 'http://127.0.0.1:8080'];
  if (env.ROLLGATE_UI_URL) {
    try {
      out.push(new URL(env.ROLLGATE_UI_URL).origin);
    } catch {
      throw new InputError('ROLLGATE_UI_URL: is not a URL');
    }
  }
  return out;
}

/**
 * `rollgate codec-server`: decrypts payloads for the Temporal UI (its "codec server endpoint") and the
 * `temporal` CLI (`--codec-endpoint`), with the same keys as the CLI and the worker. Loopback by default:
 * run it where the people reading histories are, so payloads are decrypted on their side only.
 */
export async function codecServerCommand(args: string[], out: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const flags = parseFlags(codecServerFlags, args);
  const codec = codecFromEnv(env);
  if (!codec) throw new InputError('no codec key: set ROLLGATE_CODEC_KEY or ROLLGATE_CODEC_KEYS (or their _FILE variables), as for the worker');
  const authToken = secretValue(env, 'ROLLGATE_CODEC_AUTH_TOKEN');
  const origins = flags.origin ?? defaultOrigins(env);
  const server = codecServer({ codec, origins, ...(authToken ? { authToken } : {}) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new InputError(`--listen: cannot listen on ${flags.listen.host}:${flags.listen.port} (${e.code ?? e.message})`)));
    server.listen(flags.listen.port, flags.listen.host, resolve);
  });
  const { port } = server.address() as { port: number };
  out.err(`rollgate codec-server: http://${flags.listen.host}:${port} (keys ${codec.keyIds.join(', ')}; CORS for ${origins.join(', ')}${authToken ? '; bearer token required' : ''})`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return ExitCode.OK;
}
