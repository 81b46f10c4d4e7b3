import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { ConfigSchema } from '../domain/config';
import { parseDuration, formatDuration } from '../domain/duration';
import type { ReleaseInput, ReleaseResult, ReleaseStatus, DecisionResult } from '../domain/release';
import { evaluateRelease } from '../domain/evaluate';
import { checkPrerequisites } from '../evidence/gates';
import { readChangeSet } from '../evidence/git';
import { abortUpdate, approveUpdate, pauseUpdate, promoteUpdate, rejectUpdate, RELEASE_STATE_ATTRIBUTE, RELEASE_WORKFLOW, resolveUpdate, resumeUpdate, statusQuery } from '../workflows/messages';
import { connectClient, stateAttributeRegistered } from '../connection/client';
import { describeClientError, uiLink } from './temporal';
import { doraCommandReport, printDora } from './dora';
import { InputError } from '../domain/errors';
import { ExitCode } from './exit-code';
import type * as WorkerModule from '../worker/worker';
import { checkService, releaseIdFor, resolveInputs, type EvidenceFlags } from './inputs';

const evidenceOptions = {
  repo: { type: 'string' },
  base: { type: 'string' },
  head: { type: 'string' },
  reports: { type: 'string' },
  junit: { type: 'string', multiple: true },
  'users-affected': { type: 'string' },
  config: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

const USAGE = `rollgate: release decisions and rollouts on Temporal

  rollgate decide  --repo DIR --base REF --head REF --reports DIR [--junit FILE_OR_GLOB]... [--users-affected N] [--config FILE] [--json]
  rollgate start   (the same) --service NAME [--version V] [--previous-version V] [--out DIR] [--wait] [--wait-timeout DURATION] [--json]
  rollgate approve ID --by NAME [--reason TEXT]
  rollgate reject  ID --by NAME --reason TEXT
  rollgate abort   ID --reason TEXT [--by NAME]
  rollgate pause   ID --by NAME [--reason TEXT]     stops the bake clock and the analysis
  rollgate resume  ID --by NAME
  rollgate promote ID --by NAME [--full]            ends the current bake now; --full skips to 100%
  rollgate resolve ID --by NAME --reason TEXT (--retry | --restored)   after a failed rollback
  rollgate status  ID [--json]
  rollgate report  ID                               the path of the release's decision record (with its results and charts)
  rollgate dora    [--since 30d] [--service NAME] [--ledger FILE | --config FILE | --repo DIR] [--json]
  rollgate schema          JSON Schema of rollgate.yaml
  rollgate worker          run a worker (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS and API key from the environment)

Exit status: 0 released/approved, 1 bad input or error, 2 aborted, 3 waiting for a human, 4 rolled back, 5 still running at --wait-timeout.`;

type Out = { log: (s: string) => void; err: (s: string) => void };
const stdio: Out = { log: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) };

/** Parsed flags: strings, except the repeatable --junit and the boolean switches. */
type Flags = { [flag: string]: string | undefined } & { junit?: string[]; json?: boolean; wait?: boolean };

function parse(args: string[], options: ParseArgsConfig['options'], positionals = 0): { values: Flags; positionals: string[] } {
  try {
    const res = parseArgs({ args, options: options!, strict: true, allowPositionals: positionals > 0 });
    if (res.positionals.length > positionals) throw new InputError(`unexpected argument "${res.positionals[positionals]}"`);
    return { values: res.values as unknown as Flags, positionals: res.positionals };
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(((e as Error).message.split('\n')[0] ?? '').replace(/\. To specify a positional.*$/, ''));
  }
}

const releaseIdArg = (positionals: string[], command: string): string => {
  const id = positionals[0];
  if (!id) throw new InputError(`${command}: the release ID is required (rollgate ${command} ID)`);
  return id;
};

export async function main(argv: string[], out: Out = stdio): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'decide':
        return await decideCommand(rest, out);
      case 'start':
        return await startCommand(rest, out);
      case 'approve':
      case 'reject':
      case 'abort':
      case 'pause':
      case 'resume':
      case 'promote':
      case 'resolve':
        return await steerCommand(command, rest, out);
      case 'status':
        return await statusCommand(rest, out);
      case 'report':
        return await reportCommand(rest, out);
      case 'dora': {
        const { values } = parse(rest, { since: { type: 'string' }, service: { type: 'string' }, ledger: { type: 'string' }, config: { type: 'string' }, repo: { type: 'string' }, json: { type: 'boolean' } });
        const report = doraCommandReport(values as Record<string, string | undefined>);
        if (values.json) out.log(JSON.stringify(report, null, 2));
        else for (const line of printDora(report)) out.log(line);
        return ExitCode.OK;
      }
      case 'schema':
        out.log(JSON.stringify(z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }), null, 2));
        return ExitCode.OK;
      case 'worker': {
        // Loaded on demand: the worker package is heavy, and only this command needs it.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { runWorker } = require('../worker/worker') as typeof WorkerModule;
        await runWorker();
        return ExitCode.OK;
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out.log(USAGE);
        return command === undefined ? ExitCode.BAD_INPUT : ExitCode.OK;
      default:
        throw new InputError(`unknown command "${command}" (try rollgate help)`);
    }
  } catch (e) {
    out.err(`rollgate: ${(e as Error).message}`);
    return ExitCode.BAD_INPUT;
  }
}

