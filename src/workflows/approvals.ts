import { condition } from '@temporalio/workflow';
import { formatDuration } from '../domain/duration';
import { Acknowledgement, ApprovalKind, ApprovalOutcome, type ApprovalTarget, approvalTargetId, ReleaseState, type StepRecord, StopKind } from '../domain/release';
import { changeIdentities } from '../domain/steering';
import { writeRecord } from './decision-record';
import { notify } from './notifications';
import { now, type ReleaseRun, StopRelease } from './run-state';

const OUTCOME_BY_STOP: Partial<Record<StopKind, ApprovalOutcome>> = {
  [StopKind.REJECTED]: ApprovalOutcome.REJECTED,
  [StopKind.APPROVAL_TIMEOUT]: ApprovalOutcome.TIMED_OUT,
  [StopKind.ANALYSIS_FAILED]: ApprovalOutcome.ANALYSIS_FAILED,
  [StopKind.ANALYSIS_ERROR]: ApprovalOutcome.ANALYSIS_FAILED,
};
const outcomeOf = (e: unknown): ApprovalOutcome => (e instanceof StopRelease && OUTCOME_BY_STOP[e.reason.kind]) || ApprovalOutcome.ABORTED;

/**
 * Waits for a human to approve `target` within `timeout`: rejected, aborted or unanswered, the
 * release stops. The record shows the request while it waits; people are told once per target.
 */
export async function awaitApproval(run: ReleaseRun, target: ApprovalTarget, reason: string, timeout = run.config.approval.timeout): Promise<void> {
  // The decision stops a release whose planned sign-offs nobody could give; a wait the analysis asks for stops here, as its timeout would.
  if (run.approverProblem) throw new StopRelease({ kind: StopKind.NO_APPROVER, message: `${reason}, but no one may answer: ${run.approverProblem}` });
  const { status } = run;
  const id = approvalTargetId(target);
  const before = status.state;
  run.setState(ReleaseState.AWAITING_APPROVAL);
  status.pendingApproval = {
    kind: target.kind,
    target: id,
    ...('phase' in target ? { phase: target.phase } : {}),
    reason,
    requestedAt: now(),
    deadline: new Date(Date.now() + timeout).toISOString(),
    allowedApprovers: run.config.approval.approvers,
    // Four eyes: every author, committer and co-author, by name and email (an author name is whatever the committer typed).
    excludedApprovers: run.fourEyes() ? changeIdentities(run.change?.commits ?? []) : [],
    // The release's sign-off is where a person accepts what a rollback cannot restore.
    ...(target.kind === ApprovalKind.RELEASE && run.decision?.risk?.irreversibleMigration ? { mustAcknowledge: Acknowledgement.IRREVERSIBLE_MIGRATION } : {}),
  };
  await writeRecord(run);
  await notify(run, 'approval-needed', `Approval needed: ${run.input.service} ${run.version}`, `${reason}.\n\`rollgate approve ${run.steeringId} --key SSH_KEY${status.pendingApproval.mustAcknowledge ? ` --acknowledge ${status.pendingApproval.mustAcknowledge}` : ''}\` (or reject) before ${status.pendingApproval.deadline}.`, {
    key: `approval-needed-${id}`,
    page: { action: 'trigger', incident: `human-needed-${id}`, severity: 'warning' },
  });
  const approval: NonNullable<StepRecord['approval']> = { kind: target.kind };
  const approved = () => status.approvals.find((a) => a.target === id);
  try {
    await run.step(
      `approval: ${id}`,
      async () => {
        const answered = await condition(() => approved() !== undefined || run.rejection !== undefined || run.stopping(), timeout);
        run.throwIfAborted();
        if (run.rejection) throw new StopRelease({ kind: StopKind.REJECTED, message: `rejected by ${run.rejection.by}: ${run.rejection.reason}` });
        if (!answered) throw new StopRelease({ kind: StopKind.APPROVAL_TIMEOUT, message: `no approval within ${formatDuration(timeout)}` });
      },
      () => `approved by ${approved()!.by}`,
      { approval },
    );
    approval.outcome = ApprovalOutcome.APPROVED;
  } catch (e) {
    approval.outcome = outcomeOf(e);
    throw e;
  } finally {
    delete status.pendingApproval;
    run.setState(before);
  }
  // Approved: the page is no longer anyone's to answer. A wait that ended otherwise stops the release, whose end resolves it.
  await notify(run, 'human-answered', `Answered: ${run.input.service} ${run.version}`, `${id}: approved.`, {
    key: `human-answered-${id}`,
    page: { action: 'resolve', incident: `human-needed-${id}` },
  });
}
