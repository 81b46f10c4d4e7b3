/**
 * npm run demo: two canary releases in compressed time on a local Temporal dev server (UI on), with
 * Prometheus, the demo service (stable and canary), the load generator, a worker process and the
 * rollgate CLI as a CI job would call it. Both versions fail 1% of their requests, as real services
 * do. The first canary is healthy and is released; the second fails 2% of its requests, far below
 * the 5% threshold, and the sequential judge rolls it back. The third goes to two regions in waves,
 * eu then us: us's canary breaks and is rolled back at once, and eu, which had passed, after it.
 * Ctrl-C stops everything.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DemoStack, demoMetrics, demoReleaseConfig, regionRoute } from '../demo/stack';

const ROOT = resolve(__dirname, '..');
const REGIONS = ['eu', 'us'];
const BIN = join(ROOT, 'bin', 'rollgate.js');
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function git(repo: string, ...args: string[]) {
  execFileSync('git', args, { cwd: repo, env: { ...process.env, GIT_AUTHOR_NAME: 'Dana Dev', GIT_AUTHOR_EMAIL: 'dana@example.com', GIT_COMMITTER_NAME: 'Dana Dev', GIT_COMMITTER_EMAIL: 'dana@example.com' } });
}

/** A repository with a logic change in the cart (MEDIUM risk: canary), its reports and rollgate.yaml. */
function canaryRepo(root: string, name: string, change: string, prometheus: string, smokeUrl: string, regions?: string[]): string {
  const repo = join(root, name);
  const write = (path: string, text: string) => {
    mkdirSync(join(repo, path, '..'), { recursive: true });
    writeFileSync(join(repo, path), text);
  };
  mkdirSync(repo, { recursive: true });
  git(repo, 'init', '-q', '-b', 'main');
  write('cart/totals.py', 'def total(items):\n    return sum(items)\n');
  // The release policy is reviewed code: rollgate reads it from the base commit.
  write(
    'release/rollgate.yaml',
    demoReleaseConfig({
      service: 'shop',
      // The shop's own series and route: the same instances serve the regions' routes too (the third release).
      fleetService: 'shop',
      prometheus,
      smokeUrl,
      metrics: [demoMetrics.errorRate(), demoMetrics.latencyP99(), demoMetrics.errorsJudge()],
      // The judge needs traffic on both versions: longer bakes while they split it.
      extra: { bake: { staging: '2s' }, canary: { steps: [{ weight: 25, bake: '20s' }, { weight: 50, bake: '60s' }, { weight: 100, bake: '8s' }] } },
      // Each region a target, in a wave of its own, with a bake between.
      ...(regions ? { regions: { names: regions, bake: '10s' } } : {}),
    }),
  );
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'initial');
  git(repo, 'checkout', '-q', '-b', 'feature');
  write('cart/totals.py', `def total(items):\n    ${change}\n`);
  git(repo, 'commit', '-q', '-am', `fix(cart): ${name} change`);
  write('release/reports/qa-report-20261128-120000.md', '# QA Report\n\n**Status**: ✅ PASS\n\nTests: 57/57 passing\n');
  write('release/reports/security-report-20261128-120000.md', '# Security Report\n\n**Verdict**: PASS\n');
  return repo;
}

const run = (args: string[], env: NodeJS.ProcessEnv) =>
  new Promise<number>((ok) => spawn(process.execPath, [BIN, ...args], { env, stdio: 'inherit' }).once('exit', (c) => ok(c ?? 1)));

