import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import { formatIssues } from '../domain/config';
import { fingerprint } from '../domain/fingerprint';
import { firstDeployPhase } from '../domain/plan';
import { Decision, FailureType, Outcome } from '../domain/enums';
import { ApprovalKind, type ReleaseInput, ReleaseInputSchema, type ReleaseResult, StopKind } from '../domain/release';
import { preflightChecks } from './checks';
import { finish } from './closing';
import { compensate } from './compensation';
import { decide } from './decision';
import { awaitApproval } from './approvals';
import { notify } from './notifications';
import { runPhase } from './phases';
import { ReleaseRun, stopReasonOf } from './run-state';
import { installSteering } from './steering';
import { subscribeToFreezes, unsubscribeFromFreezes } from './holds';
import { hasWaves, targetVars } from '../domain/waves';
import { fleetProductionAt, releasePhases, runWaves, startFleet } from './waves';

/**
 * One release, from "CI says go" to a written decision, a sign-off where the risk asks for one,
 * the checks, the phases of its plan with durable bakes, and one ledger line; on the way, anything
 * that stops it early is compensated by a rollback of what was changed.
 */
export async function releaseWorkflow(rawInput: ReleaseInput): Promise<ReleaseResult> {
  const parsed = ReleaseInputSchema.safeParse(rawInput);
  if (!parsed.success) throw ApplicationFailure.nonRetryable(`invalid release input: ${formatIssues(parsed.error).join('; ')}`, FailureType.INVALID_INPUT);
  const run = new ReleaseRun(parsed.data);
  run.status.inputFingerprint = fingerprint(rawInput);
  installSteering(run);
  await subscribeToFreezes(run);
  try {
    return await release(run);
  } finally {
    await unsubscribeFromFreezes();
  }
}

async function release(run: ReleaseRun): Promise<ReleaseResult> {
  const { service } = run.input;
  try {
    const { repo, base, policyFile } = run.input;
    const terms = await run.step('release policy', () => run.acts.local.releasePolicy({ repo, base, ...(policyFile ? { policyFile } : {}) }), (t) => t.problem ?? t.provenance.repository);
    run.adoptPolicy(terms);
    if (terms.problem) return await finish(run, Outcome.ABORTED, { kind: StopKind.GATES, message: `the release policy cannot be read: ${terms.problem}` });
    const decision = await decide(run);
    const because = decision.because.join('; ');
    if (decision.decision === Decision.ABORTED) return await finish(run, Outcome.ABORTED, { kind: StopKind.GATES, message: because });
    const { risk, plan } = decision;
    if (hasWaves(run.config.fleet)) startFleet(run);
    if (!risk || !plan) return await finish(run, Outcome.ESCALATED, { kind: StopKind.ESCALATED, message: because });
    if (decision.approvalRequired)
      await awaitApproval(run, { kind: ApprovalKind.RELEASE }, decision.decision === Decision.ESCALATED ? `Escalated: ${because}` : `${risk.level} risk needs a sign-off`);
    // A fleet's queries are checked with its first target's labels here; each target checks its own as it starts.
    await preflightChecks(run, firstDeployPhase(plan)!, hasWaves(run.config.fleet) ? targetVars(run.config.fleet.targets.find((t) => t.name === run.config.fleet.waves[0]!.targets[0])!) : undefined);
    await notify(run, 'deploy-starting', `Deploying ${service} ${run.version}`, `${risk.level} risk → ${risk.strategy}: ${plan.phases.map((p) => p.title).join(' → ')}.`);
    if (!hasWaves(run.config.fleet)) for (const phase of plan.phases) await runPhase(run, phase);
    else {
      for (const phase of releasePhases(plan)) await runPhase(run, phase);
      await runWaves(run, plan);
      run.productionAt = fleetProductionAt(run);
    }
  } catch (e) {
    const result = await CancellationScope.nonCancellable(() => compensate(run, stopReasonOf(e)));
    if (isCancellation(e)) throw e;
    return result;
  }
  // Released: nothing from here on may roll it back.
  await notify(run, 'released', `Released ${service} ${run.version}`, `${service} ${run.version} is released (${run.status.strategy}).`);
  return finish(run, Outcome.RELEASED);
}
