import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BIN, rollgate } from '../helpers/cli';
import { makeRepo, writeReports } from '../helpers/fixtures';

const repoWithReports = (security?: string) => {
  const repo = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'fix: x', files: { 'app.py': 'x = 2\n' } }]);
  writeReports(join(repo, 'reports'), security ? { security } : {});
  return repo;
};

describe('what rollgate decide prints', () => {
  it('ends quietly when its reader stops early (rollgate decide | head -1), keeping the decision\'s exit status', () => {
    const repo = repoWithReports();
    // Several runs: the reader closes the pipe while decide still writes.
    for (let i = 0; i < 3; i++) {
      const res = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" decide --repo "${repo}" --base main --head feature --reports "${join(repo, 'reports')}" | head -1; exit "\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
      assert.equal(res.stderr, '', 'no stack trace');
      assert.equal(res.stdout, 'Decision: ABORTED\n');
      assert.equal(res.status, 2, 'the exit status of the decision (aborted: no rollback plan or monitoring here)');
    }
  });

  it('--json carries the security report\'s conditions', async () => {
    const repo = repoWithReports('# Security Report\n\n**Verdict**: CONDITIONAL\n\n## Conditions\n- Rotate the API key within 7 days\n- Pin the base image\n');
    const res = await rollgate(['decide', '--repo', repo, '--base', 'main', '--head', 'feature', '--reports', join(repo, 'reports'), '--json']);
    const json = JSON.parse(res.stdout) as { securityConditions: string[] };
    assert.deepEqual(json.securityConditions, ['Rotate the API key within 7 days', 'Pin the base image']);
  });
});