async function main() {
  const started: { stop: () => Promise<unknown> }[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () => (stopping ??= (async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
  })());
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(143)));

  try {
    console.log(bold('Starting a Temporal dev server (UI on), Prometheus, the demo service (stable v1 and canary v2) and traffic…'));
    // The regions of the third release are services of the stack's fleet: their own weights and series.
    const stack = new DemoStack({ service: 'shop', scrapeInterval: '1s', rps: 400, services: REGIONS.map((r) => regionRoute('shop', r)), rpsPerService: 200 });
    const [env] = await Promise.all([
      TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: join(ROOT, '.tools/bin/temporal') }, ui: true } }),
      stack.start(),
    ]);
    started.push({ stop: () => env.teardown() }, { stop: () => stack.stop() });
    // Every route of both versions fails 1% of its requests, as real services do: the judge needs failures to count.
    const routes = ['shop', ...REGIONS.map((r) => regionRoute('shop', r))];
    await Promise.all(routes.flatMap((route) => [stack.setFault(route, { errorRate: 0.01 }, 'stable'), stack.setFault(route, { errorRate: 0.01 })]));
    const port = Number(env.address.split(':').pop());
    const ui = `http://localhost:${port + 1000}`;
    const childEnv = { ...process.env, TEMPORAL_ADDRESS: env.address, ROLLGATE_UI_URL: ui, DEMO_ROUTER_URL: stack.routerUrl, ROLLGATE_METRICS_ADDRESS: '127.0.0.1:0' };
    const worker: ChildProcess = spawn(process.execPath, [BIN, 'worker'], { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    started.push({
      stop: () =>
        new Promise((r) => {
          if (worker.exitCode !== null) return r(undefined);
          worker.once('exit', r);
          worker.kill('SIGTERM');
        }),
    });
    await new Promise<void>((ok, fail) => {
      worker.stderr!.on('data', (d: Buffer) => d.toString().includes('rollgate worker:') && ok());
      worker.once('exit', (c) => fail(new Error(`worker exited with ${c}`)));
    });
    console.log(`Prometheus: ${stack.prometheus.url}   Temporal UI: ${ui}\n`);

    const root = mkdtempSync(join(tmpdir(), 'rollgate-demo-'));
    const smoke = `${stack.stable.url}/health`;
    // The releases share one ledger (--out), so that the DORA summary covers them.
    const args = (repo: string) => ['start', '--repo', repo, '--base', 'main', '--head', 'feature', '--config', join(repo, 'release/rollgate.yaml'), '--out', join(root, 'out')];

    console.log(bold('1. A healthy canary: 25% → 50% → 100%, every phase analysed on Prometheus, the judge comparing it with stable'));
    const healthy = canaryRepo(root, 'healthy', 'return round(sum(items), 2)', stack.prometheus.url, smoke);
    console.log(`$ rollgate ${args(healthy).join(' ')} --wait`);
    const first = await run([...args(healthy), '--wait'], childEnv);
    console.log(`→ exit ${first} (0: released)\n`);

    console.log(bold('2. A subtle regression: the canary fails 2% of its requests where stable fails 1%'));
    await stack.canary.setFault({ errorRate: 0.02 });
    const faulty = canaryRepo(root, 'faulty', 'return round(sum(items), 2) if items else None', stack.prometheus.url, smoke);
    console.log(`$ rollgate ${args(faulty).join(' ')} --wait`);
    const second = await run([...args(faulty), '--wait'], childEnv);
    const out = join(root, 'out');
    const readLedger = () => readFileSync(join(out, 'ledger.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string | null> & { targets?: Record<string, string> });
    const stoppedBy = /^analysis failed: ([\w-]+) failed/.exec(readLedger().at(-1)?.reason ?? '')?.[1];
    console.log(`→ exit ${second} (4: rolled back)${stoppedBy ? `: stopped by ${stoppedBy}` : ''}\n`);

    console.log(bold(`3. Waves across two regions, ${REGIONS.join(' then ')}: us's canary fails 10% of its requests`));
    await stack.canary.setFault(regionRoute('shop', 'us'), { errorRate: 0.1 });
    const regional = canaryRepo(root, 'regions', 'return round(sum(items), 2) or 0', stack.prometheus.url, smoke, REGIONS);
    console.log(`$ rollgate ${args(regional).join(' ')} --wait`);
    const third = await run([...args(regional), '--wait'], childEnv);
    const targets = readLedger().at(-1)?.targets ?? {};
    console.log(`→ exit ${third} (4: rolled back): ${Object.entries(targets).map(([t, o]) => `${t} ${o}`).join(', ')}\n`);
    const ledger = readLedger();

    console.log(bold('Decision records, with their analysis tables and charts:'));
    for (const e of ledger) console.log(`  ${e.release_id}: ${e.outcome}${e.reason ? ` (${e.reason})` : ''}\n    ${e.output}`);
    console.log(bold('\nLedger:'));
    console.log(readFileSync(join(out, 'ledger.jsonl'), 'utf8'));
    console.log(bold('DORA:'));
    await run(['dora', '--ledger', join(out, 'ledger.jsonl'), '--since', '1d'], childEnv);
    console.log(`\nTemporal UI: ${ui}   (press Enter to stop everything)`);
    if (process.stdin.isTTY) await new Promise((r) => process.stdin.once('data', r));
  } finally {
    await stopAll();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
