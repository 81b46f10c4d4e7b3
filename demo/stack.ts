import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { MetricInput } from '../src/domain/analysis';
import type { RollgateConfigInput } from '../src/domain/config';
import { Traffic } from './traffic';

/**
 * The demo stack: a stable and a canary instance of the demo service, Prometheus scraping both
 * (Debian's prometheus package), and the load generator. Used by the end-to-end tests, the
 * benchmark and `npm run demo`. With `services` it is a fleet: the same two instances serve every
 * named service, each with its own weight, rate and faults, told apart by the `service` label.
 */

export const DEPLOY_SCRIPT = resolve(__dirname, 'deploy.mjs');
const SERVICE = resolve(__dirname, 'service.ts');

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

async function waitFor(url: string, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`${url}: the process exited with ${child.exitCode}`);
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > end) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** The setup script's Prometheus, else the one on PATH; ROLLGATE_PROMETHEUS_BIN overrides both. */
function prometheusBin(): string {
  const provisioned = resolve(__dirname, '../.tools/bin/prometheus');
  return process.env.ROLLGATE_PROMETHEUS_BIN ?? (existsSync(provisioned) ? provisioned : 'prometheus');
}

export class Prometheus {
  child: ChildProcess | undefined;
  url = '';
  private readonly dir = mkdtempSync(join(tmpdir(), 'rollgate-prom-'));
  log = '';

  constructor(private readonly opts: { scrapeInterval: string; targets: { address: string; labels: Record<string, string> }[] }) {}

