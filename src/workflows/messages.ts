import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { AbortArgs, Approval, ApproveArgs, RejectArgs, ReleaseStatus } from '../domain/release';

/** Messages of the release workflow, shared by the workflow and the CLI. */
export const statusQuery = defineQuery<ReleaseStatus>('status');
export const approveUpdate = defineUpdate<Approval, [ApproveArgs]>('approve');
export const rejectUpdate = defineUpdate<{ rejected: true }, [RejectArgs]>('reject');
export const abortUpdate = defineUpdate<{ aborting: true }, [AbortArgs]>('abort');

export const RELEASE_WORKFLOW = 'releaseWorkflow';
