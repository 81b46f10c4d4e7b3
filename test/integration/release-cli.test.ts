import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { devServerEnv } from '../helpers/servers';
import { commitToBase, git, makeRepo, passingAnalysis, referenceRepo, tempDir, writeReports } from '../helpers/fixtures';
import { Prometheus } from '../../demo/stack';
import { rollgate, runRelease, startRelease, startWorker, stopProcess } from '../helpers/cli';
import { readLedger } from '../helpers/ledger';
import { waitForStatus } from '../helpers/status';
import { PagerDutyReceiver } from '../helpers/pagerduty';

/** A deploy script that records each call (argv and the idempotency key) and fails where told to. */
const DEPLOY_SH = `#!/bin/sh
echo "$ROLLGATE_ACTION $1 $ROLLGATE_VERSION $ROLLGATE_IDEMPOTENCY_KEY" >> "$(dirname "$0")/deploy-calls.log"
if [ "$ROLLGATE_ACTION" = deploy ] && [ -f "$(dirname "$0")/fail-$1" ]; then echo "deploy to $1 broke" >&2; exit 1; fi
exit 0
`;

/** Every release needs a check that acts (the monitoring gate): one Prometheus for the file. */
const prometheus = new Prometheus({ scrapeInterval: '1s', targets: [] });

function setUp(repo: string, smokeUrl: string, extraYaml = '', bake = '{ staging: 1s, production: 2s }'): void {
  writeFileSync(join(repo, 'deploy.sh'), DEPLOY_SH);
  chmodSync(join(repo, 'deploy.sh'), 0o755);
  commitToBase(repo, {
    'rollgate.yaml': `service: auth
reports: reports
out: out
deploy:
  command: ["./deploy.sh", "{stage}"]
  timeout: 30s
stages:
  staging: { smokeUrl: "${smokeUrl}" }
  production: { smokeUrl: "${smokeUrl}" }
bake: ${bake}
${passingAnalysis(prometheus.url)}${extraYaml}`,
  });
  writeReports(join(repo, 'reports'));
}

const calls = (repo: string) => (existsSync(join(repo, 'deploy-calls.log')) ? readFileSync(join(repo, 'deploy-calls.log'), 'utf8').trim().split('\n') : []);

