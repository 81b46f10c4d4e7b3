import assert from 'node:assert/strict';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Info } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parse } from 'yaml';
import { type ActivityDeps, createActivities, type NotifyTargets, type StepInput } from '../../src/activities';
import { measurementsFile, type MonitorInput } from '../../src/activities/analysis';
import { type ApplyOptions, type Deployer, DeployError, type DeployRequest, type DeployResult } from '../../src/activities/deployer';
import type { FlagProvider } from '../../src/activities/flags';
import type { Notification, Notifier } from '../../src/activities/notifier';
import { type MetricProvider, ProviderError, type QueryOutcome, QueryRejected } from '../../src/activities/prometheus';
import type { LedgerStore } from '../../src/activities/store';
import type { Telemetry } from '../../src/activities/telemetry';
import { AnalysisConfigSchema, type MetricState } from '../../src/domain/analysis';
import { type LedgerEntry, ledgerEntry } from '../../src/domain/ledger';
import { deploymentNotes } from '../../src/domain/notes';
import { tempDir } from '../helpers/fixtures';

/*
 * createActivities is glue: which Deployer operation an action is, how errors cross into Temporal,
 * where heartbeats and their resume state go, when telemetry counts. Each activity runs here in
 * MockActivityEnvironment (a real activity Context, no server) against fakes of the outside systems.
 */

// --- fakes of the outside systems, with the real interfaces ------------------------------------

type Operation = keyof Deployer;

class FakeDeployer implements Deployer {
  readonly calls: { op: Operation; req: DeployRequest; opts: ApplyOptions | undefined }[] = [];
  /** Thrown by the next operations, when set. */
  fail: Error | undefined;
  /** Answer "already applied": nothing ran. */
  skipped = false;
  /** Runs inside each operation, before it answers. */
  during: ((opts: ApplyOptions | undefined) => Promise<void>) | undefined;

  private op(op: Operation) {
    return async (req: DeployRequest, opts?: ApplyOptions): Promise<DeployResult> => {
      this.calls.push({ op, req, opts });
      await this.during?.(opts);
      if (this.fail) throw this.fail;
      return { idempotencyKey: req.idempotencyKey, skipped: this.skipped, exitCode: 0, durationMs: this.skipped ? 0 : 42, logFile: join(req.logDir, 'step.log') };
    };
  }
  deploy = this.op('deploy');
  setWeight = this.op('setWeight');
  promote = this.op('promote');
  switchTraffic = this.op('switchTraffic');
  retire = this.op('retire');
  rollback = this.op('rollback');
  merge = this.op('merge');
}

/** Answers each query from a function of the PromQL: a value, no data, or a thrown provider error. */
class FakeMetrics implements MetricProvider {
  readonly queries: string[] = [];
  constructor(private readonly answer: (promql: string) => QueryOutcome | Error) {}
  async query(promql: string): Promise<QueryOutcome> {
    this.queries.push(promql);
    const a = this.answer(promql);
    if (a instanceof Error) throw a;
    return a;
  }
  async reachable(): Promise<boolean> {
    return true;
  }
}

class FakeFlags implements FlagProvider {
  readonly calls: { flag: string; percentage: number; file: string }[] = [];
  delayMs = 0;
  async setRollout(req: { flag: string; percentage: number; file: string }): Promise<{ changed: boolean }> {
    this.calls.push(req);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    return { changed: this.calls.length === 1 };
  }
}

class FakeNotifier implements Notifier {
  readonly sent: Notification[] = [];
  constructor(
    readonly name: string,
    /** How many sends fail before one succeeds. */
    private failures = 0,
  ) {}
  async send(n: Notification): Promise<void> {
    if (this.failures-- > 0) throw new Error('HTTP 502');
    this.sent.push(n);
  }
}

