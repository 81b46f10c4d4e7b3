import { spawn } from 'node:child_process';

export interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  aborted: boolean;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with each chunk of output, e.g. to tee into a log file. */
  onOutput?: (chunk: Buffer) => void;
  maxBuffer?: number;
}

/**
 * Runs a program with an argument list, never through a shell. The child leads its own process group
 * so that a timeout or a cancellation kills everything it started, leaving no orphans.
 */
export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const maxBuffer = opts.maxBuffer ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    let aborted = false;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      opts.onOutput?.(chunk);
      size += chunk.length;
      if (size <= maxBuffer) into.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    const timer = opts.timeoutMs ? setTimeout(() => ((timedOut = true), killGroup()), opts.timeoutMs) : undefined;
    const onAbort = () => ((aborted = true), killGroup());
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();
    child.on('error', (e) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      killGroup(); // grandchildren that outlived the leader
      resolve({ exitCode, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut, aborted });
    });
  });
}
