import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';

/**
 * Temporal's remote codec endpoint, for the UI and the `temporal` CLI (`--codec-endpoint`): POST
 * `<endpoint>/decode` and `<endpoint>/encode` with `{"payloads": [{"metadata": {k: base64}, "data": base64}]}`,
 * answering the same shape. The browser calls it directly, so it runs where the people reading
 * histories are, answers CORS only for the UI origins it is given, and may require a bearer token.
 */
export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Origins of Temporal UIs allowed to call from a browser (exact match; `*` allows any). */
  origins: readonly string[];
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  authToken?: string;
  /** Largest request body accepted (default 4 MiB: Temporal's payload limit is 2 MiB). */
  maxBytes?: number;
}

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});

const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new BadRequest(413, `body over ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const given = Buffer.from(req.headers.authorization ?? '');
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

export function codecServer(opts: CodecServerOptions): Server {
  const max = opts.maxBytes ?? 4 * 1024 * 1024;
  const cors = (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    if (!origin || !(opts.origins.includes(origin) || opts.origins.includes('*'))) return;
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    // The UI may send its own credentials (its "include cross-origin credentials" setting).
    res.setHeader('access-control-allow-credentials', 'true');
    res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
    res.setHeader('access-control-allow-headers', 'content-type, x-namespace, authorization');
  };
  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  return createServer((req, res) => {
    cors(req, res);
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    const path = new URL(req.url ?? '/', 'http://codec').pathname;
    const op = path.endsWith('/decode') ? 'decode' : path.endsWith('/encode') ? 'encode' : undefined;
    if (req.method !== 'POST' || !op) return answer(res, 404, { error: 'POST …/encode or …/decode' });
    if (!authorized(req, opts.authToken)) return answer(res, 401, { error: 'a bearer token is required' });
    readBody(req, max)
      .then(async (text) => {
        let body: { payloads?: unknown };
        try {
          body = JSON.parse(text) as { payloads?: unknown };
        } catch {
          throw new BadRequest(400, 'the body is not JSON');
        }
        if (!Array.isArray(body?.payloads)) throw new BadRequest(400, 'the body needs "payloads": [...]');
        const payloads = (body.payloads as JsonPayload[]).map(fromJson);
        const out = await opts.codec[op](payloads).catch((e: Error) => {
          throw new BadRequest(422, e.message);
        });
        answer(res, 200, { payloads: out.map(toJson) });
      })
      .catch((e: Error) => answer(res, e instanceof BadRequest ? e.status : 500, { error: e instanceof BadRequest ? e.message : 'internal error' }));
  });
}
