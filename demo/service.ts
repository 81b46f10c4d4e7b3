/**
 * The demo service: a small HTTP server with prom-client metrics (requests by status code, a
 * latency histogram). Run one instance per track (stable, canary); a canary can be told at run time
 * to fail a share of requests or to slow down, for everyone or only where a flagd flag is on.
 *
 * One process serves a whole fleet of services: `/serve/<name>` counts for service <name> (its own
 * series, its own fault); `/serve` and any other path count for `--service`.
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

/** What a fleet service may be called (traffic.ts checks the same): a path segment as it is, and a label value. */
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

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
const defaultService = values.service!;

const registry = new Registry();
// The request metrics carry their own service label, which wins over this default; the process
// metrics keep the default one.
registry.setDefaultLabels({ service: defaultService, track: values.track!, version: values.version! });
collectDefaultMetrics({ register: registry });
const requests = new Counter({ name: 'http_requests_total', help: 'Requests by status code.', labelNames: ['service', 'code'], registers: [registry] });
const duration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Request latency.',
  labelNames: ['service'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

interface Served {
  fault: Fault;
  ok: Counter.Internal;
  failed: Counter.Internal;
  duration: Histogram.Internal<'service'>;
}
const noFault = (): Fault => ({ errorRate: 0, latencyMs: 0, scope: 'all' });
const faults = new Map<string, Fault>([[defaultService, { ...noFault(), errorRate: Number(values['error-rate']) }]]);
const served = new Map<string, Served>();

/** A service's metric children, made on its first request and kept: a request looks up no labels. */
function serve(service: string): Served {
  let s = served.get(service);
  if (!s) {
    const ok = requests.labels({ service, code: '200' });
    const failed = requests.labels({ service, code: '500' });
    // Both series exist from the first request, so rates are 0 rather than absent.
    ok.inc(0);
    failed.inc(0);
    if (!faults.has(service)) faults.set(service, noFault());
    s = { fault: faults.get(service)!, ok, failed, duration: duration.labels({ service }) };
    served.set(service, s);
  }
  return s;
}
serve(defaultService);

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
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  if (path === '/metrics') {
    void registry.metrics().then((m) => res.writeHead(200, { 'content-type': registry.contentType }).end(m));
    return;
  }
  if (path === '/health') return void res.writeHead(200).end('ok');
  if (path === '/admin/fault' && req.method === 'POST') {
    const service = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)).get('service') ?? defaultService;
    if (!SERVICE_NAME.test(service)) return void res.writeHead(400).end('bad service name');
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      try {
        const next = JSON.parse(body || '{}') as Partial<Fault>;
        const fault: Fault = { errorRate: next.errorRate ?? 0, latencyMs: next.latencyMs ?? 0, scope: next.scope ?? 'all' };
        // Changed in place: the service's Served entry holds the same object.
        let current = faults.get(service);
        if (!current) faults.set(service, (current = noFault()));
        Object.assign(current, fault);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(fault));
      } catch (e) {
        res.writeHead(400).end((e as Error).message);
      }
    });
    return;
  }
  let service = defaultService;
  if (path.startsWith('/serve/')) {
    service = path.slice('/serve/'.length);
    // Any name would be a new series: refuse what a fleet would not use (nothing to decode in what passes).
    if (!SERVICE_NAME.test(service)) return void res.writeHead(404).end('bad service name');
  }
  const s = serve(service);
  const end = s.duration.startTimer();
  const fault = s.fault;
  const faulty = fault.scope === 'all' || Math.random() < flagShare;
  const delay = faulty ? fault.latencyMs : 0;
  setTimeout(() => {
    const failed = faulty && Math.random() < fault.errorRate;
    (failed ? s.failed : s.ok).inc();
    end();
    res.writeHead(failed ? 500 : 200).end(failed ? 'injected failure' : 'ok');
  }, delay);
});
// The load generator keeps its connections; its agent drops idle ones first (see traffic.ts).
server.keepAliveTimeout = 30_000;

server.listen(Number(values.port), values.host, () => {
  const addr = server.address();
  // The first line tells a parent process where to reach this instance.
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : values.port}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
