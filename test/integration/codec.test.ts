import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { AesGcmCodec, codecKeysFromEnv } from '../../src/connection/codec';
import { codecServer } from '../../src/connection/codec-server';
import { rollgate, runRelease, startWorker, stopProcess } from '../helpers/cli';
import { passingAnalysis, referenceRepo, writeReports } from '../helpers/fixtures';
import { Prometheus } from '../../demo/stack';
import { readLedger } from '../helpers/ledger';
import { devServerEnv } from '../helpers/servers';

/*
 * Issue 13 §5: workflow payloads were plain to anyone who can read the namespace, and a deploy
 * command's stderr reached them with whatever secret it printed. A real release on the dev server,
 * with a real `rollgate worker` and the CLI as CI calls it, both holding the codec key: the history
 * the server keeps has no readable payload, the release still runs and rolls back, the CLI follows it,
 * and the codec endpoint gives the UI the plain values back.
 */

const TOKEN = `cloud-token-${randomBytes(6).toString('hex')}`;

/** Deploys staging, fails production saying why, with the token it holds on stderr. */
const DEPLOY_SH = `#!/bin/sh
echo "$ROLLGATE_ACTION $1" >> "$(dirname "$0")/deploy-calls.log"
if [ "$ROLLGATE_ACTION" = deploy ] && [ "$1" = production ]; then echo "deploy to production broke (auth $CLOUD_DEPLOY_TOKEN)" >&2; exit 1; fi
exit 0
`;

/**
 * Every Payload message anywhere in the history, with where it is, except search attributes: the
 * server must read those (they are indexed for visibility) and no codec touches them.
 */
function payloads(node: unknown, out: { at: string; p: Payload }[] = [], at = ''): { at: string; p: Payload }[] {
  if (!node || typeof node !== 'object' || node instanceof Uint8Array) return out;
  const o = node as Record<string, unknown>;
  if (o.data instanceof Uint8Array && o.metadata && typeof o.metadata === 'object') out.push({ at, p: o as Payload });
  for (const [k, v] of Object.entries(o)) if (v && typeof v === 'object' && k !== 'searchAttributes') payloads(v, out, `${at}.${k}`);
  return out;
}

/** Commits files to the base branch (reviewed code, where the release policy is read from) and rebases the change onto it. */
function onBase(repo: string, files: Record<string, string>): void {
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' });
  git('checkout', '-q', 'main');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(repo, name), text);
  git('add', '--', ...Object.keys(files));
  git('commit', '-q', '-m', 'chore: release policy');
  git('checkout', '-q', 'feature');
  git('rebase', '-q', 'main');
}

const encoding = (p: Payload) => new TextDecoder().decode(p.metadata?.encoding ?? new Uint8Array());