// The tests run side by side: each release is of a service of its own (the freeze holds only its own).
describe('release from the CLI on the dev server with the real activities', { concurrency: true }, () => {
  let env: TestWorkflowEnvironment;
  let worker: ChildProcess;
  let health: Server;
  let smokeUrl: string;
  let cliEnv: NodeJS.ProcessEnv;
  /** The on-call engineer's pager: the worker's PagerDuty routing key points its events here. */
  const pager = new PagerDutyReceiver();
  const ROUTING_KEY = 'Rintegration0123456789abcdef0123';

  before(async () => {
    [env] = await Promise.all([devServerEnv(), prometheus.start(), pager.start()]);
    health = createServer((_, res) => res.writeHead(200).end('ok'));
    await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
    smokeUrl = `http://127.0.0.1:${(health.address() as AddressInfo).port}/health`;
    cliEnv = { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default' };
    worker = await startWorker({ ...cliEnv, ROLLGATE_PAGERDUTY_ROUTING_KEY: ROUTING_KEY, ROLLGATE_PAGERDUTY_EVENTS_URL: pager.url });
  });
  after(async () => {
    await stopProcess(worker);
    health?.close();
    await Promise.all([env?.teardown(), prometheus.dispose(), pager.stop()]);
  });

  it('releases the spec reference change by the immediate plan, and a re-run attaches instead of starting again', async () => {
    const repo = referenceRepo();
    // Long enough bakes that the re-run finds the release still running, with the other tests' CLI processes starting beside it.
    setUp(repo, smokeUrl, '', '{ staging: 8s, production: 8s }');
    const flags = ['--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml')];
    const { id, attached, ui } = await startRelease(flags, cliEnv);
    assert.match(id, /^release-auth-[0-9a-f]{12}$/);
    assert.equal(attached, false);
    assert.equal(ui, `http://localhost:8233/namespaces/default/workflows/${id}`);
    const again = await rollgate(['start', ...flags, '--wait'], cliEnv);
    assert.match(again.stdout, /attached to running release/);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /released/);

    assert.deepEqual(calls(repo).map((l) => l.split(' ').slice(0, 2).join(' ')), ['deploy staging', 'deploy production']);
    assert.ok(calls(repo).every((l) => new RegExp(`${id}@[0-9a-f-]{8}/(staging|production)-deploy$`).test(l)), calls(repo).join('\n'));
    const entries = readLedger(repo);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.outcome, 'released');
    assert.equal(entries[0]!.risk_level, 'LOW');
    assert.equal(entries[0]!.rollout_strategy, 'immediate');
    assert.equal(typeof entries[0]!.lead_time_seconds, 'number');
    const records = readdirSync(join(repo, 'out')).filter((f) => /^release-decision-\d{8}-\d{6}\.md$/.test(f));
    assert.equal(records.length, 1);
    const record = readFileSync(join(repo, 'out', records[0]!), 'utf8');
    assert.match(record, /Risk Level: \*\*LOW\*\*/);
    // The names given, with the commits they stood for when the release started.
    const sha = (ref: string) => git(repo, ['rev-parse', ref]).trim().slice(0, 12);
    assert.ok(record.includes(`**Branch**: feature at ${sha('feature')} (base: main at ${sha('main')})`), record.slice(0, 400));
    assert.match(record, /Configuration change only/);
    assert.match(record, /`auth\/redis_pool\.py` \(1 line\)/);
    assert.match(record, /\*\*Outcome\*\*: released/);

    const status = await rollgate(['status', id, '--json'], cliEnv);
    assert.equal(status.code, 0);
    assert.equal(JSON.parse(status.stdout).outcome, 'released');
  });

  it('rolls back by itself when the production deploy fails, and exits 4', async () => {
    const repo = referenceRepo();
    setUp(repo, smokeUrl);
    writeFileSync(join(repo, 'fail-production'), '');
    const res = await runRelease(['--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml'), '--service', 'auth-rb'], cliEnv);
    assert.equal(res.code, 4, res.stdout + res.stderr);
    assert.equal(res.result.outcome, 'rolled_back');
    assert.deepEqual(
      calls(repo).map((l) => l.split(' ').slice(0, 2).join(' ')),
      ['deploy staging', 'deploy production', 'rollback production', 'rollback staging'],
    );
    const entry = readLedger(repo)[0]!;
    assert.equal(entry.outcome, 'rolled_back');
    assert.match(entry.reason!, /deploy to production broke/);
  });

  it('waits for a human on a CRITICAL change: four eyes at the caller, approve, then release', async () => {
    const repo = makeRepo({ 'auth/login.py': 'def login(u):\n    return True\n' }, [{ subject: 'fix(auth): check password', files: { 'auth/login.py': 'def login(u, p):\n    return check(u, p)\n' } }]);
    // Staging bakes 10 s: the second approval below must come before the switch's sign-off is asked.
    setUp(repo, smokeUrl, 'blueGreen: { rollbackWindow: 1s }\napproval: { approvers: [bob, carol, alice@example.com] }\n', '{ staging: 10s, production: 2s }');
    const flags = ['--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml')];
    const { id } = await startRelease(flags, cliEnv);
    // CI waiting on it gives up after its timeout with the exit status for "a human must act".
    const waiting = await rollgate(['start', ...flags, '--wait', '--wait-timeout', '3s'], cliEnv);
    assert.equal(waiting.code, 3, waiting.stdout + waiting.stderr);
    assert.match(waiting.stdout, /waiting for approval/);
    // With --json, stdout is one JSON document at the timeout too.
    const waitingJson = await rollgate(['start', ...flags, '--wait', '--wait-timeout', '2s', '--json'], cliEnv);
    assert.equal(waitingJson.code, 3);
    const answer = JSON.parse(waitingJson.stdout) as { releaseId: string; attached: boolean; running: boolean; waitingForHuman: boolean; status: { state: string } };
    assert.deepEqual([answer.releaseId, answer.attached, answer.running, answer.waitingForHuman, answer.status.state], [id, true, true, true, 'awaiting-approval']);
    const byAuthor = await rollgate(['approve', id, '--by', 'alice@example.com'], cliEnv);
    assert.equal(byAuthor.code, 1);
    assert.match(byAuthor.stderr, /four eyes/);
    assert.equal(calls(repo).length, 0, 'nothing deployed before the sign-off');
    const incident = `${id}@`;
    const paged = (action: string) => pager.events.filter((e) => e.event_action === action && String(e.dedup_key).startsWith(incident));
    assert.equal(paged('trigger').length, 1, 'the on-call engineer is paged while a human is needed');
    const page = paged('trigger')[0]!.payload as { severity: string; source: string };
    assert.deepEqual([page.severity, page.source], ['warning', 'rollgate/auth']);
    const ok = await rollgate(['approve', id, '--by', 'bob', '--reason', 'reviewed'], cliEnv);
    assert.equal(ok.code, 0, ok.stderr);
    const twice = await rollgate(['approve', id, '--by', 'carol'], cliEnv);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /nothing is waiting|already approved/);
    // The blue-green switch is gated too.
    await waitForStatus(env.client.workflow.getHandle(id), (s) => s.pendingApproval?.target === 'production-switch', { timeoutMs: 30_000, intervalMs: 300 });
    assert.equal((await rollgate(['approve', id, '--by', 'bob'], cliEnv)).code, 0);
    const summary = join(tempDir(), 'summary.md');
    const done = await rollgate(['start', ...flags, '--wait'], { ...cliEnv, GITHUB_STEP_SUMMARY: summary });
    assert.equal(done.code, 0, done.stdout + done.stderr);
    assert.equal(readLedger(repo)[0]!.outcome, 'released');
    assert.equal(readLedger(repo)[0]!.risk_level, 'CRITICAL');
    // Each page (the release's sign-off, then the switch's) resolved once a human acted, under its own dedup key.
    assert.deepEqual(pager.events.filter((e) => String(e.dedup_key).startsWith(incident)).map((e) => `${e.event_action} ${String(e.dedup_key).split('/').pop()}`), [
      'trigger human-needed-release',
      'resolve human-needed-release',
      'trigger human-needed-production-switch',
      'resolve human-needed-production-switch',
    ]);
    const notes = readFileSync(join(repo, 'out', 'NOTES.md'), 'utf8');
    assert.match(notes, /^## .* · auth \S+ · released$/m);
    assert.match(notes, /^- \*\*Approved by\*\*: bob at /m);
    assert.match(readFileSync(summary, 'utf8'), new RegExp(`^### rollgate · auth · ${id}: ✅ released\\n\\n\\*\\*Decision\\*\\*: ✅ APPROVED \\(CRITICAL risk → blue-green\\)`, 'm'));
  });

  it('aborts a release mid-bake from the CLI and rolls back what it changed', async () => {
    const repo = referenceRepo();
    setUp(repo, smokeUrl, '', '{ staging: 1h, production: 1h }');
    const { id } = await startRelease(['--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml'), '--service', 'auth-abort'], cliEnv);
    await waitForStatus(env.client.workflow.getHandle(id), (s) => s.state === 'baking', { timeoutMs: 30_000, intervalMs: 200 });
    const abort = await rollgate(['abort', id, '--reason', 'wrong build', '--by', 'oncall'], cliEnv);
    assert.equal(abort.code, 0, abort.stderr);
    const result = await env.client.workflow.getHandle(id).result();
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason, /aborted by oncall: wrong build/);
    assert.deepEqual(calls(repo).map((l) => l.split(' ').slice(0, 2).join(' ')), ['deploy staging', 'rollback staging']);
    const again = await rollgate(['abort', id, '--reason', 'again'], cliEnv);
    assert.equal(again.code, 1);
  });

  it('a freeze from the CLI holds a release before its first phase; status says so; an override lets it through, the freeze stays for others until unfreeze', async () => {
    const missing = await rollgate(['freeze', '--service', 'auth-frozen', '--reason', 'year end', '--by', 'cab'], cliEnv);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--until: when the freeze ends must be given/);
    const past = await rollgate(['freeze', '--service', 'auth-frozen', '--reason', 'year end', '--by', 'cab', '--until', '2020-01-01T00:00:00Z'], cliEnv);
    assert.match(past.stderr, /until: 2020-01-01T00:00:00.000Z has passed/);
    const frozen = await rollgate(['freeze', '--service', 'auth-frozen', '--reason', 'year end', '--by', 'cab', '--until', '2d'], cliEnv);
    assert.equal(frozen.code, 0, frozen.stderr);
    const id = /^frozen: (F\d+) \(auth-frozen\) by cab until /.exec(frozen.stdout)?.[1];
    assert.ok(id, frozen.stdout);

    const repo = referenceRepo();
    setUp(repo, smokeUrl, '');
    const { id: release } = await startRelease(['--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml'), '--service', 'auth-frozen'], cliEnv);
    await waitForStatus(env.client.workflow.getHandle(release), (s) => s.state === 'frozen', { timeoutMs: 30_000, intervalMs: 200 });
    const status = await rollgate(['status', release], cliEnv);
    assert.match(status.stdout, new RegExp(`^frozen: ${id} \\(auth-frozen\\) by cab until \\S+: year end$`, 'm'));
    assert.match(status.stdout, new RegExp(`^held by freeze ${id}; to break it: rollgate override ${release} --reason TEXT`, 'm'));
    assert.deepEqual(calls(repo), [], 'nothing deployed while frozen');
    assert.match((await rollgate(['freezes'], cliEnv)).stdout, new RegExp(`^${id} \\(auth-frozen\\)`, 'm'));

    const override = await rollgate(['override', release, '--by', 'oncall', '--reason', 'security fix'], cliEnv);
    assert.equal(override.code, 0, override.stderr);
    assert.match(override.stdout, new RegExp(`^overriding for ${release}: freeze ${id}; its next phase starts now$`, 'm'));
    assert.equal((await env.client.workflow.getHandle(release).result()).outcome, 'released');
    const line = readLedger(repo).find((l) => l.release_id === release)!;
    assert.deepEqual(line.overrides.map((o) => `${o.by} ${o.broke}: ${o.reason}`), [`oncall freeze ${id}: security fix`]);

    const unfrozen = await rollgate(['unfreeze', '--service', 'auth-frozen', '--by', 'cab'], cliEnv);
    assert.equal(unfrozen.code, 0, unfrozen.stderr);
    assert.match(unfrozen.stdout, new RegExp(`^ended: ${id} `));
    assert.doesNotMatch((await rollgate(['freezes'], cliEnv)).stdout, new RegExp(`^${id} `, 'm'));
    const again = await rollgate(['unfreeze', id, '--by', 'cab'], cliEnv);
    assert.match(again.stderr, new RegExp(`no freeze ${id} holds now`));
  });

  it('a deployment window from rollgate.yaml holds a release before its first phase; start --wait, status and status --wait say until when and how to break it; an override lets it through', async () => {
    // A deny window that began a minute ago and lasts 12 hours, written as the README's example is.
    const began = new Date(Math.floor((Date.now() - 60_000) / 60_000) * 60_000);
    const repo = referenceRepo();
    setUp(repo, smokeUrl, `windows:\n  timeZone: UTC\n  deny:\n    - { cron: "${began.getUTCMinutes()} ${began.getUTCHours()} * * *", duration: 12h }\n`);
    const flags = ['--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml'), '--service', 'auth-window'];
    const waiting = await rollgate(['start', ...flags, '--wait', '--wait-timeout', '4s'], cliEnv);
    assert.equal(waiting.code, 5, waiting.stdout + waiting.stderr);
    const opens = new Date(began.getTime() + 12 * 3600_000).toISOString();
    assert.match(waiting.stdout, new RegExp(`… waiting for a deployment window until ${opens}: .*\\(rollgate override (release-auth-window-[0-9a-f]{12}) --reason TEXT breaks it\\)`));
    assert.match(waiting.stdout, /still running after --wait-timeout \(waiting-for-window\)/);
    const id = /started release (\S+)/.exec(waiting.stdout)![1]!;
    const status = await rollgate(['status', id], cliEnv);
    assert.match(status.stdout, new RegExp(`^waiting for a deployment window until ${opens}: `, 'm'));
    // status --wait follows it as start --wait does: the wait, then exit 5 at its timeout.
    const following = await rollgate(['status', id, '--wait', '--wait-timeout', '3s'], cliEnv);
    assert.equal(following.code, 5, following.stdout + following.stderr);
    assert.match(following.stdout, new RegExp(`… waiting for a deployment window until ${opens}: .*\\(rollgate override ${id} --reason TEXT breaks it\\)`));
    assert.deepEqual(calls(repo), [], 'nothing deployed while the window is closed');
    const override = await rollgate(['override', id, '--by', 'oncall', '--reason', 'security fix'], cliEnv);
    assert.equal(override.code, 0, override.stderr);
    const done = await rollgate(['start', ...flags, '--wait'], cliEnv);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    const line = readLedger(repo).find((l) => l.release_id === id)!;
    assert.deepEqual(line.overrides.map((o) => `${o.by} ${o.broke}: ${o.reason}`), [`oncall the deployment window closed until ${opens}: security fix`]);
  });

  it('answers a release ID that does not exist with a clear error', async () => {
    const res = await rollgate(['status', 'release-nope-000000000000'], cliEnv);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /release-nope-000000000000: not found/);
  });

  it('decide needs no server and no side effects: exit 2 when QA fails', async () => {
    const repo = referenceRepo();
    const reports = writeReports(join(tempDir(), 'reports'), { qa: '# QA\n\nStatus: FAIL\n\n57/57 passing\n' });
    const res = await rollgate(['decide', '--repo', repo, '--base', 'main', '--head', 'feature', '--reports', reports, '--json'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(res.code, 2, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.equal(out.decision, 'ABORTED');
    assert.deepEqual(out.prerequisites.find((p: { name: string }) => p.name === 'qa'), { name: 'qa', passed: false, detail: 'qa-report-20260105-120000.md: FAIL (needs PASS)' });
    assert.equal(existsSync(join(repo, 'out')), false, 'nothing written');
  });
});
