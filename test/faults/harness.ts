import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Client } from '@temporalio/client';
import type { RollgateConfigInput } from '../../src/domain/config';
import type { ReleaseStatus } from '../../src/domain/release';
import { statusQuery } from '../../src/workflows/messages';
import { commitToBase, makeRepo, writeReports } from '../helpers/fixtures';
import { readJsonLines } from '../helpers/ledger';

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

  calls = () => readJsonLines<TargetCall>(join(this.targetDir, 'calls.log'));
  applied = () => readJsonLines<TargetCall>(join(this.targetDir, 'applied.log'));

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
    approval: { approvers: ['oncall'] },
    ...o.extra,
  };
  commitToBase(repo, { 'rollgate.yaml': stringify(config) });
  o.services.names.add(o.service);
  return repo;
}

/** The flags of `rollgate start` for a canary repository. */
export const startFlags = (repo: string, service: string) => ['--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml'), '--service', service, '--version', 'v2', '--previous-version', 'v1'];

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

/** SIGKILLs a process and waits until it is gone; nothing when it has already exited. */
export async function sigkill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** Where a release can be when its worker dies. */
export type KillPoint = 'deploy command' | 'bake' | 'analysis' | 'rollback';
/** Every kind of kill point, in the order the scheduler aims at them first. */
export const KILL_POINTS: readonly KillPoint[] = ['deploy command', 'bake', 'analysis', 'rollback'];

/** Where a release is, as a kill point; undefined when it is between points (deciding, finished). */
export function pointOf(s: ReleaseStatus, commandRunning: boolean): KillPoint | undefined {
  if (s.state === 'rolling-back' || s.state === 'verifying-rollback') return 'rollback';
  if (commandRunning) return 'deploy command';
  // Production bakes are analysed; staging's is time only.
  if (s.state === 'baking') return s.currentStep?.startsWith('production') ? 'analysis' : 'bake';
  return undefined;
}

/**
 * The worker-kill test's scheduler. It watches where each running release is and SIGKILLs the
 * worker when some release is at the kill point next in turn (a deploy command, a staging bake, a
 * production analysis, a rollback); once each kind has had its turn, whenever a release not yet
 * killed is at any point. After each kill it starts a new worker after a random pause, then pauses
 * again at random before it looks, so that kills land at varied moments of the releases.
 */
export class WorkerKiller {
  /** The kill points each release was caught at. */
  readonly killedAt = new Map<string, KillPoint[]>();
  /** Per kill and kind of point: how many releases were there. */
  readonly kills: { point: KillPoint; releases: number }[] = [];
  /** How many times the worker was killed. */
  count = 0;

  constructor(private readonly o: { client: Client; services: Services; startWorker: () => Promise<ChildProcess> }) {}

  /** Releases caught at a kind of point, over all kills. */
  caughtAt(point: KillPoint): number {
    return this.kills.filter((k) => k.point === point).reduce((n, k) => n + k.releases, 0);
  }

  /**
   * Kills `worker` and its successors until no more releases are coming (`starting()` is false)
   * and none of `releases()` is still running.
   */
  async run(worker: ChildProcess, releases: () => readonly string[], starting: () => boolean): Promise<void> {
    let current = worker;
    const goingOn = async () => starting() || (await this.open(releases())).length > 0;
    for (let round = 0; await goingOn(); round++) {
      const hit = await this.waitForTarget(KILL_POINTS[round], releases, goingOn);
      if (hit.length === 0) continue;
      await sigkill(current);
      this.count++;
      for (const point of new Set(hit.map((h) => h.point))) this.kills.push({ point, releases: hit.filter((h) => h.point === point).length });
      for (const h of hit) this.killedAt.set(h.id, [...(this.killedAt.get(h.id) ?? []), h.point]);
      await sleep(300 + Math.random() * 1200);
      current = await this.o.startWorker();
      await sleep(1000 + Math.random() * 1500);
    }
  }

  /**
   * Every release at a kill point, as soon as one is at `target` (without a target: as soon as one
   * not yet killed is at any); none when 20 s pass first or the releases are over.
   */
  private async waitForTarget(target: KillPoint | undefined, releases: () => readonly string[], goingOn: () => Promise<boolean>): Promise<{ id: string; point: KillPoint }[]> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (await goingOn())) {
      const all = await this.where(releases());
      if (all.some((p) => (target ? p.point === target : !this.killedAt.has(p.id)))) return all;
      await sleep(100);
    }
    return [];
  }

  /** The running releases that are at a kill point, and where. */
  private async where(ids: readonly string[]): Promise<{ id: string; point: KillPoint }[]> {
    const busy = new Set(this.o.services.calls().filter((c) => running(c.pid)).map((c) => releaseOf(c.key)));
    const points = await Promise.all(
      (await this.open(ids)).map(async (id) => {
        const s = await statusOf(this.o.client, id);
        const point = s && pointOf(s, busy.has(id));
        return point ? { id, point } : undefined;
      }),
    );
    return points.filter((p) => p !== undefined);
  }

  private async open(ids: readonly string[]): Promise<string[]> {
    const open: string[] = [];
    for (const id of ids) {
      const d = await this.o.client.workflow.getHandle(id).describe().catch(() => undefined);
      if (d?.status.name === 'RUNNING') open.push(id);
    }
    return open;
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
