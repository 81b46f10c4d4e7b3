import type { z } from 'zod';
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, StepInput } from '../activities';
import type { ChangeSet } from '../domain/changeset';
import { commandFor, ROLLBACK, rollbackStep, stepVars } from '../domain/command';
import { formatIssues } from '../domain/config';
import { formatDuration } from '../domain/duration';
import { type Decision, FailureType, type Outcome } from '../domain/enums';
import { ledgerEntry } from '../domain/ledger';
import { type Phase, rollbackTargets } from '../domain/plan';
import { evaluateRelease } from '../domain/evaluate';
import { recordFileName, renderDecisionRecord } from '../domain/record';
import {
  AbortArgsSchema,
  type Approval,
  ApproveArgsSchema,
  type DecisionResult,
  type GateReport,
  RejectArgsSchema,
  type ReleaseInput,
  ReleaseInputSchema,
  type ReleaseResult,
  type ReleaseStatus,
  sameIdentity,
  type StepRecord,
} from '../domain/release';
import { abortUpdate, approveUpdate, rejectUpdate, statusQuery } from './messages';

const quick = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 5, initialInterval: '1 second', backoffCoefficient: 2 },
});
const smoke = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 5, initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '20 seconds' },
});

/** Ends the release early (abort, rejection, deadline); what was changed is rolled back. Not an error of the workflow. */
class Stop extends Error {}

/** Validates update arguments, throwing one line per problem that names the field. */
function parseArgs<T>(schema: z.ZodType<T>, args: unknown): T {
  const parsed = schema.safeParse(args);
  if (!parsed.success) throw new Error(formatIssues(parsed.error).join('; '));
  return parsed.data;
}

const now = () => new Date().toISOString();

/**
 * One release, from "CI says go" to a written decision, a sign-off where the risk asks for one,
 * the phases of its plan with durable bakes, a rollback when a step fails, and one ledger line.
 */
