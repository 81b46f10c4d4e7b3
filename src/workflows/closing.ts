import { isCancellation } from '@temporalio/workflow';
import { Decision, type Outcome } from '../domain/enums';
import { ledgerEntry } from '../domain/ledger';
import { deploymentNotes, NOTED_OUTCOMES } from '../domain/notes';
import { ReleaseState, type ReleaseResult, StepStatus, type StopReason } from '../domain/release';
import { writeRecord } from './decision-record';
import { resolvePages } from './notifications';
import { releaseDurations } from '../domain/timeline';
import { failureMessage, now, type ReleaseRun } from './run-state';
import { TargetOutcome } from '../domain/waves';

/**
 * The end of every release: the report's charts, the final record, one ledger line. Each is
 * retried by its activity; one that still fails is recorded and reported with the result, and
 * never changes the outcome: the end of a release never undoes it.
 */
export async function finish(run: ReleaseRun, outcome: Outcome, reason?: StopReason): Promise<ReleaseResult> {
  const { status, decision, change } = run;
  run.setState(ReleaseState.FINISHED);
  await resolvePages(run);
  status.outcome = outcome;
  delete status.currentStep;
  const finalDecision: Decision = decision?.decision ?? Decision.ESCALATED;
  // A fleet's target: the release writes the record, the ledger line and the notes, once, for all its targets.
  if (run.target) return { releaseId: run.releaseId, outcome, decision: finalDecision, ...(reason ? { reason: reason.message, stopKind: reason.kind } : {}) };
  if (status.analysed.length > 0 && status.recordPath) await writeCharts(run, status.recordPath);
  const problems: string[] = [];
  const report = async (name: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      if (isCancellation(e)) throw e;
      problems.push(`${name}: ${failureMessage(e)}`);
      run.note(name, StepStatus.FAILED, failureMessage(e), { outsidePhase: true });
    }
  };
  await report('decision record', () => writeRecord(run, { outcome, ...(reason ? { reason } : {}) }));
  const headCommit = change?.commits[0];
  await report('ledger', async () => {
    const { skippedLines } = await run.acts.quick.recordLedger({
      outDir: run.outDir,
      entry: ledgerEntry({
        releaseId: run.releaseId,
        run: run.runKey,
        service: run.input.service,
        startedAt: run.startedAt,
        finishedAt: now(),
        decision: finalDecision,
        outcome,
        ...(reason ? { reason } : {}),
        ...(decision?.risk ? { riskLevel: decision.risk.level, strategy: decision.risk.strategy } : {}),
        ...(status.recordPath ? { recordFile: `${lastSegment(run.outDir)}/${lastSegment(status.recordPath)}` } : {}),
        ...(change ? { commit: change.headSha } : {}),
        ...(headCommit ? { commitTime: headCommit.time } : {}),
        version: run.version,
        ...(run.productionAt ? { productionAt: run.productionAt } : {}),
        ...(run.rollbackStartedAt ? { rollbackStartedAt: run.rollbackStartedAt } : {}),
        ...(run.rollbackEndedAt ? { rollbackFinishedAt: run.rollbackEndedAt } : {}),
        ...(run.gates.evidence ? { evidence: run.gates.evidence } : {}),
        ...(status.overrides ? { overrides: status.overrides } : {}),
        ...(status.fleet ? { targets: Object.fromEntries(status.fleet.targets.map((t) => [t.name, t.state === 'waiting' ? TargetOutcome.NOT_STARTED : t.state])) } : {}),
      }),
      durations: releaseDurations(status.steps),
    });
    if (skippedLines) problems.push(`ledger: ${skippedLines} unreadable line${skippedLines > 1 ? 's' : ''} passed over (torn by a crash?); this release's line is whole`);
  });
  if (NOTED_OUTCOMES.includes(outcome)) await report('notes', () => appendNotes(run, outcome, reason));
  return {
    releaseId: run.releaseId,
    outcome,
    decision: finalDecision,
    ...(status.recordPath ? { recordPath: status.recordPath } : {}),
    ...(reason ? { reason: reason.message, stopKind: reason.kind } : {}),
    ...(problems.length ? { problems } : {}),
  };
}

/**
 * Appends the spec's deployment notes for this release to the notes file, once per release run
 * and `moment` (a failed rollback gets its notes when it fails, the end its own).
 */
export async function appendNotes(run: ReleaseRun, outcome: Outcome, reason?: StopReason, moment = ''): Promise<void> {
  const { notes } = run.config;
  if (!notes || run.target) return;
  const key = `${run.runKey}${moment}`;
  await run.acts.quick.appendNotes({ outDir: run.outDir, file: notes, runKey: key, content: notesOf(run, key, outcome, reason) });
}

/** The spec's deployment notes for this release, linking its record beside them. */
function notesOf(run: ReleaseRun, key: string, outcome: Outcome, reason?: StopReason): string {
  const { input, status, decision } = run;
  return deploymentNotes({
    runKey: key,
    releaseId: run.releaseId,
    service: input.service,
    version: run.version,
    previousVersion: run.previousVersion,
    outcome,
    ...(reason ? { reason: reason.message } : {}),
    finishedAt: now(),
    ...(decision?.risk ? { risk: { level: decision.risk.level, strategy: decision.risk.strategy } } : {}),
    branch: input.refs ? `${input.refs.head} at ${input.head.slice(0, 12)}` : input.head,
    phases: [...new Set(run.started.map((p) => p.id))],
    approvals: status.approvals,
    ...(run.rollbackStartedAt ? { rollback: { startedAt: run.rollbackStartedAt, ...(run.rollbackEndedAt ? { endedAt: run.rollbackEndedAt } : {}) } } : {}),
    ...(status.recordPath ? { recordFile: lastSegment(status.recordPath) } : {}),
    commit: input.head,
    mergedByRollgate: run.config.deploy.merge,
  });
}

/** One chart per analysed metric next to the record; a failure costs the charts, never the release. */
async function writeCharts(run: ReleaseRun, recordPath: string): Promise<void> {
  // A phase starts with its first step.
  const phases = (run.decision?.plan?.phases ?? []).flatMap((p) => {
    const first = run.status.steps.find((s) => s.phase === p.id);
    return first ? [{ id: p.id, at: first.startedAt }] : [];
  });
  try {
    run.charts = await run.acts.quick.writeReport({
      outDir: run.outDir,
      runKey: run.runKey,
      recordPath,
      metrics: run.metrics,
      phases,
      ...(run.rollbackStartedAt ? { rollbackAt: run.rollbackStartedAt } : {}),
    });
  } catch (e) {
    run.note('report charts', StepStatus.FAILED, failureMessage(e));
  }
}

/** A path's last name, without node:path (workflow code). */
const lastSegment = (path: string) => path.replace(/\/+$/, '').split('/').pop() ?? path;