describe('payload encryption on a real Temporal server', () => {
  let env: TestWorkflowEnvironment;
  let worker: ChildProcess;
  let health: Server;
  let smokeUrl: string;
  const key = randomBytes(32).toString('base64');
  let cliEnv: NodeJS.ProcessEnv;

  /** Every release needs a check that acts (the monitoring gate). */
  const prometheus = new Prometheus({ scrapeInterval: '1s', targets: [] });

  before(async () => {
    [env] = await Promise.all([devServerEnv(), prometheus.start()]);
    health = createServer((_, res) => res.writeHead(200).end('ok'));
    await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
    smokeUrl = `http://127.0.0.1:${(health.address() as AddressInfo).port}/health`;
    cliEnv = { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default', ROLLGATE_CODEC_KEY: key, ROLLGATE_CODEC_KEY_ID: 'it-key' };
    worker = await startWorker({ ...cliEnv, CLOUD_DEPLOY_TOKEN: TOKEN });
  });
  after(async () => {
    await stopProcess(worker);
    health?.close();
    await Promise.all([env?.teardown(), prometheus.dispose()]);
  });

  it('the history holds only ciphertext, the release runs and rolls back, and only the key holders can read it', async () => {
    const repo = referenceRepo();
    writeFileSync(join(repo, 'deploy.sh'), DEPLOY_SH);
    chmodSync(join(repo, 'deploy.sh'), 0o755);
    onBase(repo, {
      'rollgate.yaml': `service: auth-codec\nreports: reports\nout: out\ndeploy:\n  command: ["./deploy.sh", "{stage}"]\n  timeout: 30s\nstages:\n  staging: { smokeUrl: "${smokeUrl}" }\n  production: { smokeUrl: "${smokeUrl}" }\nbake: { staging: 1s, production: 1s }\n${passingAnalysis(prometheus.url)}`,
    });
    writeReports(join(repo, 'reports'));

    // The CLI, with the key, starts and follows the release to its end.
    const res = await runRelease(['--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml')], cliEnv);
    assert.equal(res.code, 4, res.stdout + res.stderr);
    assert.equal(res.result.outcome, 'rolled_back');
    assert.deepEqual(readFileSync(join(repo, 'deploy-calls.log'), 'utf8').trim().split('\n'), ['deploy staging', 'deploy production', 'rollback production', 'rollback staging']);
    assert.match(readLedger(repo)[0]!.reason!, /deploy to production broke \(auth \[REDACTED\]\)/);

    // The server's copy, read without the key: every payload is ciphertext under the key's id.
    const history = await env.client.workflow.getHandle(res.id).fetchHistory();
    const all = payloads(history);
    assert.ok(all.length > 20, `payloads found: ${all.length}`);
    // The SDK core's own bookkeeping of a local activity (its sequence, attempt, type and times) is
    // no data of ours: Temporal writes it plain. Its result is in the same marker, encrypted.
    const bookkeeping = ({ at, p }: { at: string; p: Payload }) => /markerRecordedEventAttributes\.details\.data\./.test(at) && /^\{"seq":\d+,"attempt":\d+,"activity_id":"\d+","activity_type":"\w+"/.test(Buffer.from(p.data!).toString());
    assert.ok(all.some((x) => /markerRecordedEventAttributes\.details\.result\./.test(x.at)), 'local activity results are there');
    for (const { at, p } of all.filter((x) => !bookkeeping(x))) {
      assert.equal(encoding(p), 'binary/encrypted', `${at}: ${Buffer.from(p.data!).toString().slice(0, 300)}`);
      assert.equal(new TextDecoder().decode(p.metadata!['encryption-key-id']!), 'it-key');
    }
    const raw = Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('latin1');
    for (const plain of [repo, 'deploy to production broke', smokeUrl, TOKEN, 'redis_pool', 'qa-report-']) assert.ok(!raw.includes(plain), `"${plain}" is readable in the history`);
    const failed = history.events!.filter((e) => e.activityTaskFailedEventAttributes);
    assert.ok(failed.length > 0, 'the failed deploy is in the history');
    for (const e of failed) assert.equal(e.activityTaskFailedEventAttributes!.failure!.message, 'Encoded failure');

    // With the key, the failure reads back, the secret it printed redacted.
    const codec = new AesGcmCodec(codecKeysFromEnv(cliEnv));
    const [attrs] = await codec.decode([failed[0]!.activityTaskFailedEventAttributes!.failure!.encodedAttributes as Payload]);
    const { message } = defaultPayloadConverter.fromPayload<{ message: string }>(attrs!);
    assert.match(message, /deploy to production broke \(auth \[REDACTED\]\)/);

    // The UI's path: the codec endpoint turns the workflow's input back into JSON.
    const server = codecServer({ codec, origins: ['http://localhost:8233'] });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const input = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
      const body = { payloads: [{ metadata: Object.fromEntries(Object.entries(input.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(input.data!).toString('base64') }] };
      const answer = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/decode`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      const decoded = ((await answer.json()) as { payloads: { data: string }[] }).payloads[0]!;
      assert.ok(Buffer.from(decoded.data, 'base64').toString().includes(repo), 'the decoded input names the repository');
    } finally {
      server.close();
    }

    // The CLI without the key cannot read the release, and says why.
    const blind = await rollgate(['status', res.id, '--json'], { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default', ROLLGATE_CODEC_KEY: '', ROLLGATE_CODEC_KEY_ID: '' });
    assert.equal(blind.code, 1, blind.stdout);
    assert.match(blind.stderr, /encrypted.*ROLLGATE_CODEC_KEY/);
    // With the key, it can.
    const status = await rollgate(['status', res.id, '--json'], cliEnv);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).outcome, 'rolled_back');
  });
});
