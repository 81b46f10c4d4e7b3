import type { DecisionResult } from '../../domain/release';
import { evaluateRelease } from '../../domain/evaluate';
import { planFacts } from '../../domain/plan-gates';
import { approverListProblem } from '../../domain/steering';
import { formatDuration } from '../../domain/duration';
import { checkPrerequisites } from '../../evidence/gates';
import { readChangeSet } from '../../evidence/git';
import { ExitCode } from '../exit-code';
import { type FlagSpec, type Out, parseFlags } from '../flags';
import { evidenceOptions, EvidenceFlagsSchema, resolveInputs } from '../inputs';

export const decideFlags = { command: 'decide', options: evidenceOptions, schema: EvidenceFlagsSchema } satisfies FlagSpec<typeof EvidenceFlagsSchema>;

/** `rollgate decide`: the whole decision without side effects and without Temporal. */
export async function decideCommand(args: string[], out: Out): Promise<number> {
  const flags = parseFlags(decideFlags, args);
  const inputs = await resolveInputs(flags);
  const plan = planFacts(inputs.config, { version: inputs.base, given: false });
  const gates = await checkPrerequisites({ repo: inputs.repo, base: inputs.base, head: inputs.head, reportsDir: inputs.reportsDir, junit: inputs.junit, plan });
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
  if (flags.json) out.log(JSON.stringify({ ...decisionJson(result), securityConditions: gates.securityConditions, policy: inputs.policy }, null, 2));
  else {
    printDecision(result, out);
    out.log(`policy: ${inputs.policy.repository}${inputs.policy.raised.length ? `; raised to the floors: ${inputs.policy.raised.join('; ')}` : ''}`);
  }
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