/** The whole decision without side effects and without Temporal. */
async function decideCommand(args: string[], out: Out): Promise<number> {
  const { values } = parse(args, evidenceOptions);
  const inputs = await resolveInputs(values as EvidenceFlags);
  const gates = await checkPrerequisites({ repo: inputs.repo, base: inputs.base, head: inputs.head, reportsDir: inputs.reportsDir, junit: inputs.junit });
  let change;
  let changeError: string | undefined;
  try {
    change = await readChangeSet(inputs.repo, inputs.base, inputs.head, inputs.config.risk.migrations);
  } catch (e) {
    changeError = (e as Error).message;
  }
  const result = evaluateRelease(gates, change, inputs.config, inputs.usersAffected, changeError);
  if (values.json) out.log(JSON.stringify(decisionJson(result), null, 2));
  else printDecision(result, out);
  return result.decision === 'APPROVED' ? ExitCode.OK : result.decision === 'ABORTED' ? ExitCode.ABORTED : ExitCode.NEEDS_HUMAN;
}

export function decisionJson(r: DecisionResult) {
  return {
    decision: r.decision,
    because: r.because,
    prerequisites: r.prerequisites.map(({ name, passed, detail }) => ({ name, passed, detail })),
    risk: r.risk ? { level: r.risk.level, reasons: r.risk.reasons, escalation: r.risk.escalation ?? null } : null,
    strategy: r.strategy ?? null,
    change: r.risk?.change ?? null,
    blastRadius: r.risk?.blastRadius ?? null,
    alternatives: r.risk?.alternatives ?? [],
    approvalRequired: r.approvalRequired,
    plan: r.plan?.phases ?? [],
  };
}

function printDecision(r: DecisionResult, out: Out) {
  out.log(`Decision: ${r.decision}`);
  for (const b of r.because) out.log(`  ${b}`);
  out.log('Prerequisites:');
  for (const p of r.prerequisites) out.log(`  [${p.passed ? 'x' : ' '}] ${p.name}: ${p.detail}`);
  if (r.risk) {
    out.log(`Risk: ${r.risk.level} → ${r.risk.strategy}`);
    for (const reason of r.risk.reasons) out.log(`  - ${reason}`);
    out.log(`Blast radius: ${r.risk.blastRadius.size} (${r.risk.blastRadius.affected.join(', ')})`);
  }
  if (r.plan) {
    out.log('Plan:');
    r.plan.phases.forEach((p, i) => out.log(`  ${i + 1}. ${p.title}${p.bakeMs ? `, bake ${formatDuration(p.bakeMs)}` : ''}${p.approval ? ' (approval)' : ''}`));
  }
  if (r.approvalRequired) out.log('A human sign-off is required before deploying.');
}

