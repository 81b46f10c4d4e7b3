/**
 * Waves at scale: RELEASES fleet releases at once (default 100), each to TARGETS targets (default 10)
 * in three waves (one target, then 40%, then the rest), each target a monitored canary (5% baked
 * BAKE_S seconds, analysed every INTERVAL_S seconds against a real Prometheus, then 100%), on two
 * `rollgate worker` processes sharing one task queue on the dev server. In BREACHES releases (default
 * 10) one target of the second wave breaks during its bake: its series drops to 0. Reports the share
 * of late analyses (a reading more than one interval after it was due; target < 1%), each worker's
 * RSS, the history events per release and per target, and the time from each breach to its
 * target's rollback command. Writes bench/results/waves.json.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Prometheus } from '../demo/stack';
import { buildWorkflowBundle } from '../scripts/bundle-workflows';
import type { Measurement } from '../src/domain/analysis';
import type { ReleaseInput } from '../src/domain/release';
import { RELEASE_WORKFLOW, targetWorkflowId } from '../src/workflows/messages';
import { startWorker, stopProcess } from '../test/helpers/cli';
import { commitToBase, git, makeRepo, tempDir, writeReports } from '../test/helpers/fixtures';
import { devServerEnv } from '../test/helpers/servers';
import { main, processUsage, quantile, round, sleep, writeResult } from './lib';

const RELEASES = Number(process.env.RELEASES ?? 100);
const TARGETS = Number(process.env.TARGETS ?? 10);
const BREACHES = Number(process.env.BREACHES ?? 10);
const INTERVAL_S = Number(process.env.INTERVAL_S ?? 10);
const BAKE_S = Number(process.env.BAKE_S ?? 60);
const GOAL = { latePercent: 1 };

main(async () => {
  const root = tempDir('rollgate-bench-waves-');
  const names = Array.from({ length: TARGETS }, (_, i) => `t${i}`);
  const second = Math.max(1, Math.round(TARGETS * 0.4));
  const waves = [names.slice(0, 1), names.slice(1, 1 + second), names.slice(1 + second)].filter((w) => w.length > 0);
  const breached = names[1]!;
  // One series per release and target; a breach sets one to 0.
  const down = new Set<string>();
  const exporter = createServer((_req, res) => {
    const lines = Array.from({ length: RELEASES }, (_, r) => names.map((t) => `bench_up{service="svc-${r}",target="${t}"} ${down.has(`svc-${r}/${t}`) ? 0 : 1}`).join('\n'));
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${lines.join('\n')}\n`);
  });
  await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
  const prometheus = new Prometheus({ scrapeInterval: '2s', targets: [{ address: `127.0.0.1:${(exporter.address() as AddressInfo).port}`, labels: {} }] });
  const [env, , bundle] = await Promise.all([devServerEnv({ dbFilename: join(root, 'temporal.db') }), prometheus.start(), buildWorkflowBundle(join(root, 'workflow-bundle.js'))]);
  const repo = makeRepo({ 'cart/totals.py': 'def total(items):\n    return sum(items)\n' }, [{ subject: 'fix(cart): round totals', files: { 'cart/totals.py': 'def total(items):\n    return round(sum(items), 2)\n' } }]);
  const reports = writeReports(join(repo, 'reports'));
  const config = {
    // The command's output goes to the step's log: when it ran, what, where.
    deploy: { command: ['sh', '-c', 'echo "$(date +%s%3N) $ROLLGATE_ACTION $ROLLGATE_TARGET"'] },
    bake: { staging: '0s' },
    canary: { steps: [{ weight: 5, bake: `${BAKE_S}s` }, { weight: 100, bake: '0s' }] },
    analysis: {
      prometheus: { address: prometheus.url },
      interval: `${INTERVAL_S}s`,
      verifyWindow: '10s',
      metrics: [{ name: 'up', query: 'sum(bench_up{service="{{service}}",target="{{target}}"})', failureCondition: 'result < 1' }],
    },
    fleet: { targets: names.map((name) => ({ name })), waves: waves.map((targets) => ({ targets })) },
  };
  commitToBase(repo, { 'rollgate.yaml': stringify(config) });
  const base = git(repo, ['rev-parse', 'main']).trim();
  const head = git(repo, ['rev-parse', 'feature']).trim();
  const workerEnv = { TEMPORAL_ADDRESS: env.address, ROLLGATE_WORKFLOW_BUNDLE: bundle, ROLLGATE_METRICS_ADDRESS: '127.0.0.1:0' };
  const workers: ChildProcess[] = [await startWorker(workerEnv), await startWorker(workerEnv)];
  const peakRss = workers.map(() => 0);
  const sampler = setInterval(() => workers.forEach((w, i) => (peakRss[i] = Math.max(peakRss[i]!, processUsage(w.pid!).rssMiB))), 1000);
  const ids = Array.from({ length: RELEASES }, (_, i) => `bench-waves-${i}`);
  const outDir = (i: number) => join(root, `r${i}`);
  const breaches: { release: number; at: number }[] = [];
  const t0 = Date.now();
  try {
    for (let i = 0; i < RELEASES; i += 20)
      await Promise.all(
        ids.slice(i, i + 20).map(async (releaseId, k) => {
          const n = i + k;
          mkdirSync(outDir(n), { recursive: true });
          const input: ReleaseInput = { releaseId, service: `svc-${n}`, repo, base, head, reportsDir: reports, junit: [], outDir: outDir(n), version: 'v2', previousVersion: 'v1', policyFile: 'rollgate.yaml' };
          await env.client.workflow.start(RELEASE_WORKFLOW, { taskQueue: 'rollgate', workflowId: releaseId, args: [input] });
        }),
      );
    // The breaches: once the target's first reading of its 5% bake is written, its series drops. Read
    // from the measurements file, not by queries, which a loaded server answers seconds late.
    const breaching = Array.from({ length: Math.min(BREACHES, RELEASES) }, (_, k) => Math.floor((k * RELEASES) / Math.min(BREACHES, RELEASES)));
    const measuredAt5 = (n: number) => {
      const folder = join(outDir(n), 'analysis');
      const file = existsSync(folder) ? readdirSync(folder).find((f) => f.startsWith(`${targetWorkflowId(ids[n]!, breached).replace(/[^\w.@-]+/g, '_')}@`)) : undefined;
      return file !== undefined && readFileSync(join(folder, file), 'utf8').includes('"phase":"production-canary-5"');
    };
    /** The breached target's rollback command, as its log line ("<ms> rollback <target>"). */
    const rollbackLine = (n: number) => {
      const logs = join(outDir(n), 'logs');
      return existsSync(logs)
        ? readdirSync(logs)
            .flatMap((f) => readFileSync(join(logs, f), 'utf8').split('\n'))
            .find((l) => l.endsWith(` rollback ${breached}`))
        : undefined;
    };
    const rolledBack = (n: number) => rollbackLine(n) !== undefined;
    await Promise.all(
      breaching.map(async (n) => {
        while (!measuredAt5(n)) {
          if (Date.now() - t0 > 30 * 60_000) throw new Error(`${ids[n]}/${breached} never measured its 5% bake`);
          await sleep(250);
        }
        down.add(`svc-${n}/${breached}`);
        breaches.push({ release: n, at: Date.now() });
        // The rollback restores the version that was up: the series recovers, so the rollback's re-check passes.
        while (!rolledBack(n)) await sleep(250);
        down.delete(`svc-${n}/${breached}`);
      }),
    );
    const results = await Promise.all(ids.map((id) => env.client.workflow.getHandle(id).result() as Promise<{ outcome: string }>));
    const runSeconds = (Date.now() - t0) / 1000;
    clearInterval(sampler);

    // Late analyses: within a phase, each reading is due an interval after the one before.
    let total = 0;
    let late = 0;
    let worstS = 0;
    for (let n = 0; n < RELEASES; n++) {
      const folder = join(outDir(n), 'analysis');
      for (const file of existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith('.jsonl')) : []) {
        const byPhase = new Map<string, number[]>();
        for (const l of readFileSync(join(folder, file), 'utf8').split('\n').filter(Boolean)) {
          const m = JSON.parse(l) as Measurement;
          byPhase.set(m.phase, [...(byPhase.get(m.phase) ?? []), Date.parse(m.at)]);
        }
        for (const ats of byPhase.values())
          for (let k = 1; k < ats.length; k++) {
            const lateBy = (ats[k]! - ats[k - 1]! - INTERVAL_S * 1000) / 1000;
            total++;
            worstS = Math.max(worstS, lateBy);
            if (lateBy > INTERVAL_S) late++;
          }
      }
    }
    // From each breach to its target's rollback command, as the command's own clock wrote it.
    const toRollback = breaches.map(({ release, at }) => {
      const line = rollbackLine(release);
      if (!line) throw new Error(`no rollback of ${ids[release]}/${breached}`);
      return (Number(line.split(' ')[0]) - at) / 1000;
    });
    const events = async (id: string) => Number((await env.client.workflow.getHandle(id).describe()).historyLength);
    const releaseEvents = await Promise.all(ids.map(events));
    const targetEvents = await Promise.all(ids.flatMap((id) => names.map((t) => events(targetWorkflowId(id, t)).catch(() => undefined)))).then((xs) => xs.filter((x): x is number => x !== undefined));
    const outcomes = results.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.outcome]: (acc[r.outcome] ?? 0) + 1 }), {});
    const summary = (xs: number[]) => ({ median: round(quantile(xs, 0.5)), p95: round(quantile(xs, 0.95)), max: Math.max(...xs) });
    writeResult('waves', {
      parameters: { releases: RELEASES, targetsPerRelease: TARGETS, waves: waves.map((w) => w.length), breaches: breaching.length, analysisIntervalSeconds: INTERVAL_S, canaryBakeSeconds: BAKE_S, prometheusScrapeSeconds: 2, workers: 2 },
      runSeconds: round(runSeconds),
      outcomes,
      analyses: total,
      latePercent: total ? round((late / total) * 100, 2) : null,
      worstLateSeconds: round(worstS, 2),
      workerPeakRssMiB: peakRss,
      historyEvents: { perRelease: summary(releaseEvents), perTarget: summary(targetEvents) },
      breachToRollbackSeconds: toRollback.length ? { ...summary(toRollback), samples: toRollback.length } : null,
      goal: GOAL,
      meetsGoal: total > 0 && (late / total) * 100 < GOAL.latePercent,
    });
  } finally {
    clearInterval(sampler);
    for (const w of workers) await stopProcess(w);
    await prometheus.dispose();
    exporter.close();
    await env.teardown();
  }
});
