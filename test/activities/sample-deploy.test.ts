import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { CommandDeployer, DeployError, type DeployRequest } from '../../src/activities/deployer';
import { tempDir } from '../helpers/fixtures';

const SAMPLE = resolve(__dirname, '../../examples/deploy.sh');

describe('the sample deploy.sh, run by the command deployer', () => {
  const dir = tempDir();
  const req = (action: string, key: string, stateDir: string): DeployRequest => ({
    stage: 'production',
    action,
    weight: 50,
    version: 'v2',
    previousVersion: 'v1',
    releaseId: 'release-auth-abc',
    idempotencyKey: `release-auth-abc@12345678/${key}`,
    commit: 'c0ffee0000000000000000000000000000000000',
    command: [SAMPLE, '{stage}'],
    cwd: dir,
    timeoutMs: 10_000,
    logDir: join(dir, 'logs'),
    stateDir,
  });

  it('handles every action rollgate sends', async () => {
    const deployer = new CommandDeployer();
    for (const action of ['merge', 'deploy', 'set-weight', 'promote', 'switch', 'retire', 'enable-flag', 'disable-flag', 'rollback']) {
      const r = await deployer.deploy(req(action, action, join(dir, 'journal')));
      assert.equal(r.exitCode, 0, action);
      assert.match(readFileSync(r.logFile, 'utf8'), new RegExp(`${action} production: `));
    }
  });

  it('applies a key once even when rollgate\'s own journal is lost (another worker machine)', async () => {
    const deployer = new CommandDeployer();
    const first = await deployer.setWeight(req('set-weight', 'again', join(dir, 'journal-a')));
    const second = await deployer.setWeight(req('set-weight', 'again', join(dir, 'journal-b')));
    assert.equal(first.skipped, false);
    assert.equal(second.skipped, false, 'rollgate ran it: its journal is elsewhere');
    assert.match(readFileSync(second.logFile, 'utf8'), /already applied: release-auth-abc@12345678\/again/);
  });

  it('fails an unknown action', async () => {
    await assert.rejects(new CommandDeployer().deploy(req('explode', 'x', join(dir, 'journal'))), (e: Error) => e instanceof DeployError && /exited with 2: unknown action explode/.test(e.message));
  });
});
