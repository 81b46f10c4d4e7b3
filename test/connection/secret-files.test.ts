import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultDeps } from '../../src/activities';
import { inheritedEnv } from '../../src/activities/deployer';
import { prometheusFromEnv } from '../../src/activities/prometheus';
import { webhookDeployerFromEnv } from '../../src/activities/webhook-deployer';
import { connectionOptions } from '../../src/connection/client';
import { secretValue, withSecretFiles } from '../../src/connection/secrets';
import { InputError } from '../../src/domain/errors';
import { tempDir } from '../helpers/fixtures';

/*
 * Issue 13 §5: secrets had to sit in the worker's environment, which a deploy command running as the
 * same user can read (/proc/<worker>/environ). With NAME_FILE, the value comes from a file instead.
 */
describe('secrets as files (NAME_FILE)', () => {
  const dir = tempDir('rollgate-secret-files-');
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };

  it('reads the value from the file, dropping one trailing newline only', () => {
    assert.equal(secretValue({ TOKEN_FILE: file('t1', 'abc\n') }, 'TOKEN'), 'abc');
    assert.equal(secretValue({ TOKEN_FILE: file('t2', 'abc\r\n') }, 'TOKEN'), 'abc');
    assert.equal(secretValue({ TOKEN_FILE: file('t3', 'abc\n\n') }, 'TOKEN'), 'abc\n');
    assert.equal(secretValue({ TOKEN: 'plain' }, 'TOKEN'), 'plain');
    assert.equal(secretValue({}, 'TOKEN'), undefined);
  });

  it('refuses both NAME and NAME_FILE, and a file it cannot read, naming the variable', () => {
    assert.throws(() => secretValue({ TOKEN: 'a', TOKEN_FILE: file('t4', 'b') }, 'TOKEN'), (e) => e instanceof InputError && /^TOKEN and TOKEN_FILE are both set: give one$/.test(e.message));
    assert.throws(() => secretValue({ TOKEN_FILE: join(dir, 'missing') }, 'TOKEN'), { message: /^TOKEN_FILE: cannot read .*missing \(ENOENT\)$/ });
    const locked = file('locked', 'x');
    chmodSync(locked, 0o000);
    if (process.getuid?.() !== 0) assert.throws(() => secretValue({ TOKEN_FILE: locked }, 'TOKEN'), { message: /^TOKEN_FILE: cannot read .*locked \(EACCES\)$/ });
  });

  it('withSecretFiles resolves the known secrets and leaves other variables alone', () => {
    const env = withSecretFiles({ ROLLGATE_SLACK_WEBHOOK_URL_FILE: file('slack', 'https://hooks.slack.test/x\n'), COMPOSE_FILE: 'docker-compose.yml' });
    assert.equal(env.ROLLGATE_SLACK_WEBHOOK_URL, 'https://hooks.slack.test/x');
    assert.equal(env.COMPOSE, undefined);
  });

  it('TEMPORAL_API_KEY_FILE gives the API key, and turns TLS on as the key does', () => {
    const { options } = connectionOptions({ TEMPORAL_API_KEY_FILE: file('apikey', 'tmprl-key-from-file\n') });
    assert.equal(options.apiKey, 'tmprl-key-from-file');
    assert.ok(options.tls, 'TLS on with an API key');
    assert.throws(() => connectionOptions({ TEMPORAL_API_KEY_FILE: join(dir, 'nope') }), { message: /^TEMPORAL_API_KEY_FILE: cannot read/ });
  });

  it('the deploy webhook URL and secret, from files named by the release\'s variable names', () => {
    const d = webhookDeployerFromEnv({ urlEnv: 'TEAM_URL', secretEnv: 'TEAM_SECRET' }, { TEAM_URL_FILE: file('u', 'https://deploy.test/hook\n'), TEAM_SECRET_FILE: file('s', 'shh\n') });
    assert.equal((d as unknown as { url: string }).url, 'https://deploy.test/hook');
    assert.equal((d as unknown as { secret: string }).secret, 'shh');
    assert.throws(() => webhookDeployerFromEnv({ urlEnv: 'TEAM_URL', secretEnv: 'TEAM_SECRET' }, {}), /the worker has no TEAM_URL \(or TEAM_URL_FILE\)/);
  });

  it('the worker\'s notifiers take the Slack URL, webhook URL and secret from files', () => {
    const names = { slackWebhookUrlEnv: 'ROLLGATE_SLACK_WEBHOOK_URL', webhookUrlEnv: 'ROLLGATE_WEBHOOK_URL', webhookSecretEnv: 'ROLLGATE_WEBHOOK_SECRET' };
    const vars = { ROLLGATE_SLACK_WEBHOOK_URL_FILE: file('sl', 'https://hooks.slack.test/T/B/x\n'), ROLLGATE_WEBHOOK_URL_FILE: file('wh', 'https://hooks.test/x\n'), ROLLGATE_WEBHOOK_SECRET_FILE: file('ws', 'whs\n') };
    Object.assign(process.env, vars);
    try {
      const notifiers = defaultDeps().notifiers(dir, names);
      assert.deepEqual(notifiers.map((n) => n.name).sort(), ['file', 'slack', 'webhook']);
      const hook = notifiers.find((n) => n.name === 'webhook') as unknown as { url: string; secret: string };
      assert.deepEqual([hook.url, hook.secret], ['https://hooks.test/x', 'whs']);
    } finally {
      for (const k of Object.keys(vars)) delete process.env[k];
    }
  });

  it('the deploy command inherits neither TEMPORAL_API_KEY nor the file that holds it, nor rollgate\'s _FILE settings', () => {
    const env = inheritedEnv({ PATH: '/bin', TEMPORAL_API_KEY_FILE: '/run/secrets/k', ROLLGATE_PROMETHEUS_TOKEN_FILE: '/run/secrets/p' });
    assert.deepEqual(env, { PATH: '/bin' });
  });

  describe('the Prometheus token and password', () => {
    let server: Server;
    let address: string;
    const seen: (string | undefined)[] = [];
    before(async () => {
      server = createServer((req, res) => {
        seen.push(req.headers.authorization);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [0, '1'] } }));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());
    const cfg = { bearerTokenEnv: 'ROLLGATE_PROMETHEUS_TOKEN', usernameEnv: 'ROLLGATE_PROMETHEUS_USERNAME', passwordEnv: 'ROLLGATE_PROMETHEUS_PASSWORD', timeout: 2_000 };

    it('a bearer token from ROLLGATE_PROMETHEUS_TOKEN_FILE reaches Prometheus', async () => {
      await prometheusFromEnv({ ...cfg, address }, { ROLLGATE_PROMETHEUS_TOKEN_FILE: file('pt', 'prom-token-1\n') }).query('up');
      assert.equal(seen.at(-1), 'Bearer prom-token-1');
    });

    it('basic auth from the username and password files, and the address from ROLLGATE_PROMETHEUS_URL_FILE', async () => {
      await prometheusFromEnv(cfg, { ROLLGATE_PROMETHEUS_URL_FILE: file('pu', `${address}\n`), ROLLGATE_PROMETHEUS_USERNAME_FILE: file('pn', 'reader\n'), ROLLGATE_PROMETHEUS_PASSWORD_FILE: file('pp', 'pw-from-file\n') }).query('up');
      assert.equal(seen.at(-1), `Basic ${Buffer.from('reader:pw-from-file').toString('base64')}`);
    });
  });
});
