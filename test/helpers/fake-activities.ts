import { applyPolicy, type WorkerPolicy } from '../../src/domain/policy';
import { builtInConfig, parseConfig } from '../../src/domain/config';
import { ApplicationFailure } from '@temporalio/common';
import type { Activities, StepInput } from '../../src/activities';
import type { MonitorInput } from '../../src/activities/analysis';
import { verifySteeringRequest } from '../../src/activities/verify';
import { analysisVerdict, initialState, isStable, type Measurement, record, type Verdict } from '../../src/domain/analysis';
import type { ChangeSet } from '../../src/domain/changeset';
import { restoreHistory } from '../../src/domain/dora';
import { windowState } from '../../src/domain/windows';
import { type Freeze, freezesHolding } from '../../src/domain/freezes';
import type { FleetOrders, TargetState } from '../../src/domain/waves';
import type { LedgerEntry } from '../../src/domain/ledger';
import type { GateReport, ReleaseInput } from '../../src/domain/release';

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
  monitors: MonitorInput[];
  /** Reads of a fleet release's targets' states. */
  targetStates: number;
  flags: { flag: string; percentage: number }[];
  notifications: string[];
  deploys: StepInput[];
  rollbacks: StepInput[];
  smokes: string[];
  records: string[];
  ledger: LedgerEntry[];
  /** The output folder of each ledger line. */
  ledgerDirs: string[];
  /** Each block appended to the notes file, with its file name. */
  notes: { file: string; content: string }[];
  /** Each page: `trigger human-needed-release`, `resolve rollback-failed`, … (the incident without the run). */
  pages: string[];
}

/** Fake activities of the real type; they record what the workflow asked for. */
export function fakeActivities(
  opts: {
    gates?: GateReport;
    change?: ChangeSet;
    failDeploy?: (s: StepInput) => boolean;
    failRollback?: boolean | (() => boolean);
    /** What each monitor call measures, per phase, in order: one verdict per call; `successful` once a list runs out. */
    measurements?: Record<string, Verdict[]>;
    /** The same for the calls that watch a phase while a human is asked, in order. */
    whileWaiting?: Record<string, Verdict[]>;
    /** Notification events whose delivery fails every time. */
    failNotify?: string[];
    /** The ledger cannot be written. */
    failLedger?: boolean;
    /** The worker's allowed-signers file: steering requests must be signed by its keys. */
    signers?: string;
    /** The worker's own release policy. */
    workerPolicy?: WorkerPolicy;
    /** Ledger lines already there before the release: its past rollbacks. */
    pastLedger?: LedgerEntry[];
    /** The freezes in force (the registry's query on a test's server); none by default. */
    freezes?: () => Promise<Freeze[]>;
    /** A fleet release's orders (its query on a test's server). */
    fleetOrders?: (release: { workflowId: string; runId: string }) => Promise<FleetOrders>;
    /** A fleet release's targets as they stand (their queries on a test's server). */
    targetStates?: (targets: { workflowId: string; runId: string }[]) => Promise<Record<string, TargetState>>;
    /** Awaited before a rollback returns: a rollback that takes its time. */
    rollbackGate?: (s: StepInput) => Promise<void>;
  } = {},
) {
  const calls: Calls = { monitors: [], targetStates: 0, flags: [], notifications: [], deploys: [], rollbacks: [], smokes: [], records: [], ledger: [], ledgerDirs: [], notes: [], pages: [] };
  const cursor = new Map<string, number>();
  const activities: Activities = {
    /** The real verifier, against the allowed-signers file a test gives (none: names are unverified). */
    async verifySteeringRequest(input) {
      return verifySteeringRequest(input, opts.signers);
    },
    /** The policy file fakeReleaseInput put in the fake repository, under the test's worker policy, with the floors. */
    async releasePolicy(at) {
      const parsed = parseConfig(at.policyFile ? (fakeRepository.get(at.policyFile) ?? {}) : {});
      const worker = { allowedSigners: opts.signers !== undefined, ...(opts.workerPolicy?.out ? { workerOut: opts.workerPolicy.out } : {}) };
      if (!parsed.ok) return { ...applyPolicy(builtInConfig(), opts.workerPolicy, 'none', at.repo), ...worker, problem: `${at.policyFile}: ${parsed.errors.join('; ')}` };
      return { ...applyPolicy(parsed.config, opts.workerPolicy, `${at.policyFile ?? 'rollgate.yaml'} at the base commit`, at.repo), ...worker };
    },
    async checkQueries(input) {
      return `${input.analysis.metrics.length} accepted`;
    },
    async captureBaseline(input) {
      return { values: Object.fromEntries(input.analysis.metrics.map((m) => [m.name, 0.01])), missing: {} };
    },
    /** Returns at once: the workflow's own timer carries the phase's time on the time-skipping server. */
    async monitorPhase(input) {
      calls.monitors.push(input);
      // A fleet target's readings may be given as `<target>/<phase>`.
      const given = input.watch ? opts.whileWaiting : opts.measurements;
      const target = input.vars.labels?.target;
      const phase = target && given?.[`${target}/${input.phase}`] ? `${target}/${input.phase}` : input.phase;
      const key = `${input.watch ? 'watch ' : ''}${phase}`;
      const n = cursor.get(key) ?? 0;
      cursor.set(key, n + 1);
      const verdict = given?.[phase]?.[n] ?? 'successful';
      const at = new Date().toISOString();
      const states = input.analysis.metrics.map((m, i) => {
        const s = input.states?.[i] ?? initialState(m, Date.now());
        const measurement: Measurement = { metric: m.name, phase: input.phase, seq: s.measured + 1, at, verdict, value: verdict === 'successful' ? 0.001 : 0.2, ...(verdict === 'successful' ? {} : { message: `${verdict} reading` }) };
        return record(m, s, measurement, 1000);
      });
      return { states, verdict: analysisVerdict(input.analysis.metrics, states), stable: isStable(input.analysis.metrics, states), measured: states.length, elapsedMs: 0 };
    },
    async setFlag(input) {
      calls.flags.push({ flag: input.flag, percentage: input.percentage });
      return { changed: true };
    },
    async writeReport(input) {
      return input.metrics.map((m) => ({ metric: m.name, file: `charts/${m.name}.svg` }));
    },
    async writeAlertRules(input) {
      return input.recordPath.replace(/\.md$/, '.alerts.yml');
    },
    async notify(input) {
      if (opts.failNotify?.includes(input.notification.event)) throw new Error(`slack: 503 for ${input.notification.event}`);
      calls.notifications.push(`${input.notification.event}: ${input.notification.text}`);
      const { page } = input.notification;
      if (page) calls.pages.push(`${page.action} ${page.incident.split('/').pop()}`);
      return { sent: ['file'] };
    },
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
      if (typeof opts.failRollback === 'function' ? opts.failRollback() : opts.failRollback) throw ApplicationFailure.nonRetryable('rollback exited with 1', 'RollbackFailed');
      await opts.rollbackGate?.(input);
      return { idempotencyKey: input.idempotencyKey, skipped: false, exitCode: 0, durationMs: 5, logFile: 'x.log' };
    },
    async smokeTest(input) {
      calls.smokes.push(input.url);
      return `GET ${input.url} → 200`;
    },
    /** The real estimate, over the lines given and those this fake has recorded. */
    async windowState(input) {
      return windowState(input.windows, input.at);
    },
    async targetStates({ targets }) {
      calls.targetStates++;
      if (!opts.targetStates) throw new Error('this test gave no target states');
      return opts.targetStates(targets);
    },
    async fleetOrders(release) {
      if (!opts.fleetOrders) throw new Error('this test gave no fleet orders');
      return opts.fleetOrders(release);
    },
    async freezesHolding(input) {
      return freezesHolding(opts.freezes ? await opts.freezes() : [], input.service, Date.now());
    },
    async restoreHistory(input) {
      return restoreHistory([...(opts.pastLedger ?? []), ...calls.ledger], input.service, new Date());
    },
    async appendNotes(input) {
      calls.notes.push({ file: input.file, content: input.content });
      return { written: true };
    },
    async recordLedger(input) {
      if (opts.failLedger) throw new Error('ledger.jsonl: EACCES: permission denied');
      calls.ledger.push(input.entry);
      calls.ledgerDirs.push(input.outDir);
      return { written: true };
    },
  };
  return { activities, calls };
}

