import { ApplicationFailure } from '@temporalio/common';
import type { Activities, StepInput } from '../../src/activities';
import type { ChangeSet } from '../../src/domain/changeset';
import type { LedgerEntry } from '../../src/domain/ledger';
import type { GateReport } from '../../src/domain/release';

export const passingGates: GateReport = {
  prerequisites: [
    { name: 'qa', passed: true, detail: 'qa-report-20260105-120000.md: PASS' },
    { name: 'security', passed: true, detail: 'security-report-20260105-120000.md: PASS' },
    { name: 'tests', passed: true, detail: '57/57 passing' },
    { name: 'branch', passed: true, detail: 'feature is 1 commit ahead of main' },
  ],
  securityConditions: [],
  tests: { passed: 57, total: 57, source: 'qa-report-20260105-120000.md' },
};

export function changeSet(files: ChangeSet['files'], subject = 'fix: tune pool'): ChangeSet {
  return {
    base: 'main',
    head: 'feature',
    baseSha: 'a'.repeat(40),
    headSha: 'b'.repeat(40),
    commits: [{ sha: 'b'.repeat(40), subject, author: 'Alice Author', email: 'alice@example.com', time: '2026-01-05T11:00:00Z' }],
    files,
    topLevel: ['auth', 'frontend', 'db'],
  };
}

/** The spec's reference change: LOW, immediate. */
export const lowChange = changeSet([
  { path: 'auth/redis_pool.py', status: 'M', insertions: 1, deletions: 1, binary: false, removed: ['POOL = Pool(max_connections=10)'], added: ['POOL = Pool(max_connections=50)'] },
]);
/** Logic in auth: CRITICAL, blue-green with sign-off. */
export const criticalChange = changeSet([
  { path: 'auth/login.py', status: 'M', insertions: 12, deletions: 3, binary: false },
]);

export interface Calls {
  deploys: StepInput[];
  rollbacks: StepInput[];
  smokes: string[];
  records: string[];
  ledger: LedgerEntry[];
}

/** Fake activities of the real type; they record what the workflow asked for. */
export function fakeActivities(opts: { gates?: GateReport; change?: ChangeSet; failDeploy?: (s: StepInput) => boolean; failRollback?: boolean } = {}) {
  const calls: Calls = { deploys: [], rollbacks: [], smokes: [], records: [], ledger: [] };
  const activities: Activities = {
    async checkPrerequisites() {
      return opts.gates ?? passingGates;
    },
    async readChangeSet() {
      return opts.change ?? lowChange;
    },
    async writeDecisionRecord(input) {
      calls.records.push(input.content);
      return `${input.outDir}/${input.fileName}`;
    },
    async deploy(input) {
      calls.deploys.push(input);
      if (opts.failDeploy?.(input)) throw ApplicationFailure.nonRetryable(`./deploy.sh ${input.stage} exited with 1`, 'DeployFailed');
      return { idempotencyKey: input.idempotencyKey, skipped: false, exitCode: 0, durationMs: 5, logFile: 'x.log' };
    },
    async rollback(input) {
      calls.rollbacks.push(input);
      if (opts.failRollback) throw ApplicationFailure.nonRetryable('rollback exited with 1', 'RollbackFailed');
      return { idempotencyKey: input.idempotencyKey, skipped: false, exitCode: 0, durationMs: 5, logFile: 'x.log' };
    },
    async smokeTest(input) {
      calls.smokes.push(input.url);
      return `GET ${input.url} → 200`;
    },
    async recordLedger(input) {
      calls.ledger.push(input.entry);
      return { written: true };
    },
  };
  return { activities, calls };
}
