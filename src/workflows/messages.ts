import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { Approval, ReleaseStatus } from '../domain/release';
import type { AbortArgs, ApproveArgs, PauseArgs, PromoteArgs, RejectArgs, ResolveArgs, ResumeArgs } from '../domain/steering';

/** Messages of the release workflow, shared by the workflow and the CLI. */
export const statusQuery = defineQuery<ReleaseStatus>('status');
export const approveUpdate = defineUpdate<Approval, [ApproveArgs]>('approve');
export const rejectUpdate = defineUpdate<{ rejected: true }, [RejectArgs]>('reject');
export const abortUpdate = defineUpdate<{ aborting: true }, [AbortArgs]>('abort');
export const pauseUpdate = defineUpdate<{ paused: true }, [PauseArgs]>('pause');
export const resumeUpdate = defineUpdate<{ resumed: true }, [ResumeArgs]>('resume');
export const promoteUpdate = defineUpdate<{ promoting: string }, [PromoteArgs]>('promote');
export const resolveUpdate = defineUpdate<{ resolving: string }, [ResolveArgs]>('resolve');

export const RELEASE_WORKFLOW = 'releaseWorkflow';

/**
 * A running release's state as a search attribute, so that visibility can count and list releases
 * by state (the worker's pending-approvals gauge). Published only by releases started with it set,
 * which `rollgate start` does when the namespace has it registered.
 */
export const RELEASE_STATE_ATTRIBUTE = defineSearchAttributeKey('RollgateState', SearchAttributeType.KEYWORD);
