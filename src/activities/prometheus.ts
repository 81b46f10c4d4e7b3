/** Metric providers: run one PromQL instant query, tell whether the server is reachable. */
import { parse } from 'yaml';
import { parseDuration } from '../domain/duration';
import { secretValue } from '../connection/secrets';

export type QueryOutcome = { kind: 'value'; value: number } | { kind: 'no-data'; message: string };

export class ProviderError extends Error {}

/** Prometheus refused the query itself (errorType bad_data: a syntax or type error): no retry helps. */
export class QueryRejected extends ProviderError {}

export interface MetricProvider {
  /** A single number, or no data. Throws ProviderError when the provider cannot answer. */
  query(promql: string, signal?: AbortSignal): Promise<QueryOutcome>;
  reachable(signal?: AbortSignal): Promise<boolean>;
  /** How often the source scrapes its targets, when it can say: it sizes the default warm-up. */
  scrapeInterval?(signal?: AbortSignal): Promise<number | undefined>;
}

export interface PrometheusOptions {
  address: string;
  timeoutMs: number;
  bearerToken?: string;
  basicAuth?: { username: string; password: string };
}

interface PromResponse {
  status: 'success' | 'error';
  error?: string;
  errorType?: string;
  data?: { resultType: 'vector' | 'scalar' | 'matrix' | 'string'; result: unknown };
}

const scrapeIntervals = new Map<string, { ms: number | undefined; until: number }>();

/** Prometheus HTTP API, instant queries (`/api/v1/query`). */
export class PrometheusProvider implements MetricProvider {
  private readonly opts: PrometheusOptions;

  constructor(opts: PrometheusOptions) {
    this.opts = withoutUrlCredentials(opts);
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json' };
    if (this.opts.bearerToken) h.authorization = `Bearer ${this.opts.bearerToken}`;
    else if (this.opts.basicAuth) h.authorization = `Basic ${Buffer.from(`${this.opts.basicAuth.username}:${this.opts.basicAuth.password}`).toString('base64')}`;
    return h;
  }

  private async get(path: string, signal?: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    try {
      return await fetch(new URL(path, this.opts.address.replace(/\/?$/, '/')), {
        headers: this.headers(),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      const why = err.name === 'TimeoutError' ? `no answer within ${this.opts.timeoutMs} ms` : (err.cause?.code ?? err.message);
      throw new ProviderError(`prometheus unreachable: ${why}`);
    }
  }

  async query(promql: string, signal?: AbortSignal): Promise<QueryOutcome> {
    const res = await this.get(`api/v1/query?query=${encodeURIComponent(promql)}`, signal);
    const body = (await res.json().catch(() => undefined)) as PromResponse | undefined;
    if (!body) throw new ProviderError(`prometheus answered ${res.status} without JSON`);
    if (body.status !== 'success') {
      const message = `prometheus ${body.errorType ?? res.status}: ${body.error ?? 'unknown error'}`;
      throw body.errorType === 'bad_data' ? new QueryRejected(message) : new ProviderError(message);
    }
    const data = body.data!;
    let raw: string;
    if (data.resultType === 'scalar') raw = (data.result as [number, string])[1];
    else if (data.resultType === 'vector') {
      const series = data.result as { value: [number, string] }[];
      if (series.length === 0) return { kind: 'no-data', message: 'the query returned no series' };
      if (series.length > 1) throw new ProviderError(`the query returned ${series.length} series; aggregate it to one (sum, avg, max)`);
      raw = series[0]!.value[1];
    } else throw new ProviderError(`the query returned a ${data.resultType}; an instant vector or scalar is needed`);
    const value = Number(raw);
    // 0/0 (a rate with no traffic) is NaN: nothing to judge.
    if (Number.isNaN(value)) return { kind: 'no-data', message: 'the query returned NaN (no traffic?)' };
    return { kind: 'value', value };
  }

  /** The global scrape_interval of the server's configuration (`/api/v1/status/config`), remembered a while per address. */
  async scrapeInterval(signal?: AbortSignal): Promise<number | undefined> {
    const known = scrapeIntervals.get(this.opts.address);
    if (known && known.until > Date.now()) return known.ms;
    const ms = await this.readScrapeInterval(signal).catch(() => undefined);
    // Remembered when unknown too: a server that does not say is not asked at every phase.
    scrapeIntervals.set(this.opts.address, { ms, until: Date.now() + 10 * 60_000 });
    return ms;
  }

  private async readScrapeInterval(signal?: AbortSignal): Promise<number | undefined> {
    const res = await this.get('api/v1/status/config', signal);
    const body = (await res.json().catch(() => undefined)) as { status?: string; data?: { yaml?: string } } | undefined;
    if (body?.status !== 'success' || typeof body.data?.yaml !== 'string') return undefined;
    const global = (parse(body.data.yaml) as { global?: { scrape_interval?: unknown } } | null)?.global;
    return typeof global?.scrape_interval === 'string' ? parseDuration(global.scrape_interval) : undefined;
  }

  async reachable(signal?: AbortSignal): Promise<boolean> {
    try {
      const res = await this.get('-/ready', signal);
      return res.ok;
    } catch {
      return false;
    }
  }
}

/**
 * Credentials in the address (`https://user:pass@host`) move into an Authorization header: fetch
 * refuses such a URL with an error that repeats it whole, and the address appears in messages
 * (issue 13 §5). A token or password given on their own win over the URL's.
 */
export function withoutUrlCredentials(opts: PrometheusOptions): PrometheusOptions {
  let url: URL;
  try {
    url = new URL(opts.address);
  } catch {
    return opts; // each request reports it as before
  }
  if (!url.username && !url.password) return opts;
  const username = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  const auth = opts.bearerToken || opts.basicAuth ? {} : password ? { basicAuth: { username, password } } : { bearerToken: username };
  return { ...opts, address: url.toString(), ...auth };
}

/**
 * Credentials come from the worker's environment, named by the config, never from the config
 * itself; each variable may instead name a file (NAME_FILE).
 */
export function prometheusFromEnv(
  cfg: { address?: string | undefined; bearerTokenEnv: string; usernameEnv: string; passwordEnv: string; timeout: number },
  env: NodeJS.ProcessEnv = process.env,
): PrometheusProvider {
  const read = (name: string) => {
    try {
      return secretValue(env, name);
    } catch (e) {
      throw new ProviderError((e as Error).message);
    }
  };
  const address = cfg.address ?? read('ROLLGATE_PROMETHEUS_URL');
  if (!address) throw new ProviderError('no Prometheus address: set analysis.prometheus.address or the worker\'s ROLLGATE_PROMETHEUS_URL');
  const token = read(cfg.bearerTokenEnv);
  const username = read(cfg.usernameEnv);
  const password = read(cfg.passwordEnv);
  return new PrometheusProvider({
    address,
    timeoutMs: cfg.timeout,
    ...(token ? { bearerToken: token } : {}),
    ...(username && password !== undefined ? { basicAuth: { username, password } } : {}),
  });
}
