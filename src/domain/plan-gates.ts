import type { RollgateConfig } from './config';
import { PrerequisiteName } from './enums';
import type { PrerequisiteResult } from './release';

/**
 * The spec's last two must-pass gates, judged from the release policy: the rollback plan is concrete
 * (a pinned target, a command, a verification) and monitoring metrics are defined (at least one
 * check that acts on production). Pure: the gate reader adds only what it found wrong with the target (a branch name).
 */
export interface PlanFacts {
  /** What a rollback returns to: the previous version given, else the base commit. */
  rollbackTarget: { version: string; given: boolean };
  /** How a rollback runs, for people. */
  rollbackMethod: string;
  productionSmokeUrl?: string;
  /** Checks that act (not dry runs): they roll back on production and verify a rollback. */
  actingChecks: string[];
  /** Acting checks that can verify a rollback: a judge weighs a canary, which is gone by then. */
  verifyingChecks?: string[];
  /** Acting checks that are judges: they measure only phases where canary and stable share traffic. */
  judges?: string[];
  verifyWindowMs: number;
}

export function planFacts(config: RollgateConfig, rollbackTarget: PlanFacts['rollbackTarget']): PlanFacts {
  const { deploy, analysis, stages } = config;
  const rollbackMethod =
    deploy.provider === 'webhook' ? 'the deploy webhook, action rollback' : (deploy.rollback ?? deploy.command).join(' ');
  const smoke = stages.production?.smokeUrl;
  return {
    rollbackTarget,
    rollbackMethod,
    ...(smoke ? { productionSmokeUrl: smoke } : {}),
    actingChecks: analysis.metrics.filter((m) => !m.dryRun).map((m) => m.name),
    verifyingChecks: analysis.metrics.filter((m) => !m.dryRun && !m.judge).map((m) => m.name),
    judges: analysis.metrics.filter((m) => !m.dryRun && m.judge).map((m) => m.name),
    verifyWindowMs: analysis.verifyWindow,
  };
}

/** `targetProblem`: what is wrong with the rollback target the gate reader found (a branch name, which moves). */
export function planGates(facts: PlanFacts, targetProblem?: string): PrerequisiteResult[] {
  const { rollbackTarget: target, actingChecks } = facts;
  const missing: string[] = [];
  if (targetProblem) missing.push(targetProblem);
  const verifiedBy = [
    ...(facts.productionSmokeUrl ? [`smoke test ${facts.productionSmokeUrl}`] : []),
    ...((facts.verifyingChecks ?? actingChecks).length > 0 && facts.verifyWindowMs > 0 ? [`re-check of the broken metrics`] : []),
  ];
  if (verifiedBy.length === 0) missing.push('nothing verifies a rollback: set stages.production.smokeUrl, or an acting check in analysis.metrics with analysis.verifyWindow above 0');
  const rollbackPlan: PrerequisiteResult =
    missing.length > 0
      ? { name: PrerequisiteName.ROLLBACK_PLAN, passed: false, detail: missing.join('; ') }
      : {
          name: PrerequisiteName.ROLLBACK_PLAN,
          passed: true,
          detail: `back to ${target.version}${target.given ? '' : ' (the base commit)'} by ${facts.rollbackMethod}, verified by ${verifiedBy.join(' and ')}`,
        };
  const monitoring: PrerequisiteResult =
    actingChecks.length > 0
      ? {
          name: PrerequisiteName.MONITORING,
          passed: true,
          detail: `${actingChecks.join(', ')} checked on production, rolling back when one fails${
            facts.judges?.length === actingChecks.length
              ? ' (judges only: they measure only while canary and stable share traffic, so an immediate or blue-green plan, and a canary at 100%, go unmeasured)'
              : ''
          }`,
        }
      : { name: PrerequisiteName.MONITORING, passed: false, detail: 'no check acts on production: define analysis.metrics (a dry run does not count)' };
  return [rollbackPlan, monitoring];
}
