import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { join, resolve } from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ReleaseStatus } from '../../src/domain/release';
import type { MetricInput } from '../../src/domain/analysis';
import { DemoStack, Prometheus, demoMetrics, demoReleaseConfig, errorRateQuery, regionRoute } from '../../demo/stack';
import { devServerEnv } from '../helpers/servers';
import { commitToBase, makeRepo, tempDir, writeReports } from '../helpers/fixtures';
import { rollgate, runRelease, startRelease, startWorker, stopProcess } from '../helpers/cli';
import { readLedger } from '../helpers/ledger';
import { waitForStatus } from '../helpers/status';

/**
 * End to end: the dev server, a `rollgate worker` child with the real activities, Prometheus from
 * Debian scraping a stable and a canary instance of the demo service, the load generator moving
 * traffic by the canary's weight, and the CLI as CI calls it. Bakes are seconds here. The releases
 * run side by side, each on its own service of the demo fleet (its own weight, fault and series);
 * only the two flag releases take turns, since they share the worker's flag file.
 */

const promtool = [resolve(__dirname, '../../.tools/bin/promtool'), 'promtool'].find((p) => p === 'promtool' || existsSync(p))!;

/** The stack's config for one fleet service: bakes of seconds, every strategy configured. */
function config(service: string, prometheus: string, smokeUrl: string, extra: { metrics?: MetricInput[]; canary?: { steps: { weight: number; bake: string }[] } } = {}): string {
  return demoReleaseConfig({
    service,
    fleetService: service,
    prometheus,
    smokeUrl,
    metrics: extra.metrics ?? [demoMetrics.errorRate(), demoMetrics.latencyP99()],
    extra: {
      bake: { staging: '0s', production: '6s' },
      canary: extra.canary ?? { steps: [5, 50, 100].map((weight) => ({ weight, bake: '6s' })) },
      featureFlag: { flag: 'one-click', provider: 'flagd', file: 'flags.json', steps: [20, 100].map((weight) => ({ weight, bake: '6s' })) },
      blueGreen: { rollbackWindow: '4s' },
      approval: { timeout: '5m' },
    },
  });
}

/** The flag is served by the running (stable) instances: the cohort's errors show up there. */
const FLAG_METRICS = [demoMetrics.errorRate('5s', 'stableSelector')];

const CHANGES = {
  /** Logic outside the critical areas: MEDIUM → canary. */
  canary: { base: { 'cart/totals.py': 'def total(items):\n    return sum(items)\n' }, subject: 'fix(cart): round totals', files: { 'cart/totals.py': 'def total(items):\n    return round(sum(items), 2)\n' } },
  /** A new feature: HIGH → feature flag. */
  flag: { base: { 'cart/checkout.py': 'def checkout():\n    pass\n' }, subject: 'feat(cart): one-click checkout', files: { 'cart/checkout.py': 'def checkout(one_click=False):\n    return one_click\n' } },
  /** Logic in auth: CRITICAL → blue-green with sign-off. */
  blueGreen: { base: { 'auth/login.py': 'def login(u):\n    return True\n' }, subject: 'fix(auth): check password', files: { 'auth/login.py': 'def login(u, p):\n    return check(u, p)\n' } },
};

/** The deploy script's log lines, in order: "action stage version weight%". */
function deployLog(repo: string): string[] {
  const dir = join(repo, 'out', 'logs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n'))
    .sort()
    .map((l) => l.split(' ').slice(1, 5).join(' '));
}