  async start(): Promise<string> {
    const port = await freePort();
    const config = {
      global: { scrape_interval: this.opts.scrapeInterval, evaluation_interval: this.opts.scrapeInterval },
      scrape_configs: [{ job_name: 'demo', static_configs: this.opts.targets.map((t) => ({ targets: [t.address], labels: t.labels })) }],
    };
    // JSON is YAML: no YAML writer needed.
    writeFileSync(join(this.dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
    this.child = spawn(
      prometheusBin(),
      [`--config.file=${join(this.dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(this.dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-4000)));
    this.url = `http://127.0.0.1:${port}`;
    await waitFor(`${this.url}/-/ready`, 30_000, this.child);
    // Service discovery hands targets to the scraper only every 5 s: wait for the first scrapes.
    const end = Date.now() + 30_000;
    for (;;) {
      const body = (await fetch(`${this.url}/api/v1/targets`).then((r) => r.json())) as { data: { activeTargets: { health: string }[] } };
      if (body.data.activeTargets.length === this.opts.targets.length && body.data.activeTargets.every((t) => t.health === 'up')) break;
      if (Date.now() > end) throw new Error(`prometheus targets not up after 30 s: ${JSON.stringify(body.data.activeTargets)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return this.url;
  }

  async stop(): Promise<void> {
    await stop(this.child);
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export type FaultInput = { errorRate?: number; latencyMs?: number; scope?: 'all' | 'flag-on' };

export class DemoService {
  child: ChildProcess | undefined;
  url = '';
  constructor(private readonly opts: { service: string; track: string; version: string; flags?: { file: string; flag: string } }) {}

  async start(): Promise<string> {
    const port = await freePort();
    const args = ['--import', 'tsx', SERVICE, '--port', String(port), '--service', this.opts.service, '--track', this.opts.track, '--version', this.opts.version];
    if (this.opts.flags) args.push('--flags', this.opts.flags.file, '--flag', this.opts.flags.flag);
    this.child = spawn(process.execPath, args, { cwd: resolve(__dirname, '..'), stdio: ['ignore', 'ignore', 'inherit'] });
    this.url = `http://127.0.0.1:${port}`;
    await waitFor(`${this.url}/health`, 30_000, this.child);
    return this.url;
  }

  /** Makes this instance fail a share of one service's requests (its own service's without one) and/or slow them down, from now on. */
  async setFault(...args: [fault: FaultInput] | [service: string, fault: FaultInput]): Promise<void> {
    const [service, fault] = args.length === 1 ? [undefined, args[0]] : args;
    const query = service === undefined ? '' : `?service=${encodeURIComponent(service)}`;
    const res = await fetch(`${this.url}/admin/fault${query}`, { method: 'POST', body: JSON.stringify(fault) });
    if (!res.ok) throw new Error(`fault: ${res.status} ${await res.text()}`);
  }

  stop = () => stop(this.child);
}

export interface StackOptions {
  /** The instances' own service, on `/serve` (default `demo`). */
  service?: string;
  scrapeInterval?: string;
  /** The own service's requests per second (default 40; 0 in a fleet). */
  rps?: number;
  flags?: { file: string; flag: string };
  /** A fleet: services routed from the start on `/serve/<name>`; a POST /weight naming a new one adds it. */
  services?: string[];
  /** Requests per second of each fleet service (default 40). */
  rpsPerService?: number;
}

export class DemoStack {
  readonly stable: DemoService;
  readonly canary: DemoService;
  prometheus!: Prometheus;
  traffic!: Traffic;
  routerUrl = '';

  constructor(private readonly opts: StackOptions = {}) {
    const service = opts.service ?? 'demo';
    this.stable = new DemoService({ service, track: 'stable', version: 'v1', ...(opts.flags ? { flags: opts.flags } : {}) });
    this.canary = new DemoService({ service, track: 'canary', version: 'v2', ...(opts.flags ? { flags: opts.flags } : {}) });
  }

  async start(): Promise<void> {
    const [stable, canary] = await Promise.all([this.stable.start(), this.canary.start()]);
    this.prometheus = new Prometheus({
      scrapeInterval: this.opts.scrapeInterval ?? '1s',
      // The services label their own series (service, track, version).
      targets: [
        { address: new URL(stable).host, labels: {} },
        { address: new URL(canary).host, labels: {} },
      ],
    });
    await this.prometheus.start();
    const service = this.opts.service ?? 'demo';
    this.traffic = new Traffic({ stable: `${stable}/serve`, canary: `${canary}/serve` }, this.opts.rps ?? (this.opts.services ? 0 : 40), {
      defaultService: service,
      services: this.opts.services ?? [],
      rpsPerService: this.opts.rpsPerService ?? 40,
    });
    this.routerUrl = await this.traffic.start();
  }

  /** The canary weight the router holds for a service (the own service's without one); 0 for one never routed. */
  weight(service?: string): number {
    return this.traffic.weightOf(service) ?? 0;
  }

  /** Sets one service's fault on the canary (or the stable) instance. */
  async setFault(service: string, fault: FaultInput, track: 'canary' | 'stable' = 'canary'): Promise<void> {
    await this[track].setFault(service, fault);
  }

  async stop(): Promise<void> {
    await this.traffic?.stop();
    await Promise.all([this.stable.stop(), this.canary.stop(), this.prometheus?.dispose()]);
  }
}

// --- rollgate.yaml for the demo stack --------------------------------------------------------------

/** The share of a selector's requests that failed, over `window`. */
export const errorRateQuery = (window: string, selector = 'selector') =>
  `sum(rate(http_requests_total{code=~"5..",{{${selector}}}}[${window}])) / sum(rate(http_requests_total{{{${selector}}}}[${window}]))`;

/** The demo's checks: at most 5% errors and a p99 latency of at most 500 ms (given a few seconds of traffic first), and a judge of errors, canary against stable. */
export const demoMetrics = {
  errorRate: (window = '5s', selector = 'selector'): MetricInput => ({
    name: 'error-rate',
    query: errorRateQuery(window, selector),
    successCondition: 'result <= 0.05',
    failureCondition: 'result > 0.05',
    initialDelay: '3s',
    inconclusiveLimit: 3,
  }),
  /**
   * The sequential judge on errors: the canary's failed requests against stable's, counted since
   * the phase started; it catches a rise far below the threshold (1% → 2%).
   */
  errorsJudge: (): MetricInput => ({
    name: 'errors-judge',
    query: 'sum(increase(http_requests_total{code=~"5..",{{selector}}}[{{sincePhase}}]))',
    judge: { trials: 'sum(increase(http_requests_total{{{selector}}}[{{sincePhase}}]))' },
  }),
  latencyP99: (window = '5s'): MetricInput => ({
    name: 'latency-p99',
    query: `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{{selector}}}[${window}])))`,
    successCondition: 'result <= 0.5',
    failureCondition: 'result > 0.5',
    initialDelay: '3s',
    inconclusiveLimit: 3,
  }),
};

/** The stack's fleet service that stands for one region of a service. */
export const regionRoute = (service: string, region: string) => `${service}-${region}`;

/**
 * rollgate.yaml for a release against the demo stack: the demo deploy command, the stable
 * instance's health as the smoke test, and analysis on this stack's Prometheus with the track
 * selectors. `fleetService` releases one service of a fleet: the selectors add its `service`
 * label and the deploy command moves its weight. `extra` adds or replaces top-level sections.
 */
export function demoReleaseConfig(o: {
  service: string;
  prometheus: string;
  smokeUrl: string;
  metrics: MetricInput[];
  interval?: string;
  fleetService?: string;
  /**
   * Waves across regions: a target per region, one wave each, in order. Each region is a service of
   * the stack's fleet (`<service>-<region>`, its `route` label): its own weight on the router, its own
   * series (the `service` label), so that one region's canary can fail while another's is healthy.
   */
  regions?: { names: string[]; bake?: string; onWaveFailure?: 'rollback' | 'hold' };
  extra?: Partial<RollgateConfigInput>;
}): string {
  const only: Record<string, string> = o.regions ? { service: '{{route}}' } : o.fleetService === undefined ? {} : { service: o.fleetService };
  const route = o.regions ? ['--service', '{route}'] : o.fleetService === undefined ? [] : ['--service', o.fleetService];
  const config: RollgateConfigInput = {
    service: o.service,
    reports: 'reports',
    out: 'out',
    deploy: { command: [process.execPath, DEPLOY_SCRIPT, ...route], timeout: '30s' },
    stages: { production: { smokeUrl: o.smokeUrl } },
    analysis: {
      prometheus: { address: o.prometheus },
      interval: o.interval ?? '2s',
      verifyWindow: '30s',
      selectors: { stable: { track: 'stable', ...only }, canary: { track: 'canary', ...only } },
      metrics: o.metrics,
    },
    ...(o.regions
      ? {
          fleet: {
            targets: o.regions.names.map((r) => ({ name: r, labels: { route: regionRoute(o.service, r) } })),
            waves: o.regions.names.map((r) => ({ targets: [r], bake: o.regions!.bake ?? '0s' })),
            onWaveFailure: o.regions.onWaveFailure ?? 'rollback',
          },
        }
      : {}),
    ...o.extra,
    // Who may sign off: without a name (or a worker's allowed signers) a release needing one aborts.
    approval: { approvers: ['bob', 'oncall'], ...o.extra?.approval },
  };
  return stringify(config);
}