async function startCommand(args: string[], out: Out): Promise<number> {
  const { values } = parse(args, {
    ...evidenceOptions,
    service: { type: 'string' },
    version: { type: 'string' },
    'previous-version': { type: 'string' },
    wait: { type: 'boolean' },
    'wait-timeout': { type: 'string' },
  });
  const waitTimeoutMs = values['wait-timeout'] === undefined ? undefined : parseDuration(values['wait-timeout']);
  if (values['wait-timeout'] !== undefined && !waitTimeoutMs) throw new InputError(`--wait-timeout: "${values['wait-timeout']}" is not a duration (e.g. 30m, 2h)`);
  for (const key of ['version', 'previous-version'] as const) {
    const v = values[key];
    if (v !== undefined && !/^[\w.+:@/-]{1,128}$/.test(v)) throw new InputError(`--${key}: "${v}" must be 1-128 letters, digits or . _ - + : @ /`);
  }
  const inputs = await resolveInputs(values as EvidenceFlags);
  const service = checkService(values.service ?? inputs.config.service);
  const releaseId = releaseIdFor(service, inputs.headSha);
  const input: ReleaseInput = {
    releaseId,
    service,
    repo: inputs.repo,
    base: inputs.base,
    head: inputs.head,
    reportsDir: inputs.reportsDir,
    junit: inputs.junit,
    outDir: inputs.outDir,
    ...(inputs.usersAffected !== undefined ? { usersAffected: inputs.usersAffected } : {}),
    version: values.version ?? inputs.headSha.slice(0, 12),
    ...(values['previous-version'] ? { previousVersion: values['previous-version'] } : {}),
    config: inputs.rawConfig,
  };
  const { client, settings, close } = await connectClient();
  try {
    // Both lookups at once: they sit between CI and the decision.
    const [running, withState] = await Promise.all([
      client.workflow
        .getHandle(releaseId)
        .describe()
        .then((d) => d.status.name === 'RUNNING', () => false), // not started yet
      stateAttributeRegistered(client),
    ]);
    let attached = running;
    try {
      await client.workflow.start(RELEASE_WORKFLOW, {
        taskQueue: settings.taskQueue,
        workflowId: releaseId,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        // Lets visibility count releases by state; only where the namespace knows the attribute.
        ...(withState ? { typedSearchAttributes: [{ key: RELEASE_STATE_ATTRIBUTE, value: 'deciding' }] } : {}),
      });
    } catch (e) {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
      attached = true;
    }
    const link = uiLink(settings.namespace, releaseId);
    if (values.json && !values.wait) out.log(JSON.stringify({ releaseId, attached, ui: link }));
    else {
      out.log(`${attached ? 'attached to running' : 'started'} release ${releaseId}`);
      out.log(`Temporal UI: ${link}`);
    }
    if (!values.wait) return ExitCode.OK;
    return await follow(client, releaseId, waitTimeoutMs, out, !!values.json);
  } finally {
    await close();
  }
}

const EXIT_FOR: Record<string, number> = { released: ExitCode.OK, aborted: ExitCode.ABORTED, escalated: ExitCode.NEEDS_HUMAN, rolled_back: ExitCode.ROLLED_BACK, rollback_failed: ExitCode.NEEDS_HUMAN };

/** Follows a release, printing each step as it finishes, until it ends or the wait times out. */
async function follow(client: Awaited<ReturnType<typeof connectClient>>['client'], id: string, timeoutMs: number | undefined, out: Out, json: boolean): Promise<number> {
  const handle = client.workflow.getHandle(id);
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
        ? `waiting for approval: ${status.pendingApproval.reason} (rollgate approve ${id} --by NAME)`
        : status.needsHuman
          ? `NEEDS A HUMAN: ${status.needsHuman.reason} (rollgate resolve ${id} --retry | --restored)`
          : '';
      if (pending && pending !== lastPending) out.log(`  … ${pending}`);
      lastPending = pending;
    }
    if (done) {
      if ('e' in done) throw done.e;
      if (json) out.log(JSON.stringify({ ...done.r, status }));
      else out.log(`release ${id}: ${done.r.outcome}${done.r.reason ? ` (${done.r.reason})` : ''}${done.r.recordPath ? `\ndecision record: ${done.r.recordPath}` : ''}`);
      return EXIT_FOR[done.r.outcome] ?? ExitCode.BAD_INPUT;
    }
    if (Date.now() > deadline) {
      const human = !!status?.pendingApproval || !!status?.needsHuman;
      out.log(`release ${id}: still running after --wait-timeout${human ? ', waiting for a human' : ` (${status?.state ?? 'unknown'})`}`);
      return human ? ExitCode.NEEDS_HUMAN : ExitCode.STILL_RUNNING;
    }
  }
}

type SteerCommand = 'approve' | 'reject' | 'abort' | 'pause' | 'resume' | 'promote' | 'resolve';

