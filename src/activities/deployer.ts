import { dirname, join } from 'node:path';
import { type CommandVars, commandEnv, renderArgv } from '../domain/command';
import type { Redactor } from '../domain/redact';
import { redactorFromEnv } from '../connection/secrets';
import { lineRedactor } from './redact';
import { killGroup, processStartTime, run } from './exec';
import { appendLine, openAppend, readLines, readText, removeFile, writeFileAtomic } from './out-files';

export interface DeployRequest extends CommandVars {
  /** argv template from the config. */
  command: readonly string[];
  cwd: string;
  timeoutMs: number;
  /** Folder for the command's log file. */
  logDir: string;
  /** Folder for the journal of applied idempotency keys. */
  stateDir: string;
  /** The release's output folder, which holds both: no symlink in it is followed. Default: the state folder's parent. */
  outDir?: string;
}

export interface DeployResult {
  idempotencyKey: string;
  /** True when the journal shows this key already applied: nothing was run. */
  skipped: boolean;
  exitCode: number | null;
  durationMs: number;
  logFile: string;
}

export class DeployError extends Error {
  constructor(
    message: string,
    /** Exit status 75 (EX_TEMPFAIL) asks for a retry; everything else is final. */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface ApplyOptions {
  signal?: AbortSignal;
  heartbeat?: () => void;
  /** Hears what went wrong without failing the step, such as unreadable journal lines. */
  warn?: (message: string) => void;
}

/** Moves traffic and versions. Every call carries the step's idempotency key. */
export interface Deployer {
  /** Installs the new version (canary, green, or in place) on a stage. */
  deploy(req: DeployRequest, opts?: ApplyOptions): Promise<DeployResult>;
  /** Sends `weight`% of traffic to the new version. */
  setWeight(req: DeployRequest, opts?: ApplyOptions): Promise<DeployResult>;
  /** Makes the new version the stable one, with all traffic. */
  promote(req: DeployRequest, opts?: ApplyOptions): Promise<DeployResult>;
  /** Blue-green: moves all traffic to green; `retire` removes blue after the rollback window. */
  switchTraffic(req: DeployRequest, opts?: ApplyOptions): Promise<DeployResult>;
  retire(req: DeployRequest, opts?: ApplyOptions): Promise<DeployResult>;
  /** Traffic back to the previous version, then the new one removed. */
  rollback(req: DeployRequest, opts?: ApplyOptions): Promise<DeployResult>;
  /** Merges the judged commit (`commit`) to the main branch: the plan's first step where `deploy.merge` is on. */
  merge(req: DeployRequest, opts?: ApplyOptions): Promise<DeployResult>;
}

export const EX_TEMPFAIL = 75;

/**
 * The worker's environment without rollgate's own settings and secrets (webhook URLs, Prometheus
 * credentials, the Temporal API key): a deploy script that prints its environment leaks nothing.
 */
export function inheritedEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('ROLLGATE_') && k !== 'TEMPORAL_API_KEY' && k !== 'TEMPORAL_API_KEY_FILE'));
}
const JOURNAL = 'deploy-journal.jsonl';

/** An unreadable pid file names no process: it is removed like any other. */
function parsePidFile(text: string): { pid?: number; started?: string } {
  try {
    const v = JSON.parse(text) as { pid?: unknown; started?: unknown } | null;
    return { ...(typeof v?.pid === 'number' ? { pid: v.pid } : {}), ...(typeof v?.started === 'string' ? { started: v.started } : {}) };
  } catch {
    return {};
  }
}

/**
 * Runs the user's command with execFile semantics. A journal of applied idempotency keys in the
 * state folder keeps a retried activity from applying the same step twice on this machine; the
 * command itself also receives the key (ROLLGATE_IDEMPOTENCY_KEY) for targets shared between machines.
 */
export class CommandDeployer implements Deployer {
  /** Secrets the command may print are kept out of its log file and its failure message. */
  constructor(private readonly redactor: Redactor = redactorFromEnv(process.env)) {}

  deploy = (req: DeployRequest, opts?: ApplyOptions) => this.apply(req, opts);
  setWeight = (req: DeployRequest, opts?: ApplyOptions) => this.apply(req, opts);
  promote = (req: DeployRequest, opts?: ApplyOptions) => this.apply(req, opts);
  switchTraffic = (req: DeployRequest, opts?: ApplyOptions) => this.apply(req, opts);
  retire = (req: DeployRequest, opts?: ApplyOptions) => this.apply(req, opts);
  rollback = (req: DeployRequest, opts?: ApplyOptions) => this.apply(req, opts);
  merge = (req: DeployRequest, opts?: ApplyOptions) => this.apply(req, opts);

