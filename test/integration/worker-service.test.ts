import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync, chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { devServerEnv } from '../helpers/servers';
import { commitToBase, passingAnalysis, referenceRepo, writeReports } from '../helpers/fixtures';
import { rollgate, runRelease, startRelease, startWorker, stopProcess } from '../helpers/cli';
import { freePort, Prometheus } from '../../demo/stack';
import { allText, readableHistory } from '../helpers/history';
import { waitForStatus } from '../helpers/status';
import { RELEASE_STATE_ATTRIBUTE } from '../../src/workflows/messages';

const SLACK_PATH = '/services/T0001/B0001/slack-secret-path';
const HOOK_TOKEN = 'hook-secret-token';
const HMAC_SECRET = 'hmac-secret-value';

describe('the worker as a service on the dev server: notifications, webhook deploys, metrics, and secrets nowhere', () => {
  let env: TestWorkflowEnvironment;
  let worker: ChildProcess;
  let receiver: Server;
  const got: { path: string; event?: string; body: string }[] = [];
  let cliEnv: NodeJS.ProcessEnv;
  let metricsUrl: string;
  /** Every release needs a check that acts (the monitoring gate). */
  const prometheus = new Prometheus({ scrapeInterval: '1s', targets: [] });

  before(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        got.push({ path: req.url ?? '', ...(req.headers['x-rollgate-event'] ? { event: String(req.headers['x-rollgate-event']) } : {}), body });
        if (req.url?.startsWith('/deploy')) assert.equal(req.headers['x-rollgate-signature'], `sha256=${createHmac('sha256', HMAC_SECRET).update(body).digest('hex')}`);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    [env] = await Promise.all([devServerEnv(), prometheus.start()]);
    cliEnv = { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default' };
    metricsUrl = `http://127.0.0.1:${await freePort()}`;
    worker = await startWorker({ ...cliEnv, ROLLGATE_METRICS_ADDRESS: new URL(metricsUrl).host, ROLLGATE_DEPLOY_WEBHOOK_URL: `${base}/deploy?token=${HOOK_TOKEN}`, ROLLGATE_DEPLOY_WEBHOOK_SECRET: HMAC_SECRET, ROLLGATE_SLACK_WEBHOOK_URL: `${base}${SLACK_PATH}`, ROLLGATE_WEBHOOK_URL: `${base}/hook?token=${HOOK_TOKEN}`, ROLLGATE_WEBHOOK_SECRET: HMAC_SECRET });
  });
  after(async () => {
    await stopProcess(worker);
    await Promise.all([env?.teardown(), prometheus.dispose()]);
    receiver?.close();
  });

  it('sends the spec\'s points to Slack and the webhook, and keeps the URLs and secret out of history, record, ledger and logs', async () => {
    const repo = referenceRepo();
    writeFileSync(join(repo, 'deploy.sh'), '#!/bin/sh\necho "deploying $1"; env\n');
    chmodSync(join(repo, 'deploy.sh'), 0o755);
    commitToBase(repo, { 'rollgate.yaml': 'service: notify\nreports: reports\nout: out\ndeploy:\n  command: ["./deploy.sh", "{stage}"]\nbake: { staging: 1s, production: 1s }\n' + passingAnalysis(prometheus.url) });
    writeReports(join(repo, 'reports'));
    const { id, ...res } = await runRelease(['--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml')], cliEnv);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const events = got.filter((g) => g.event).map((g) => g.event);
    assert.deepEqual(events, ['deploy-starting', 'phase-done', 'phase-done', 'released']);
    assert.equal(got.filter((g) => g.path === SLACK_PATH).length, 4);
    assert.match(id, /^release-notify-[0-9a-f]{12}$/);
    const history = readableHistory(historyToJSON(await env.client.workflow.getHandle(id).fetchHistory()));
    assert.ok(history.includes('Deploying notify'), 'payloads are decoded, so the search below means something');
    const files = allText(join(repo, 'out'));
    assert.match(files, /ROLLGATE_STAGE=production/, 'the deploy logs hold the command\'s whole environment');
    for (const secret of [SLACK_PATH, HOOK_TOKEN, HMAC_SECRET]) {
      assert.ok(!history.includes(secret), `${secret} in workflow history`);
      assert.ok(!files.includes(secret), `${secret} in out/`);
      assert.ok(!res.stdout.includes(secret) && !res.stderr.includes(secret), `${secret} in CLI output`);
    }
    assert.ok(history.includes('ROLLGATE_SLACK_WEBHOOK_URL'), 'the history names the variable, not its value');
  });

  it('deploys through the HTTP webhook deployer: each step posted, signed, with its idempotency key', async () => {
    got.length = 0;
    const repo = referenceRepo();
    commitToBase(repo, { 'rollgate.yaml': 'service: hooked\nreports: reports\nout: out\ndeploy:\n  provider: webhook\nbake: { staging: 1s, production: 1s }\n' + passingAnalysis(prometheus.url) });
    writeReports(join(repo, 'reports'));
    const res = await rollgate(['start', '--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml'), '--wait'], cliEnv);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const deploys = got.filter((g) => g.path.startsWith('/deploy')).map((g) => JSON.parse(g.body) as { stage: string; action: string; idempotencyKey: string });
    assert.deepEqual(deploys.map((d) => `${d.action} ${d.stage}`), ['deploy staging', 'deploy production']);
    assert.match(deploys[1]!.idempotencyKey, /^release-hooked-[0-9a-f]{12}@[0-9a-f-]{8}\/production-deploy$/);
    assert.ok(!allText(join(repo, 'out')).includes(HOOK_TOKEN), 'the deploy URL stays out of the record and ledger');
  });

  it('counts releases waiting for approval through the RollgateState search attribute, and observes decision, phase and approval durations', async () => {
    const repo = referenceRepo();
    commitToBase(repo, { 'rollgate.yaml': 'service: gated\nreports: reports\nout: out\ndeploy:\n  command: ["true"]\nbake: { staging: 1s, production: 1s }\napproval: { requiredFor: [LOW], approvers: [alice] }\n' + passingAnalysis(prometheus.url) });
    writeReports(join(repo, 'reports'));
    const gauge = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${metricsUrl}/metrics`)).text())?.[1]);
    assert.equal(await gauge('rollgate_pending_approvals'), 0, 'nothing waits yet');
    const { id } = await startRelease(['--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml')], cliEnv);
    const handle = env.client.workflow.getHandle(id);
    await waitForStatus(handle, (s) => s.state === 'awaiting-approval');
    const waiting = async (n: number) => {
      for (let i = 0; i < 100 && (await gauge('rollgate_pending_approvals')) !== n; i++) await new Promise((r) => setTimeout(r, 100));
      return gauge('rollgate_pending_approvals');
    };
    assert.equal(await waiting(1), 1, 'the waiting release is counted');
    const listed = [];
    for await (const w of env.client.workflow.list({ query: "RollgateState = 'awaiting-approval'" })) listed.push(w.workflowId);
    assert.deepEqual(listed, [id], 'and can be listed by state in visibility');
    assert.equal(await gauge('rollgate_releases_needing_human'), 0);
    assert.equal((await rollgate(['approve', id, '--by', 'alice'], cliEnv)).code, 0);
    assert.equal((await handle.result()).outcome, 'released');
    assert.equal(await waiting(0), 0, 'an answered approval is no longer counted');
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    assert.match(text, /^rollgate_decision_duration_seconds_count\{decision="APPROVED"\} 3$/m, 'every release so far was decided');
    assert.match(text, /^rollgate_approval_wait_seconds_count\{kind="release",outcome="approved"\} 1$/m);
    assert.match(text, /^rollgate_phase_duration_seconds_count\{phase="production-deploy"\} 3$/m);
    const described = await handle.describe();
    assert.deepEqual(described.typedSearchAttributes.get(RELEASE_STATE_ATTRIBUTE), 'finished');
  });

  it('serves /healthz and /metrics: its own counters and the Temporal SDK\'s, and stops cleanly on SIGTERM', async () => {
    const health = await fetch(`${metricsUrl}/healthz`);
    assert.equal(health.status, 200);
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    assert.match(text, /^rollgate_releases_started_total\{strategy="immediate",risk="LOW"\} 3$/m);
    assert.match(text, /^rollgate_releases_finished_total\{outcome="released",strategy="immediate"\} 3$/m);
    assert.match(text, /^rollgate_step_duration_seconds_count\{action="deploy"\} 6$/m);
    assert.match(text, /^rollgate_release_duration_seconds_count\{outcome="released"\} 3$/m);
    assert.match(text, /^temporal_\w+/m, 'the SDK runtime metrics follow');
    const exited = new Promise<number | null>((r) => worker.once('exit', (code) => r(code)));
    const t0 = Date.now();
    worker.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms to stop`);
    await assert.rejects(fetch(`${metricsUrl}/healthz`), 'the endpoint is gone with the worker');
  });
});
