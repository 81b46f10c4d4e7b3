import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { deliver, type Notification, notifiersFromEnv, SlackNotifier } from '../../src/activities/notifier';
import { signature } from '../../src/activities/signature';
import { tempDir } from '../helpers/fixtures';

/** A local receiver that records what arrives, and answers 500 while told to fail. */
class Receiver {
  got: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
  failing = false;
  private server: Server | undefined;
  url = '';
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (this.failing) return void res.writeHead(500).end('down');
        this.got.push({ path: req.url ?? '', headers: req.headers, body });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
    return this.url;
  }
  stop = () => new Promise((r) => this.server?.close(r));
}

const note = (over: Partial<Notification> = {}): Notification => ({
  releaseId: 'release-auth-abc',
  service: 'auth',
  event: 'rollback',
  urgent: false,
  title: 'Rolling back auth v2',
  text: 'analysis failed: error-rate',
  key: 'release-auth-abc@12345678/notify-rollback',
  ...over,
});

describe('notifications to Slack and a signed webhook (local receiver)', () => {
  const receiver = new Receiver();
  let dir: string;
  before(() => receiver.start());
  after(() => receiver.stop());
  beforeEach(() => {
    receiver.got = [];
    receiver.failing = false;
    dir = tempDir();
  });

  const env = () => ({ ROLLGATE_SLACK_WEBHOOK_URL: `${receiver.url}/slack/T000/B000/XXXX`, ROLLGATE_WEBHOOK_URL: `${receiver.url}/hook?token=s3cret-token`, ROLLGATE_WEBHOOK_SECRET: 'hmac-secret' });
  const names = { slackWebhookUrlEnv: 'ROLLGATE_SLACK_WEBHOOK_URL', webhookUrlEnv: 'ROLLGATE_WEBHOOK_URL', webhookSecretEnv: 'ROLLGATE_WEBHOOK_SECRET' };

  it('posts a Block Kit message to Slack and a signed JSON body to the webhook', async () => {
    const r = await deliver(join(dir, 'sent.jsonl'), notifiersFromEnv(join(dir, 'n.jsonl'), names, env()), note({ urgent: true, event: 'rollback-failed', title: 'URGENT: the rollback failed' }));
    assert.deepEqual(r, { sent: ['file', 'slack', 'webhook'], failed: [] });
    const slack = JSON.parse(receiver.got.find((g) => g.path.startsWith('/slack'))!.body) as { text: string; blocks: { type: string; text?: { text: string } }[] };
    assert.deepEqual(slack.blocks.map((b) => b.type), ['header', 'section', 'context']);
    assert.match(slack.blocks[0]!.text!.text, /^🚨 URGENT: the rollback failed/);
    const hook = receiver.got.find((g) => g.path.startsWith('/hook'))!;
    assert.equal(hook.headers['x-rollgate-signature'], `sha256=${createHmac('sha256', 'hmac-secret').update(hook.body).digest('hex')}`);
    assert.equal(hook.headers['x-rollgate-event'], 'rollback-failed');
    assert.equal(hook.headers['idempotency-key'], 'release-auth-abc@12345678/notify-rollback');
    assert.equal((JSON.parse(hook.body) as Notification).releaseId, 'release-auth-abc');
    assert.equal(signature('hmac-secret', hook.body), hook.headers['x-rollgate-signature']);
  });

  it('sends each notification once per channel: a retry re-sends only where it failed', async () => {
    const notifiers = notifiersFromEnv(join(dir, 'n.jsonl'), names, env());
    receiver.failing = true;
    const first = await deliver(join(dir, 'sent.jsonl'), notifiers, note());
    assert.deepEqual(first.sent, ['file']);
    assert.equal(first.failed.length, 2);
    receiver.failing = false;
    const retry = await deliver(join(dir, 'sent.jsonl'), notifiers, note());
    assert.deepEqual(retry.sent, ['slack', 'webhook']);
    const again = await deliver(join(dir, 'sent.jsonl'), notifiers, note());
    assert.deepEqual(again.sent, []);
    assert.equal(receiver.got.length, 2);
    assert.equal(readFileSync(join(dir, 'n.jsonl'), 'utf8').trim().split('\n').length, 1);
  });

  it('never puts a webhook URL or secret into an error message', async () => {
    receiver.failing = true;
    const r = await deliver(join(dir, 'sent.jsonl'), notifiersFromEnv(join(dir, 'n.jsonl'), names, env()), note());
    assert.deepEqual(r.failed, ['slack: slack webhook: HTTP 500', 'webhook: webhook: HTTP 500']);
    const gone = await new SlackNotifier('http://127.0.0.1:9/T000/secret-path').send(note()).catch((e: Error) => e.message);
    assert.doesNotMatch(String(gone), /secret-path|127\.0\.0\.1/);
  });

  it('uses only the file without webhook variables', () => {
    assert.deepEqual(notifiersFromEnv(join(dir, 'n.jsonl'), names, {}).map((n) => n.name), ['file']);
  });
});
