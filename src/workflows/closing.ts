import { isCancellation } from '@temporalio/workflow';
import { Decision, type Outcome } from '../domain/enums';
import { ledgerEntry } from '../domain/ledger';
import { deploymentNotes, NOTED_OUTCOMES } from '../domain/notes';
import { ReleaseState, type ReleaseResult, StepStatus, type StopReason } from '../domain/release';
import { writeRecord } from './decision-record';
import { releaseDurations } from '../domain/timeline';
import { failureMessage, now, type ReleaseRun } from './run-state';

/**
 * The end of every release: the report's charts, the final record, one ledger line. Each is
 * retried by its activity; one that still fails is recorded and reported with the result, and
 * never changes the outcome: the end of a release never undoes it.
 */
export async function finish(run: ReleaseRun, outcome: Outcome, reason?: StopReason): Promise<ReleaseResult> {
  const { status, decision, change } = run;
  run.setState(ReleaseState.FINISHED);
  status.outcome = outcome;
  delete status.currentStep;
  const finalDecision: Decision = decision?.decision ?? Decision.ESCALATED;
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
      }),
      durations: releaseDurations(status.steps),
    });
    if (skippedLines) problems.push(`ledger: ${skippedLines} unreadable line${skippedLines > 1 ? 's' : ''} passed over (torn by a crash?); this release's line is whole`);
  });
  const { notes } = run.config;
  if (notes && NOTED_OUTCOMES.includes(outcome)) await report('notes', () => run.acts.quick.appendNotes({ outDir: run.outDir, file: notes, runKey: run.runKey, content: notesOf(run, outcome, reason) }));
  return {
    releaseId: run.releaseId,
    outcome,
    decision: finalDecision,
    ...(status.recordPath ? { recordPath: status.recordPath } : {}),
    ...(reason ? { reason: reason.message, stopKind: reason.kind } : {}),
    ...(problems.length ? { problems } : {}),
  };
}

/** The spec's deployment notes for this release, linking its record beside them. */
function notesOf(run: ReleaseRun, outcome: Outcome, reason?: StopReason): string {
  const { input, status, decision } = run;
  return deploymentNotes({
    runKey: run.runKey,
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
