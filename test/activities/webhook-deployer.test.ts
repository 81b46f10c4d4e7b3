import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DeployError, type DeployRequest } from '../../src/activities/deployer';
import { type DeployHookPayload, WebhookDeployer, webhookDeployerFromEnv } from '../../src/activities/webhook-deployer';
import { freePort } from '../../demo/stack';

describe('the HTTP webhook deployer (local receiver)', () => {
  let server: Server;
  let url = '';
  let got: { headers: IncomingHttpHeaders; body: string }[] = [];
  /** Status codes to answer, in order; 200 once they run out. */
  let script: number[] = [];
  let answer = '{}';

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        got.push({ headers: req.headers, body });
        const status = script.shift() ?? 200;
        res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? answer : 'nope');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/deploy?token=url-secret`;
  });
  after(() => server.close());
  beforeEach(() => {
    got = [];
    script = [];
    answer = '{}';
  });

  const req = (over: Partial<DeployRequest> = {}): DeployRequest => ({
    stage: 'production',
    action: 'set-weight',
    weight: 50,
    version: 'v2',
    previousVersion: 'v1',
    releaseId: 'release-auth-abc',
    idempotencyKey: 'release-auth-abc@12345678/production-canary-50',
    commit: 'c0ffee0000000000000000000000000000000000',
    command: [],
    cwd: '.',
    timeoutMs: 5000,
    logDir: '.',
    stateDir: '.',
    ...over,
  });
  const fast = { attempts: 3, initialMs: 10 };

  it('posts the step as signed JSON with its idempotency key', async () => {
    const r = await new WebhookDeployer(url, 'hook-secret', fast).setWeight(req());
    assert.equal(r.skipped, false);
    const [call] = got;
    const payload = JSON.parse(call!.body) as DeployHookPayload;
    assert.deepEqual(payload, { stage: 'production', action: 'set-weight', weight: 50, version: 'v2', previousVersion: 'v1', releaseId: 'release-auth-abc', idempotencyKey: 'release-auth-abc@12345678/production-canary-50', commit: 'c0ffee0000000000000000000000000000000000' });
    assert.equal(call!.headers['idempotency-key'], payload.idempotencyKey);
    assert.equal(call!.headers['x-rollgate-signature'], `sha256=${createHmac('sha256', 'hook-secret').update(call!.body).digest('hex')}`);
  });

  it('retries 503 and 429 with backoff, then succeeds', async () => {
    script = [503, 429];
    await new WebhookDeployer(url, undefined, fast).deploy(req({ action: 'deploy' }));
    assert.equal(got.length, 3);
    assert.ok(got.every((g) => g.headers['idempotency-key'] === 'release-auth-abc@12345678/production-canary-50'), 'the same key on every attempt');
  });

  it('fails at once on a 4xx, naming the step but never the URL', async () => {
    script = [400];
    await assert.rejects(new WebhookDeployer(url, undefined, fast).rollback(req({ action: 'rollback' })), (e: Error) => {
      assert.ok(e instanceof DeployError && !e.retryable);
      assert.match(e.message, /^deploy webhook rollback production: HTTP 400: nope$/);
      assert.doesNotMatch(e.message, /url-secret|127\.0\.0\.1/);
      return true;
    });
    assert.equal(got.length, 1);
  });

  it('reports a key the target had already applied as skipped', async () => {
    answer = '{"applied": false}';
    assert.equal((await new WebhookDeployer(url, undefined, fast).promote(req({ action: 'promote' }))).skipped, true);
  });

  it('gives up on an unreachable target with a retryable error, and needs its URL variable', async () => {
    const gone = new WebhookDeployer(`http://127.0.0.1:${await freePort()}/x?token=url-secret`, undefined, fast);
    await assert.rejects(gone.deploy(req()), (e: Error) => e instanceof DeployError && e.retryable && /unreachable \(ECONNREFUSED\) after 3 attempts/.test(e.message) && !e.message.includes('url-secret'));
    assert.throws(() => webhookDeployerFromEnv({ urlEnv: 'DEPLOY_URL', secretEnv: 'DEPLOY_SECRET' }, {}), /the worker has no DEPLOY_URL/);
  });
});