/** In memory, idempotent per run as the real store is. */
class FakeLedger implements LedgerStore {
  readonly entries: LedgerEntry[] = [];
  async append(entry: LedgerEntry): Promise<{ written: boolean }> {
    if (this.entries.some((e) => e.run === entry.run)) return { written: false };
    this.entries.push(entry);
    return { written: true };
  }
  async read(): Promise<LedgerEntry[]> {
    return [...this.entries];
  }
}

class CountingTelemetry implements Telemetry {
  readonly events: string[] = [];
  readonly finished: Parameters<Telemetry['releaseFinished']>[] = [];
  releaseStarted(strategy: string, risk: string) {
    this.events.push(`started ${strategy} ${risk}`);
  }
  decisionMade(decision: string, seconds: number) {
    this.events.push(`decided ${decision} ${seconds}`);
  }
  releaseFinished(...args: Parameters<Telemetry['releaseFinished']>) {
    this.events.push(`finished ${args[0].outcome}`);
    this.finished.push(args);
  }
  stepDone(action: string, ms: number) {
    this.events.push(`step ${action} ${ms}`);
  }
  measured(metric: string, verdict: string) {
    this.events.push(`measured ${metric} ${verdict}`);
  }
}

interface World {
  deployer: FakeDeployer;
  flags: FakeFlags;
  telemetry: CountingTelemetry;
  ledger: FakeLedger;
  /** Every outDir the ledger and notifiers were asked for, and the notify targets. */
  asked: { ledger: string[]; notifiers: { outDir: string; names: NotifyTargets }[]; webhooks: { urlEnv: string; secretEnv: string }[] };
  notifiers: FakeNotifier[];
  webhook: FakeDeployer;
  activities: ReturnType<typeof createActivities>;
}

function world(o: { metrics?: ActivityDeps['metrics']; notifiers?: FakeNotifier[] } = {}): World {
  const w = {
    deployer: new FakeDeployer(),
    flags: new FakeFlags(),
    telemetry: new CountingTelemetry(),
    ledger: new FakeLedger(),
    asked: { ledger: [], notifiers: [], webhooks: [] },
    notifiers: o.notifiers ?? [new FakeNotifier('file')],
    webhook: new FakeDeployer(),
  } as Omit<World, 'activities'>;
  const activities = createActivities({
    deployer: w.deployer,
    metrics: o.metrics ?? (() => new FakeMetrics(() => ({ kind: 'value', value: 0 }))),
    flags: w.flags,
    notifiers: (outDir, names) => (w.asked.notifiers.push({ outDir, names }), w.notifiers),
    ledger: (outDir) => (w.asked.ledger.push(outDir), w.ledger),
    webhookDeployer: (names) => (w.asked.webhooks.push(names), w.webhook),
    telemetry: w.telemetry,
  });
  return { ...w, activities };
}

/** Runs one activity in a fresh mock environment; `heartbeats` collects what it beat with. */
async function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, args: A, info: Partial<Info> = {}): Promise<{ result: R; heartbeats: unknown[] }> {
  const env = new MockActivityEnvironment(info);
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));
  const result = (await env.run(fn, ...args)) as R;
  return { result, heartbeats };
}

