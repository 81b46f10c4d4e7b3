import type { FileChange } from './changeset';
import { commandFor, renderArgv, ROLLBACK, rollbackStep, showArgv, stepVars } from './command';
import type { RollgateConfig } from './config';
import { formatDuration } from './duration';
import type { Outcome } from './enums';
import { type Phase, rollbackTargets } from './plan';
import { type Approval, type DecisionResult, type GateReport, type PendingApproval, type PhaseAnalysis, phaseTimeline, type StepRecord } from './release';

export interface RecordInput {
  releaseId: string;
  /** Release ID and run: the base of this run's idempotency keys. */
  runKey: string;
  service: string;
  timestamp: string;
  branch: string;
  base: string;
  commit?: string;
  version: string;
  previousVersion: string;
  decision: DecisionResult;
  gates: GateReport;
  files: FileChange[];
  config: RollgateConfig;
  approvals: Approval[];
  pendingApproval?: PendingApproval;
  results?: {
    outcome: Outcome;
    reason?: string;
    steps: StepRecord[];
    rollbackStartedAt?: string;
    rollbackEndedAt?: string;
    baseline?: Record<string, number>;
    analysed?: PhaseAnalysis[];
    /** Relative to the output folder. */
    measurementsFile?: string;
    /** SVG charts, relative to the record's folder. */
    charts?: { metric: string; file: string }[];
  };
}

const DECISION_LINE = { APPROVED: '✅ APPROVED FOR RELEASE', ABORTED: '⛔ ABORTED', ESCALATED: '⚠️ ESCALATED TO A HUMAN' } as const;
const STRATEGY_TITLE = { immediate: 'IMMEDIATE RELEASE', canary: 'CANARY RELEASE', 'feature-flag': 'FEATURE FLAG + GRADUAL ROLLOUT', 'blue-green': 'BLUE-GREEN + HUMAN SUPERVISION' } as const;
const MAX_FILES_LISTED = 50;

