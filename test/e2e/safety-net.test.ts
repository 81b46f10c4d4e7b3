import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ReleaseResult, ReleaseStatus } from '../../src/domain/release';
import type { MetricInput } from '../../src/domain/analysis';
import { renderQuery } from '../../src/domain/promql';
import { DemoStack, demoMetrics, demoReleaseConfig, type FaultInput } from '../../demo/stack';
import { devServerEnv } from '../helpers/servers';
import { commitToBase, makeRepo, writeReports } from '../helpers/fixtures';
import { rollgate, runRelease, startReleaseInProcess, startWorker, stopProcess, type FinishedRelease } from '../helpers/cli';
import { readJsonLines } from '../helpers/ledger';
import { waitForStatus } from '../helpers/status';
import { statusQuery } from '../../src/workflows/messages';

/**
 * Issue 12's proof: 21 faulty canaries of different fault sizes and onsets (a freeze among them), 20 healthy canaries
 * without an initial delay, and two releases whose ledger is torn or cannot be written, all side
 * by side on one dev server, one worker, one Prometheus (1 s scrapes) and the demo fleet (each
 * release its own service, with its own weight and fault). A faulty canary must be rolled back
 * within the analysis interval + the scrape interval + 2 s of its fault becoming visible in
 * Prometheus, and never promoted after a reading failed; a healthy one released without asking anyone.
 */

const SCRAPE_S = 1;
const INTERVAL_S = 2;
const BOUND_MS = (INTERVAL_S + SCRAPE_S + 2) * 1000;
const WINDOW = '5s';
const BAKE_MS = 12_000;

type Onset =
  /** Faulty before the release starts: before its first reading. */
  | { at: 'before' }
  /** Some seconds into a phase's bake. */
  | { at: 'mid'; phase: 5 | 50; afterMs: number }
  /** While a human is asked: a manual pause, the 50% step's sign-off, or an inconclusive reading (400 ms of latency). */
  | { at: 'pause'; phase: 5 | 50 }
  | { at: 'approval' }
  | { at: 'inconclusive' }
  /** Held at the 50% boundary by a freeze of its service (rollgate freeze), the 5% canary watched. */
  | { at: 'frozen' };

interface Case {
  name: string;
  fault: FaultInput;
  onset: Onset;
}

const err = (errorRate: number): FaultInput => ({ errorRate });
const slow = (latencyMs: number): FaultInput => ({ latencyMs });

const FAULTY: Case[] = [
  ...[0.2, 0.3, 0.4, 0.6].map((r) => ({ name: `${r * 100}% errors from the start`, fault: err(r), onset: { at: 'before' } as const })),
  ...[800, 1500].map((ms) => ({ name: `${ms} ms from the start`, fault: slow(ms), onset: { at: 'before' } as const })),
  { name: '20% errors mid 5%', fault: err(0.2), onset: { at: 'mid', phase: 5, afterMs: 4000 } },
  { name: '60% errors mid 5%', fault: err(0.6), onset: { at: 'mid', phase: 5, afterMs: 7000 } },
  { name: '10% errors mid 50%', fault: err(0.1), onset: { at: 'mid', phase: 50, afterMs: 3000 } },
  { name: '15% errors mid 50%', fault: err(0.15), onset: { at: 'mid', phase: 50, afterMs: 6000 } },
  { name: '30% errors mid 50%', fault: err(0.3), onset: { at: 'mid', phase: 50, afterMs: 5000 } },
  { name: '800 ms mid 50%', fault: slow(800), onset: { at: 'mid', phase: 50, afterMs: 4000 } },
  { name: '30% errors while paused at 5%', fault: err(0.3), onset: { at: 'pause', phase: 5 } },
  { name: '10% errors while paused at 50%', fault: err(0.1), onset: { at: 'pause', phase: 50 } },
  { name: '800 ms while paused at 50%', fault: slow(800), onset: { at: 'pause', phase: 50 } },
  { name: '20% errors while the 50% step waits for sign-off', fault: err(0.2), onset: { at: 'approval' } },
  { name: '50% errors while the 50% step waits for sign-off', fault: err(0.5), onset: { at: 'approval' } },
  { name: '1000 ms while the 50% step waits for sign-off', fault: slow(1000), onset: { at: 'approval' } },
  { name: '20% errors while frozen before 50%', fault: err(0.2), onset: { at: 'frozen' } },
  { name: '30% errors while an inconclusive reading waits', fault: err(0.3), onset: { at: 'inconclusive' } },
  { name: '50% errors while an inconclusive reading waits', fault: err(0.5), onset: { at: 'inconclusive' } },
];

