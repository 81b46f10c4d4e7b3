import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { CommandDeployer, type DeployRequest } from '../../src/activities/deployer';
import { processStartTime } from '../../src/activities/exec';
import { UnsafePath } from '../../src/activities/out-files';
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
    commit: 'c0ffee0000000000000000000000000000000000',
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

describe('the command deployer\'s journal, pid and log files in the output folder', () => {
  /** A step whose command appends "ran" to `count`, in a fresh output folder `out` with `elsewhere` beside it. */
  const setup = () => {
    const dir = tempDir();
    const out = join(dir, 'out');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    const count = join(dir, 'count');
    const req = (key: string): DeployRequest => ({
      stage: 'production',
      action: 'deploy',
      weight: 100,
      version: 'v2',
      previousVersion: 'v1',
      releaseId: 'release-auth-abc',
      idempotencyKey: `release-auth-abc@12345678/${key}`,
      commit: 'c0ffee0000000000000000000000000000000000',
      command: [process.execPath, '-e', 'require("node:fs").appendFileSync(process.argv[1], "ran\\n")', count],
      cwd: dir,
      timeoutMs: 10_000,
      logDir: join(out, 'logs'),
      stateDir: join(out, '.rollgate'),
      outDir: out,
    });
    const runs = () => (existsSync(count) ? readFileSync(count, 'utf8').split('\n').filter(Boolean).length : 0);
    return { out, elsewhere, req, runs };
  };
  const refused = (name: string) => (e: unknown) => e instanceof UnsafePath && e.message === `${name} is a symlink: rollgate does not follow symlinks in its output folder`;

  it('passes over a journal line torn by a crash and says so; the step runs once, and a retry of its key is skipped', async () => {
    const { out, req, runs } = setup();
    mkdirSync(join(out, '.rollgate'), { recursive: true });
    const journal = join(out, '.rollgate', 'deploy-journal.jsonl');
    // Step "a" was recorded; the worker died while writing step "b"'s line.
    writeFileSync(journal, `${JSON.stringify({ key: req('a').idempotencyKey, at: '2026-01-01T00:00:00Z', exitCode: 0 })}\n{"key":"release-auth-abc@12345678/b","at":"2026-01-0`);
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);

    assert.equal((await new CommandDeployer().deploy(req('a'), { warn })).skipped, true, 'the whole line still counts');
    const first = await new CommandDeployer().deploy(req('b'), { warn });
    assert.equal(first.skipped, false);
    assert.equal(runs(), 1);
    const retry = await new CommandDeployer().deploy(req('b'), { warn });
    assert.equal(retry.skipped, true, 'the line written after the torn one is read');
    assert.equal(runs(), 1, 'the step ran once');
    assert.deepEqual(warnings, Array(3).fill('deploy-journal.jsonl: 1 unreadable line passed over'));
    assert.equal(readFileSync(journal, 'utf8').split('\n').length, 4, 'the new line starts after the torn one: a, torn b, b, and the final newline');
  });

  it('refuses a state or log folder committed as a symlink to a folder elsewhere: nothing runs, nothing lands there', async () => {
    for (const folder of ['.rollgate', 'logs']) {
      const { out, elsewhere, req, runs } = setup();
      mkdirSync(out);
      symlinkSync(elsewhere, join(out, folder));
      await assert.rejects(new CommandDeployer().deploy(req('a')), refused(`out/${folder}`));
      assert.equal(runs(), 0, folder);
      assert.deepEqual(readdirSync(elsewhere), [], folder);
    }
  });

  // The old deployer appended its journal line to the file elsewhere, wrote its pid over it, or the command's output into it.
  it('refuses a journal, pid or log file committed as a symlink to a file elsewhere: nothing runs, the file is untouched', async () => {
    for (const file of ['.rollgate/deploy-journal.jsonl', '.rollgate/running/release-auth-abc_12345678_a.pid', 'logs/release-auth-abc_12345678_a.log']) {
      const { out, elsewhere, req, runs } = setup();
      mkdirSync(dirname(join(out, file)), { recursive: true });
      const target = join(elsewhere, 'target');
      writeFileSync(target, '');
      symlinkSync(target, join(out, file));
      await assert.rejects(new CommandDeployer().deploy(req('a')), refused(`out/${file}`));
      assert.equal(runs(), 0, file);
      assert.equal(readFileSync(target, 'utf8'), '', file);
    }
  });
});