/** The decision record, laid out as the spec's `release-decision-*.md`; every line follows from the inputs. */
export function renderDecisionRecord(r: RecordInput): string {
  const d = r.decision;
  const out: string[] = [];
  const line = (s = '') => out.push(s);
  line('# Release Decision');
  line();
  line(`**Timestamp**: ${r.timestamp}`);
  line(`**Release ID**: ${r.releaseId}`);
  line(`**Service**: ${r.service}`);
  line(`**Branch**: ${r.branch} (base: ${r.base})`);
  if (r.commit) line(`**Commit**: ${r.commit}`);
  line(`**Version**: ${r.version} (previous: ${r.previousVersion})`);
  line(`**Decision**: ${DECISION_LINE[d.decision]}`);
  line();
  line('---');
  line();
  line('## PREREQUISITES');
  line();
  for (const p of d.prerequisites) line(`- [${p.passed ? 'x' : ' '}] **${p.name}**: ${p.detail}`);
  if (r.gates.securityConditions.length > 0) {
    line();
    line('### Security conditions (carried from the security report)');
    for (const c of r.gates.securityConditions) line(`- [ ] ${c}`);
  }
  line();
  for (const b of d.because) line(`> ${b}`);
  line();

  const risk = d.risk;
  if (risk) {
    line('---');
    line();
    line('## CHANGE SUMMARY');
    line();
    line(`### Files Modified (${risk.change.files}; +${risk.change.insertions} −${risk.change.deletions})`);
    for (const f of r.files.slice(0, MAX_FILES_LISTED)) line(`- \`${f.path}\` (${f.binary ? 'binary' : fileLines(f)})`);
    if (r.files.length > MAX_FILES_LISTED) line(`- … and ${r.files.length - MAX_FILES_LISTED} more`);
    line();
    line(`### Risk Level: **${risk.level}**`);
    line('**Rationale**:');
    for (const reason of risk.reasons) line(`- ${reason}`);
    if (r.gates.tests) line(`- Tests: ${r.gates.tests.passed}/${r.gates.tests.total} passing (${r.gates.tests.source})`);
    const security = d.prerequisites.find((p) => p.name === 'security');
    if (security?.passed) line(`- Security: ${security.detail}`);
    const others = risk.signals.filter((s) => s.level !== risk.level);
    if (others.length > 0) {
      line();
      line('Other signals considered:');
      for (const s of others) line(`- ${s.level}: ${s.reason}`);
    }
    if (risk.escalation) {
      line();
      line(`**Escalation**: ${risk.escalation}`);
    }
    line();
    line(`### Blast Radius: **${risk.blastRadius.size}**`);
    line('**Affected**:');
    for (const c of risk.blastRadius.affected) line(`- ${c}`);
    if (risk.blastRadius.notAffected.length > 0) {
      line();
      line('**NOT affected**:');
      for (const c of risk.blastRadius.notAffected) line(`- ${c}`);
    }
    line();
    line('---');
    line();
    line('## ROLLOUT STRATEGY');
    line();
    line(`### Selected Strategy: **${STRATEGY_TITLE[risk.strategy]}**`);
    line(`**Rationale**: ${risk.level} risk, ${risk.blastRadius.size.toLowerCase()} blast radius → ${risk.strategy}`);
    line();
    line('### Alternative Strategies Considered');
    for (const a of risk.alternatives) {
      line();
      line(`#### ${STRATEGY_TITLE[a.strategy]}`);
      line(`- **When to use**: ${a.whenToUse}`);
      line(`- ${a.whyNot}`);
    }
    line();
  }

  if (d.plan) {
    const command = (phase: Phase, action: string, step: string) => showArgv(renderArgv(commandFor(action, r.config.deploy), stepVars(phase, action, step, r)));
    line('---');
    line();
    line('## DEPLOYMENT PLAN');
    d.plan.phases.forEach((phase, i) => {
      line();
      line(`### Step ${i + 1}: ${phase.title}`);
      if (phase.approval) line('- Waits for a human approval before it starts');
      if (phase.holdMs > 0) line(`- Waits ${formatDuration(phase.holdMs)} with blue kept for rollback`);
      line('```bash');
      line(command(phase, phase.action, phase.id));
      if (phase.smokeUrl) line(`curl -f ${phase.smokeUrl} || exit 1   # smoke test`);
      line('```');
      if (phase.bakeMs > 0) line(`- Monitor for ${formatDuration(phase.bakeMs)}${metricsClause(r.config)}`);
    });
    line();
    line('---');
    line();
    line('## ROLLBACK PLAN');
    line();
    line('### Trigger Conditions (Auto-Rollback)');
    line('- A deploy step fails or times out');
    if (d.plan.phases.some((p) => p.smokeUrl)) line('- A smoke test fails after a deploy');
    for (const m of r.config.monitoring.metrics) line(`- ${m.name}: ${m.alert}`);
    line('- The release is aborted or cancelled');
    line();
    const targets = rollbackTargets(d.plan.phases);
    line(`### Rollback Method: **${r.config.deploy.rollback ? 'ROLLBACK COMMAND' : 'REDEPLOY PREVIOUS VERSION'}**`);
    line('Run for each stage already changed, the most recent first:');
    line('```bash');
    for (const phase of targets) line(command(phase, ROLLBACK, rollbackStep(phase.stage)));
    line('```');
    line();
    line(`**Estimated rollback time**: at most ${formatDuration(r.config.deploy.timeout * targets.length)} (${targets.length} stage${targets.length === 1 ? '' : 's'} × the ${formatDuration(r.config.deploy.timeout)} command timeout)`);
    line();
    line('### Rollback Verification');
    const smokes = [...new Set(d.plan.phases.map((p) => p.smokeUrl).filter(Boolean))];
    if (smokes.length > 0) {
      line('```bash');
      for (const url of smokes) line(`curl -f ${url}`);
      line('```');
    } else line('- No smoke URL configured (stages.*.smokeUrl): the rollback is verified by its command exit status only');
    line();
  }

  line('---');
  line();
  line('## MONITORING & ALERTS');
  line();
  if (r.config.monitoring.metrics.length === 0) line('- No metrics configured (monitoring.metrics): bakes are timed waits without metric analysis');
  r.config.monitoring.metrics.forEach((m, i) => {
    line(`${i + 1}. **${m.name}**`);
    if (m.query) line(`   - Query: \`${m.query}\``);
    line(`   - Alert if: ${m.alert}`);
  });
  line();
  line('---');
  line();
  line('## COMMUNICATION PLAN');
  line();
  if (r.config.notify.channel) {
    line(`- [ ] Post to ${r.config.notify.channel} before deploying ${r.service} ${r.version}`);
    line(`- [ ] Post to ${r.config.notify.channel} after the release or rollback`);
  } else line('- No channel configured (notify.channel)');
  if (r.config.notify.onCall) line(`- [ ] Notify on-call: ${r.config.notify.onCall}`);
  line();
  line('---');
  line();
  line('## CONTINGENCY PLANS');
  line();
  line('### If Rollback Fails');
  line('1. The release is marked `rollback_failed` in the ledger and this record, with every step kept');
  line(`2. ${r.config.notify.onCall ? `Page ${r.config.notify.onCall}` : 'Page the on-call engineer (notify.onCall is not configured)'} and restore by hand`);
  line();
  line('### If Issue Discovered After the Release');
  line('1. Create a hotfix branch');
  line('2. Run it through the same gates (QA + Security) and rollgate');
  line();
  line('---');
  line();
  line('## SIGN-OFF');
  line();
  if (d.decision === 'ABORTED') line('- Not requested: the release was aborted by its prerequisites');
  else if (!d.approvalRequired && r.approvals.length === 0) line(`- Not required: ${d.risk?.level ?? 'this'} risk is not in approval.requiredFor (${r.config.approval.requiredFor.join(', ')})`);
  for (const a of r.approvals) line(`- **Approved by**: ${a.by} at ${a.at}${a.target === 'release' ? '' : ` (phase ${a.target})`}${a.reason ? ` — ${a.reason}` : ''}`);
  if (r.pendingApproval) {
    const p = r.pendingApproval;
    line(`- **Awaiting**: ${p.reason}; deadline ${p.deadline}`);
    line(`- **May approve**: ${p.allowedApprovers.length > 0 ? p.allowedApprovers.join(', ') : 'anyone'}${p.excludedApprovers.length > 0 ? `, except the change's authors (${p.excludedApprovers.join(', ')})` : ''}`);
  }
  line();

  if (r.results) {
    line('---');
    line();
    line('## RESULTS');
    line();
    line(`**Outcome**: ${r.results.outcome}${r.results.reason ? ` — ${r.results.reason}` : ''}`);
    if (r.results.rollbackStartedAt) line(`**Rollback**: ${r.results.rollbackStartedAt} → ${r.results.rollbackEndedAt ?? '(not finished)'}`);
    line();
    const timeline = phaseTimeline(r.results.steps, r.approvals);
    if (timeline.length > 0) {
      line('### Timeline');
      line();
      line('| phase | started | ended | approved by |');
      line('|---|---|---|---|');
      for (const t of timeline) line(`| ${t.phase} | ${t.started} | ${t.ended ?? ''} | ${t.approvedBy ?? ''} |`);
      line();
    }
    line('### Steps');
    line();
    line('| step | status | started | ended | detail |');
    line('|---|---|---|---|---|');
    for (const s of r.results.steps) line(`| ${s.name} | ${s.status} | ${s.startedAt} | ${s.endedAt ?? ''} | ${(s.detail ?? '').replace(/\|/g, '\\|')} |`);
    line();
    const analysed = r.results.analysed ?? [];
    if (analysed.length > 0) {
      line('## ANALYSIS');
      line();
      if (r.results.baseline && Object.keys(r.results.baseline).length > 0)
        line(`**Baseline** (before the release): ${Object.entries(r.results.baseline).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      if (r.results.measurementsFile) line(`**Every measurement**: \`${r.results.measurementsFile}\` (JSON lines: time, value, verdict)`);
      line();
      for (const c of r.results.charts ?? []) {
        line(`![${c.metric}](${c.file})`);
        line();
      }
      line('| phase | metric | measured | passed | failed | inconclusive | no data | errors | last |');
      line('|---|---|---|---|---|---|---|---|---|');
      for (const a of analysed)
        for (const m of a.metrics) {
          const last = m.last ? `${m.last.verdict}${m.last.value !== undefined ? ` ${m.last.value}` : ''} at ${m.last.at}` : '';
          line(`| ${a.phase} | ${m.metric} | ${m.measured} | ${m.successful} | ${m.failed} | ${m.inconclusive} | ${m.noData} | ${m.errors} | ${last.replace(/\|/g, '\\|')} |`);
        }
      line();
    }
  }
  return out.join('\n');
}

const fileLines = (f: FileChange) =>
  f.insertions === f.deletions ? `${f.insertions} line${f.insertions === 1 ? '' : 's'}` : `+${f.insertions} −${f.deletions}`;

const metricsClause = (config: RollgateConfig) =>
  config.monitoring.metrics.length > 0 ? `: ${config.monitoring.metrics.map((m) => m.name).join(', ')}` : '';

/** `release-decision-YYYYMMDD-HHMMSS.md` from an ISO timestamp. */
export function recordFileName(isoTimestamp: string): string {
  const stamp = isoTimestamp.replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '').replace('T', '-').replace('Z', '');
  return `release-decision-${stamp}.md`;
}
