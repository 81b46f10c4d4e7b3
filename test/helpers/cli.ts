import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import type { ReleaseResult, ReleaseStatus } from '../../src/domain/release';

export const BIN = resolve(__dirname, '../../bin/rollgate.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the rollgate CLI as a CI job would: a child process with an environment. */
export function rollgate(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** The one JSON document that `rollgate start --json` prints: the start without --wait, the end with it. */
function onlyJson<T>(res: CliResult, what: string): T {
  try {
    return JSON.parse(res.stdout) as T;
  } catch {
    throw new Error(`${what} printed no JSON (exit ${res.code}):\n${res.stdout}${res.stderr}`);
  }
}

export interface StartedRelease extends CliResult {
  id: string;
  attached: boolean;
  /** The Temporal UI link of the release. */
  ui: string;
}

/**
 * `rollgate start <flags> --json` as CI calls it, without waiting: the release ID is read from the
 * JSON answer, never from prose. Throws unless the release started (or was attached to).
 */
export async function startRelease(flags: string[], env: NodeJS.ProcessEnv): Promise<StartedRelease> {
  const res = await rollgate(['start', ...flags, '--json'], env);
  if (res.code !== 0) throw new Error(`rollgate start exited with ${res.code}:\n${res.stdout}${res.stderr}`);
  const answer = onlyJson<{ releaseId: string; attached: boolean; ui: string }>(res, 'rollgate start');
  return { ...res, id: answer.releaseId, attached: answer.attached, ui: answer.ui };
}

/**
 * `rollgate start <flags> --json` run by the CLI's own `main` in this process, with this process's
 * environment: for suites that start dozens of releases, without a node start-up for each.
 */
export async function startReleaseInProcess(flags: string[]): Promise<{ id: string }> {
  const { main } = await import('../../src/cli/main');
  const res: CliResult = { code: null, stdout: '', stderr: '' };
  res.code = await main(['start', ...flags, '--json'], { log: (s) => (res.stdout += `${s}\n`), err: (s) => (res.stderr += `${s}\n`) });
  if (res.code !== 0) throw new Error(`rollgate start exited with ${res.code}:\n${res.stdout}${res.stderr}`);
  return { id: onlyJson<{ releaseId: string }>(res, 'rollgate start').releaseId };
}

export interface FinishedRelease extends CliResult {
  id: string;
  result: ReleaseResult;
  /** The last status the CLI saw: its steps, analysis and approvals. */
  status: ReleaseStatus;
}

/** `rollgate start <flags> --wait --json`: starts a release and follows it to its end; `code` is the exit status CI sees. */
export async function runRelease(flags: string[], env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<FinishedRelease> {
  const res = await rollgate(['start', ...flags, '--wait', '--json'], env, timeoutMs);
  const { status, ...result } = onlyJson<ReleaseResult & { status: ReleaseStatus }>(res, 'rollgate start --wait');
  return { ...res, id: result.releaseId, result, status };
}

/** Starts `rollgate worker` and resolves once it polls. */
export function startWorker(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  return new Promise((resolvePromise, reject) => {
    // An ephemeral port for /metrics unless the test asks for one: workers of several files never collide.
    const child = spawn(process.execPath, [BIN, 'worker'], { env: { ...process.env, ROLLGATE_METRICS_ADDRESS: '127.0.0.1:0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const onData = (d: Buffer) => {
      err += d.toString();
      if (process.env.ROLLGATE_TEST_VERBOSE) process.stderr.write(d);
      if (err.includes('rollgate worker:')) resolvePromise(child);
    };
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`worker exited with ${code}: ${err}`)));
  });
}

export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}
