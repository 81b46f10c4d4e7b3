import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type StepInput } from '../../src/activities';
import { CommandDeployer } from '../../src/activities/deployer';
import { FlagdFileProvider } from '../../src/activities/flags';
import { PrometheusProvider, prometheusFromEnv, ProviderError, QueryRejected } from '../../src/activities/prometheus';
import { FileLedgerStore } from '../../src/activities/store';
import { redactorFromEnv } from '../../src/connection/secrets';
import { AnalysisConfigSchema } from '../../src/domain/analysis';
import { REDACTED, Redactor } from '../../src/domain/redact';
import { tempDir } from '../helpers/fixtures';

/*
 * Issue 13 §5: the last lines of a deploy command's stderr, a webhook's answer and a Prometheus
 * address with credentials reached failure messages, and from there workflow history, the decision
 * record and CI output. Each attack below makes a secret appear where it used to leak.
 */

const API_KEY = 'tmprl-api-key-0123456789abcdef';
const WEBHOOK_SECRET = 'whsec-9f8e7d6c5b4a';
const CLOUD_TOKEN = 'cloud-deploy-token-77aa88bb';
const PROM_PASSWORD = 'pr0m-p@ss/word';

/** Sets variables for one test and puts the old values back. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(old)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const e = await p.then(
    () => assert.fail('expected the activity to fail'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(e)}`);
  return e;
}

const realActivities = () =>
  createActivities({
    deployer: new CommandDeployer(),
    metrics: (a) => prometheusFromEnv(a.prometheus),
    flags: new FlagdFileProvider(),
    notifiers: () => [],
    ledger: (outDir) => new FileLedgerStore(join(outDir, 'ledger.jsonl'), outDir),
  });

const assertClean = (text: string, ...secrets: string[]) => {
  for (const s of secrets) assert.ok(!text.includes(s), `"${s}" leaked into: ${text}`);
};

describe('attack: a deploy command prints a secret on stderr and fails', () => {
  const out = tempDir('rollgate-redact-');
  const step = (command: string[]): StepInput => ({
    stage: 'production',
    action: 'deploy',
    weight: 100,
    version: 'v2',
    previousVersion: 'v1',
    releaseId: 'release-auth-0123456789ab',
    idempotencyKey: `release-auth-0123456789ab@run1/${command.length}`,
    commit: 'c0ffee0000000000000000000000000000000000',
    command,
    cwd: out,
    timeoutMs: 20_000,
    outDir: out,
  });

  it('the failure message and the log file hold no secret of the worker, nor a URL\'s credentials', async () => {
    // The command prints the cloud token it inherited, the Temporal API key (read, say, from a file the
    // worker's user can read) and a URL with a password; then it fails.
    const script = `console.error('token ' + process.env.CLOUD_DEPLOY_TOKEN); console.error('key ${API_KEY}'); console.error('db https://deploy:${encodeURIComponent(PROM_PASSWORD)}@db.internal/x'); process.exit(1)`;
    const f = await withEnv({ TEMPORAL_API_KEY: API_KEY, CLOUD_DEPLOY_TOKEN: CLOUD_TOKEN }, () => failure(new MockActivityEnvironment().run(realActivities().deploy, step([process.execPath, '-e', script]))));
    assert.equal(f.type, 'DeployFailed');
    assert.equal(f.nonRetryable, true, 'the retry decision is kept');
    assert.match(f.message, /exited with 1: token \[REDACTED\] \| key \[REDACTED\] \| db https:\/\/\[REDACTED\]@db\.internal\/x/);
    assertClean(`${f.message}\n${f.stack}`, API_KEY, CLOUD_TOKEN, PROM_PASSWORD, encodeURIComponent(PROM_PASSWORD));
    const logs = readdirSync(join(out, 'logs')).map((f) => readFileSync(join(out, 'logs', f), 'utf8')).join('\n');
    assert.match(logs, /token \[REDACTED\]/);
    assertClean(logs, API_KEY, CLOUD_TOKEN, encodeURIComponent(PROM_PASSWORD));
  });

  it('a secret split across two writes is still redacted in the log', async () => {
    const [a, b] = [CLOUD_TOKEN.slice(0, 10), CLOUD_TOKEN.slice(10)];
    const script = `process.stdout.write('x ${a}'); setTimeout(() => { process.stdout.write('${b} y\\n'); process.exit(1); }, 100)`;
    await withEnv({ CLOUD_DEPLOY_TOKEN: CLOUD_TOKEN }, () => failure(new MockActivityEnvironment().run(realActivities().deploy, step([process.execPath, '-e', script, 'split']))));
    const logs = readdirSync(join(out, 'logs')).map((f) => readFileSync(join(out, 'logs', f), 'utf8')).join('\n');
    assert.match(logs, /x \[REDACTED\] y/);
  });
});

describe('attack: a deploy webhook answers with the secret and its own URL', () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      res.writeHead(403).end(`forbidden: signature for ${WEBHOOK_SECRET} at http://127.0.0.1${req.url}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T0K3N-in-the-path-42`;
  });
  after(() => server.close());

  it('the failure message names the status, never the URL or the secret', async () => {
    const out = tempDir('rollgate-redact-hook-');
    const input: StepInput = {
      stage: 'production',
      action: 'deploy',
      weight: 100,
      version: 'v2',
      previousVersion: 'v1',
      releaseId: 'r',
      idempotencyKey: 'r@1/deploy',
      commit: 'c0ffee0000000000000000000000000000000000',
      command: [],
      cwd: out,
      timeoutMs: 5_000,
      outDir: out,
      target: { provider: 'webhook', urlEnv: 'TEAM_HOOK_URL', secretEnv: 'TEAM_HOOK_KEY' },
    };
    // Custom names: redacted because the release's config names them, not by their spelling.
    const f = await withEnv({ TEAM_HOOK_URL: url, TEAM_HOOK_KEY: WEBHOOK_SECRET }, () => failure(new MockActivityEnvironment().run(realActivities().deploy, input)));
    assert.match(f.message, /deploy webhook deploy production: HTTP 403: forbidden: signature for \[REDACTED\]/);
    assertClean(`${f.message}\n${f.stack}`, WEBHOOK_SECRET, 'T0K3N-in-the-path-42');
  });
});

describe('attack: a Prometheus address with credentials', () => {
  let server: Server;
  let port: number;
  const seen: (string | undefined)[] = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      if (req.headers.authorization !== `Basic ${Buffer.from(`promuser:${PROM_PASSWORD}`).toString('base64')}`) return void res.writeHead(401).end('unauthorized');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [0, '0.5'] } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());
  const address = (p: number) => `http://promuser:${encodeURIComponent(PROM_PASSWORD)}@127.0.0.1:${p}`;

  it('the credentials go into an Authorization header, and queries work', async () => {
    const p = new PrometheusProvider({ address: address(port), timeoutMs: 2_000 });
    assert.deepEqual(await p.query('up'), { kind: 'value', value: 0.5 });
    assert.equal(seen.at(-1), `Basic ${Buffer.from(`promuser:${PROM_PASSWORD}`).toString('base64')}`);
  });

  it('an unreachable Prometheus at such an address: no message shows the credentials', async () => {
    const closed = await new Promise<number>((r) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => r(port));
      });
    });
    const p = new PrometheusProvider({ address: address(closed), timeoutMs: 2_000 });
    const e = await p.query('up').then(
      () => assert.fail('answered'),
      (err: unknown) => err as Error,
    );
    assert.ok(e instanceof ProviderError);
    assertClean(`${e.message}\n${e.stack}`, PROM_PASSWORD, encodeURIComponent(PROM_PASSWORD), 'promuser');
  });

  it('through the activities: ROLLGATE_PROMETHEUS_URL with credentials, and a query rejected with the token in its message', async () => {
    const analysis = AnalysisConfigSchema.parse({ metrics: [{ name: 'e', query: 'up', failureCondition: 'result > 1' }] });
    const acts = createActivities({
      deployer: new CommandDeployer(),
      metrics: () => ({
        query: async () => {
          throw new QueryRejected(`prometheus bad_data: auth ${API_KEY} rejected at ${address(port)}`);
        },
        reachable: async () => true,
      }),
      flags: new FlagdFileProvider(),
      notifiers: () => [],
      ledger: (outDir) => new FileLedgerStore(join(outDir, 'ledger.jsonl'), outDir),
    });
    const f = await withEnv({ TEMPORAL_API_KEY: API_KEY }, () => failure(new MockActivityEnvironment().run(acts.checkQueries, { vars: { service: 's', version: 'v2', previousVersion: 'v1', phase: 'p', stage: 'production' }, analysis } as never)));
    assert.match(f.message, /auth \[REDACTED\] rejected at http:\/\/\[REDACTED\]@127\.0\.0\.1/);
    assertClean(`${f.message}\n${f.stack}`, API_KEY, PROM_PASSWORD, encodeURIComponent(PROM_PASSWORD));

    const real = await withEnv({ ROLLGATE_PROMETHEUS_URL: address(port) }, async () => new MockActivityEnvironment().run(realActivities().checkQueries, { vars: { service: 's', version: 'v2', previousVersion: 'v1', phase: 'p', stage: 'production' }, analysis } as never));
    assert.equal(real, '1 accepted', 'the address with credentials works from the worker\'s variable');
  });
});

describe('the redactor', () => {
  it('replaces every known value, longest first, and any URL\'s userinfo', () => {
    const r = new Redactor(['abcd', 'abcdefgh', undefined, '', 'xy']);
    assert.equal(r.redact('abcdefgh abcd xy https://u:p@h/ ftp://tok@h'), `${REDACTED} ${REDACTED} xy https://${REDACTED}@h/ ftp://${REDACTED}@h`);
  });

  it('knows the worker\'s secrets by name, named variables, URL passwords and each codec key', () => {
    const r = redactorFromEnv(
      {
        ROLLGATE_SLACK_WEBHOOK_URL: 'https://hooks.slack.test/services/T/B/XYZ',
        MY_PROM_AUTH: 'custom-named-secret',
        DATABASE_URL: 'postgres://app:dbpass99@db/x',
        ROLLGATE_CODEC_KEYS: 'k2:bmV3LWtleS1ieXRlcw==,k1:b2xkLWtleS1ieXRlcw==',
        HOME: '/home/rollgate',
      },
      ['MY_PROM_AUTH'],
    );
    const text = r.redact('hooks.slack.test/services/T/B/XYZ custom-named-secret dbpass99 bmV3LWtleS1ieXRlcw== b2xkLWtleS1ieXRlcw== /home/rollgate');
    assertClean(text, 'custom-named-secret', 'dbpass99', 'bmV3LWtleS1ieXRlcw==', 'b2xkLWtleS1ieXRlcw==');
    assert.match(text, /\/home\/rollgate$/, 'ordinary variables stay');
    assert.equal(r.redact('see https://hooks.slack.test/services/T/B/XYZ'), `see ${REDACTED}`);
  });
});
