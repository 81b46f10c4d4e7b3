import { cell, lead, prose, text } from './record';
import type { Approval, DecisionResult, ReleaseResult } from './release';

/**
 * The decision as a CI job summary (GitHub Actions' `GITHUB_STEP_SUMMARY`, GitHub-flavoured
 * markdown): what reviewers see on the run page. Every value from the change is escaped as in
 * the record.
 */
const DECIDED = { APPROVED: '✅ APPROVED', ABORTED: '⛔ ABORTED', ESCALATED: '⚠️ ESCALATED TO A HUMAN' } as const;
const OUTCOME = { released: '✅ released', rolled_back: '↩️ rolled back', rollback_failed: '🚨 rollback failed', aborted: '⛔ aborted', escalated: '⚠️ escalated', partially_released: '⚠️ partially released' } as const;

/** Where the decision lives beyond the job: the release's Temporal UI page and its record's file name. */
export interface SummaryLinks {
  ui?: string;
  record?: string;
}

export function decisionSummary(service: string, d: DecisionResult, links: SummaryLinks = {}): string[] {
  return [
    `### rollgate · ${text(service)}: ${DECIDED[d.decision]}${d.risk ? ` (${d.risk.level} risk → ${d.risk.strategy})` : ''}`,
    '',
    ...d.because.map((b) => `> ${lead(prose(b))}`),
    ...(d.because.length ? [''] : []),
    '| prerequisite | passed | detail |',
    '|---|---|---|',
    ...d.prerequisites.map((p) => `| ${p.name} | ${p.passed ? '✅' : '❌'} | ${cell(p.detail)} |`),
    '',
    ...(d.risk ? [`**Risk**: ${d.risk.level}: ${d.risk.reasons.map(prose).join('; ')}`, ''] : []),
    ...(d.plan ? [`**Plan**: ${d.plan.phases.map((p) => text(p.title)).join(' → ')}`, ''] : []),
    ...(d.decision !== 'ABORTED' ? [`**Sign-off**: ${d.approvalRequired ? 'a human must sign off before anything is deployed' : 'not required'}`, ''] : []),
    ...linkLines(links),
  ];
}

/** After `start --wait`: the outcome, the decision it followed, who signed off. */
export function releaseSummary(
  service: string,
  result: ReleaseResult,
  status: { riskLevel?: string; strategy?: string; approvals?: readonly Approval[] } | undefined,
  links: SummaryLinks = {},
): string[] {
  return [
    `### rollgate · ${text(service)} · ${text(result.releaseId)}: ${OUTCOME[result.outcome]}`,
    '',
    ...(result.reason ? [`> ${lead(prose(result.reason))}`, ''] : []),
    `**Decision**: ${DECIDED[result.decision]}${status?.riskLevel ? ` (${status.riskLevel} risk → ${status.strategy ?? '?'})` : ''}`,
    '',
    ...(status?.approvals ?? []).map((a) => `- **Approved by**: ${text(a.by)}${a.verified ? ' (signature verified)' : ''} at ${text(a.at)}${a.kind === 'release' ? '' : ` (${text(a.target)})`}`),
    ...(status?.approvals?.length ? [''] : []),
    ...linkLines(links),
  ];
}

/** At `--wait-timeout`: still running, and what it waits for. */
export function runningSummary(service: string, releaseId: string, waitingFor: string | undefined, state: string | undefined, links: SummaryLinks = {}): string[] {
  return [`### rollgate · ${text(service)} · ${text(releaseId)}: ⏳ still running (${text(state ?? 'unknown')})`, '', ...(waitingFor ? [`> ${lead(prose(waitingFor))}`, ''] : []), ...linkLines(links)];
}

const linkLines = (l: SummaryLinks): string[] => [
  ...(l.record ? [`**Decision record**: ${text(l.record)}`] : []),
  ...(l.ui ? [`**Temporal UI**: ${l.ui}`] : []),
  ...(l.record || l.ui ? [''] : []),
];
