/**
 * The demo service: a small HTTP server with prom-client metrics (requests by status code, a
 * latency histogram). Run one instance per track (stable, canary); a canary can be told at run time
 * to fail a share of requests or to slow down, for everyone or only where a flagd flag is on.
 *
 *   node --import tsx demo/service.ts --port 8081 --track canary --version v2 [--flags FILE --flag NAME]
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Fault {
  /** Share of requests answered with 500, 0 to 1. */
  errorRate: number;
  /** Extra latency per request. */
  latencyMs: number;
  /** Where the fault applies: every request, or only requests that get the flag's "on" variant. */
  scope: 'all' | 'flag-on';
}

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    service: { type: 'string', default: 'demo' },
    track: { type: 'string', default: 'stable' },
    version: { type: 'string', default: 'v1' },
    flags: { type: 'string' },
    flag: { type: 'string' },
    'error-rate': { type: 'string', default: '0' },
  },
});

const registry = new Registry();
registry.setDefaultLabels({ service: values.service!, track: values.track!, version: values.version! });
collectDefaultMetrics({ register: registry });
const requests = new Counter({ name: 'http_requests_total', help: 'Requests by status code.', labelNames: ['code'], registers: [registry] });
const duration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Request latency.',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});
// Both series exist from the start, so rates are 0 rather than absent.
requests.inc({ code: '200' }, 0);
requests.inc({ code: '500' }, 0);

let fault: Fault = { errorRate: Number(values['error-rate']), latencyMs: 0, scope: 'all' };
let flagShare = 0;

/** The share of users with the flag on, from flagd's fractional targeting (or the default variant). */
async function readFlagShare(): Promise<void> {
  if (!values.flags || !values.flag) return;
  try {
    const doc = JSON.parse(await readFile(values.flags, 'utf8')) as { flags: Record<string, { defaultVariant: string; targeting?: { fractional?: [string, number][] } }> };
    const f = doc.flags[values.flag];
    if (!f) flagShare = 0;
    else if (f.targeting?.fractional) flagShare = (f.targeting.fractional.find(([v]) => v === 'on')?.[1] ?? 0) / 100;
    else flagShare = f.defaultVariant === 'on' ? 1 : 0;
  } catch {
    flagShare = 0;
  }
}
setInterval(() => void readFlagShare(), 250).unref();
void readFlagShare();

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/metrics') {
    void registry.metrics().then((m) => res.writeHead(200, { 'content-type': registry.contentType }).end(m));
    return;
  }
  if (url.pathname === '/health') return void res.writeHead(200).end('ok');
  if (url.pathname === '/admin/fault' && req.method === 'POST') {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      try {
        const next = JSON.parse(body || '{}') as Partial<Fault>;
        fault = { errorRate: next.errorRate ?? 0, latencyMs: next.latencyMs ?? 0, scope: next.scope ?? 'all' };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(fault));
      } catch (e) {
        res.writeHead(400).end((e as Error).message);
      }
    });
    return;
  }
  const end = duration.startTimer();
  const faulty = fault.scope === 'all' || Math.random() < flagShare;
  const delay = faulty ? fault.latencyMs : 0;
  setTimeout(() => {
    const code = faulty && Math.random() < fault.errorRate ? 500 : 200;
    requests.inc({ code: String(code) });
    end();
    res.writeHead(code).end(code === 200 ? 'ok' : 'injected failure');
  }, delay);
});

server.listen(Number(values.port), values.host, () => {
  const addr = server.address();
  // The first line tells a parent process where to reach this instance.
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : values.port}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
