import type { RollgateConfig } from './config';
import { formatDuration } from './duration';
import { Strategy } from './enums';

/** Steps between the first and the full rollout, which `promote --full` skips. */
export const isIntermediate = (p: Phase): boolean => p.weight < 100 && (p.action === PhaseAction.SET_WEIGHT || p.action === PhaseAction.ENABLE_FLAG);

/** Production phases are watched through the metrics; staging bakes are time only. */
export const isAnalysed = (p: Phase): boolean => p.stage.startsWith('production');

/** Canary and stable both take traffic: only then can a judge compare them. */
export const splitsTraffic = (p: Pick<Phase, 'weight'>): boolean => p.weight > 0 && p.weight < 100;

/** Whether a check measures `phase`: a judge sits out a phase where the stable takes no traffic. */
export const measures = (metric: { judge?: unknown }, phase: Pick<Phase, 'weight'>): boolean => !metric.judge || splitsTraffic(phase);

/** What a phase does to the target before its bake; every action goes through the Deployer. */
export const PhaseAction = {
  DEPLOY: 'deploy',
  SET_WEIGHT: 'set-weight',
  PROMOTE: 'promote',
  ENABLE_FLAG: 'enable-flag',
  /** The flag strategy's rollback through the deploy command: the flag goes off, nothing is redeployed. */
  DISABLE_FLAG: 'disable-flag',
  SWITCH: 'switch',
  RETIRE: 'retire',
  /** The spec's step 1: the judged commit merged to main, where `deploy.merge` is on. A rollback reverts it, last. */
  MERGE: 'merge',
} as const;
export type PhaseAction = (typeof PhaseAction)[keyof typeof PhaseAction];

export interface Phase {
  /** Stable step name, part of the idempotency key: `production-canary-50`. */
  id: string;
  title: string;
  action: PhaseAction;
  stage: string;
  /** Share of traffic (or of the flag's cohort) on the new version after this phase. */
  weight: number;
  smokeUrl?: string;
  /** Durable wait before the action (blue-green keeps blue this long before retiring it). */
  holdMs: number;
  /** Durable wait after the action, watched for problems. */
  bakeMs: number;
  /** A human must approve before the action runs. */
  approval: boolean;
}

export interface ReleasePlan {
  strategy: Strategy;
  phases: Phase[];
}

export const DEFAULT_CANARY_STEPS = [
  { weight: 5, bake: 30 * 60_000, approval: false },
  { weight: 50, bake: 60 * 60_000, approval: false },
  { weight: 100, bake: 24 * 3_600_000, approval: false },
];
export const DEFAULT_FLAG_STEPS = [
  { weight: 5, bake: 30 * 60_000, approval: false },
  { weight: 25, bake: 60 * 60_000, approval: false },
  { weight: 50, bake: 60 * 60_000, approval: false },
  { weight: 100, bake: 24 * 3_600_000, approval: false },
];

/** How often a deploy or rollback command is tried, each attempt allowed its timeout and a minute more: the worst case a record states. */
export const TARGET_ATTEMPTS = 3;
export const TARGET_GRACE_MS = 60_000;

/** The first phase that deploys: the merge to main, where it runs, changes no target. */
export const firstDeployPhase = (plan: ReleasePlan): Phase | undefined => plan.phases.find((p) => p.action !== PhaseAction.MERGE);

/** The merge to main, run through the deploy command where `deploy.merge` is on. */
export const MERGE_PHASE: Phase = { id: 'merge-main', title: 'Merge to main', action: PhaseAction.MERGE, stage: 'main', weight: 0, holdMs: 0, bakeMs: 0, approval: false };

export function buildPlan(strategy: Strategy, config: RollgateConfig): ReleasePlan {
  const { phases } = deploymentPhases(strategy, config);
  return { strategy, phases: config.deploy.merge ? [MERGE_PHASE, ...phases] : phases };
}

