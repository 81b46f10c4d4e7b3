import type { CommandVars } from '../domain/command';
import type { ApplyOptions, Deployer, DeployRequest, DeployResult } from './deployer';
import { DeployError } from './deployer';
import { signature } from './signature';
import { secretValue } from '../connection/secrets';

/** The JSON body a deploy webhook receives for each step: the same variables a deploy command gets. */
export type DeployHookPayload = CommandVars;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(new DeployError('cancelled', false))), { once: true });
  });

/**
 * Posts each step to an HTTP endpoint: a JSON body, `Idempotency-Key`, and with a secret
 * `X-Rollgate-Signature: sha256=<HMAC-SHA256 of the body>`. 2xx applies the step (`{"applied": false}`
 * in the answer means the key was already applied); 408, 429 and 5xx are retried with backoff;
 * other statuses fail the step at once.
 */
export class WebhookDeployer implements Deployer {
  constructor(
    private readonly url: string,
    private readonly secret: string | undefined,
    private readonly retry = { attempts: 4, initialMs: 500 },
  ) {}

  deploy = (req: DeployRequest, opts?: ApplyOptions) => this.post(req, opts);
  setWeight = (req: DeployRequest, opts?: ApplyOptions) => this.post(req, opts);
  promote = (req: DeployRequest, opts?: ApplyOptions) => this.post(req, opts);
  switchTraffic = (req: DeployRequest, opts?: ApplyOptions) => this.post(req, opts);
  retire = (req: DeployRequest, opts?: ApplyOptions) => this.post(req, opts);
  rollback = (req: DeployRequest, opts?: ApplyOptions) => this.post(req, opts);
  merge = (req: DeployRequest, opts?: ApplyOptions) => this.post(req, opts);

  private async post(req: DeployRequest, opts: ApplyOptions = {}): Promise<DeployResult> {
    const payload: DeployHookPayload = {
      stage: req.stage,
      action: req.action,
      weight: req.weight,
      version: req.version,
      previousVersion: req.previousVersion,
      releaseId: req.releaseId,
      idempotencyKey: req.idempotencyKey,
      commit: req.commit,
      ...(req.labels ? { labels: req.labels } : {}),
    };
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': req.idempotencyKey, 'x-rollgate-action': req.action };
    if (this.secret) headers['x-rollgate-signature'] = signature(this.secret, body);
    const started = performance.now();
    let last = '';
    for (let attempt = 1; attempt <= this.retry.attempts; attempt++) {
      opts.heartbeat?.();
      let res: Response | undefined;
      try {
        const timeout = AbortSignal.timeout(req.timeoutMs);
        res = await fetch(this.url, { method: 'POST', body, headers, signal: opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout });
      } catch (e) {
        if (opts.signal?.aborted) throw new DeployError(`deploy webhook ${req.action} ${req.stage} was cancelled`, false);
        // The URL may hold a token: name the adapter, not the address.
        last = `unreachable (${(e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).name})`;
      }
      if (res?.ok) {
        const answer = (await res.json().catch(() => ({}))) as { applied?: boolean };
        return { idempotencyKey: req.idempotencyKey, skipped: answer.applied === false, exitCode: 0, durationMs: Math.round(performance.now() - started), logFile: '' };
      }
      if (res) {
        last = `HTTP ${res.status}${await res.text().then((t) => (t ? `: ${t.slice(0, 200)}` : ''), () => '')}`;
        if (![408, 429].includes(res.status) && res.status < 500) throw new DeployError(`deploy webhook ${req.action} ${req.stage}: ${last}`, false);
      }
      if (attempt < this.retry.attempts) await sleep(this.retry.initialMs * 2 ** (attempt - 1), opts.signal);
    }
    // Retryable at the activity level too: the step's retry policy decides.
    throw new DeployError(`deploy webhook ${req.action} ${req.stage}: ${last} after ${this.retry.attempts} attempts`, true);
  }
}

/** The URL and secret from the worker's variables, or from the files their `_FILE` variables name. */
export function webhookDeployerFromEnv(names: { urlEnv: string; secretEnv: string }, env: NodeJS.ProcessEnv = process.env): WebhookDeployer {
  let url: string | undefined;
  let secret: string | undefined;
  try {
    url = secretValue(env, names.urlEnv);
    secret = secretValue(env, names.secretEnv);
  } catch (e) {
    throw new DeployError((e as Error).message, false);
  }
  if (!url) throw new DeployError(`deploy.provider is webhook but the worker has no ${names.urlEnv} (or ${names.urlEnv}_FILE)`, false);
  return new WebhookDeployer(url, secret);
}
