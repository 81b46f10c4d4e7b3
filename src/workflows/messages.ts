import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Freeze, FreezeArgs, UnfreezeArgs } from '../domain/freezes';
import type { FleetOrders } from '../domain/waves';
import type { Approval, ReleaseStatus } from '../domain/release';
import type { AbortArgs, ApproveArgs, OverrideArgs, PauseArgs, PromoteArgs, RejectArgs, ResolveArgs, ResumeArgs } from '../domain/steering';

/** Messages of the release workflow, shared by the workflow and the CLI. */
export const statusQuery = defineQuery<ReleaseStatus>('status');
export const approveUpdate = defineUpdate<Approval, [ApproveArgs]>('approve');
export const rejectUpdate = defineUpdate<{ rejected: true }, [RejectArgs]>('reject');
export const abortUpdate = defineUpdate<{ aborting: true }, [AbortArgs]>('abort');
export const pauseUpdate = defineUpdate<{ paused: true }, [PauseArgs]>('pause');
export const resumeUpdate = defineUpdate<{ resumed: true }, [ResumeArgs]>('resume');
export const promoteUpdate = defineUpdate<{ promoting: string }, [PromoteArgs]>('promote');
export const resolveUpdate = defineUpdate<{ resolving: string }, [ResolveArgs]>('resolve');
export const overrideUpdate = defineUpdate<{ overriding: string }, [OverrideArgs]>('override');
/** The registry's wake-up: the freezes of this release's service changed; it reads them at its next check. */
export const freezesChangedSignal = defineSignal('freezesChanged');

/** The freeze registry: one per namespace, under this workflow ID. */
export const FREEZE_REGISTRY_ID = 'rollgate-freezes';
export const FREEZE_REGISTRY_WORKFLOW = 'freezeRegistryWorkflow';
export const freezeUpdate = defineUpdate<Freeze, [FreezeArgs]>('freeze');
/** Who unfroze is the verified principal of a signed request, or the name typed (unverified). */
export const unfreezeUpdate = defineUpdate<{ ended: Freeze[]; narrowed: Freeze[]; by: string; verified: boolean }, [UnfreezeArgs]>('unfreeze');
export const freezesQuery = defineQuery<Freeze[]>('freezes');
/** A release asks to be woken whenever the freezes of its service change; and stops asking at its end. */
export const subscribeFreezesSignal = defineSignal<[{ workflowId: string; service: string }]>('subscribe');
export const unsubscribeFreezesSignal = defineSignal<[{ workflowId: string }]>('unsubscribe');

export const RELEASE_WORKFLOW = 'releaseWorkflow';

/** A fleet release: what it orders its running targets (each reads it when woken); the wake-up carries nothing. */
export const fleetOrdersQuery = defineQuery<FleetOrders>('fleetOrders');
export const fleetOrdersChangedSignal = defineSignal('fleetOrdersChanged');
/** A target's wake-up to its release as it breaks: the release reads how its targets stand from their own queries; the wake-up carries nothing. */
export const targetBreakingSignal = defineSignal('targetBreaking');
/** The child workflow ID of a fleet release's target: its rollout, its watch once it passed, its later rollback. */
export const targetWorkflowId = (releaseId: string, target: string, mode: 'rollout' | 'watch' | 'rollback' = 'rollout'): string => `${releaseId}/${target}${mode === 'rollout' ? '' : `/${mode}`}`;

/**
 * A running release's state as a search attribute, so that visibility can count and list releases
 * by state (the worker's pending-approvals gauge). Published only by releases started with it set,
 * which `rollgate start` does when the namespace has it registered.
 */
export const RELEASE_STATE_ATTRIBUTE = defineSearchAttributeKey('RollgateState', SearchAttributeType.KEYWORD);