export async function releaseWorkflow(rawInput: ReleaseInput): Promise<ReleaseResult> {
  const parsed = ReleaseInputSchema.safeParse(rawInput);
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(`invalid release input: ${formatIssues(parsed.error).join('; ')}`, FailureType.INVALID_INPUT);
  const input = parsed.data;
  const config = input.config;
  const { releaseId } = input;
  const startedAt = now();
  // Idempotency keys and the ledger line belong to this release run: a later release of the same
  // commit (a new run under the same workflow ID) must not inherit them.
  const runKey = `${releaseId}@${workflowInfo().firstExecutionRunId.slice(0, 8)}`;

  // Deploys and rollbacks: long, heartbeating, few retries.
  const targets = proxyActivities<Activities>({
    startToCloseTimeout: config.deploy.timeout + 60_000,
    heartbeatTimeout: '30 seconds',
    retry: { maximumAttempts: 3, initialInterval: '5 seconds', backoffCoefficient: 2 },
  });

  const status: ReleaseStatus = { releaseId, service: input.service, state: 'deciding', steps: [], approvals: [] };
  let gates: GateReport = { prerequisites: [], securityConditions: [] };
  let change: ChangeSet | undefined;
  let decision: DecisionResult | undefined;
  let abortRequest: { reason: string; by?: string } | undefined;
  let rejection: { by: string; reason: string } | undefined;
  /** Phases whose action has started: what a rollback must undo. */
  const started: Phase[] = [];
  let productionAt: string | undefined;
  let rollbackStartedAt: string | undefined;
  let rollbackEndedAt: string | undefined;
  const version = input.version ?? input.head;
  const previousVersion = input.previousVersion ?? input.base;
  const release = { releaseId, runKey, version, previousVersion };

  const authors = () => [...new Set((change?.commits ?? []).flatMap((c) => [c.author, c.email]).filter(Boolean))];
  const fourEyes = () => decision?.risk?.level === 'CRITICAL' || decision?.decision === 'ESCALATED';

  setHandler(statusQuery, () => status);

  setHandler(
    approveUpdate,
    (args) => {
      const a = parseArgs(ApproveArgsSchema, args);
      const approval: Approval = { target: status.pendingApproval!.target, by: a.by, at: now(), ...(a.reason ? { reason: a.reason } : {}) };
      status.approvals.push(approval);
      return approval;
    },
    {
      validator: (args) => {
        const { by } = parseArgs(ApproveArgsSchema, args);
        const pending = status.pendingApproval;
        if (!pending) {
          const done = status.approvals[status.approvals.length - 1];
          throw new Error(done ? `nothing is waiting for approval (last approved by ${done.by} at ${done.at})` : `nothing is waiting for approval (state: ${status.state})`);
        }
        const already = status.approvals.find((x) => x.target === pending.target);
        if (already) throw new Error(`already approved by ${already.by} at ${already.at}`);
        if (pending.allowedApprovers.length > 0 && !pending.allowedApprovers.some((x) => sameIdentity(x, by)))
          throw new Error(`${by} may not approve: approval.approvers allows ${pending.allowedApprovers.join(', ')}`);
        if (pending.excludedApprovers.some((x) => sameIdentity(x, by)))
          throw new Error(`four eyes: ${by} is an author of this change and may not approve a ${decision?.risk?.level ?? 'escalated'} release`);
      },
    },
  );

  setHandler(
    rejectUpdate,
    (args) => {
      const r = parseArgs(RejectArgsSchema, args);
      rejection = { by: r.by, reason: r.reason };
      return { rejected: true as const };
    },
    {
      validator: (args) => {
        parseArgs(RejectArgsSchema, args);
        if (!status.pendingApproval) throw new Error(`nothing is waiting for approval (state: ${status.state})`);
      },
    },
  );

  setHandler(
    abortUpdate,
    (args) => {
      const a = parseArgs(AbortArgsSchema, args);
      abortRequest = { reason: a.reason, ...(a.by ? { by: a.by } : {}) };
      return { aborting: true as const };
    },
    {
      validator: (args) => {
        parseArgs(AbortArgsSchema, args);
        if (status.state === 'finished') throw new Error(`the release already finished: ${status.outcome}`);
        if (abortRequest) throw new Error(`abort already requested: ${abortRequest.reason}`);
      },
    },
  );

  async function step<T>(name: string, fn: () => Promise<T>, detail?: (t: T) => string): Promise<T> {
    const rec: StepRecord = { name, status: 'running', startedAt: now() };
    status.steps.push(rec);
    status.currentStep = name;
    try {
      const result = await fn();
      rec.status = 'done';
      const d = detail?.(result);
      if (d) rec.detail = d;
      return result;
    } catch (e) {
      rec.status = 'failed';
      rec.detail = failureMessage(e);
      throw e;
    } finally {
      rec.endedAt = now();
    }
  }

  const abortStop = () => new Stop(`aborted${abortRequest?.by ? ` by ${abortRequest.by}` : ''}: ${abortRequest?.reason}`);

  async function waitFor(name: string, ms: number): Promise<void> {
    if (ms <= 0) return;
    status.state = 'baking';
    status.bakeEndsAt = new Date(Date.now() + ms).toISOString();
    await step(name, async () => {
      if (await condition(() => abortRequest !== undefined, ms)) throw abortStop();
    });
    delete status.bakeEndsAt;
  }

  async function awaitApproval(target: string, reason: string): Promise<void> {
    status.state = 'awaiting-approval';
    status.pendingApproval = {
      kind: target === 'release' ? 'release' : 'phase',
      target,
      reason,
      requestedAt: now(),
      deadline: new Date(Date.now() + config.approval.timeout).toISOString(),
      allowedApprovers: config.approval.approvers,
      excludedApprovers: fourEyes() ? authors() : [],
    };
    await writeRecord();
    try {
      await step(`approval: ${target}`, async () => {
        const answered = await condition(
          () => status.approvals.some((a) => a.target === target) || rejection !== undefined || abortRequest !== undefined,
          config.approval.timeout,
        );
        if (abortRequest) throw abortStop();
        if (rejection) throw new Stop(`rejected by ${rejection.by}: ${rejection.reason}`);
        if (!answered) throw new Stop(`no approval within ${formatDuration(config.approval.timeout)}`);
      }, () => {
        const a = status.approvals.find((x) => x.target === target);
        return a ? `approved by ${a.by}` : '';
      });
    } finally {
      delete status.pendingApproval;
    }
  }

  const stepInput = (phase: Phase, action: string, step: string): StepInput => ({
    command: commandFor(action, config.deploy),
    cwd: config.deploy.cwd ?? input.repo,
    timeoutMs: config.deploy.timeout,
    outDir: input.outDir,
    ...stepVars(phase, action, step, release),
  });

  async function runPhase(phase: Phase): Promise<void> {
    if (phase.approval) await awaitApproval(phase.id, `${phase.title} needs a human approval`);
    await waitFor(`${phase.id}: rollback window`, phase.holdMs);
    if (abortRequest) throw abortStop();
    status.state = 'deploying';
    // Counted before the call: a step that failed halfway may have changed the target.
    started.push(phase);
    await step(`${phase.id}: ${phase.action} ${phase.stage}${phase.weight < 100 ? ` ${phase.weight}%` : ''}`, () => targets.deploy(stepInput(phase, phase.action, phase.id)), (r) =>
      r.skipped ? 'already applied (idempotency key)' : `${r.durationMs} ms`,
    );
    if (phase.smokeUrl) await step(`${phase.id}: smoke test`, () => smoke.smokeTest({ url: phase.smokeUrl! }), (d) => d);
    if (!productionAt && phase.stage.startsWith('production') && phase.weight === 100 && phase.action !== 'retire') productionAt = now();
    if (abortRequest) throw abortStop();
    await waitFor(`${phase.id}: bake ${formatDuration(phase.bakeMs)}`, phase.bakeMs);
  }

  async function rollback(phases: Phase[]): Promise<boolean> {
    status.state = 'rolling-back';
    rollbackStartedAt = now();
    try {
      for (const phase of phases) {
        await step(`rollback ${phase.stage}`, () => targets.rollback(stepInput(phase, ROLLBACK, rollbackStep(phase.stage))));
        if (phase.smokeUrl) await step(`verify ${phase.stage}: smoke test`, () => smoke.smokeTest({ url: phase.smokeUrl! }), (d) => d);
      }
      return true;
    } catch {
      return false;
    } finally {
      rollbackEndedAt = now();
    }
  }

  async function writeRecord(results?: { outcome: Outcome; reason?: string }): Promise<void> {
    if (!decision) return;
    const content = renderDecisionRecord({
      releaseId,
      runKey,
      service: input.service,
      timestamp: startedAt,
      branch: input.head,
      base: input.base,
      ...(change ? { commit: change.headSha } : {}),
      version,
      previousVersion,
      decision,
      gates,
      files: change?.files ?? [],
      config,
      approvals: status.approvals,
      ...(status.pendingApproval ? { pendingApproval: status.pendingApproval } : {}),
      ...(results
        ? { results: { ...results, steps: status.steps, ...(rollbackStartedAt ? { rollbackStartedAt } : {}), ...(rollbackEndedAt ? { rollbackEndedAt } : {}) } }
        : {}),
    });
    status.recordPath = await quick.writeDecisionRecord({ outDir: input.outDir, fileName: recordFileName(startedAt), releaseId, content });
  }

  async function finish(outcome: Outcome, reason?: string): Promise<ReleaseResult> {
    status.state = 'finished';
    status.outcome = outcome;
    delete status.currentStep;
    const finalDecision: Decision = decision?.decision ?? 'ESCALATED';
    await writeRecord({ outcome, ...(reason ? { reason } : {}) });
    const headCommit = change?.commits[0];
    await quick.recordLedger({
      outDir: input.outDir,
      entry: ledgerEntry({
        releaseId,
        run: runKey,
        service: input.service,
        startedAt,
        finishedAt: now(),
        decision: finalDecision,
        outcome,
        ...(reason ? { reason } : {}),
        ...(decision?.risk ? { riskLevel: decision.risk.level, strategy: decision.risk.strategy } : {}),
        ...(status.recordPath ? { recordPath: status.recordPath } : {}),
        ...(change ? { commit: change.headSha } : {}),
        ...(headCommit ? { commitTime: headCommit.time } : {}),
        version,
        ...(productionAt ? { productionAt } : {}),
        ...(rollbackStartedAt ? { rollbackStartedAt } : {}),
        ...(rollbackEndedAt ? { rollbackFinishedAt: rollbackEndedAt } : {}),
      }),
    });
    return { releaseId, outcome, decision: finalDecision, ...(status.recordPath ? { recordPath: status.recordPath } : {}), ...(reason ? { reason } : {}) };
  }

  /** Ends a release that stopped early: aborted if nothing was changed, else rolled back. */
  async function stopWith(reason: string): Promise<ReleaseResult> {
    const toUndo = rollbackTargets(started);
    if (toUndo.length === 0) return finish('aborted', reason);
    return (await rollback(toUndo)) ? finish('rolled_back', reason) : finish('rollback_failed', `${reason}; the rollback failed too: a human must restore the release`);
  }

  try {
    gates = await step('prerequisites', () => quick.checkPrerequisites({ repo: input.repo, base: input.base, head: input.head, reportsDir: input.reportsDir, junit: input.junit }), (g) =>
      g.prerequisites.map((p) => `${p.name} ${p.passed ? 'ok' : 'FAILED'}`).join(', '),
    );
    let riskError: string | undefined;
    try {
      change = await step('change set', () => quick.readChangeSet({ repo: input.repo, base: input.base, head: input.head, migrations: config.risk.migrations }), (c) =>
        `${c.files.length} files, ${c.commits.length} commits`,
      );
    } catch (e) {
      riskError = failureMessage(e);
    }
    decision = evaluateRelease(gates, change, config, input.usersAffected, riskError);
    const { risk, plan } = decision;
    status.decision = decision.decision;
    if (risk) {
      status.riskLevel = risk.level;
      status.strategy = risk.strategy;
    }
    await step('decision record', () => writeRecord(), () => `${decision!.decision}${risk ? `, ${risk.level} → ${risk.strategy}` : ''}`);

    if (decision.decision === 'ABORTED') return await finish('aborted', decision.because.join('; '));
    if (decision.decision === 'ESCALATED' && !plan) return await finish('escalated', decision.because.join('; '));
    if (decision.approvalRequired)
      await awaitApproval('release', decision.decision === 'ESCALATED' ? `Escalated: ${decision.because.join('; ')}` : `${risk!.level} risk needs a sign-off`);

    for (const phase of plan!.phases) await runPhase(phase);
    return await finish('released');
  } catch (e) {
    if (isCancellation(e)) {
      await CancellationScope.nonCancellable(() => stopWith('the workflow was cancelled'));
      throw e;
    }
    const reason = e instanceof Stop ? e.message : `step failed: ${failureMessage(e)}`;
    return await CancellationScope.nonCancellable(() => stopWith(reason));
  }
}

/** The innermost message of an activity failure, for records and status. */
function failureMessage(e: unknown): string {
  let err = e as { message?: string; cause?: unknown } | undefined;
  while (err?.cause && (err.cause as { message?: string }).message) err = err.cause as typeof err;
  return err?.message ?? String(e);
}
