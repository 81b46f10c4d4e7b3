import { ApplicationFailure } from '@temporalio/common';
import type { ChangeSet } from '../domain/changeset';
import { FailureType } from '../domain/enums';
import { readChangeSet as readChangeSetFromGit } from '../evidence/git';

/** The change set for the release activity; a failure is non-retryable: git will not answer differently on a retry. */
export async function readChangeSet(repo: string, base: string, head: string, migrationGlobs: readonly string[], opts: { allowedSigners?: string } = {}): Promise<ChangeSet> {
  try {
    return await readChangeSetFromGit(repo, base, head, migrationGlobs, opts);
  } catch (e) {
    throw ApplicationFailure.nonRetryable((e as Error).message, FailureType.CHANGE_SET_UNREADABLE);
  }
}
