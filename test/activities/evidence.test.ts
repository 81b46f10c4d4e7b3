import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../src/domain/enums';
import { readChangeSet } from '../../src/activities/evidence';
import { ChangeSetUnreadable, git, readChangeSet as readChangeSetFromGit } from '../../src/evidence/git';
import { referenceRepo, tempDir } from '../helpers/fixtures';

describe('evidence readers and the activities that wrap them', () => {
  const repo = referenceRepo();

  it('git: a failing command is an error carrying the first line git printed', async () => {
    await assert.rejects(git(repo, ['rev-parse', '--verify', 'nope^{commit}']), (e: Error) => /^fatal: /.test(e.message) && !e.message.includes('\n'));
    await assert.rejects(git(tempDir(), ['rev-parse', 'HEAD']), /not a git repository/);
  });

  it('the reader names the range it could not read, as a plain error', async () => {
    const change = await readChangeSetFromGit(repo, 'main', 'feature', []);
    assert.ok(change.files.length > 0 && change.commits.length > 0);
    await assert.rejects(readChangeSetFromGit(repo, 'main', 'nope', []), (e: Error) => {
      assert.ok(e instanceof ChangeSetUnreadable && !(e instanceof ApplicationFailure));
      assert.equal(e.message, 'cannot read the change set main..nope: unknown ref "nope"');
      return true;
    });
  });

  it('the activity turns that into a non-retryable failure of a stable type, with the same message', async () => {
    await assert.rejects(readChangeSet(repo, 'main', 'nope', []), (e: Error) => {
      assert.ok(e instanceof ApplicationFailure);
      assert.equal(e.type, FailureType.CHANGE_SET_UNREADABLE);
      assert.equal(e.nonRetryable, true);
      assert.equal(e.message, 'cannot read the change set main..nope: unknown ref "nope"');
      return true;
    });
  });
});
