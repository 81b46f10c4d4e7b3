import { z } from 'zod';
import { formatDuration } from '../../domain/duration';
import { describeFreeze } from '../../domain/freezes';
import { ExitCode } from '../exit-code';
import { type FlagSpec, type Out, parseFlags, quoted, releaseId } from '../flags';
import { queryStatus, queryTargets, uiLink } from '../temporal';
import { connectClient } from '../../connection/client';
import { follow, waitTimeout } from '../follow';
import { fleetTable, liveTargetWorkflow, phaseStates } from '../../domain/waves';
import type { ReleaseStatus } from '../../domain/release';

const StatusFlagsSchema = z.strictObject({ id: releaseId('status'), json: z.boolean().default(false), wait: z.boolean().default(false), 'wait-timeout': quoted(waitTimeout).optional() });

export const statusFlags = {
  command: 'status',
  options: { json: { type: 'boolean' }, wait: { type: 'boolean' }, 'wait-timeout': { type: 'string' } },
  positionals: ['id'],
  schema: StatusFlagsSchema,
} satisfies FlagSpec<typeof StatusFlagsSchema>;

/** `rollgate status`: where a release is, what it waits for and how its analysis went; with --wait, follows it to its end as `start --wait` does. */
export async function statusCommand(args: string[], out: Out): Promise<number> {
  const flags = parseFlags(statusFlags, args);
  const status = await queryStatus(flags.id);
  if (flags.wait) {
    const { client, settings, close } = await connectClient();
    try {
      return await follow(client, { releaseId: flags.id, attached: true, ui: uiLink(settings.namespace, flags.id) }, flags['wait-timeout'], out, flags.json, status.service);
    } finally {
      await close();
    }
  }
  if (flags.json) {
    out.log(JSON.stringify(status, null, 2));
    return ExitCode.OK;
  }
  out.log(`release ${status.releaseId} (${status.service}): ${status.state}${status.outcome ? ` → ${status.outcome}` : ''}`);
  if (status.decision) out.log(`decision: ${status.decision}${status.riskLevel ? `, ${status.riskLevel} risk → ${status.strategy}` : ''}`);
  if (status.currentStep) out.log(`current step: ${status.currentStep}${status.bakeEndsAt ? ` (until ${status.bakeEndsAt})` : ''}`);
  if (status.paused) out.log(`paused by ${status.paused.by} at ${status.paused.at}${status.paused.reason ? `: ${status.paused.reason}` : ''}${status.bakeRemainingMs !== undefined ? `; ${formatDuration(status.bakeRemainingMs)} of bake left` : ''}`);
  if (status.needsHuman) {
    out.log(`NEEDS A HUMAN since ${status.needsHuman.since}: ${status.needsHuman.reason}`);
    for (const o of status.needsHuman.options) out.log(`  ${o}`);
  }
  if (status.baseline && Object.keys(status.baseline).length) out.log(`baseline: ${Object.entries(status.baseline).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const w = status.watching;
  if (status.window) out.log(`waiting for a deployment window until ${status.window.opensAt}: ${status.window.reason}`);
  for (const f of status.freezes ?? []) out.log(`frozen: ${describeFreeze(f)}`);
  if (status.hold) out.log(`held by ${status.hold.target}; to break it: rollgate override ${status.releaseId} --reason TEXT (signed where the worker verifies signers)`);
  for (const o of status.overrides ?? []) out.log(`overridden by ${o.by}${o.verified ? ' (signature verified)' : ' (unverified)'} at ${o.at}: ${o.broke}; ${o.reason}`);
  const waitingFor = { pause: 'the pause to end', approval: 'an approval', window: 'a deployment window', freeze: 'a freeze to end', 'later waves': 'the later waves to pass' } as const;
  if (w) out.log(`watching ${w.phase} while waiting for ${waitingFor[w.reason]} (since ${w.since}): ${w.readings} readings so far`);
  if (w?.held) out.log(`  a check failed during the pause: ${w.held}; the release rolls back when it resumes`);
  for (const a of [...status.analysed, ...(status.analysis ? [status.analysis] : [])]) {
    out.log(`analysis ${a.phase}: ${a.verdict}`);
    // A warming-up reading's message says until when.
    for (const m of a.metrics)
      out.log(
        `  ${m.metric.padEnd(20)} ${m.successful}/${m.measured} passed, ${m.failed} failed, ${m.inconclusive} inconclusive, ${m.noData} no data, ${m.errors} errors; last ${m.last ? `${m.last.verdict}${m.last.value !== undefined ? ` ${m.last.value}` : ''}${m.last.message ? ` (${m.last.message})` : ''} at ${m.last.at}` : 'none'}`,
      );
  }
  for (const s of status.steps) out.log(`  ${s.status.padEnd(7)} ${s.name}  ${s.startedAt}${s.endedAt ? ` → ${s.endedAt}` : ''}${s.detail ? `  ${s.detail}` : ''}`);
  const p = status.pendingApproval;
  if (p) {
    out.log(`waiting for approval: ${p.reason}; deadline ${p.deadline}`);
    out.log(`  may approve: ${p.allowedApprovers.length ? p.allowedApprovers.join(', ') : 'anyone'}${p.excludedApprovers.length ? ` except ${p.excludedApprovers.join(', ')}` : ''}`);
    if (p.mustAcknowledge) out.log(`  the approval must acknowledge it: rollgate approve ${status.releaseId} --acknowledge ${p.mustAcknowledge} (read the record's ROLLBACK PLAN first)`);
  }
  for (const a of status.approvals) out.log(`approved ${a.target} by ${a.by}${a.verified ? ' (signature verified)' : a.verified === false ? ' (unverified: the worker checks no signatures)' : ''} at ${a.at}${a.acknowledged ? `, acknowledging: ${a.acknowledged}` : ''}`);
  if (status.fleet) await printFleet(status, out);
  if (status.recordPath) out.log(`decision record: ${status.recordPath}${status.recordSha256 ? ` (sha256 ${status.recordSha256})` : ''}`);
  return ExitCode.OK;
}

/** A fleet release: the targets × phases table, live from the running targets, and what each running target waits for. */
async function printFleet(status: ReleaseStatus, out: Out): Promise<void> {
  const fleet = status.fleet!;
  const live = await queryTargets(status);
  const phases = [...new Set(fleet.targets.flatMap((t) => [...Object.keys(t.phases ?? {}), ...(live[t.name]?.steps.flatMap((s) => (s.phase ? [s.phase] : [])) ?? [])]))];
  const now = {
    ...fleet,
    targets: fleet.targets.map((t) => {
      const s = live[t.name];
      return s ? { ...t, phases: { ...t.phases, ...phaseStates(s.steps, phases) }, reason: `${s.state}${s.currentStep ? `, ${s.currentStep}` : ''}` } : t;
    }),
  };
  fleet.waves.forEach((w, i) => out.log(`wave ${i + 1} (${w.targets.join(', ')}): ${w.state}${w.verdict ? `: ${w.verdict}` : ''}`));
  for (const line of fleetTable(now, phases)) out.log(line);
  for (const [name, s] of Object.entries(live)) {
    const id = liveTargetWorkflow(fleet.targets.find((t) => t.name === name)!);
    if (s.pendingApproval) out.log(`${name} waits for approval: ${s.pendingApproval.reason}; rollgate approve ${id}`);
    if (s.needsHuman) out.log(`${name} NEEDS A HUMAN: ${s.needsHuman.reason}; ${s.needsHuman.options.join(' or ')}`);
  }
}