/** Logic in a non-critical file: MEDIUM, canary. */
export const mediumChange = changeSet([{ path: 'frontend/cart.py', status: 'M', insertions: 12, deletions: 3, binary: false }], 'fix: cart totals');
/** A new feature outside the critical areas: HIGH, feature flag. */
export const highChange = changeSet([{ path: 'frontend/cart.py', status: 'M', insertions: 40, deletions: 3, binary: false }], 'feat: one-click checkout');

/** The fake repository's base and head commits. */
export const FAKE_BASE = 'b'.repeat(40);
export const FAKE_HEAD = 'f'.repeat(40);

/** The policy files of the fake repository at its base commit, by path: one per release, so that releases side by side differ. */
const fakeRepository = new Map<string, object>();

/** Who may approve the fake releases unless a test's config says otherwise (the four eyes still exclude a change's authors). */
export const REVIEWERS = ['bob', 'carol', 'sre', 'lead', 'oncall', 'alice@example.com'];

/**
 * A release of `service` for the fake activities: paths that never reach a disk, versions v1 → v2,
 * and `config` as the repository's policy file at the base, which the fake worker reads (with
 * REVIEWERS as its approvers unless it names its own).
 */
export function fakeReleaseInput(id: string, service: string, config: { approval?: object; [key: string]: unknown }): ReleaseInput {
  const policyFile = `policies/${id}.yaml`;
  fakeRepository.set(policyFile, { ...config, approval: { approvers: REVIEWERS, ...config.approval } });
  return { releaseId: id, service, repo: '/repo', base: FAKE_BASE, head: FAKE_HEAD, refs: { base: 'main', head: 'feature' }, reportsDir: '/repo/out', outDir: '/repo/out', version: 'v2', previousVersion: 'v1', policyFile };
}
