import type { ChangeSet } from './changeset';
import type { RollgateConfig } from './config';
import { Decision, PrerequisiteName } from './enums';
import { buildPlan, type ReleasePlan } from './plan';
import type { DecisionResult, GateReport } from './release';
import { assessRisk, type RiskAssessment } from './risk';

/** Gates + change set → risk, strategy, plan and decision. Shared by the workflow and `rollgate decide`. */
export function evaluateRelease(
  gates: GateReport,
  change: ChangeSet | undefined,
  config: RollgateConfig,
  usersAffected: number | undefined,
  changeSetError?: string,
  approverProblem?: string,
): DecisionResult {
  const testsAllPass = gates.prerequisites.find((p) => p.name === PrerequisiteName.TESTS)?.passed;
  const users = usersAffected ?? config.risk.usersAffected;
  const risk = change
    ? assessRisk(change, {
        criticalAreas: config.risk.criticalAreas,
        policyAreas: config.risk.policyAreas,
        migrations: config.risk.migrations,
        components: config.risk.components,
        ...(users !== undefined ? { usersAffected: users } : {}),
        ...(testsAllPass !== undefined ? { testsAllPass } : {}),
      })
    : undefined;
  const plan = risk ? buildPlan(risk.strategy, config) : undefined;
  const decision = decide(gates, risk, plan, config.approval.requiredFor, changeSetError && `Risk cannot be classified: ${changeSetError}`);
  return approverProblem ? noOneMayApprove(decision, approverProblem) : decision;
}

/** A release that needs a sign-off (of the release or of a phase) nobody can be trusted to give stops before anything is deployed. */
function noOneMayApprove(decision: DecisionResult, problem: string): DecisionResult {
  if (decision.decision === Decision.ABORTED || !(decision.approvalRequired || decision.plan?.phases.some((p) => p.approval))) return decision;
  return { ...decision, decision: Decision.ABORTED, because: [...decision.because, `Sign-off needed but no approver is configured: ${problem}`], approvalRequired: false };
}

/** The release decision: prerequisites first (any failure aborts), then the risk's escalations. */
export function decide(gates: GateReport, risk: RiskAssessment | undefined, plan: ReleasePlan | undefined, approvalLevels: readonly string[], riskError?: string): DecisionResult {
  const failed = gates.prerequisites.filter((p) => !p.passed);
  if (failed.length > 0)
    return {
      decision: Decision.ABORTED,
      because: failed.map((p) => `Prerequisite ${p.name} failed: ${p.detail}`),
      prerequisites: gates.prerequisites,
      ...(risk ? { risk, strategy: risk.strategy } : {}),
      approvalRequired: false,
    };
  if (!risk)
    return { decision: Decision.ESCALATED, because: [riskError ?? 'Risk cannot be classified'], prerequisites: gates.prerequisites, approvalRequired: true };
  const base = { prerequisites: gates.prerequisites, risk, strategy: risk.strategy, ...(plan ? { plan } : {}) };
  if (risk.escalation) return { decision: Decision.ESCALATED, because: [risk.escalation], ...base, approvalRequired: true };
  return {
    decision: Decision.APPROVED,
    because: [`All prerequisites passed; ${risk.level} risk → ${risk.strategy}`],
    ...base,
    approvalRequired: approvalLevels.includes(risk.level),
  };
}