async function steerCommand(command: SteerCommand, args: string[], out: Out): Promise<number> {
  const { values, positionals } = parse(
    args,
    { by: { type: 'string' }, reason: { type: 'string' }, full: { type: 'boolean' }, retry: { type: 'boolean' }, restored: { type: 'boolean' } },
    1,
  );
  const id = releaseIdArg(positionals, command);
  const flag = values as Flags & { full?: boolean; retry?: boolean; restored?: boolean };
  if (command !== 'abort' && !values.by?.trim()) throw new InputError(`--by: who ${command === 'approve' ? 'approves' : command === 'reject' ? 'rejects' : `${command}s`} must be given`);
  if ((command === 'reject' || command === 'abort' || command === 'resolve') && !values.reason?.trim()) throw new InputError('--reason: a reason must be given');
  if (flag.full && command !== 'promote') throw new InputError('--full: only promote takes it');
  if ((flag.retry || flag.restored) && command !== 'resolve') throw new InputError(`--${flag.retry ? 'retry' : 'restored'}: only resolve takes it`);
  if (command === 'resolve' && flag.retry === flag.restored) throw new InputError('resolve: give exactly one of --retry (run the rollback again) or --restored (a human restored the service)');
  const { client, close } = await connectClient();
  try {
    const handle = client.workflow.getHandle(id);
    const by = values.by ?? '';
    const reason = values.reason;
    try {
      switch (command) {
        case 'approve': {
          const a = await handle.executeUpdate(approveUpdate, { args: [{ by, ...(reason ? { reason } : {}) }] });
          out.log(`approved ${a.target} of ${id} as ${a.by}`);
          break;
        }
        case 'reject':
          await handle.executeUpdate(rejectUpdate, { args: [{ by, reason: reason! }] });
          out.log(`rejected ${id}`);
          break;
        case 'abort':
          await handle.executeUpdate(abortUpdate, { args: [{ reason: reason!, ...(values.by ? { by } : {}) }] });
          out.log(`aborting ${id}: it rolls back what it changed`);
          break;
        case 'pause':
          await handle.executeUpdate(pauseUpdate, { args: [{ by, ...(reason ? { reason } : {}) }] });
          out.log(`paused ${id}: the bake clock and the analysis stop until rollgate resume`);
          break;
        case 'resume':
          await handle.executeUpdate(resumeUpdate, { args: [{ by }] });
          out.log(`resumed ${id}`);
          break;
        case 'promote': {
          const r = await handle.executeUpdate(promoteUpdate, { args: [{ by, full: flag.full ?? false }] });
          out.log(`promoting ${id}: ${r.promoting}`);
          break;
        }
        case 'resolve':
          await handle.executeUpdate(resolveUpdate, { args: [{ by, action: flag.retry ? 'retry' : 'restored', reason: reason! }] });
          out.log(flag.retry ? `retrying the rollback of ${id}` : `recorded that ${by} restored ${id} by hand`);
          break;
      }
    } catch (e) {
      throw describeClientError(e, id);
    }
    return ExitCode.OK;
  } finally {
    await close();
  }
}

/** The status query of one release, with client errors turned into one clear line. */
async function queryStatus(id: string): Promise<ReleaseStatus> {
  const { client, close } = await connectClient();
  try {
    return await client.workflow.getHandle(id).query(statusQuery);
  } catch (e) {
    throw describeClientError(e, id);
  } finally {
    await close();
  }
}

async function reportCommand(args: string[], out: Out): Promise<number> {
  const { positionals } = parse(args, {}, 1);
  const id = releaseIdArg(positionals, 'report');
  const status = await queryStatus(id);
  if (!status.recordPath) throw new InputError(`${id}: no decision record yet (state: ${status.state})`);
  out.log(status.recordPath);
  return ExitCode.OK;
}

async function statusCommand(args: string[], out: Out): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } }, 1);
  const id = releaseIdArg(positionals, 'status');
  const status = await queryStatus(id);
  if (values.json) {
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
  for (const a of [...status.analysed, ...(status.analysis ? [status.analysis] : [])]) {
    out.log(`analysis ${a.phase}: ${a.verdict}`);
    for (const m of a.metrics)
      out.log(`  ${m.metric.padEnd(20)} ${m.successful}/${m.measured} passed, ${m.failed} failed, ${m.inconclusive} inconclusive, ${m.noData} no data, ${m.errors} errors; last ${m.last ? `${m.last.verdict}${m.last.value !== undefined ? ` ${m.last.value}` : ''}${m.last.message ? ` (${m.last.message})` : ''} at ${m.last.at}` : 'none'}`);
  }
  for (const s of status.steps) out.log(`  ${s.status.padEnd(7)} ${s.name}  ${s.startedAt}${s.endedAt ? ` → ${s.endedAt}` : ''}${s.detail ? `  ${s.detail}` : ''}`);
  const p = status.pendingApproval;
  if (p) {
    out.log(`waiting for approval: ${p.reason}; deadline ${p.deadline}`);
    out.log(`  may approve: ${p.allowedApprovers.length ? p.allowedApprovers.join(', ') : 'anyone'}${p.excludedApprovers.length ? ` except ${p.excludedApprovers.join(', ')}` : ''}`);
  }
  for (const a of status.approvals) out.log(`approved ${a.target} by ${a.by} at ${a.at}`);
  if (status.recordPath) out.log(`decision record: ${status.recordPath}`);
  return ExitCode.OK;
}
