import { Agent, createServer, request, type RequestOptions, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A load generator standing in for a weighted router: it sends a steady stream of requests to the
 * stable and canary instances in proportion to the canary's weight. The deploy command moves the
 * weight through its admin endpoint (POST /weight {"weight": 50}), as it would move a real router.
 *
 * It routes a fleet too: each named service has its own weight and rate and is sent to
 * `<target>/<name>` (the demo service's `/serve/<name>`). POST /weight {"weight": 50, "service":
 * "demo-7"} moves one (and adds it, at the fleet rate, if it is new); without a service it moves
 * the default route, the targets themselves. GET /weight?service=NAME reads one weight, GET
 * /routes every route with its counts.
 */

export interface TrafficOptions {
  /** Services routed from the start, each at `rpsPerService`. */
  services?: string[];
  /** Requests per second of each named service, stable and canary together (default: the default route's rps). */
  rpsPerService?: number;
  /** The name the targets' own service answers to: a POST naming it moves the default route. */
  defaultService?: string;
  /** Connections per instance and service: a service keeps its rate while rps × latency stays under it. */
  maxSockets?: number;
}

export interface RouteStats {
  weight: number;
  rps: number;
  /** Requests sent to each track. */
  sent: { stable: number; canary: number };
  /** Requests not sent because maxSockets × 4 were already waiting on that service. */
  dropped: number;
}

interface Route extends RouteStats {
  path: { stable: string; canary: string };
  agent: Agent;
  inFlight: number;
  /** Requests owed to the rate, and canary requests owed to the weight (error diffusion: the split is exact). */
  due: number;
  canaryDue: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

export class Traffic {
  private readonly routes = new Map<string, Route>();
  private readonly hosts: { stable: RequestOptions; canary: RequestOptions };
  private readonly defaultKey: string;
  private readonly rpsPerService: number;
  private readonly maxSockets: number;
  private timer: NodeJS.Timeout | undefined;
  private admin: Server | undefined;
  private last = 0;

  constructor(targets: { stable: string; canary: string }, rps = 40, opts: TrafficOptions = {}) {
    const parse = (u: string) => new URL(u);
    const t = { stable: parse(targets.stable), canary: parse(targets.canary) };
    this.hosts = {
      stable: { host: t.stable.hostname, port: t.stable.port },
      canary: { host: t.canary.hostname, port: t.canary.port },
    };
    this.rpsPerService = opts.rpsPerService ?? rps;
    this.maxSockets = opts.maxSockets ?? 64;
    this.defaultKey = opts.defaultService ?? '';
    this.routes.set(this.defaultKey, this.route({ stable: t.stable.pathname + t.stable.search, canary: t.canary.pathname + t.canary.search }, rps));
    for (const s of opts.services ?? []) {
      // A fleet that names the own service sends it the fleet's rate too.
      if (s === this.defaultKey) this.routes.get(s)!.rps = this.rpsPerService;
      else this.addService(s);
    }
  }

  /** The default route's canary weight, 0 to 100. */
  get weight(): number {
    return this.routes.get(this.defaultKey)!.weight;
  }
  set weight(w: number) {
    this.routes.get(this.defaultKey)!.weight = w;
  }

  /** The default route's requests per second, stable and canary together. */
  get rps(): number {
    return this.routes.get(this.defaultKey)!.rps;
  }
  set rps(r: number) {
    if (!Number.isFinite(r) || r < 0) throw new RangeError('rps must be 0 or more');
    this.routes.get(this.defaultKey)!.rps = r;
  }

  /** The default route's counts. */
  get sent(): { stable: number; canary: number } {
    return this.routes.get(this.defaultKey)!.sent;
  }

  /** A service's canary weight (the default route's without one); undefined for a service never routed. */
  weightOf(service?: string): number | undefined {
    return this.routes.get(service ?? this.defaultKey)?.weight;
  }

  /** Moves a service's canary weight (the default route's without one), adding the service if it is new. */
  setWeight(weight: number, service?: string): void {
    if (!Number.isFinite(weight) || weight < 0 || weight > 100) throw new RangeError('weight must be 0 to 100');
    (service === undefined ? this.routes.get(this.defaultKey)! : this.addService(service)).weight = weight;
  }

  /** Routes a service from now on (a no-op for one already routed); its requests go to `<target>/<name>`. */
  addService(service: string, opts: { rps?: number; weight?: number } = {}): RouteStats {
    const existing = this.routes.get(service);
    if (existing) return existing;
    if (!NAME.test(service)) throw new RangeError(`bad service name: ${JSON.stringify(service)}`);
    const own = this.routes.get(this.defaultKey)!.path;
    const name = `/${encodeURIComponent(service)}`;
    const route = this.route({ stable: own.stable.replace(/\/?(\?|$)/, `${name}$1`), canary: own.canary.replace(/\/?(\?|$)/, `${name}$1`) }, opts.rps ?? this.rpsPerService);
    route.weight = opts.weight ?? 0;
    this.routes.set(service, route);
    return route;
  }

  /** Sets a service's requests per second, adding the service if it is new; 0 stops its traffic. */
  setRate(service: string, rps: number): void {
    if (!Number.isFinite(rps) || rps < 0) throw new RangeError('rps must be 0 or more');
    this.addService(service).rps = rps;
  }

  /** Every route's weight, rate and counts, by service ('' is an unnamed default route). */
  stats(): Record<string, RouteStats> {
    return Object.fromEntries([...this.routes].map(([k, r]) => [k, { weight: r.weight, rps: r.rps, sent: { ...r.sent }, dropped: r.dropped }]));
  }

  /** Starts the requests and the admin endpoint; returns the admin URL. */
  async start(): Promise<string> {
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), 20);
    this.admin = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        try {
          if (req.method === 'POST' && url.pathname === '/weight') {
            const { weight, service } = JSON.parse(body || '{}') as { weight?: unknown; service?: unknown };
            if (service !== undefined && typeof service !== 'string') throw new RangeError('service must be a string');
            this.setWeight(Number(weight), service);
            return void res.writeHead(200).end(String(Number(weight)));
          }
          if (req.method === 'GET' && url.pathname === '/routes') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.stats()));
          if (req.method !== 'GET') return void res.writeHead(404).end();
          // Any other GET reads a weight, as before fleets.
          const w = this.weightOf(url.searchParams.get('service') ?? undefined);
          res.writeHead(w === undefined ? 404 : 200).end(w === undefined ? 'no such service' : String(w));
        } catch (e) {
          res.writeHead(400).end((e as Error).message);
        }
      });
    });
    await new Promise<void>((r) => this.admin!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.admin.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const r of this.routes.values()) r.agent.destroy();
    await new Promise((r) => this.admin?.close(r) ?? r(undefined));
  }

  private route(path: Route['path'], rps: number): Route {
    // An agent per service: a slow canary of one service holds its own connections, not the others'.
    // Idle sockets close here before the service's 30 s keep-alive ends, so none is reused as it closes.
    const agent = new Agent({ keepAlive: true, maxSockets: this.maxSockets, timeout: 20_000 });
    return { path, agent, rps, weight: 0, sent: { stable: 0, canary: 0 }, dropped: 0, inFlight: 0, due: 0, canaryDue: 0 };
  }

  private tick(): void {
    const now = performance.now();
    // Timers run late under load: send by the time that passed, but catch up at most a quarter second.
    const dt = Math.min(now - this.last, 250) / 1000;
    this.last = now;
    for (const r of this.routes.values()) {
      for (r.due += r.rps * dt; r.due >= 1; r.due--) {
        r.canaryDue += r.weight / 100;
        const track = r.canaryDue >= 1 ? 'canary' : 'stable';
        if (track === 'canary') r.canaryDue--;
        this.send(r, track);
      }
    }
  }

  private send(r: Route, track: 'stable' | 'canary'): void {
    if (r.inFlight >= this.maxSockets * 4) return void r.dropped++;
    r.sent[track]++;
    r.inFlight++;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      r.inFlight--;
    };
    const req = request({ ...this.hosts[track], path: r.path[track], agent: r.agent }, (res) => {
      res.on('end', finish).on('error', finish).resume();
    });
    req.on('error', finish).on('close', finish).end();
  }
}
