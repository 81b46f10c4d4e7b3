import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Client } from '@temporalio/client';
import type { RollgateConfigInput } from '../../src/domain/config';
import type { ReleaseStatus } from '../../src/domain/release';
import { statusQuery } from '../../src/workflows/messages';
import { makeRepo, writeReports } from '../helpers/fixtures';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The release ID in an idempotency key (`<release ID>@<run>/<step>`). */
export const releaseOf = (key: string) => key.split('@')[0]!;

/** The idempotent deploy command of the fault tests. */
export const TARGET = resolve(__dirname, 'target.mjs');

/** A canary's change: logic outside the critical areas, so MEDIUM risk → canary 5% → 50% → 100%. */
const CANARY_CHANGE = { base: { 'cart/totals.py': 'def total(items):\n    return sum(items)\n' }, subject: 'fix(cart): round totals', files: { 'cart/totals.py': 'def total(items):\n    return round(sum(items), 2)\n' } };

export interface TargetCall {
  key: string;
  action: string;
  stage: string;
  weight: string;
  pid: number;
  at: number;
  /** Set by a hanging command: the process it left behind. */
  grandchild?: number;
}

const jsonLines = <T>(file: string): T[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T) : []);

/**
 * The services under release, as Prometheus sees them: `fault_errors{service}` is 1 while a faulty
 * service's canary takes 50% or more of its traffic (the weight the deploy command last applied),
 * else 0. Healthy services stay at 0 whatever their weight.
 */
export class Services {
  private server: Server | undefined;
  readonly faulty = new Set<string>();
  readonly names = new Set<string>();
  url = '';

  constructor(readonly targetDir: string) {}

  weight(service: string): number {
    const file = join(this.targetDir, `weight-${service}`);
    return existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0;
  }

  calls = () => jsonLines<TargetCall>(join(this.targetDir, 'calls.log'));
  applied = () => jsonLines<TargetCall>(join(this.targetDir, 'applied.log'));

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      if (req.url === '/health') return void res.writeHead(200).end('ok');
      const lines = [...this.names].map((s) => `fault_errors{service="${s}"} ${this.faulty.has(s) && this.weight(s) >= 50 ? 1 : 0}`);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`# TYPE fault_errors gauge\n${lines.join('\n')}\n`);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  stop(): void {
    this.server?.close();
  }
}

/** A repository with a canary change, reports that pass, and a rollgate.yaml with bakes of seconds. */
export function canaryRepo(o: { service: string; prometheus: string; services: Services; extra?: Partial<RollgateConfigInput> }): string {
  const repo = makeRepo(CANARY_CHANGE.base, [{ subject: CANARY_CHANGE.subject, files: CANARY_CHANGE.files }]);
  writeReports(join(repo, 'reports'));
  const config: RollgateConfigInput = {
    service: o.service,
    reports: 'reports',
    out: 'out',
    heartbeatTimeout: '2s',
    deploy: { command: [process.execPath, TARGET, o.service], timeout: '30s' },
    stages: { production: { smokeUrl: `${o.services.url}/health` } },
    bake: { staging: '1s', production: '1s' },
    canary: { steps: [{ weight: 5, bake: '3s' }, { weight: 50, bake: '4s' }, { weight: 100, bake: '2s' }] },
    analysis: {
      prometheus: { address: o.prometheus },
      interval: '1s',
      verifyWindow: '30s',
      metrics: [{ name: 'errors', query: 'max(fault_errors{service="{{service}}"})', failureCondition: 'result > 0' }],
    },
    ...o.extra,
  };
  writeFileSync(join(repo, 'rollgate.yaml'), stringify(config));
  o.services.names.add(o.service);
  return repo;
}

export const startArgs = (repo: string, service: string) => ['start', '--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml'), '--service', service, '--version', 'v2', '--previous-version', 'v1'];

export const ledgerLines = (repo: string) => jsonLines<Record<string, string>>(join(repo, 'out', 'ledger.jsonl'));

/** The status of a release, or undefined while no worker answers. */
export const statusOf = (client: Client, id: string): Promise<ReleaseStatus | undefined> =>
  client.workflow
    .getHandle(id)
    .query(statusQuery)
    .catch(() => undefined);

/** Waits for a workflow to close and returns its result, polling describe (no long poll that a server restart would break). */
export async function resultOf(client: Client, id: string, timeoutMs: number): Promise<{ outcome: string; reason?: string }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const d = await client.workflow
      .getHandle(id)
      .describe()
      .catch(() => undefined);
    if (d && d.status.name !== 'RUNNING') return (await client.workflow.getHandle(id).result()) as { outcome: string; reason?: string };
    if (Date.now() > end) throw new Error(`${id} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Whether a process runs (a zombie, dead but not reaped, does not). */
export function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}

export type ProxyMode = 'pass' | 'slow' | 'garbage';

/** In front of Prometheus: passes queries on, answers them too late, or answers garbage. */
export class PrometheusProxy {
  mode: ProxyMode = 'pass';
  /** Every Authorization header that arrived: credentials reach Prometheus, and only Prometheus. */
  readonly authorizations = new Set<string>();
  private server: Server | undefined;
  url = '';

  constructor(private readonly upstream: () => string) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void (async () => {
        if (req.headers.authorization) this.authorizations.add(req.headers.authorization);
        if (this.mode === 'garbage') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>502 Bad Gateway, or so</body></html>');
        if (this.mode === 'slow') await new Promise((r) => setTimeout(r, 3000));
        const up = await fetch(`${this.upstream()}${req.url}`).catch((e: Error) => e);
        if (up instanceof Error) return void res.destroy();
        res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' }).end(await up.text());
      })();
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  stop(): void {
    this.server?.closeAllConnections();
    this.server?.close();
  }
}