function deploymentPhases(strategy: Strategy, config: RollgateConfig): ReleasePlan {
  const { staging, production } = config.stages;
  const stagingPhase: Phase = {
    id: 'staging-deploy',
    title: 'Deploy to staging',
    action: PhaseAction.DEPLOY,
    stage: 'staging',
    weight: 100,
    ...(staging.smokeUrl ? { smokeUrl: staging.smokeUrl } : {}),
    holdMs: 0,
    bakeMs: config.bake.staging,
    approval: false,
  };
  const prodSmoke = production.smokeUrl ? { smokeUrl: production.smokeUrl } : {};
  switch (strategy) {
    case Strategy.IMMEDIATE:
      return {
        strategy,
        phases: [
          stagingPhase,
          { id: 'production-deploy', title: 'Deploy to production', action: 'deploy', stage: 'production', weight: 100, ...prodSmoke, holdMs: 0, bakeMs: config.bake.production, approval: false },
        ],
      };
    case Strategy.CANARY: {
      const steps = config.canary.steps ?? DEFAULT_CANARY_STEPS;
      return {
        strategy,
        phases: [
          stagingPhase,
          ...steps.map((s, i): Phase => ({
            id: `production-canary-${s.weight}`,
            title: s.weight === 100 ? 'Canary: all traffic' : `Canary: ${s.weight}% of traffic`,
            action: i === 0 ? 'deploy' : s.weight === 100 ? 'promote' : 'set-weight',
            stage: 'production',
            weight: s.weight,
            ...prodSmoke,
            holdMs: 0,
            bakeMs: s.bake,
            approval: s.approval,
          })),
        ],
      };
    }
    case Strategy.FEATURE_FLAG: {
      const steps = config.featureFlag.steps ?? DEFAULT_FLAG_STEPS;
      return {
        strategy,
        phases: [
          stagingPhase,
          { id: 'production-deploy-flag-off', title: 'Deploy to production with the flag off', action: 'deploy', stage: 'production', weight: 0, ...prodSmoke, holdMs: 0, bakeMs: 0, approval: false },
          ...steps.map((s): Phase => ({
            id: `production-flag-${s.weight}`,
            title: `Flag on for ${s.weight}% of users`,
            action: 'enable-flag',
            stage: 'production',
            weight: s.weight,
            holdMs: 0,
            bakeMs: s.bake,
            approval: s.approval,
          })),
        ],
      };
    }
    case Strategy.BLUE_GREEN:
      return {
        strategy,
        phases: [
          stagingPhase,
          // Tested where green answers, before the switch: the production URL still serves blue.
          { id: 'production-green-deploy', title: 'Deploy green (no traffic)', action: 'deploy', stage: 'production-green', weight: 0, ...(config.blueGreen.greenSmokeUrl ? { smokeUrl: config.blueGreen.greenSmokeUrl } : {}), holdMs: 0, bakeMs: 0, approval: false },
          { id: 'production-switch', title: 'Switch traffic to green', action: 'switch', stage: 'production', weight: 100, ...prodSmoke, holdMs: 0, bakeMs: config.bake.production, approval: true },
          { id: 'production-retire-blue', title: `Retire blue after the ${formatDuration(config.blueGreen.rollbackWindow)} rollback window`, action: 'retire', stage: 'production-blue', weight: 100, holdMs: config.blueGreen.rollbackWindow, bakeMs: 0, approval: false },
        ],
      };
  }
}

/** Where a stage is verified after its rollback: where its traffic is served. Green's own URL serves nothing once green is gone. */
export const verificationUrl = (phase: Phase, config: RollgateConfig): string | undefined =>
  phase.stage === 'production-green' ? config.stages.production.smokeUrl : phase.smokeUrl;

/**
 * The phases to roll back, the most recent first: one per stage whose action has started. Retiring
 * blue is not undone: it only happens once the rollback window has passed. The merge to main is
 * undone last (the command reverts it on stage `main`): left there, the next release from main would
 * ship it unjudged. Once a flag is on, the rollback turns it off and redeploys nothing.
 */
export function rollbackTargets(started: readonly Phase[]): Phase[] {
  const flag = started.find((p) => p.action === PhaseAction.ENABLE_FLAG);
  if (flag) return [flag];
  const firstPerStage = new Map<string, Phase>();
  for (const phase of started) if (phase.action !== PhaseAction.RETIRE && !firstPerStage.has(phase.stage)) firstPerStage.set(phase.stage, phase);
  return [...firstPerStage.values()].reverse();
}
