import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { buildWorkflowBundle } from '../../scripts/bundle-workflows';
import { tempDir } from '../helpers/fixtures';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import { workflowsPath } from '../../src/worker/worker';
import '../helpers/servers';

const DIR = join(__dirname, '../fixtures/histories');

/**
 * Histories recorded from the workflow tests (ROLLGATE_RECORD_HISTORIES=1), replayed against the
 * current workflow code: a change that is not deterministic for them fails here.
 */
describe('replay of committed histories', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
  it('has a history for every path', () => {
    const paths = {
      immediate: 'immediate',
      'canary released': 'canary-healthy',
      'canary rolled back': 'canary-fails',
      'inconclusive then approved': 'inconclusive-approved',
      'inconclusive, then a failure while waiting': 'inconclusive-then-fails',
      'flag, turned off': 'flag-rollback',
      'blue-green with sign-offs': 'critical',
      'sign-off rejected': 'rejected',
      'aborted mid-bake': 'abort-bake',
      'approval timeout': 'no-approval',
      'failed rollback, before and after waiting for a human': 'rollback-fails-needs-human',
      'state search attribute': 'state-attribute',
      'held by a deployment window': 'closes-mid-release',
      'held by a freeze': 'frozen-mid-release',
      'the freeze registry': 'rollgate-freezes',
      'a fleet release whose second wave fails': 'fleet-second-wave-fails',
      'a fleet target that breaks and rolls itself back': 'fleet-second-wave-fails~us-1',
      'a fleet target rolled back by its release': 'fleet-second-wave-fails~eu-1~rollback',
    };
    assert.deepEqual(Object.entries(paths).filter(([, f]) => !files.includes(`${f}.json`)), []);
  });
  it('replays every history without a determinism error', async () => {
    const histories = files.map((f) => ({ workflowId: f.replace(/\.json$/, '').replace(/~/g, '/'), history: JSON.parse(readFileSync(join(DIR, f), 'utf8')) }));
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowsPath }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.deepEqual(failures, []);
  });
  it('replays them with the production bundle built ahead (npm run build:workflows) too', async () => {
    const codePath = await buildWorkflowBundle(join(tempDir(), 'workflow-bundle.js'));
    const histories = files.map((f) => ({ workflowId: f.replace(/\.json$/, '').replace(/~/g, '/'), history: JSON.parse(readFileSync(join(DIR, f), 'utf8')) }));
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath } }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.deepEqual(failures, []);
  });
});
