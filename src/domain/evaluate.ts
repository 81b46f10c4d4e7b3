import type { ChangeSet } from './changeset';
import type { RollgateConfig } from './config';
import { buildPlan } from './plan';
import { decide, type DecisionResult, type GateReport } from './release';
import { assessRisk } from './risk';

/** Gates + change set → risk, strategy, plan and decision. Shared by the workflow and `rollgate decide`. */
export function evaluateRelease(
  gates: GateReport,
  change: ChangeSet | undefined,
  config: RollgateConfig,
  usersAffected: number | undefined,
  changeSetError?: string,
): DecisionResult {
  const testsAllPass = gates.prerequisites.find((p) => p.name === 'tests')?.passed;
  const users = usersAffected ?? config.risk.usersAffected;
  const risk = change
    ? assessRisk(change, {
        criticalAreas: config.risk.criticalAreas,
        migrations: config.risk.migrations,
        components: config.risk.components,
        ...(users !== undefined ? { usersAffected: users } : {}),
        ...(testsAllPass !== undefined ? { testsAllPass } : {}),
      })
    : undefined;
  const plan = risk ? buildPlan(risk.strategy, config) : undefined;
  return decide(gates, risk, plan, config.approval.requiredFor, changeSetError && `Risk cannot be classified: ${changeSetError}`);
}