describe('progressive rollouts end to end: dev server, worker, Prometheus, demo service', { concurrency: true }, () => {
  let env: TestWorkflowEnvironment;
  let worker: ChildProcess;
  let stack: DemoStack;
  let cliEnv: NodeJS.ProcessEnv;
  const flagsFile = join(tempDir('rollgate-flags-'), 'flags.json');
  let n = 0;

  before(async () => {
    // No traffic of its own: each release routes its own service (`routed`).
    stack = new DemoStack({ service: 'demo', scrapeInterval: '1s', rps: 0, flags: { file: flagsFile, flag: 'one-click' } });
    [env] = await Promise.all([devServerEnv(), stack.start()]);
    cliEnv = { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default' };
    // The flagd file lies outside every repository: the worker's policy names it, as an operator's would.
    const policy = join(tempDir('rollgate-policy-'), 'policy.yaml');
    writeFileSync(policy, stringify({ featureFlag: { file: flagsFile } }));
    worker = await startWorker({ ...cliEnv, DEMO_ROUTER_URL: stack.routerUrl, ROLLGATE_POLICY: policy });
  });
  after(async () => {
    await stopProcess(worker);
    await stack?.stop();
    await env?.teardown();
  });

  /** A fleet service of its own, sent `rps` requests a second while `fn` runs, then none. */
  async function routed<T>(rps: number, fn: (service: string) => Promise<T>): Promise<T> {
    const service = `demo-${++n}`;
    stack.traffic.setRate(service, rps);
    try {
      return await fn(service);
    } finally {
      stack.traffic.setRate(service, 0);
    }
  }

  /** A repository with the change and the config for `service`, and the flags that start its release. */
  function repoFor(kind: keyof typeof CHANGES, service: string, opts: Parameters<typeof config>[3] & { prometheus?: string } = {}): { repo: string; flags: string[] } {
    const c = CHANGES[kind];
    const repo = makeRepo(c.base, [{ subject: c.subject, files: c.files }]);
    writeReports(join(repo, 'reports'));
    commitToBase(repo, { 'rollgate.yaml': config(service, opts.prometheus ?? stack.prometheus.url, `${stack.stable.url}/health`, opts) });
    return { repo, flags: ['--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml'), '--service', service, '--version', 'v2', '--previous-version', 'v1'] };
  }

  const waitFor = (id: string, pred: (s: ReleaseStatus) => boolean) => waitForStatus(env.client.workflow.getHandle(id), pred, { timeoutMs: 60_000, intervalMs: 200 });
  /** Attaches to a running release as CI's `start --wait` does, and follows it to its end. */
  const follow = (flags: string[]) => rollgate(['start', ...flags, '--wait'], cliEnv, 240_000);

  it('takes a healthy canary 5% → 50% → 100% and releases it, every phase analysed on Prometheus', () =>
    routed(100, async (service) => {
      const { repo, flags } = repoFor('canary', service);
      const res = await follow(flags);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      const entry = readLedger(repo)[0]!;
      assert.equal(entry.outcome, 'released');
      assert.equal(entry.rollout_strategy, 'canary');
      assert.deepEqual(deployLog(repo).filter((l) => l.includes('production')), ['deploy production v2 5%', 'set-weight production v2 50%', 'promote production v2 100%']);
      assert.equal(stack.weight(service), 100);
      const measurements = readdirSync(join(repo, 'out', 'analysis')).flatMap((f) => readFileSync(join(repo, 'out', 'analysis', f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { phase: string; verdict: string; value?: number }));
      for (const phase of ['production-canary-5', 'production-canary-50', 'production-canary-100'])
        assert.ok(measurements.some((m) => m.phase === phase && m.verdict === 'successful'), `a passing measurement in ${phase}`);
      assert.ok(!measurements.some((m) => m.verdict === 'failed'), 'nothing failed');
      // The ledger names the record as the spec does: relative, from the output folder's name.
      assert.match(entry.output!, /^out\/release-decision-\d{8}-\d{6}\.md$/);
      const recordPath = join(repo, entry.output!);
      const record = readFileSync(recordPath, 'utf8');
      assert.match(record, /## ANALYSIS/);
      assert.match(record, /production-canary-50 \| error-rate/);
      // The checks keep watching after the release, as Prometheus alerting rules next to the record.
      const alerts = recordPath.replace(/\.md$/, '.alerts.yml');
      assert.match(execFileSync(promtool, ['check', 'rules', alerts], { encoding: 'utf8' }), /SUCCESS: 2 rules found/);
      assert.match(readFileSync(alerts, 'utf8'), /alert: Demo\d+ErrorRate/);
    }));

  it('rolls a faulty canary back by itself, and the ledger says so', () =>
    routed(100, async (service) => {
      await stack.setFault(service, { errorRate: 0.5 });
      const { repo, flags } = repoFor('canary', service);
      const res = await runRelease(flags, cliEnv);
      assert.equal(res.code, 4, res.stdout + res.stderr);
      const entry = readLedger(repo)[0]!;
      assert.equal(entry.outcome, 'rolled_back');
      assert.match(entry.reason!, /^analysis failed: error-rate failed: result > 0\.05/);
      assert.ok(entry.rollback_started_at && entry.rollback_finished_at);
      assert.deepEqual(deployLog(repo).filter((l) => l.includes('production')), ['deploy production v2 5%', 'rollback production v1 0%']);
      assert.equal(stack.weight(service), 0, 'all traffic back on stable');
      assert.ok(res.status.steps.some((s) => s.name.startsWith('verify rollback: error-rate')), JSON.stringify(res.status.steps.map((s) => s.name)));
      // The report: `rollgate report` names the record, which links a chart per metric with the rollback marked.
      const report = await rollgate(['report', res.id], cliEnv);
      assert.equal(report.code, 0, report.stderr);
      assert.equal(report.stdout.trim(), join(repo, entry.output!));
      const record = readFileSync(join(repo, entry.output!), 'utf8');
      assert.match(record, /### Timeline\n\n\| phase \| started \| ended \| approved by \|/);
      const chart = /!\[error-rate\]\(([^)]+\.svg)\)/.exec(record)?.[1];
      assert.ok(chart, 'the record links the error-rate chart');
      const svg = readFileSync(join(repo, entry.output!, '..', chart), 'utf8');
      assert.match(svg, /class="rollback"/);
      assert.match(svg, /class="threshold"/);
      assert.ok((svg.match(/class="measurement"/g) ?? []).length >= 1);
    }));

  it('rolls back a canary whose error rate rises more than 10% over the baseline captured before the release', () =>
    // Both versions fail 5% at first: the absolute threshold alone would not catch what follows.
    // Enough requests that the baseline is within a few percent of 5%: the rollback's re-check
    // compares stable with it, and a baseline caught low by chance would fail that re-check.
    routed(300, async (service) => {
      await Promise.all([stack.setFault(service, { errorRate: 0.05 }, 'stable'), stack.setFault(service, { errorRate: 0.05 })]);
      await new Promise((r) => setTimeout(r, 20_000)); // the query's window fills with the new rate
      const { repo, flags } = repoFor('canary', service, {
        metrics: [
          { name: 'errors-vs-baseline', query: errorRateQuery('20s'), successCondition: 'result <= baseline * 1.10', failureCondition: 'result > baseline * 1.10', initialDelay: '3s', inconclusiveLimit: 3 },
        ],
      });
      const { id } = await startRelease(flags, cliEnv);
      const status = await waitFor(id, (s) => s.baseline !== undefined);
      assert.ok(status.baseline!['errors-vs-baseline']! > 0.01 && status.baseline!['errors-vs-baseline']! < 0.15, `baseline ${status.baseline!['errors-vs-baseline']}`);
      await stack.setFault(service, { errorRate: 0.4 });
      const res = await follow(flags);
      assert.equal(res.code, 4, res.stdout + res.stderr);
      assert.match(readLedger(repo)[0]!.reason!, /errors-vs-baseline failed: result > baseline \* 1\.10 \(result [\d.]+, baseline [\d.]+\)/);
    }));

  /**
   * The judge next to the demo's thresholds, on a canary at 50% of 300 requests a second, with the
   * stable failing 1% of its requests as real services do; the bake at 50% is `bake` long.
   */
  const judged = (canaryErrorRate: number, bake: string) =>
    routed(300, async (service) => {
      await Promise.all([stack.setFault(service, { errorRate: 0.01 }, 'stable'), stack.setFault(service, { errorRate: canaryErrorRate })]);
      const { repo, flags } = repoFor('canary', service, {
        metrics: [demoMetrics.errorRate(), demoMetrics.latencyP99(), demoMetrics.errorsJudge()],
        canary: { steps: [{ weight: 50, bake }, { weight: 100, bake: '4s' }] },
      });
      const res = await runRelease(flags, cliEnv, 240_000);
      const entry = readLedger(repo)[0]!;
      const record = readFileSync(join(repo, entry.output!), 'utf8');
      const measurements = readdirSync(join(repo, 'out', 'analysis')).flatMap((f) =>
        readFileSync(join(repo, 'out', 'analysis', f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { metric: string; phase: string; at: string; verdict: string; message?: string }),
      );
      return { repo, res, entry, record, measurements };
    });

  it('the judge rolls back a canary whose error rate goes from 1% to 2%, which the 5% threshold never sees', async (t) => {
    const { repo, res, entry, record, measurements } = await judged(0.02, '90s');
    const readings = measurements.filter((m) => m.metric === 'errors-judge' && m.phase === 'production-canary-50');
    const flagged = readings.find((m) => m.verdict === 'failed');
    if (flagged) t.diagnostic(`flagged ${(Date.parse(flagged.at) - Date.parse(readings[0]!.at)) / 1000} s after the judge's first reading of the phase, at its reading ${readings.indexOf(flagged) + 1}`);
    assert.equal(res.code, 4, res.stdout + res.stderr);
    assert.equal(entry.outcome, 'rolled_back');
    assert.match(entry.reason!, /^analysis failed: errors-judge failed: regression: effect \+\d/);
    assert.ok(!measurements.some((m) => m.metric === 'error-rate' && m.verdict === 'failed'), 'the threshold never failed');
    assert.deepEqual(deployLog(repo).filter((l) => l.includes('production')), ['deploy production v2 50%', 'rollback production v1 0%']);
    assert.match(record, /- \*\*errors-judge\*\* in production-canary-50: canary \d+\/\d+, stable \d+\/\d+; effect \+[\d.]+% \(\+?-?[\d.]+% to \+[\d.]+%\); e-value [\d.]+, always-valid p [\d.]+; crossed at /);
  });

  it('the judge lets a canary as healthy as stable through, and sits out the phase where stable takes no traffic', async () => {
    const { res, entry, record, measurements } = await judged(0.01, '20s');
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.equal(entry.outcome, 'released');
    const judge = measurements.filter((m) => m.metric === 'errors-judge');
    assert.ok(judge.some((m) => m.phase === 'production-canary-50' && m.verdict === 'successful' && /^not flagged: /.test(m.message ?? '')), JSON.stringify(judge.slice(-3)));
    assert.ok(!judge.some((m) => m.verdict === 'failed'), 'never flagged');
    assert.ok(!judge.some((m) => m.phase === 'production-canary-100'), 'no judge at 100%');
    assert.ok(measurements.some((m) => m.metric === 'error-rate' && m.phase === 'production-canary-100'), 'the thresholds still watch 100%');
    assert.match(record, /- \*\*errors-judge\*\* in production-canary-50: canary \d+\/\d+, stable \d+\/\d+; effect /);
    assert.match(record, /it judges only phases where canary and stable both take traffic/);
  });

  it('never promotes when Prometheus stops mid-phase: provider errors past the limit roll back', () =>
    routed(100, async (service) => {
      // A Prometheus of this release's own, scraping the same instances: stopping it leaves the others' alone.
      const own = new Prometheus({ scrapeInterval: '1s', targets: [stack.stable.url, stack.canary.url].map((u) => ({ address: new URL(u).host, labels: {} })) });
      await own.start();
      try {
        const { repo, flags } = repoFor('canary', service, { prometheus: own.url });
        const { id } = await startRelease(flags, cliEnv);
        await waitFor(id, (s) => s.state === 'baking' && s.currentStep?.startsWith('production-canary-5:') === true);
        await own.stop();
        const res = await follow(flags);
        assert.equal(res.code, 4, res.stdout + res.stderr);
        const entry = readLedger(repo)[0]!;
        assert.match(entry.reason!, /analysis error: (error-rate|latency-p99): 5 consecutive provider errors \(prometheus unreachable/);
        assert.ok(!deployLog(repo).some((l) => l.startsWith('set-weight') || l.startsWith('promote')), 'never went past 5%');
      } finally {
        await own.dispose();
      }
    }));

  describe('flags, one release after the other: they share the flag file the worker policy names', { concurrency: 1 }, () => {
    it('rolls a flag out through flagd and releases it', () =>
      routed(100, async (service) => {
        const { repo, flags } = repoFor('flag', service, { metrics: FLAG_METRICS });
        const res = await follow(flags);
        assert.equal(res.code, 0, res.stdout + res.stderr);
        assert.equal(readLedger(repo)[0]!.rollout_strategy, 'feature-flag');
        const flag = (JSON.parse(readFileSync(flagsFile, 'utf8')) as { flags: Record<string, { defaultVariant: string }> }).flags['one-click']!;
        assert.equal(flag.defaultVariant, 'on');
      }));

    it('turns a flag off by itself when the flagged path fails, without redeploying', () =>
      routed(100, async (service) => {
        await stack.setFault(service, { errorRate: 1, scope: 'flag-on' }, 'stable');
        const { repo, flags } = repoFor('flag', service, { metrics: FLAG_METRICS });
        const res = await follow(flags);
        assert.equal(res.code, 4, res.stdout + res.stderr);
        const flag = (JSON.parse(readFileSync(flagsFile, 'utf8')) as { flags: Record<string, { defaultVariant: string; targeting?: unknown }> }).flags['one-click']!;
        assert.equal(flag.defaultVariant, 'off');
        assert.equal(flag.targeting, undefined);
        assert.ok(!deployLog(repo).some((l) => l.startsWith('rollback')), 'no redeploy');
        assert.match(res.stdout, /rollback: flag off/);
      }));
  });

  const blueGreen = (faulty: boolean) =>
    routed(100, async (service) => {
      if (faulty) await stack.setFault(service, { errorRate: 0.5 });
      const { repo, flags } = repoFor('blueGreen', service);
      const { id } = await startRelease(flags, cliEnv);
      for (const target of ['release', 'production-switch']) {
        await waitFor(id, (s) => s.pendingApproval?.target === target);
        const ok = await rollgate(['approve', id, '--by', 'bob', '--reason', `reviewed ${target}`], cliEnv);
        assert.equal(ok.code, 0, ok.stderr);
      }
      const res = await follow(flags);
      return { repo, code: res.code, stdout: res.stdout + res.stderr, weight: stack.weight(service) };
    });

  it('switches blue-green after the sign-offs, watches green, keeps blue for the window, and releases', async () => {
    const { repo, code, stdout } = await blueGreen(false);
    assert.equal(code, 0, stdout);
    assert.deepEqual(deployLog(repo).filter((l) => l.includes('production')), ['deploy production-green v2 0%', 'switch production v2 100%', 'retire production-blue v2 100%']);
    assert.equal(readLedger(repo)[0]!.rollout_strategy, 'blue-green');
  });

  it('switches back to blue when green breaks its metrics', async () => {
    const { repo, code, stdout, weight } = await blueGreen(true);
    assert.equal(code, 4, stdout);
    assert.ok(deployLog(repo).includes('rollback production v1 0%'));
    assert.ok(!deployLog(repo).some((l) => l.startsWith('retire')), 'blue is kept');
    assert.equal(weight, 0);
  });

  /** A canary release of `service` to eu, then us: each region a fleet service of its own (its weight, its series). */
  async function regional(service: string) {
    const regions = ['eu', 'us'];
    for (const r of regions) stack.traffic.setRate(regionRoute(service, r), 100);
    const repo = makeRepo({ 'cart/totals.py': 'def total(items):\n    return sum(items)\n' }, [{ subject: 'fix(cart): round totals', files: { 'cart/totals.py': 'def total(items):\n    return round(sum(items), 2)\n' } }]);
    writeReports(join(repo, 'reports'));
    const config = demoReleaseConfig({
      service,
      prometheus: stack.prometheus.url,
      smokeUrl: `${stack.stable.url}/health`,
      metrics: [demoMetrics.errorRate()],
      regions: { names: regions, bake: '3s' },
      extra: { bake: { staging: '0s', production: '4s' }, canary: { steps: [{ weight: 50, bake: '8s' }, { weight: 100, bake: '4s' }] } },
    });
    commitToBase(repo, { 'rollgate.yaml': config });
    const res = await follow(['--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'rollgate.yaml'), '--service', service, '--version', 'v2', '--previous-version', 'v1']);
    const weights = Object.fromEntries(regions.map((r) => [r, stack.weight(regionRoute(service, r))]));
    for (const r of regions) stack.traffic.setRate(regionRoute(service, r), 0);
    return { repo, res, weights };
  }

  it('waves: a healthy release goes to eu then us; one whose us canary breaks rolls us back at once and eu after it', async () => {
    // shop's us canary fails half its requests; cart is healthy everywhere.
    await stack.setFault(regionRoute('shop', 'us'), { errorRate: 0.5 });
    const [broken, healthy] = await Promise.all([regional('shop'), regional('cart')]);

    assert.equal(healthy.res.code, 0, healthy.res.stdout + healthy.res.stderr);
    const released = readLedger(healthy.repo)[0]!;
    assert.equal(released.outcome, 'released');
    assert.deepEqual(released.targets, { eu: 'released', us: 'released' });
    assert.deepEqual(healthy.weights, { eu: 100, us: 100 }, "cart's canaries took all traffic");

    assert.equal(broken.res.code, 4, broken.res.stdout + broken.res.stderr);
    const rolledBack = readLedger(broken.repo)[0]!;
    assert.equal(rolledBack.outcome, 'rolled_back');
    assert.equal(rolledBack.reason_kind, 'wave-failed');
    assert.deepEqual(rolledBack.targets, { eu: 'rolled_back', us: 'rolled_back' });
    assert.deepEqual(broken.weights, { eu: 0, us: 0 }, "shop's canaries took no traffic after the rollback");
    // us broke on its own series: eu's measurements all passed.
    const measured = readdirSync(join(broken.repo, 'out', 'analysis')).flatMap((f) => readFileSync(join(broken.repo, 'out', 'analysis', f), 'utf8').trim().split('\n').map((l) => ({ file: f, ...(JSON.parse(l) as { verdict: string }) })));
    assert.ok(measured.some((m) => m.file.includes('_us@') && m.verdict === 'failed'), 'us failed on its own readings');
    assert.ok(!measured.some((m) => m.file.includes('_eu@') && m.verdict === 'failed'), 'eu never failed');
    const record = readFileSync(join(broken.repo, rolledBack.output!), 'utf8');
    assert.match(record, /\| us \| 2 \| ✗ \| · \| rolled back: .*error-rate/);
    assert.match(record, /\| eu \| 1 \| ✓ \| ✓ \| rolled back/);
  });
});
