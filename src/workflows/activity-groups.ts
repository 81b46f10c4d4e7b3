import { ActivityCancellationType, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { longestInterval, REPORT_EVERY_MS } from '../domain/bake';
import type { RollgateConfig } from '../domain/config';
import { TARGET_ATTEMPTS, TARGET_GRACE_MS } from '../domain/plan';

/**
 * The release's activities in groups, each typed to what it may call: a timeout class is a type.
 * Every group but the local one heartbeats, so that a worker that dies mid-call is noticed after
 * `heartbeatTimeout`.
 */
export function activityGroups(config: RollgateConfig) {
  const { heartbeatTimeout } = config;
  return {
    /** The worker's policy, the decision's reads and its first record, the deployment windows and freezes, a fleet's reads of one another: short, on this worker. */
    local: proxyLocalActivities<Pick<Activities, 'releasePolicy' | 'checkPrerequisites' | 'readChangeSet' | 'restoreHistory' | 'writeDecisionRecord' | 'windowState' | 'freezesHolding' | 'fleetOrders' | 'targetStates'>>({
      startToCloseTimeout: '2 minutes',
      retry: { maximumAttempts: 5, initialInterval: '1 second', backoffCoefficient: 2 },
    }),
    /** A steering request's signature, verified on this worker against its allowed signers while the update waits. */
    signatures: proxyLocalActivities<Pick<Activities, 'verifySteeringRequest'>>({
      startToCloseTimeout: '30 seconds',
      retry: { maximumAttempts: 3, initialInterval: '1 second', backoffCoefficient: 2 },
    }),
    /** Short calls that write files or read Prometheus once. */
    quick: proxyActivities<Pick<Activities, 'writeDecisionRecord' | 'checkQueries' | 'captureBaseline' | 'writeAlertRules' | 'setFlag' | 'writeReport' | 'recordLedger' | 'appendNotes'>>({
      startToCloseTimeout: '2 minutes',
      heartbeatTimeout,
      retry: { maximumAttempts: 5, initialInterval: '1 second', backoffCoefficient: 2 },
    }),
    smoke: proxyActivities<Pick<Activities, 'smokeTest'>>({
      startToCloseTimeout: '30 seconds',
      heartbeatTimeout,
      retry: { maximumAttempts: 5, initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '20 seconds' },
    }),
    /** A lost notification never stops a release: a few retries, then it is recorded and skipped. */
    notify: proxyActivities<Pick<Activities, 'notify'>>({
      startToCloseTimeout: '1 minute',
      heartbeatTimeout,
      retry: { maximumAttempts: 4, initialInterval: '2 seconds', backoffCoefficient: 2 },
    }),
    /** Deploys and rollbacks: as long as the deploy command may take, few retries. */
    targets: proxyActivities<Pick<Activities, 'deploy' | 'rollback'>>({
      startToCloseTimeout: config.deploy.timeout + TARGET_GRACE_MS,
      heartbeatTimeout,
      retry: { maximumAttempts: TARGET_ATTEMPTS, initialInterval: '5 seconds', backoffCoefficient: 2 },
    }),
    /** The bake's monitor: one call per report, which may run one interval past the bake's end. */
    monitor: proxyActivities<Pick<Activities, 'monitorPhase'>>({
      startToCloseTimeout: Math.max(REPORT_EVERY_MS, longestInterval(config.analysis)) + 5 * 60_000,
      heartbeatTimeout,
      // Pause, promote and abort do not wait for the monitor to notice its cancellation.
      cancellationType: ActivityCancellationType.TRY_CANCEL,
      retry: { maximumAttempts: 10, initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
    }),
    /** Verifying a rollback: one monitor call for the whole window. */
    verify: proxyActivities<Pick<Activities, 'monitorPhase'>>({
      startToCloseTimeout: config.analysis.verifyWindow + 5 * 60_000,
      heartbeatTimeout,
      retry: { maximumAttempts: 5, initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
    }),
  };
}

export type ActivityGroups = ReturnType<typeof activityGroups>;
