import { measurementsPath } from '../domain/analysis';
import type { Decision, Outcome } from '../domain/enums';
import { recordFileName, renderDecisionRecord } from '../domain/record';
import { sha256Hex } from '../domain/sha256';
import { baseBranch, type StopReason } from '../domain/release';
import type { ReleaseRun } from './run-state';

/** Why a release ended, as the record keeps it. */
type Ending = { outcome: Outcome; reason?: StopReason };

/** Writes (or rewrites) the decision record; `first` marks the first write, which the worker's metrics count. */
export async function writeRecord(
  run: ReleaseRun,
  ending?: Ending,
  first?: { decided?: { strategy: string; risk: string }; decision: { decision: Decision; seconds: number } },
): Promise<void> {
  const { decision, change, status, input } = run;
  // A fleet's target has no record of its own: the release's shows it.
  if (!decision || run.target) return;
  const content = renderDecisionRecord({
    releaseId: run.releaseId,
    runKey: run.runKey,
    service: input.service,
    timestamp: run.startedAt,
    // The names people gave, with the commits they stood for: a name can move, the commit cannot.
    branch: input.refs ? `${input.refs.head} at ${input.head.slice(0, 12)}` : input.head,
    base: input.refs ? `${input.refs.base} at ${input.base.slice(0, 12)}` : input.base,
    ...(baseBranch(input.refs?.base) ? { baseBranch: baseBranch(input.refs?.base)! } : {}),
    ...(change ? { commit: change.headSha } : {}),
    version: run.version,
    previousVersion: run.previousVersion,
    decision,
    gates: run.gates,
    files: change?.files ?? [],
    config: run.config,
    approvals: status.approvals,
    ...(status.overrides ? { overrides: status.overrides } : {}),
    ...(status.fleet ? { fleet: status.fleet } : {}),
    ...(status.pendingApproval ? { pendingApproval: status.pendingApproval } : {}),
    ...(status.policy ? { policy: status.policy } : {}),
    ...(run.alertRulesFile ? { alertRulesFile: run.alertRulesFile } : {}),
    ...(run.restoreHistory ? { restoreHistory: run.restoreHistory } : {}),
    ...(ending
      ? {
          results: {
            outcome: ending.outcome,
            ...(ending.reason ? { reason: ending.reason.message } : {}),
            steps: status.steps,
            ...(run.rollbackStartedAt ? { rollbackStartedAt: run.rollbackStartedAt } : {}),
            ...(run.rollbackEndedAt ? { rollbackEndedAt: run.rollbackEndedAt } : {}),
            ...(status.baseline ? { baseline: status.baseline } : {}),
            ...(status.analysed.length ? { analysed: status.analysed, measurementsFile: measurementsPath(run.runKey) } : {}),
            ...(run.charts.length ? { charts: run.charts } : {}),
          },
        }
      : {}),
  });
  const write = { outDir: run.outDir, fileName: recordFileName(run.startedAt), releaseId: run.releaseId, content };
  status.recordPath = first ? await run.acts.local.writeDecisionRecord({ ...write, ...first }) : await run.acts.quick.writeDecisionRecord(write);
  // What the file holds now (`sha256sum` of it): a signed approval names the record its approver read.
  status.recordSha256 = sha256Hex(content);
}