  /** A journal line torn by a crash is passed over and reported: its step, if it was one, runs again under the same key. */
  private async applied(stateDir: string, root: string, key: string, warn?: (message: string) => void): Promise<boolean> {
    const { lines, skippedLines } = await readLines<{ key?: unknown }>(join(stateDir, JOURNAL), { root });
    if (skippedLines > 0) warn?.(`${JOURNAL}: ${skippedLines} unreadable line${skippedLines === 1 ? '' : 's'} passed over`);
    return lines.some((l) => l.key === key);
  }

  /**
   * A command left running by an attempt whose worker died (its pid file survived it) is killed
   * before the step runs again: one copy of a step's command at a time, and no orphans.
   */
  private async killLeftover(pidFile: string, root: string): Promise<void> {
    const text = await readText(pidFile, { root });
    if (!text) return;
    const { pid, started } = parsePidFile(text);
    if (pid !== undefined && started !== undefined && (await processStartTime(pid)) === started) await killGroup(pid);
    await removeFile(pidFile, { root });
  }

  /** One command for every operation: the action is in its arguments and environment. */
  private async apply(req: DeployRequest, opts: ApplyOptions = {}): Promise<DeployResult> {
    const safeKey = req.idempotencyKey.replace(/[^\w.-]+/g, '_');
    const logFile = join(req.logDir, `${safeKey}.log`);
    const root = req.outDir ?? dirname(req.stateDir);
    if (await this.applied(req.stateDir, root, req.idempotencyKey, opts.warn)) return { idempotencyKey: req.idempotencyKey, skipped: true, exitCode: 0, durationMs: 0, logFile };
    const [file, ...args] = renderArgv(req.command, req);
    if (!file) throw new DeployError('deploy command is empty', false);
    const pidFile = join(req.stateDir, 'running', `${safeKey}.pid`);
    await this.killLeftover(pidFile, root);
    const log = (await openAppend(logFile, { root })).createWriteStream();
    const lines = lineRedactor(this.redactor, (text) => log.write(text));
    const started = performance.now();
    const beat = opts.heartbeat ? setInterval(opts.heartbeat, 1000) : undefined;
    let recorded: Promise<void> = Promise.resolve();
    try {
      const res = await run(file, args, {
        cwd: req.cwd,
        env: { ...inheritedEnv(process.env), ...commandEnv(req) },
        timeoutMs: req.timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
        onOutput: (chunk) => lines.write(chunk),
        onSpawn: (pid) => {
          recorded = processStartTime(pid).then((started) => writeFileAtomic(pidFile, JSON.stringify({ pid, started }), { root }));
        },
      }).catch((e: NodeJS.ErrnoException) => {
        throw new DeployError(`cannot run ${file}: ${e.code === 'ENOENT' ? 'not found' : e.code === 'EACCES' ? 'not executable' : e.message}`, false);
      });
      const durationMs = Math.round(performance.now() - started);
      if (res.timedOut) throw new DeployError(`${file} ${req.action} ${req.stage} timed out after ${req.timeoutMs} ms`, true);
      if (res.aborted) throw new DeployError(`${file} ${req.action} ${req.stage} was cancelled`, false);
      if (res.exitCode !== 0) {
        const tail = this.redactor.redact((res.stderr || res.stdout).trim()).split('\n').slice(-3).join(' | ').slice(0, 500);
        throw new DeployError(`${file} ${req.action} ${req.stage} exited with ${res.exitCode ?? res.signal}${tail ? `: ${tail}` : ''}`, res.exitCode === EX_TEMPFAIL);
      }
      await appendLine(join(req.stateDir, JOURNAL), JSON.stringify({ key: req.idempotencyKey, at: new Date().toISOString(), exitCode: 0 }), { root });
      return { idempotencyKey: req.idempotencyKey, skipped: false, exitCode: res.exitCode, durationMs, logFile };
    } finally {
      clearInterval(beat);
      await recorded.catch(() => undefined);
      await removeFile(pidFile, { root });
      lines.end();
      await new Promise((r) => log.end(r));
    }
  }
}
