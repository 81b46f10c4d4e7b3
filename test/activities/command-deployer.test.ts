import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CommandDeployer, type DeployRequest } from '../../src/activities/deployer';
import { processStartTime } from '../../src/activities/exec';
import { tempDir } from '../helpers/fixtures';

/** Running, not a zombie (a container's init may not reap orphans). */
const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
};

/** A command that starts a grandchild (which writes its pid) and then waits for `seconds`. */
const SCRIPT = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const g = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
fs.writeFileSync(process.argv[1], String(g.pid));
setTimeout(() => process.exit(0), Number(process.argv[2]) * 1000);
`;

describe('the command deployer keeps one copy of a step\'s command and leaves no process behind', () => {
  const dir = tempDir();
  const req = (key: string, args: string[], timeoutMs = 10_000): DeployRequest => ({
    stage: 'production',
    action: 'deploy',
    weight: 100,
    version: 'v2',
    previousVersion: 'v1',
    releaseId: 'release-auth-abc',
    idempotencyKey: `release-auth-abc@12345678/${key}`,
    command: [process.execPath, '-e', SCRIPT, ...args],
    cwd: dir,
    timeoutMs,
    logDir: join(dir, 'logs'),
    stateDir: join(dir, 'state'),
  });

  it('kills a timed-out command with its grandchildren', async () => {
    const grandchild = join(dir, 'timeout.pid');
    await assert.rejects(new CommandDeployer().deploy(req('hangs', [grandchild, '60'], 500)), /timed out after 500 ms/);
    const pid = Number(readFileSync(grandchild, 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(pid), false, 'the grandchild is gone');
  });

  it('kills the command a dead attempt left running before it runs the step again', async () => {
    // The attempt whose worker was killed: its command runs on, with the pid file it wrote.
    const leftoverPid = join(dir, 'leftover.pid');
    const leftover = spawn(process.execPath, ['-e', SCRIPT, leftoverPid, '60'], { detached: true, stdio: 'ignore' });
    const running = join(dir, 'state', 'running');
    mkdirSync(running, { recursive: true });
    for (let i = 0; i < 100 && !alive(Number(readFileSync(leftoverPid, { flag: 'a+' }).toString() || 0)); i++) await new Promise((r) => setTimeout(r, 20));
    const grandchild = Number(readFileSync(leftoverPid, 'utf8'));
    writeFileSync(join(running, 'release-auth-abc_12345678_retried.pid'), JSON.stringify({ pid: leftover.pid, started: await processStartTime(leftover.pid!) }));

    const r = await new CommandDeployer().deploy(req('retried', [join(dir, 'retry.pid'), '0']));
    assert.equal(r.skipped, false);
    assert.equal(alive(leftover.pid!), false, 'the left-over command is gone');
    assert.equal(alive(grandchild), false, 'and its grandchild');
  });

  it('leaves a process alone whose pid was reused (its start time differs)', async () => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { detached: true, stdio: 'ignore' });
    writeFileSync(join(dir, 'state', 'running', 'release-auth-abc_12345678_reused.pid'), JSON.stringify({ pid: other.pid, started: '1' }));
    await new CommandDeployer().deploy(req('reused', [join(dir, 'reused.pid'), '0']));
    assert.equal(alive(other.pid!), true);
    other.kill('SIGKILL');
  });

  it('passes hostile versions and branch names as plain arguments: no shell ever reads them', async () => {
    const pwned = join(dir, 'pwned');
    for (const hostile of [`$(touch ${pwned})`, `x; touch ${pwned}`, `\`touch ${pwned}\``, `x && touch ${pwned} #`, `x\ntouch ${pwned}`]) {
      const r = await new CommandDeployer().deploy({
        ...req(`hostile-${hostile.length}-${hostile.charCodeAt(1)}`, []),
        version: hostile,
        previousVersion: hostile,
        command: [process.execPath, '-e', 'console.log(JSON.stringify([process.argv[1], process.env.ROLLGATE_VERSION]))', '{version}'],
      });
      assert.deepEqual(JSON.parse(readFileSync(r.logFile, 'utf8')), [hostile, hostile], 'the argument and the variable arrive verbatim');
      assert.equal(existsSync(pwned), false, hostile);
    }
  });

  it('keeps the Temporal API key and rollgate\'s own settings out of the command\'s environment', async () => {
    process.env.TEMPORAL_API_KEY = 'temporal-key-planted';
    process.env.ROLLGATE_SLACK_WEBHOOK_URL = 'https://hooks.example/planted';
    try {
      const r = await new CommandDeployer().deploy({ ...req('env', []), command: [process.execPath, '-e', 'console.log(JSON.stringify(process.env))'] });
      const seen = JSON.parse(readFileSync(r.logFile, 'utf8')) as Record<string, string>;
      assert.equal(seen.ROLLGATE_IDEMPOTENCY_KEY, 'release-auth-abc@12345678/env', 'the step\'s own variables arrive');
      assert.equal(seen.TEMPORAL_API_KEY, undefined);
      assert.equal(seen.ROLLGATE_SLACK_WEBHOOK_URL, undefined);
    } finally {
      delete process.env.TEMPORAL_API_KEY;
      delete process.env.ROLLGATE_SLACK_WEBHOOK_URL;
    }
  });
});
