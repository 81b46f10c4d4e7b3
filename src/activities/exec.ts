import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

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
  /** Called once the child runs, with its pid (which is also its process group). */
  onSpawn?: (pid: number) => void;
}

/**
 * Runs a program with an argument list, never through a shell. The child leads its own process group
 * so that a timeout or a cancellation kills everything it started, leaving no orphans.
 */
export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const maxBuffer = opts.maxBuffer ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) opts.onSpawn?.(child.pid);
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

/** A process's start time in clock ticks since boot (Linux /proc), which tells a pid's reuse apart. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // Field 22; the command name (field 2) is in parentheses and may hold spaces.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** Kills a process group and waits until its leader is gone. */
export async function killGroup(pid: number): Promise<void> {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 50 && (await running(pid)); i++) await new Promise((r) => setTimeout(r, 20));
}

/** Whether a process runs (a zombie, dead but not reaped, does not). */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && stat[stat.lastIndexOf(')') + 2] !== 'Z';
}
