/** Enumerations as `as const` objects with a derived union type. */

export const Decision = { APPROVED: 'APPROVED', ABORTED: 'ABORTED', ESCALATED: 'ESCALATED' } as const;
export type Decision = (typeof Decision)[keyof typeof Decision];

export const RiskLevel = { LOW: 'LOW', MEDIUM: 'MEDIUM', HIGH: 'HIGH', CRITICAL: 'CRITICAL' } as const;
export type RiskLevel = (typeof RiskLevel)[keyof typeof RiskLevel];
export const RISK_LEVELS: readonly RiskLevel[] = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
export const riskRank = (level: RiskLevel): number => RISK_LEVELS.indexOf(level);

export const Strategy = {
  IMMEDIATE: 'immediate',
  CANARY: 'canary',
  FEATURE_FLAG: 'feature-flag',
  BLUE_GREEN: 'blue-green',
} as const;
export type Strategy = (typeof Strategy)[keyof typeof Strategy];

export const Outcome = {
  RELEASED: 'released',
  ABORTED: 'aborted',
  ROLLED_BACK: 'rolled_back',
  ESCALATED: 'escalated',
  ROLLBACK_FAILED: 'rollback_failed',
  /** A wave failed; the targets that had passed kept the new version by a human's decision (fleet.onWaveFailure: hold). */
  PARTIALLY_RELEASED: 'partially_released',
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export const PrerequisiteName = { QA: 'qa', SECURITY: 'security', TESTS: 'tests', BRANCH: 'branch', ROLLBACK_PLAN: 'rollback-plan', MONITORING: 'monitoring', OUT_FOLDER: 'out-folder' } as const;
export type PrerequisiteName = (typeof PrerequisiteName)[keyof typeof PrerequisiteName];

/** Stable `ApplicationFailure.type` strings: match on these, never on `instanceof`. */
export const FailureType = {
  CHANGE_SET_UNREADABLE: 'ChangeSetUnreadable',
  DEPLOY_FAILED: 'DeployFailed',
  ROLLBACK_FAILED: 'RollbackFailed',
  SMOKE_TEST_FAILED: 'SmokeTestFailed',
  INVALID_INPUT: 'InvalidInput',
  NOTIFY_FAILED: 'NotifyFailed',
  INVALID_QUERY: 'InvalidQuery',
  /** A symlink (or a path outside) in the release's output folder: rollgate will not follow it. */
  UNSAFE_PATH: 'UnsafePath',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];