const HEALTHY = 20;
const CHANGE = { base: { 'cart/totals.py': 'def total(items):\n    return sum(items)\n' }, subject: 'fix(cart): round totals', files: { 'cart/totals.py': 'def total(items):\n    return round(sum(items), 2)\n' } };

/** The demo's two checks without an initial delay or any tolerance: the first inconclusive reading asks a human. */
const errorRate: MetricInput = { ...demoMetrics.errorRate(WINDOW), initialDelay: '0s', inconclusiveLimit: 0 };
const latency = (success = 'result <= 0.5'): MetricInput => ({ ...demoMetrics.latencyP99(WINDOW), successCondition: success, initialDelay: '0s', inconclusiveLimit: 0 });

interface Outcome {
  name: string;
  onset?: Onset;
  service: string;
  repo: string;
  result: ReleaseResult;
  status: ReleaseStatus;
  /** When the test switched the fault on (before the release for `before`). */
  faultAt?: number;
}

describe('the safety net, proven on many releases side by side', { timeout: 15 * 60_000 }, () => {
  let env: TestWorkflowEnvironment;
  let worker: ChildProcess;
  let stack: DemoStack;
  let cliEnv: NodeJS.ProcessEnv;
  const services = [...FAULTY.map((_, i) => `faulty-${i + 1}`), ...Array.from({ length: HEALTHY }, (_, i) => `healthy-${i + 1}`), 'torn-ledger', 'unwritable-ledger'];
  const faulty: Outcome[] = [];
  const healthy: Outcome[] = [];
  const ledgerRuns: Record<string, FinishedRelease & { repo: string }> = {};

  /** One start at a time: 43 releases started at once would crowd a 2-core machine. */
  let starting = Promise.resolve();
  const oneAtATime = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = starting.then(fn);
    starting = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  };

  function repoFor(service: string, opts: { metrics?: MetricInput[]; approval?: boolean } = {}): { repo: string; flags: string[] } {
    const repo = makeRepo(CHANGE.base, [{ subject: CHANGE.subject, files: CHANGE.files }]);
    writeReports(join(repo, 'reports'));
    const steps = [5, 50, 100].map((weight) => ({ weight, bake: `${BAKE_MS / 1000}s`, ...(weight === 50 && opts.approval ? { approval: true } : {}) }));
    commitToBase(repo, {
      'rollgate.yaml': demoReleaseConfig({
        service,
        prometheus: stack.prometheus.url,
        smokeUrl: `${stack.stable.url}/health`,
        interval: `${INTERVAL_S}s`,
        fleetService: service,
        metrics: opts.metrics ?? [errorRate, latency()],
        extra: { bake: { staging: '0s', production: '6s' }, canary: { steps }, approval: { timeout: '10m' } },
      }),
    });
    return { repo, flags: ['--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml'), '--service', service, '--version', 'v2', '--previous-version', 'v1'] };
  }

  const handleOf = (id: string) => env.client.workflow.getHandle(id);
  const waitFor = (id: string, pred: (s: ReleaseStatus) => boolean) => waitForStatus(handleOf(id), pred, { timeoutMs: 5 * 60_000, intervalMs: 250 });
  const inBake = (phase: number) => (s: ReleaseStatus) => s.state === 'baking' && s.currentStep?.startsWith(`production-canary-${phase}: bake`) === true;

  async function release(name: string, service: string, opts: Parameters<typeof repoFor>[1], steer: (id: string) => Promise<number | undefined> = async () => undefined): Promise<Outcome> {
    const { repo, flags } = repoFor(service, opts);
    const { id } = await oneAtATime(() => startReleaseInProcess(flags));
    const faultAt = await steer(id);
    const result = await handleOf(id).result();
    const status = await handleOf(id).query(statusQuery);
    return { name, service, repo, result: result as ReleaseResult, status, ...(faultAt !== undefined ? { faultAt } : {}) };
  }

  async function faultyRelease(c: Case, service: string): Promise<Outcome> {
    const on = async () => {
      await stack.setFault(service, c.fault);
      return Date.now();
    };
    const o = c.onset;
    return { ...(await startFaulty(c, service, on)), onset: o };
  }

  function startFaulty(c: Case, service: string, on: () => Promise<number>): Promise<Outcome> {
    const o = c.onset;
    if (o.at === 'before')
      return on().then(async (faultAt) => ({ ...(await release(c.name, service, {})), faultAt }));
    if (o.at === 'mid')
      return release(c.name, service, {}, async (id) => {
        // From the bake's own start, which a test polling 40 releases may see late.
        const baking = await waitFor(id, inBake(o.phase));
        const bakeStarted = Date.parse(baking.bakeEndsAt!) - BAKE_MS;
        await new Promise((r) => setTimeout(r, Math.max(0, bakeStarted + o.afterMs - Date.now())));
        return on();
      });
    if (o.at === 'pause')
      return release(c.name, service, {}, async (id) => {
        await waitFor(id, inBake(o.phase));
        const paused = await rollgate(['pause', id, '--by', 'sre', '--reason', 'checking a dashboard'], cliEnv);
        assert.equal(paused.code, 0, paused.stderr);
        await waitFor(id, (s) => s.state === 'paused' && s.watching?.reason === 'pause');
        await new Promise((r) => setTimeout(r, 3000));
        return on();
      });
    if (o.at === 'frozen')
      return release(c.name, service, {}, async (id) => {
        await waitFor(id, inBake(5));
        const frozen = await rollgate(['freeze', '--service', service, '--until', '1h', '--reason', 'incident elsewhere', '--by', 'sre'], cliEnv);
        assert.equal(frozen.code, 0, frozen.stderr);
        await waitFor(id, (s) => s.state === 'frozen' && s.watching?.reason === 'freeze');
        await new Promise((r) => setTimeout(r, 3000));
        return on();
      });
    if (o.at === 'approval')
      return release(c.name, service, { approval: true }, async (id) => {
        await waitFor(id, (s) => s.pendingApproval?.kind === 'phase' && s.watching !== undefined);
        await new Promise((r) => setTimeout(r, 3000));
        return on();
      });
    // A latency between the success (≤ 0.3 s) and the failure line (> 0.5 s): inconclusive, a human is asked.
    return release(c.name, service, { metrics: [errorRate, latency('result <= 0.3')] }, async (id) => {
      await waitFor(id, inBake(5));
      await stack.setFault(service, { latencyMs: 400 });
      await waitFor(id, (s) => s.pendingApproval?.kind === 'analysis' && s.watching !== undefined);
      await new Promise((r) => setTimeout(r, 3000));
      await stack.setFault(service, { ...c.fault, latencyMs: 400 });
      return Date.now();
    });
  }

  async function ledgerRelease(service: 'torn-ledger' | 'unwritable-ledger'): Promise<void> {
    const { repo, flags } = repoFor(service);
    mkdirSync(join(repo, 'out'), { recursive: true });
    // A crash mid-write tore the last line; or the ledger's path is a folder, which nobody can write as a file.
    if (service === 'torn-ledger') writeFileSync(join(repo, 'out', 'ledger.jsonl'), '{"release_id":"release-old","outcome":"rele');
    else mkdirSync(join(repo, 'out', 'ledger.jsonl'));
    // Started in turn with the others, then followed as CI does (`start --wait` attaches to it): a
    // turn held through the whole release would keep the releases queued behind it from starting.
    await oneAtATime(() => startReleaseInProcess(flags));
    ledgerRuns[service] = { ...(await runRelease(flags, cliEnv)), repo };
  }

  before(async () => {
    stack = new DemoStack({ service: 'demo', services, rpsPerService: 100, scrapeInterval: `${SCRAPE_S}s` });
    [env] = await Promise.all([devServerEnv(), stack.start()]);
    cliEnv = { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default' };
    // The releases start in this process (the CLI's own code): 43 node start-ups took minutes.
    Object.assign(process.env, cliEnv);
    worker = await startWorker({ ...cliEnv, DEMO_ROUTER_URL: stack.routerUrl });
    const runs = [
      ...FAULTY.map((c, i) => faultyRelease(c, `faulty-${i + 1}`).then((o) => void faulty.push(o))),
      ...Array.from({ length: HEALTHY }, (_, i) => release(`healthy ${i + 1}`, `healthy-${i + 1}`, {}).then((o) => void healthy.push(o))),
      ledgerRelease('torn-ledger'),
      ledgerRelease('unwritable-ledger'),
    ];
    const settled = await Promise.allSettled(runs);
    const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    assert.deepEqual(failures.map((f) => String(f.reason)), [], 'every release ran to its end');
  });
  after(async () => {
    await stopProcess(worker);
    await stack?.stop();
    await env?.teardown();
  });

  /** The first moment (0.1 s steps) from `from` on when Prometheus shows the query past its failure line. */
  async function visibleAt(o: Outcome, metric: 'error-rate' | 'latency-p99', from: number, to: number): Promise<number | undefined> {
    const m = metric === 'error-rate' ? errorRate : latency();
    const threshold = metric === 'error-rate' ? 0.05 : 0.5;
    const selectors = { stable: { track: 'stable', service: o.service }, canary: { track: 'canary', service: o.service } };
    const q = renderQuery(m.query, { service: o.service, version: 'v2', previousVersion: 'v1', phase: 'p', stage: 'production' }, selectors, 'canary');
    const url = `${stack.prometheus.url}/api/v1/query_range?query=${encodeURIComponent(q)}&start=${from / 1000}&end=${to / 1000}&step=0.1`;
    const body = (await fetch(url).then((r) => r.json())) as { data: { result: { values: [number, string][] }[] } };
    const first = (body.data.result[0]?.values ?? []).find(([, v]) => Number(v) > threshold);
    return first ? first[0] * 1000 : undefined;
  }

  /** When the rollback command started, from the demo deploy script's log. */
  function rollbackStartedAt(repo: string): number | undefined {
    const dir = join(repo, 'out', 'logs');
    const line = readdirSync(dir)
      .filter((f) => f.includes('rollback-production'))
      .map((f) => readFileSync(join(dir, f), 'utf8').split('\n')[0]!)[0];
    return line ? Date.parse(line.split(' ')[0]!) : undefined;
  }

  /** Production commands (action weight) with the time each started. */
  function productionCommands(repo: string): { at: number; action: string; weight: string }[] {
    const dir = join(repo, 'out', 'logs');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n').slice(0, 1))
      .map((l) => l.split(' '))
      .filter((p) => p[2] === 'production')
      .map((p) => ({ at: Date.parse(p[0]!), action: p[1]!, weight: p[4]! }))
      .sort((a, b) => a.at - b.at);
  }

  it(`rolls back all ${FAULTY.length} faulty canaries, none promoted after a failed reading, each within interval + scrape + 2 s of the fault becoming visible`, async (t) => {
    assert.equal(faulty.length, FAULTY.length);
    const delays: { name: string; ms: number }[] = [];
    for (const o of faulty) {
      assert.equal(o.result.outcome, 'rolled_back', `${o.name}: ${o.result.outcome} ${o.result.reason ?? ''}`);
      assert.match(o.result.reason!, /^analysis failed: (error-rate|latency-p99) failed/, o.name);
      const metric = /^analysis failed: (error-rate|latency-p99)/.exec(o.result.reason!)![1] as 'error-rate' | 'latency-p99';
      const rolledBack = rollbackStartedAt(o.repo);
      assert.ok(rolledBack, `${o.name}: the rollback command ran`);
      const visible = await visibleAt(o, metric, o.faultAt!, rolledBack);
      assert.ok(visible !== undefined, `${o.name}: Prometheus shows the fault before the rollback`);
      // No step up once a reading failed. (A step taken between the fault and its first failed reading
      // went on what the checks could see; the bound above says how soon that reading comes.)
      const failedAt = readJsonLines<{ at: string; verdict: string }>(join(o.repo, 'out', o.status.measurementsFile!))
        .filter((m) => m.verdict === 'failed' && Date.parse(m.at) >= o.faultAt!)
        .map((m) => Date.parse(m.at))
        .sort((a, b) => a - b)[0];
      assert.ok(failedAt !== undefined, `${o.name}: a reading failed`);
      const promotedAfter = productionCommands(o.repo).filter((c) => (c.action === 'set-weight' || c.action === 'promote') && c.at >= failedAt);
      assert.deepEqual(promotedAfter, [], `${o.name}: promoted after its failed reading at ${new Date(failedAt).toISOString()} (fault switched on at ${new Date(o.faultAt!).toISOString()})`);
      const ms = rolledBack - visible;
      delays.push({ name: o.name, ms });
    }
    const sorted = delays.map((d) => d.ms).sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    t.diagnostic(`fault visible → rollback command, ${sorted.length} canaries: min ${sorted[0]} ms, median ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${sorted.at(-1)} ms (bound ${BOUND_MS} ms)`);
    for (const d of delays) t.diagnostic(`  ${d.name}: ${d.ms} ms`);
    const late = delays.filter((d) => d.ms > BOUND_MS);
    assert.deepEqual(late, [], 'rolled back within the bound');
  });

  it('ends a wait for a human with the rollback: an approval asked is answered by the failing check', () => {
    // The paused ones were never resumed: their rollback could only come from the watch.
    const asked = faulty.filter((x) => x.onset?.at === 'approval' || x.onset?.at === 'inconclusive');
    assert.equal(asked.length, 5);
    for (const o of asked) {
      const approval = o.status.steps.find((s) => s.approval);
      assert.equal(approval?.approval?.outcome, 'analysis_failed', `${o.name}: ${JSON.stringify(approval)}`);
    }
  });

  it('releases all 20 healthy canaries without an initial delay, none waiting for a human', (t) => {
    assert.equal(healthy.length, HEALTHY);
    let warmedUp = 0;
    for (const o of healthy) {
      assert.equal(o.result.outcome, 'released', `${o.name}: ${o.result.reason ?? ''}`);
      assert.deepEqual(o.status.steps.filter((s) => s.approval).map((s) => s.name), [], `${o.name} asked a human`);
      const measurements = readJsonLines<{ verdict: string }>(join(o.repo, 'out', o.status.measurementsFile!));
      if (measurements.some((m) => m.verdict === 'warming-up')) warmedUp++;
      assert.ok(!measurements.some((m) => m.verdict === 'no-data' || m.verdict === 'inconclusive' || m.verdict === 'failed'), `${o.name}: ${JSON.stringify(measurements.filter((m) => m.verdict !== 'successful' && m.verdict !== 'warming-up'))}`);
    }
    t.diagnostic(`${warmedUp} of ${HEALTHY} healthy canaries had a first reading without data, warming up`);
  });

  it('releases a release whose ledger has a torn line, and one whose ledger cannot be written, reporting the problem', () => {
    const torn = ledgerRuns['torn-ledger']!;
    assert.equal(torn.code, 0, torn.stdout + torn.stderr);
    assert.equal(torn.result.outcome, 'released');
    assert.ok(torn.result.problems?.some((p) => /^ledger: 1 unreadable line passed over/.test(p)), JSON.stringify(torn.result.problems));
    assert.match(torn.stderr, /warning: ledger: 1 unreadable line passed over/);
    const lines = readFileSync(join(torn.repo, 'out', 'ledger.jsonl'), 'utf8').split('\n');
    assert.equal(lines[0], '{"release_id":"release-old","outcome":"rele', 'the torn line is left as it was');
    assert.equal((JSON.parse(lines[1]!) as { outcome: string }).outcome, 'released', 'the release\'s own line starts on a line of its own');

    const unwritable = ledgerRuns['unwritable-ledger']!;
    assert.equal(unwritable.code, 0, unwritable.stdout + unwritable.stderr);
    assert.equal(unwritable.result.outcome, 'released');
    assert.ok(unwritable.result.problems?.some((p) => /ledger/.test(p)), JSON.stringify(unwritable.result.problems));
    assert.match(unwritable.stderr, /ledger/);
  });
});