/** The ApplicationFailure an activity threw, checked to be one. */
async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const e = await p.then(
    () => assert.fail('expected the activity to fail'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(e)}`);
  return e;
}

const OUT = tempDir('rollgate-activities-');

const step = (action: string, extra: Partial<StepInput> = {}): StepInput => ({
  stage: 'production',
  action,
  weight: 50,
  version: 'v2',
  previousVersion: 'v1',
  releaseId: 'release-cart-0123456789ab',
  idempotencyKey: `release-cart-0123456789ab@abcd1234/${action}`,
  commit: 'c0ffee0000000000000000000000000000000000',
  command: ['./deploy.sh', '{stage}'],
  cwd: '/repo',
  timeoutMs: 30_000,
  outDir: OUT,
  ...extra,
});

// --- deploy and rollback ---------------------------------------------------------------------

describe('createActivities: deploy and rollback through the Deployer', () => {
  const dispatch: ['deploy' | 'rollback', string, Operation][] = [
    ['deploy', 'deploy', 'deploy'],
    ['deploy', 'set-weight', 'setWeight'],
    ['deploy', 'promote', 'promote'],
    ['deploy', 'switch', 'switchTraffic'],
    ['deploy', 'retire', 'retire'],
    ['deploy', 'merge', 'merge'],
    ['deploy', 'enable-flag', 'deploy'],
    ['rollback', 'rollback', 'rollback'],
    ['rollback', 'disable-flag', 'deploy'],
  ];
  for (const [activity, action, op] of dispatch)
    it(`${activity} with action ${action} calls Deployer.${op}, once`, async () => {
      const w = world();
      const { result } = await run(w.activities[activity], [step(action)]);
      assert.deepEqual(w.deployer.calls.map((c) => c.op), [op]);
      assert.equal(result.idempotencyKey, `release-cart-0123456789ab@abcd1234/${action}`);
    });

  it('passes the step on with its log and state folders under the output folder, a cancellation signal and a heartbeat', async () => {
    const w = world();
    w.deployer.during = async (opts) => opts?.heartbeat?.();
    const input = step('set-weight');
    const { heartbeats } = await run(w.activities.deploy, [input]);
    const { req, opts } = w.deployer.calls[0]!;
    assert.deepEqual(req, { ...input, logDir: join(OUT, 'logs'), stateDir: join(OUT, '.rollgate') });
    assert.ok(opts?.signal instanceof AbortSignal);
    assert.equal(heartbeats.length, 1, 'the Deployer\'s heartbeat reaches Temporal');
  });

  it('the cancellation signal fires when the activity is cancelled', async () => {
    const w = world();
    const env = new MockActivityEnvironment();
    let aborted = false;
    w.deployer.during = (opts) =>
      new Promise<void>((resolve) => {
        opts!.signal!.addEventListener('abort', () => ((aborted = true), resolve()), { once: true });
        setImmediate(() => env.cancel());
      });
    w.deployer.fail = new DeployError('./deploy.sh set-weight production was cancelled', false);
    await env.run(w.activities.deploy, step('set-weight')).catch(() => undefined);
    assert.equal(aborted, true);
  });

  it('sends a step with a webhook target to the webhook Deployer named by its variables, not the command', async () => {
    const w = world();
    const target = { provider: 'webhook' as const, urlEnv: 'TEAM_DEPLOY_URL', secretEnv: 'TEAM_DEPLOY_SECRET' };
    await run(w.activities.deploy, [step('promote', { target })]);
    assert.deepEqual(w.asked.webhooks, [target]);
    assert.deepEqual(w.webhook.calls.map((c) => c.op), ['promote']);
    assert.deepEqual(w.deployer.calls, []);
  });

  const errors: ['deploy' | 'rollback', boolean, string, boolean][] = [
    ['deploy', false, 'DeployFailed', true],
    ['deploy', true, 'DeployFailed', false],
    ['rollback', false, 'RollbackFailed', true],
    ['rollback', true, 'RollbackFailed', false],
  ];
  for (const [activity, retryable, type, nonRetryable] of errors)
    it(`${activity}: a ${retryable ? 'retryable' : 'final'} DeployError becomes ApplicationFailure ${type}, nonRetryable ${nonRetryable}`, async () => {
      const w = world();
      w.deployer.fail = new DeployError('./deploy.sh deploy production exited with 1: boom', retryable);
      const f = await failure(run(w.activities[activity], [step(activity === 'deploy' ? 'deploy' : 'rollback')]));
      assert.equal(f.type, type);
      assert.equal(f.nonRetryable, nonRetryable);
      assert.equal(f.message, './deploy.sh deploy production exited with 1: boom');
    });

  it('any other error passes through as it is, for Temporal to retry', async () => {
    const w = world();
    const boom = new Error('EMFILE: too many open files');
    w.deployer.fail = boom;
    await assert.rejects(run(w.activities.deploy, [step('deploy')]), (e) => e === boom);
  });

  it('counts a step that ran, with its action and duration; a step already applied is not counted', async () => {
    const w = world();
    await run(w.activities.deploy, [step('set-weight')]);
    w.deployer.skipped = true;
    await run(w.activities.deploy, [step('promote')]);
    assert.deepEqual(w.telemetry.events, ['step set-weight 42']);
  });
});

// --- metrics --------------------------------------------------------------------------------

const analysis = AnalysisConfigSchema.parse({
  interval: '100ms',
  selectors: { canary: { track: 'canary' }, stable: { track: 'stable' } },
  metrics: [
    { name: 'errors', query: 'sum(errors{service="{{service}}",{{selector}}})', successCondition: 'result <= 0.05', failureCondition: 'result > 0.05' },
    { name: 'vs-baseline', query: 'sum(latency{{{selector}}})', failureCondition: 'result > baseline * 2' },
  ],
});
const vars = { service: 'cart', version: 'v2', previousVersion: 'v1', phase: 'production-canary-5', stage: 'production' };
const monitorInput = (runKey: string, over: Partial<MonitorInput> = {}): MonitorInput => ({
  runKey,
  outDir: OUT,
  phase: 'production-canary-5',
  vars,
  analysis: { ...analysis, metrics: analysis.metrics.slice(0, 1) },
  subject: 'canary',
  baseline: {},
  runForMs: 10_000,
  untilStable: true,
  ...over,
});

describe('createActivities: metric provider errors and query checks', () => {
  const noAddress = () => {
    throw new ProviderError("no Prometheus address: set analysis.prometheus.address or the worker's ROLLGATE_PROMETHEUS_URL");
  };
  for (const name of ['checkQueries', 'captureBaseline', 'monitorPhase'] as const)
    it(`${name}: a provider that cannot be made is a non-retryable InvalidInput`, async () => {
      const w = world({ metrics: noAddress });
      const activity = w.activities[name] as (input: MonitorInput) => Promise<unknown>;
      const f = await failure(run(activity, [monitorInput(`release-cart-0123456789ab@${name}`)]));
      assert.equal(f.type, 'InvalidInput');
      assert.equal(f.nonRetryable, true);
      assert.match(f.message, /no Prometheus address/);
    });

  it('any other error while making the provider passes through', async () => {
    const bug = new TypeError('cannot read properties of undefined');
    const w = world({
      metrics: () => {
        throw bug;
      },
    });
    await assert.rejects(run(w.activities.checkQueries, [{ vars, analysis }]), (e) => e === bug);
  });

  it('the provider is made from the release\'s analysis config', async () => {
    const seen: unknown[] = [];
    const w = world({ metrics: (a) => (seen.push(a), new FakeMetrics(() => ({ kind: 'value', value: 0 }))) });
    await run(w.activities.checkQueries, [{ vars, analysis }]);
    assert.deepEqual(seen, [analysis]);
  });

  it('checkQueries: every query accepted, canary selectors filled in', async () => {
    const provider = new FakeMetrics(() => ({ kind: 'no-data', message: 'no series' }));
    const w = world({ metrics: () => provider });
    const { result } = await run(w.activities.checkQueries, [{ vars, analysis }]);
    assert.equal(result, '2 accepted');
    assert.deepEqual(provider.queries, ['sum(errors{service="cart",track="canary"})', 'sum(latency{track="canary"})']);
  });

  it('checkQueries: a query Prometheus rejects is a non-retryable InvalidQuery naming the metric', async () => {
    const w = world({ metrics: () => new FakeMetrics((q) => (q.startsWith('sum(latency') ? new QueryRejected('prometheus bad_data: parse error') : { kind: 'value', value: 0 })) });
    const f = await failure(run(w.activities.checkQueries, [{ vars, analysis }]));
    assert.equal(f.type, 'InvalidQuery');
    assert.equal(f.nonRetryable, true);
    assert.equal(f.message, 'analysis.metrics vs-baseline: Prometheus rejects its query (canary): prometheus bad_data: parse error');
  });

  it('checkQueries: an unreachable Prometheus is not a verdict on the queries: the error is left to retry', async () => {
    const down = new ProviderError('prometheus unreachable: ECONNREFUSED');
    const w = world({ metrics: () => new FakeMetrics(() => down) });
    await assert.rejects(run(w.activities.checkQueries, [{ vars, analysis }]), (e) => e === down);
  });

  it('captureBaseline: reads the metrics that compare with a baseline, from stable', async () => {
    const provider = new FakeMetrics(() => ({ kind: 'value', value: 0.25 }));
    const w = world({ metrics: () => provider });
    const { result } = await run(w.activities.captureBaseline, [{ vars, analysis }]);
    assert.deepEqual(result, { values: { 'vs-baseline': 0.25 }, missing: {} });
    assert.deepEqual(provider.queries, ['sum(latency{track="stable"})']);
  });
});

describe('createActivities: the monitor heartbeats its states and resumes from them', () => {
  const values = (v: number) => () => new FakeMetrics(() => ({ kind: 'value', value: v }));
  const seqs = (runKey: string) =>
    readFileSync(measurementsFile(OUT, runKey), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { seq: number }).seq);

  it('starts a phase from nothing without heartbeat details, counting each measurement once', async () => {
    const w = world({ metrics: values(0.01) });
    const { result, heartbeats } = await run(w.activities.monitorPhase, [monitorInput('release-cart-0123456789ab@fresh')]);
    assert.equal(result.stable, true);
    assert.equal(result.measured, 1);
    assert.equal(result.states[0]!.measured, 1);
    assert.deepEqual(seqs('release-cart-0123456789ab@fresh'), [1]);
    assert.deepEqual(w.telemetry.events, ['measured errors successful']);
    assert.ok(heartbeats.length >= 1 && Array.isArray(heartbeats[0]), 'heartbeats carry the states');
  });

  it('a retried attempt resumes from the last heartbeat: counts carry on, the sequence continues', async () => {
    const runKey = 'release-cart-0123456789ab@resume';
    const first = await run(world({ metrics: values(0.01) }).activities.monitorPhase, [monitorInput(runKey)]);
    const resumed = first.result.states;
    const w = world({ metrics: values(0.5) });
    const { result, heartbeats } = await run(w.activities.monitorPhase, [monitorInput(runKey, { runForMs: 5_000 })], { attempt: 2, heartbeatDetails: resumed });
    assert.deepEqual((heartbeats[0] as MetricState[]).map((s) => s.measured), [1], 'the first beat carries the resumed states');
    assert.equal(result.verdict.verdict, 'failed', 'one failure breaks failureLimit 0');
    assert.equal(result.states[0]!.measured, 2);
    assert.equal(result.states[0]!.successful, 1, 'the first attempt\'s pass is kept');
    assert.equal(result.states[0]!.failed, 1);
    assert.equal(result.measured, 1, 'this attempt measured once');
    assert.deepEqual(seqs(runKey), [1, 2]);
  });

  it('a cancelled monitor stops within its sleep and rejects as cancelled, not as a failure', async () => {
    const env = new MockActivityEnvironment();
    const w = world({ metrics: values(0.01) });
    const started = Date.now();
    setTimeout(() => env.cancel(), 300);
    const e = await env.run(w.activities.monitorPhase, monitorInput('release-cart-0123456789ab@cancel', { runForMs: 60_000, untilStable: false })).then(
      () => assert.fail('a cancelled monitor must not return a result'),
      (err: unknown) => err,
    );
    assert.ok(e instanceof CancelledFailure, `expected CancelledFailure, got ${String(e)}`);
    assert.ok(Date.now() - started < 5_000, 'stopped within its one-second sleep slice');
  });

  it('empty heartbeat details start afresh', async () => {
    const runKey = 'release-cart-0123456789ab@empty';
    const { result } = await run(world({ metrics: values(0.01) }).activities.monitorPhase, [monitorInput(runKey)], { attempt: 2, heartbeatDetails: [] });
    assert.equal(result.states[0]!.measured, 1);
    assert.deepEqual(seqs(runKey), [1]);
  });
});

// --- record, ledger, notifications, flags, smoke tests, alert rules ----------------------------

describe('createActivities: the decision record counts a release once', () => {
  const input = (fileName: string) => ({
    outDir: OUT,
    fileName,
    releaseId: 'release-cart-0123456789ab',
    content: '# Release Decision\n\n**Release ID**: release-cart-0123456789ab\n',
    decided: { strategy: 'canary', risk: 'MEDIUM' },
    decision: { decision: 'APPROVED', seconds: 1.5 },
  });

  it('writes the record and counts the start and the decision on attempt 1', async () => {
    const w = world();
    const { result } = await run(w.activities.writeDecisionRecord, [input('release-decision-20260105-120000.md')]);
    assert.equal(result, join(OUT, 'release-decision-20260105-120000.md'));
    assert.equal(readFileSync(result, 'utf8'), input('x').content);
    assert.deepEqual(w.telemetry.events, ['started canary MEDIUM', 'decided APPROVED 1.5']);
  });

  it('a retried attempt writes the same file again and counts nothing', async () => {
    const w = world();
    const { result } = await run(w.activities.writeDecisionRecord, [input('release-decision-20260105-120001.md')], { attempt: 2 });
    assert.equal(result, join(OUT, 'release-decision-20260105-120001.md'));
    assert.deepEqual(w.telemetry.events, []);
  });

  it('a release that does not go ahead is counted as decided, not started', async () => {
    const w = world();
    const { decided: _, ...aborted } = { ...input('release-decision-20260105-120002.md'), decision: { decision: 'ABORTED', seconds: 0.2 } };
    await run(w.activities.writeDecisionRecord, [aborted]);
    assert.deepEqual(w.telemetry.events, ['decided ABORTED 0.2']);
  });
});

describe('createActivities: the ledger line and the finished count', () => {
  const entry = ledgerEntry({
    releaseId: 'release-cart-0123456789ab',
    run: 'release-cart-0123456789ab@abcd1234',
    service: 'cart',
    startedAt: '2026-01-05T12:00:00.000Z',
    finishedAt: '2026-01-05T13:00:00.000Z',
    decision: 'APPROVED',
    outcome: 'released',
    version: 'v2',
  });
  const durations = { phases: [{ phase: 'production-canary-5', seconds: 1800 }], approvals: [] };

  it('appends to the ledger of the release\'s output folder, and counts the release finished with its durations once', async () => {
    const w = world();
    const first = await run(w.activities.recordLedger, [{ outDir: OUT, entry, durations }]);
    const retried = await run(w.activities.recordLedger, [{ outDir: OUT, entry, durations }], { attempt: 2 });
    assert.deepEqual([first.result, retried.result], [{ written: true }, { written: false }]);
    assert.deepEqual(w.asked.ledger, [OUT, OUT]);
    assert.deepEqual(w.ledger.entries, [entry]);
    assert.deepEqual(w.telemetry.finished, [[entry, durations]]);
  });
});

describe('createActivities: notifications', () => {
  const notification = (key: string): Notification => ({ releaseId: 'release-cart-0123456789ab', service: 'cart', event: 'rollback', urgent: true, title: 'Rolling back cart', text: 'error-rate failed', key });

  it('asks for the notifiers the release names, or the default variable names', async () => {
    const w = world();
    const targets = { slackWebhookUrlEnv: 'TEAM_SLACK', webhookUrlEnv: 'TEAM_HOOK', webhookSecretEnv: 'TEAM_SECRET' };
    await run(w.activities.notify, [{ outDir: OUT, targets, notification: notification('targets-1') }]);
    await run(w.activities.notify, [{ outDir: OUT, notification: notification('targets-2') }]);
    assert.deepEqual(w.asked.notifiers, [
      { outDir: OUT, names: targets },
      { outDir: OUT, names: { slackWebhookUrlEnv: 'ROLLGATE_SLACK_WEBHOOK_URL', webhookUrlEnv: 'ROLLGATE_WEBHOOK_URL', webhookSecretEnv: 'ROLLGATE_WEBHOOK_SECRET' } },
    ]);
  });

  it('a notifier that fails makes a retryable NotifyFailed; the retry sends only where it failed', async () => {
    const file = new FakeNotifier('file');
    const slack = new FakeNotifier('slack', 1);
    const w = world({ notifiers: [file, slack] });
    const f = await failure(run(w.activities.notify, [{ outDir: OUT, notification: notification('retry-1') }]));
    assert.equal(f.type, 'NotifyFailed');
    assert.equal(f.nonRetryable, false);
    assert.equal(f.message, 'slack: HTTP 502');
    const { result } = await run(w.activities.notify, [{ outDir: OUT, notification: notification('retry-1') }], { attempt: 2 });
    assert.deepEqual(result, { sent: ['slack'] });
    assert.deepEqual([file.sent.length, slack.sent.length], [1, 1], 'each notifier got it once');
    const again = await run(w.activities.notify, [{ outDir: OUT, notification: notification('retry-1') }], { attempt: 3 });
    assert.deepEqual(again.result, { sent: [] }, 'nothing is sent twice for one key');
  });
});

describe('createActivities: flags, smoke tests and alert rules', () => {
  it('setFlag resolves the flags file against the repository and passes the percentage on', async () => {
    const w = world();
    const { result } = await run(w.activities.setFlag, [{ flag: 'one-click', percentage: 25, file: 'flags/flags.json', cwd: '/repo' }]);
    assert.deepEqual(w.flags.calls, [{ flag: 'one-click', percentage: 25, file: '/repo/flags/flags.json', root: '/repo' }]);
    assert.deepEqual(result, { changed: true });
  });

  it('a short activity heartbeats while it runs when the workflow set a heartbeat timeout, and stops when it returns', async () => {
    const w = world();
    w.flags.delayMs = 700;
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 600 });
    let beats = 0;
    env.on('heartbeat', () => beats++);
    await env.run(w.activities.setFlag, { flag: 'f', percentage: 5, file: 'flags.json', cwd: '/repo' });
    assert.ok(beats >= 2, `${beats} heartbeats in 700 ms at a third of 600 ms`);
    const atReturn = beats;
    await new Promise((r) => setTimeout(r, 450));
    assert.equal(beats, atReturn, 'no heartbeat after the activity returned');
    const quiet = await run(w.activities.setFlag, [{ flag: 'f', percentage: 5, file: 'flags.json', cwd: '/repo' }]);
    assert.deepEqual(quiet.heartbeats, [], 'no heartbeat timeout, no heartbeats');
  });

  describe('smokeTest', () => {
    let url = '';
    const server = createServer((req, res) => res.writeHead(req.url === '/health' ? 200 : 503).end());
    before(async () => {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());

    it('passes with what it saw', async () => {
      const { result } = await run(world().activities.smokeTest, [{ url: `${url}/health` }]);
      assert.equal(result, `GET ${url}/health → 200`);
    });
    it('fails with a retryable SmokeTestFailed', async () => {
      const f = await failure(run(world().activities.smokeTest, [{ url: `${url}/down` }]));
      assert.equal(f.type, 'SmokeTestFailed');
      assert.equal(f.nonRetryable, false);
      assert.equal(f.message, `smoke test failed: GET ${url}/down → 503`);
    });
  });

  it('writeAlertRules writes the rules next to the record, headed by how to check them', async () => {
    const rules = { groups: [{ name: 'release-cart-0123456789ab', rules: [{ alert: 'CartErrors', expr: 'sum(errors) > 0.05', for: '1m', labels: { severity: 'page' }, annotations: { summary: 'errors' } }] }] };
    const recordPath = join(OUT, 'release-decision-20260105-120000.md');
    const { result } = await run(world().activities.writeAlertRules, [{ recordPath, rules }]);
    assert.equal(result, join(OUT, 'release-decision-20260105-120000.alerts.yml'));
    const text = readFileSync(result, 'utf8');
    assert.equal(text.split('\n')[0], '# Written by rollgate for release-cart-0123456789ab; check with: promtool check rules release-decision-20260105-120000.alerts.yml');
    assert.deepEqual(parse(text), rules);
  });
});

describe('createActivities: the deployment notes (NOTES.md in the out folder)', () => {
  const block = (runKey: string) => deploymentNotes({
    runKey,
    releaseId: 'release-cart-0123456789ab',
    service: 'cart',
    version: 'v2',
    previousVersion: 'v1',
    outcome: 'rolled_back',
    reason: 'analysis failed: `errors` broke',
    finishedAt: '2026-01-05T12:40:00.000Z',
    risk: { level: 'MEDIUM', strategy: 'canary' },
    branch: 'feature at 0123456789ab',
    phases: ['staging-deploy', 'production-canary-5'],
    approvals: [{ kind: 'release', target: 'release', by: 'bob', verified: true, at: '2026-01-05T12:01:00.000Z' }],
    rollback: { startedAt: '2026-01-05T12:38:00.000Z', endedAt: '2026-01-05T12:39:30.000Z' },
    recordFile: 'release-decision-20260105-120000.md',
    commit: 'c'.repeat(40),
  });

  it('appends one block per release run, after what people wrote, and a retry adds nothing', async () => {
    const out = tempDir();
    writeFileSync(join(out, 'NOTES.md'), '# Notes\n\nWritten by hand.\n');
    const w = world();
    const first = await run(w.activities.appendNotes, [{ outDir: out, file: 'NOTES.md', runKey: 'r@1', content: block('r@1') }]);
    const retried = await run(w.activities.appendNotes, [{ outDir: out, file: 'NOTES.md', runKey: 'r@1', content: block('r@1') }], { attempt: 2 });
    await run(w.activities.appendNotes, [{ outDir: out, file: 'NOTES.md', runKey: 'r@2', content: block('r@2') }]);
    assert.deepEqual([first.result, retried.result], [{ written: true }, { written: false }]);
    const notes = readFileSync(join(out, 'NOTES.md'), 'utf8');
    assert.ok(notes.startsWith('# Notes\n\nWritten by hand.\n\n<!-- rollgate:notes r@1 -->\n## 2026-01-05 12:40 UTC · cart v2 · rolled_back\n'), notes);
    assert.match(notes, /^- \*\*Outcome\*\*: rolled back to v1 in 1m30s: analysis failed: `errors` broke$/m);
    assert.match(notes, /^- \*\*Record\*\*: \[release-decision-20260105-120000\.md\]\(release-decision-20260105-120000\.md\)$/m);
    assert.equal(notes.match(/<!-- rollgate:notes r@1 -->/g)?.length, 1);
    assert.equal(notes.match(/<!-- rollgate:notes r@2 -->/g)?.length, 1);
  });

  it('writes only a file of the out folder itself, never through a symlink', async () => {
    const out = tempDir();
    const elsewhere = join(tempDir(), 'victim.md');
    writeFileSync(elsewhere, 'keep\n');
    symlinkSync(elsewhere, join(out, 'NOTES.md'));
    const w = world();
    await assert.rejects(run(w.activities.appendNotes, [{ outDir: out, file: 'NOTES.md', runKey: 'r@1', content: block('r@1') }]), /symbolic link|symlink/);
    await assert.rejects(run(w.activities.appendNotes, [{ outDir: out, file: '../NOTES.md', runKey: 'r@1', content: block('r@1') }]), /is not a file name in the out folder/);
    assert.equal(readFileSync(elsewhere, 'utf8'), 'keep\n');
  });
});
