import { basename } from 'node:path';
import { z } from 'zod';
import { parseDuration } from '../domain/duration';
import { describeFreeze } from '../domain/freezes';
import type { ReleaseResult, ReleaseStatus } from '../domain/release';
import { releaseSummary, runningSummary } from '../domain/summary';
import type { connectClient } from '../connection/client';
import { statusQuery } from '../workflows/messages';
import { ExitCode } from './exit-code';
import type { Out } from './flags';
import { appendStepSummary } from './step-summary';
import { queryTargets } from './temporal';

/** `--wait-timeout`: how long `start --wait` and `status --wait` follow a release. */
export const waitTimeout = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms) return ms;
  ctx.addIssue({ code: 'custom', message: 'is not a duration (e.g. 30m, 2h)' });
  return z.NEVER;
});

const EXIT_FOR: Record<string, number> = { released: ExitCode.OK, aborted: ExitCode.ABORTED, escalated: ExitCode.NEEDS_HUMAN, rolled_back: ExitCode.ROLLED_BACK, rollback_failed: ExitCode.NEEDS_HUMAN };

/** Follows a release, printing each step as it finishes, until it ends or the wait times out. */
export async function follow(
  client: Awaited<ReturnType<typeof connectClient>>['client'],
  started: { releaseId: string; attached: boolean; ui: string },
  timeoutMs: number | undefined,
  out: Out,
  json: boolean,
  service: string,
): Promise<number> {
  const id = started.releaseId;
  const handle = client.workflow.getHandle(id);
  let lastTargets = '';
  const deadline = timeoutMs ? Date.now() + timeoutMs : Infinity;
  let printed = 0;
  let lastPending = '';
  let status: ReleaseStatus | undefined;
  const result = handle.result().then((r: ReleaseResult) => ({ r }), (e: Error) => ({ e }));
  for (;;) {
    const done = await Promise.race([result, new Promise<undefined>((r) => setTimeout(r, 1000, undefined))]);
    status = await handle.query(statusQuery).catch(() => status);
    if (status && !json) {
      const finished = status.steps.filter((s) => s.status !== 'running');
      for (const s of finished.slice(printed)) out.log(`  ${s.status === 'done' ? '✓' : s.status === 'failed' ? '✗' : '-'} ${s.name}${s.detail ? ` (${s.detail})` : ''}`);
      printed = finished.length;
      const pending = status.pendingApproval
        ? `waiting for approval: ${status.pendingApproval.reason} (rollgate approve ${id} --by NAME${status.pendingApproval.mustAcknowledge ? ` --acknowledge ${status.pendingApproval.mustAcknowledge}` : ''})`
        : status.needsHuman
          ? `NEEDS A HUMAN: ${status.needsHuman.reason} (rollgate resolve ${id} --retry | --restored)`
          : status.window
            ? `waiting for a deployment window until ${status.window.opensAt}: ${status.window.reason} (rollgate override ${id} --reason TEXT breaks it)`
            : status.state === 'frozen'
              ? `frozen: ${(status.freezes ?? []).map(describeFreeze).join('; ')} (rollgate override ${id} --reason TEXT breaks it)`
              : '';
      if (pending && pending !== lastPending) out.log(`  … ${pending}`);
      lastPending = pending;
      // A fleet release's targets wait on their own: what each waits for, and how to break it.
      const targets = status.fleet ? targetsWaiting(id, await queryTargets(status, client)) : '';
      if (targets && targets !== lastTargets) for (const line of targets.split('\n')) out.log(`  … ${line}`);
      lastTargets = targets;
    }
    if (done) {
      if ('e' in done) throw done.e;
      if (json) out.log(JSON.stringify({ ...started, ...done.r, status }));
      else out.log(`release ${id}: ${done.r.outcome}${done.r.reason ? ` (${done.r.reason})` : ''}${done.r.recordPath ? `\ndecision record: ${done.r.recordPath}` : ''}`);
      // After the outcome, for people (with --json too, where the document has them as well); the exit status stays the outcome's.
      for (const p of done.r.problems ?? []) out.err(`warning: ${p}`);
      await appendStepSummary(releaseSummary(service, done.r, status, { ui: started.ui, ...(done.r.recordPath ? { record: basename(done.r.recordPath) } : {}) }), out);
      return EXIT_FOR[done.r.outcome] ?? ExitCode.BAD_INPUT;
    }
    if (Date.now() > deadline) {
      const human = !!status?.pendingApproval || !!status?.needsHuman;
      const waitingFor = status?.pendingApproval
        ? `waiting for a sign-off: ${status.pendingApproval.reason}`
        : status?.needsHuman
          ? `needs a human: ${status.needsHuman.reason}`
          : status?.window
            ? `waiting for a deployment window until ${status.window.opensAt}`
            : status?.state === 'frozen'
              ? `frozen: ${(status.freezes ?? []).map((f) => `${f.id} until ${f.until}`).join(', ')}`
              : undefined;
      await appendStepSummary(runningSummary(service, id, waitingFor, status?.state, { ui: started.ui }), out);
      if (json) out.log(JSON.stringify({ ...started, running: true, waitingForHuman: human, ...(status ? { status } : {}) }));
      else out.log(`release ${id}: still running after --wait-timeout${human ? ', waiting for a human' : ` (${status?.state ?? 'unknown'})`}`);
      return human ? ExitCode.NEEDS_HUMAN : ExitCode.STILL_RUNNING;
    }
  }
}

/** What a fleet release's live targets wait for, a line each, with the command that breaks the wait. */
function targetsWaiting(id: string, live: Record<string, ReleaseStatus>): string {
  return Object.entries(live)
    .flatMap(([name, s]) => {
      const target = `${id}/${name}`;
      if (s.window) return [`${name} waiting for a deployment window until ${s.window.opensAt}: ${s.window.reason} (rollgate override ${target} --reason TEXT breaks it)`];
      if (s.state === 'frozen') return [`${name} frozen: ${(s.freezes ?? []).map(describeFreeze).join('; ')} (rollgate override ${target} --reason TEXT breaks it)`];
      if (s.pendingApproval) return [`${name} waiting for approval: ${s.pendingApproval.reason} (rollgate approve ${target} --by NAME)`];
      return [];
    })
    .join('\n');
}
