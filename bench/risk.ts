/**
 * Risk assessment of a change set of FILES files (default 10,000): reading it from git (the
 * change-set activity: rev-parse, merge-base, numstat, name-status, log) and assessing it (the
 * risk matrix), over RUNS runs (default 10). Target: under 1 s together.
 * Writes bench/results/risk.json.
 */
import { performance } from 'node:perf_hooks';
import { readChangeSet } from '../src/evidence/git';
import { parseConfig } from '../src/domain/config';
import { evaluateRelease } from '../src/domain/evaluate';
import { makeRepo } from '../test/helpers/fixtures';
import { main, quantile, round, writeResult } from './lib';

const FILES = Number(process.env.FILES ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 10);
const TARGET_MS = 1000;

main(async () => {
  // Files spread over 100 folders, one of them a critical area, each with a one-line change.
  const path = (i: number) => `${i % 100 === 0 ? 'auth' : `svc${i % 100}`}/module_${i}.py`;
  const base = Object.fromEntries(Array.from({ length: FILES }, (_, i) => [path(i), `def f_${i}():\n    return ${i}\n`]));
  const changed = Object.fromEntries(Array.from({ length: FILES }, (_, i) => [path(i), `def f_${i}():\n    return ${i + 1}\n`]));
  const repo = makeRepo(base, [{ subject: 'refactor: bump every constant', files: changed }]);
  const parsed = parseConfig({});
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const gates = { prerequisites: [{ name: 'tests' as const, passed: true, detail: '' }], securityConditions: [] };

  const read: number[] = [];
  const assess: number[] = [];
  let level = '';
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const change = await readChangeSet(repo, 'main', 'feature', parsed.config.risk.migrations);
    const t1 = performance.now();
    const decision = evaluateRelease(gates, change, parsed.config, undefined);
    const t2 = performance.now();
    if (change.files.length !== FILES) throw new Error(`read ${change.files.length} files, expected ${FILES}`);
    read.push(t1 - t0);
    assess.push(t2 - t1);
    level = `${decision.risk?.level} → ${decision.risk?.strategy}`;
  }
  const total = read.map((r, i) => r + assess[i]!);
  writeResult('risk', {
    parameters: { files: FILES, runs: RUNS },
    outcome: level,
    readChangeSetMs: { median: round(quantile(read, 0.5)), p95: round(quantile(read, 0.95)) },
    assessMs: { median: round(quantile(assess, 0.5), 2), p95: round(quantile(assess, 0.95), 2) },
    totalMs: { median: round(quantile(total, 0.5)), p95: round(quantile(total, 0.95)) },
    targetMs: TARGET_MS,
    meetsTarget: quantile(total, 0.95) < TARGET_MS,
  });
});
