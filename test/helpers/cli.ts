import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

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
