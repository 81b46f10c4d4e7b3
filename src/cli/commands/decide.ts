import { basename, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { alertRulesText } from '../../domain/alerts-file';
import { writeNew } from '../files';
import { alertRules, alertsFileName } from '../../domain/alerts';
import type { ChangeSet } from '../../domain/changeset';
import { recordFileName, renderDecisionRecord } from '../../domain/record';
import { baseBranch, type DecisionResult, type GateReport } from '../../domain/release';
import { restoreHistory, type RestoreHistory } from '../../domain/dora';
import type { LedgerEntry } from '../../domain/ledger';
import { evaluateRelease } from '../../domain/evaluate';
import { firstDeployPhase } from '../../domain/plan';
import { planFacts } from '../../domain/plan-gates';
import { approverListProblem } from '../../domain/steering';
import { formatDuration } from '../../domain/duration';
import { checkPrerequisites } from '../../evidence/gates';
import { readChangeSet } from '../../evidence/git';
import { ExitCode } from '../exit-code';
import { appendStepSummary } from '../step-summary';
import { decisionSummary } from '../../domain/summary';
import { type FlagSpec, type Out, parseFlags } from '../flags';
import { evidenceOptions, EvidenceFlagsSchema, releaseIdFor, type ResolvedInputs, resolveInputs } from '../inputs';

export const decideFlags = { command: 'decide', options: evidenceOptions, schema: EvidenceFlagsSchema } satisfies FlagSpec<typeof EvidenceFlagsSchema>;

/** `rollgate decide`: the whole decision without Temporal; with `--out`, its record and alert rules written there. */
export async function decideCommand(args: string[], out: Out): Promise<number> {
  const flags = parseFlags(decideFlags, args);
  const inputs = await resolveInputs(flags);
  const plan = planFacts(inputs.config, { version: inputs.base, given: false });
  const gates = await checkPrerequisites({ repo: inputs.repo, base: inputs.base, head: inputs.head, reportsDir: inputs.reportsDir, junit: inputs.junit, plan, refs: { base: flags.base, head: flags.head }, outDir: inputs.outDir });
  let change;
  let changeError: string | undefined;
  try {
    change = await readChangeSet(inputs.repo, inputs.base, inputs.head, inputs.config.risk.migrations);
  } catch (e) {
    changeError = (e as Error).message;
  }
  // As a worker of this environment would judge it: with ROLLGATE_ALLOWED_SIGNERS, its signers may approve.
  const approverProblem = approverListProblem(inputs.config.approval.approvers, Boolean(process.env.ROLLGATE_ALLOWED_SIGNERS));
  const result = evaluateRelease(gates, change, inputs.config, inputs.usersAffected, changeError, approverProblem);
  // The spec's artefact, with no server: the record, and the alerting rules of its checks.
  const written = flags.out ? await writeDecisionFiles(inputs, flags, result, gates, change) : undefined;
  await appendStepSummary(decisionSummary(inputs.config.service ?? basename(inputs.repo), result, written ? { record: basename(written.recordPath) } : {}), out);
  if (flags.json) out.log(JSON.stringify({ ...decisionJson(result), securityConditions: gates.securityConditions, policy: inputs.policy, ...(written ?? {}) }, null, 2));
  else {
    printDecision(result, out);
    if (written) out.log(`record: ${written.recordPath}${written.alertRulesPath ? `\nalert rules: ${written.alertRulesPath}` : ''}`);
    out.log(`policy: ${inputs.policy.repository}${inputs.policy.raised.length ? `; raised to the floors: ${inputs.policy.raised.join('; ')}` : ''}`);
  }
  return result.decision === 'APPROVED' ? ExitCode.OK : result.decision === 'ABORTED' ? ExitCode.ABORTED : ExitCode.NEEDS_HUMAN;
}

/** The decision record as a release would write it first (no results yet), and its alert rules, into `--out`. */
async function writeDecisionFiles(
  inputs: ResolvedInputs,
  flags: { base: string; head: string },
  result: DecisionResult,
  gates: GateReport,
  change: ChangeSet | undefined,
): Promise<{ recordPath: string; alertRulesPath?: string }> {
  const timestamp = new Date().toISOString();
  const service = inputs.config.service ?? basename(inputs.repo);
  const releaseId = releaseIdFor(service, inputs.headSha);
  const fileName = recordFileName(timestamp);
  const acting = inputs.config.analysis.metrics;
  const firstPhase = result.plan ? firstDeployPhase(result.plan) : undefined;
  const vars = { service, version: inputs.headSha.slice(0, 12), previousVersion: inputs.base };
  const restores = pastRestores(join(inputs.outDir, 'ledger.jsonl'), service, new Date(timestamp));
  const content = renderDecisionRecord({
    releaseId,
    runKey: `${releaseId}@decide`,
    service,
    timestamp,
    branch: `${flags.head} at ${inputs.headSha.slice(0, 12)}`,
    base: `${flags.base} at ${inputs.base.slice(0, 12)}`,
    ...(baseBranch(flags.base) ? { baseBranch: baseBranch(flags.base)! } : {}),
    commit: inputs.headSha,
    version: vars.version,
    previousVersion: vars.previousVersion,
    decision: result,
    gates,
    files: change?.files ?? [],
    config: inputs.config,
    approvals: [],
    policy: inputs.policy,
    ...(restores ? { restoreHistory: restores } : {}),
    ...(acting.length > 0 && firstPhase ? { alertRulesFile: alertsFileName(fileName) } : {}),
  });
  await mkdir(inputs.outDir, { recursive: true });
  const recordPath = join(inputs.outDir, fileName);
  const hint = 'a record of the same second is there; run decide again';
  await writeNew(recordPath, content, { hint });
  if (acting.length === 0 || !firstPhase) return { recordPath };
  const { rules } = alertRules({ releaseId, vars: { ...vars, phase: firstPhase.id, stage: firstPhase.stage }, metrics: acting, selectors: inputs.config.analysis.selectors, baseline: {}, interval: inputs.config.analysis.interval });
  const alertRulesPath = join(inputs.outDir, alertsFileName(fileName));
  await writeNew(alertRulesPath, alertRulesText(rules, alertsFileName(fileName)), { hint });
  return { recordPath, alertRulesPath };
}

/**
 * The service's past rollbacks from the ledger a worker keeps in this out folder, read as the
 * worker reads it (a line torn by a crash is passed over); none yet is a measurement too, an
 * unreadable file is not.
 */
function pastRestores(ledger: string, service: string, now: Date): RestoreHistory | undefined {
  try {
    const lines = existsSync(ledger) ? readFileSync(ledger, 'utf8').split('\n') : [];
    const entries = lines.flatMap((line) => {
      try {
        const e = JSON.parse(line) as unknown;
        return e && typeof e === 'object' && !Array.isArray(e) ? [e as LedgerEntry] : [];
      } catch {
        return [];
      }
    });
    return restoreHistory(entries, service, now);
  } catch {
    return undefined;
  }
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
