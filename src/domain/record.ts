import type { FileChange } from './changeset';
import { commandFor, FLAG_ROLLBACK_STEP, renderArgv, ROLLBACK, rollbackStep, showArgv, stepVars } from './command';
import type { RollgateConfig } from './config';
import { formatDuration } from './duration';
import { type Outcome, PrerequisiteName } from './enums';
import { isAnalysed, measures, type Phase, PhaseAction, rollbackTargets, TARGET_ATTEMPTS, TARGET_GRACE_MS, verificationUrl } from './plan';
import type { Metric } from './analysis';
import { type Approval, type DecisionResult, type GateReport, type Override, type PendingApproval, type PhaseAnalysis, type StepRecord } from './release';
import { phaseTimeline } from './timeline';
import type { PolicyProvenance } from './policy';
import type { RestoreHistory } from './dora';
import { percentChange as pct } from './judge';
import { CONFIDENCE_RULE, confidence, deploymentWindow, recommendation, windowLine } from './sign-off';
import { fleetTable, type FleetStatus, hasWaves } from './waves';

export interface RecordInput {
  releaseId: string;
  /** Release ID and run: the base of this run's idempotency keys. */
  runKey: string;
  service: string;
  timestamp: string;
  branch: string;
  base: string;
  /** The base as a branch name, where it is one: what the merge to main merges into. */
  baseBranch?: string;
  commit?: string;
  version: string;
  previousVersion: string;
  decision: DecisionResult;
  gates: GateReport;
  files: FileChange[];
  config: RollgateConfig;
  approvals: Approval[];
  /** Deployment windows and freezes broken by a signed override. */
  overrides?: Override[];
  pendingApproval?: PendingApproval;
  /** Where the release policy came from. */
  policy?: PolicyProvenance;
  /** The Prometheus alerting rules written beside the record, by file name. */
  alertRulesFile?: string;
  /** This service's past rollbacks in the ledger: the measured rollback estimate. */
  restoreHistory?: RestoreHistory;
  /** A fleet release: its waves and how each target did. */
  fleet?: FleetStatus;
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

/** Approved by the rules is not yet approved for release while the sign-off they ask for has not come. */
const decisionLine = (r: RecordInput): string =>
  r.decision.decision === 'APPROVED' && r.decision.approvalRequired && !r.approvals.some((a) => a.kind === 'release')
    ? '⏳ AWAITING SIGN-OFF (the rules approve; a human must sign off before anything is deployed)'
    : DECISION_LINE[r.decision.decision];
const STRATEGY_TITLE = { immediate: 'IMMEDIATE RELEASE', canary: 'CANARY RELEASE', 'feature-flag': 'FEATURE FLAG + GRADUAL ROLLOUT', 'blue-green': 'BLUE-GREEN + HUMAN SUPERVISION' } as const;
const MAX_FILES_LISTED = 50;

/**
 * The decision record, laid out as the spec's `release-decision-*.md`; every line follows from the
 * inputs. One renderer per section, in the record's order; a section with nothing to say is empty.
 */
export function renderDecisionRecord(r: RecordInput): string {
  // Every value from the change, its config or people goes through `text` (or `code`); this last
  // pass keeps any control character left, e.g. in a command line, visible and on its line.
  return SECTIONS.flatMap((section) => section(r))
    .map(visible)
    .join('\n');
}

type Section = (r: RecordInput) => string[];

/** A top-level section: a rule, its heading, then its lines. */
const ruled = (title: string, lines: string[]): string[] => ['---', '', `## ${title}`, ...lines];

const header: Section = (r) => [
  '# Release Decision',
  '',
  `**Timestamp**: ${r.timestamp}`,
  `**Release ID**: ${text(r.releaseId)}`,
  `**Service**: ${text(r.service)}`,
  `**Branch**: ${text(r.branch)} (base: ${text(r.base)})`,
  ...(r.commit ? [`**Commit**: ${text(r.commit)}`] : []),
  `**Version**: ${text(r.version)} (previous: ${text(r.previousVersion)})`,
  `**Decision**: ${decisionLine(r)}`,
  '',
];

const prerequisites: Section = (r) =>
  ruled('PREREQUISITES', [
    '',
    ...r.decision.prerequisites.map((p) => `- [${p.passed ? 'x' : ' '}] **${p.name}**: ${prose(p.detail)}`),
    ...(r.gates.securityConditions.length > 0 ? ['', '### Security conditions (carried from the security report)', ...r.gates.securityConditions.map((c) => `- [ ] ${lead(text(c))}`)] : []),
    ...(r.gates.evidence?.length ? ['', '### Evidence (SHA-256 of each file as it was judged)', ...r.gates.evidence.map((e) => `- ${e.kind}: ${code(e.file)} ${code(e.sha256)}`)] : []),
    '',
    ...r.decision.because.map((b) => `> ${lead(prose(b))}`),
    '',
  ]);

const changeSummary: Section = (r) => {
  const { risk } = r.decision;
  if (!risk) return [];
  const security = r.decision.prerequisites.find((p) => p.name === PrerequisiteName.SECURITY);
  const others = risk.signals.filter((s) => s.level !== risk.level);
  const { blastRadius } = risk;
  return ruled('CHANGE SUMMARY', [
    '',
    `### Files Modified (${risk.change.files}; +${risk.change.insertions} −${risk.change.deletions})`,
    ...r.files.slice(0, MAX_FILES_LISTED).map((f) => `- ${code(f.path)} (${f.binary ? 'binary' : fileLines(f)}${risk.change.tests.includes(f.path) ? '; test' : ''})`),
    ...(r.files.length > MAX_FILES_LISTED ? [`- … and ${r.files.length - MAX_FILES_LISTED} more`] : []),
    '',
    `### Risk Level: **${risk.level}**`,
    '**Rationale**:',
    ...risk.reasons.map((reason) => `- ${lead(prose(reason))}`),
    ...(r.gates.tests ? [`- Tests: ${r.gates.tests.passed}/${r.gates.tests.total} passing (${text(r.gates.tests.source)})`] : []),
    ...(security?.passed ? [`- Security: ${prose(security.detail)}`] : []),
    ...(others.length > 0 ? ['', 'Other signals considered:', ...others.map((s) => `- ${s.level}: ${prose(s.reason)}`)] : []),
    ...(risk.escalation ? ['', `**Escalation**: ${prose(risk.escalation)}`] : []),
    '',
    `### Blast Radius: **${blastRadius.size}**`,
    '**Affected**:',
    ...blastRadius.affected.map((c) => `- ${lead(text(c))}`),
    ...(blastRadius.notAffected.length > 0 ? ['', '**NOT affected**:', ...blastRadius.notAffected.map((c) => `- ${lead(text(c))}`)] : []),
    '',
  ]);
};

const rolloutStrategy: Section = (r) => {
  const { risk } = r.decision;
  if (!risk) return [];
  return ruled('ROLLOUT STRATEGY', [
    '',
    `### Selected Strategy: **${STRATEGY_TITLE[risk.strategy]}**`,
    `**Rationale**: ${risk.level} risk, ${risk.blastRadius.size.toLowerCase()} blast radius → ${risk.strategy}`,
    '',
    '### Alternative Strategies Considered',
    ...risk.alternatives.flatMap((a) => ['', `#### ${STRATEGY_TITLE[a.strategy]}`, `- **When to use**: ${a.whenToUse}`, `- ${a.whyNot}`]),
    '',
  ]);
};

/** With the flagd provider the worker writes the flag's definitions file; no command runs. */
const flagd = (config: RollgateConfig) => config.featureFlag.provider === 'flagd';
const flagdLine = (config: RollgateConfig, what: string) => `- flagd: ${code(config.featureFlag.flag ?? '')} ${what} in ${code(config.featureFlag.file ?? '')}`;

/** A step's command as the worker will run it for this release, shown as a person would type it. */
const commandLine = (r: RecordInput, phase: Phase, action: string, step: string): string =>
  showArgv(renderArgv(commandFor(action, r.config.deploy), stepVars(phase, action, step, r)));

/** The spec's step 1 where rollgate does not run it (deploy.merge is off): shown, for CI or a person. */
const mergeByHand = (r: RecordInput): string[] => {
  const into = r.baseBranch ?? 'main';
  return [
    '',
    '### Step 1: Merge to main (by your CI or by hand: rollgate runs it only with deploy.merge)',
    '```bash',
    showArgv(['git', 'checkout', into]),
    showArgv(['git', 'merge', '--no-ff', r.commit ?? 'HEAD']),
    showArgv(['git', 'push', 'origin', into]),
    '```',
  ];
};

/** The deployment windows, when any are set: each phase starts only inside them. */
const allowedWindows = ({ windows }: RollgateConfig): string[] => {
  if (windows.allow.length + windows.deny.length === 0) return [];
  const each = (w: RollgateConfig['windows']['allow'][number]) =>
    `${code(w.cron !== undefined ? `cron ${w.cron}` : `RRULE ${w.rrule}`)} for ${formatDuration(w.duration)} (${text(w.timeZone ?? windows.timeZone)})`;
  return [
    '',
    '### Deployment windows (a phase starts only inside them; outside, the release waits at the phase boundary, its live phase watched)',
    ...(windows.allow.length ? [`- Allowed: ${windows.allow.map(each).join('; ')}`] : []),
    ...(windows.deny.length ? [`- Denied: ${windows.deny.map(each).join('; ')}`] : []),
  ];
};

const deploymentPlan: Section = (r) => {
  const { plan } = r.decision;
  if (!plan) return [];
  const byHand = r.config.deploy.merge ? [] : mergeByHand(r);
  return ruled('DEPLOYMENT PLAN', [
    ...allowedWindows(r.config),
    ...waves(r.config),
    ...byHand,
    ...plan.phases.flatMap((phase, i) => [
      '',
      `### Step ${i + 1 + (byHand.length ? 1 : 0)}: ${text(phase.title)}`,
      ...(phase.approval ? ['- Waits for a human approval before it starts'] : []),
      ...(phase.holdMs > 0 ? [`- Waits ${formatDuration(phase.holdMs)} with blue kept for rollback`] : []),
      ...(phase.action === PhaseAction.ENABLE_FLAG && flagd(r.config)
        ? [flagdLine(r.config, `on for ${phase.weight}% of users`)]
        : ['```bash', commandLine(r, phase, phase.action, phase.id), ...(phase.smokeUrl ? [`curl -f ${phase.smokeUrl} || exit 1   # smoke test`] : []), '```']),
      ...(phase.stage === 'production-green' && !phase.smokeUrl ? ['- Green is not tested before the switch: set blueGreen.greenSmokeUrl to where green answers'] : []),
      ...(phase.bakeMs > 0 ? [`- Monitor for ${formatDuration(phase.bakeMs)}${metricsClause(r.config, phase)}`] : []),
    ]),
    '',
  ]);
};

/** What a check does, in the words of its conditions: the rules `judge` applies (src/domain/analysis). */
function checkRule(m: Metric): string {
  if (m.judge) {
    const { alpha, minEffect, minEvents, minTrials } = m.judge;
    const share = (x: number) => `${Math.round(x * 1e6) / 1e4}%`;
    return `fails when the sequential judge finds the canary's rate of these events more than ${share(minEffect)} above stable's (counts since the phase started; in each judged phase, at most a ${share(alpha)} chance of ever flagging a canary within that of stable); too little traffic by the bake's end (under ${minEvents} events on both tracks together, or ${minTrials} canary requests) is inconclusive; it judges only phases where canary and stable both take traffic`;
  }
  const fails = m.failureCondition ? code(m.failureCondition) : undefined;
  const passes = m.successCondition ? code(m.successCondition) : undefined;
  if (fails && passes) return `fails when ${fails}, passes when ${passes}, inconclusive between`;
  return fails ? `fails when ${fails}` : `fails unless ${passes}`;
}

const times = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** The checks that act (roll back by themselves), and those only measured. */
const checksOf = (config: RollgateConfig) => ({
  acting: config.analysis.metrics.filter((m) => !m.dryRun),
  dryRun: config.analysis.metrics.filter((m) => m.dryRun),
});

const rollbackPlan: Section = (r) => {
  const { plan } = r.decision;
  if (!plan) return [];
  const { deploy, analysis } = r.config;
  const { acting, dryRun } = checksOf(r.config);
  // As the workflow undoes a flag rollout: redeploy while no flag is on; once one is, only turn it off.
  const firstFlag = plan.phases.find((p) => p.action === PhaseAction.ENABLE_FLAG);
  const targets = rollbackTargets(firstFlag ? plan.phases.slice(0, plan.phases.indexOf(firstFlag)) : plan.phases);
  const smokes = [...new Set(targets.map((p) => verificationUrl(p, r.config)).filter(Boolean))];
  const analysed = plan.phases.some((p) => isAnalysed(p) && p.bakeMs + p.holdMs > 0);
  return ruled('ROLLBACK PLAN', [
    '',
    '### Trigger Conditions (Auto-Rollback)',
    '- A deploy step fails or times out',
    ...(plan.phases.some((p) => p.smokeUrl) ? ['- A smoke test fails after a deploy'] : []),
    ...(analysed
      ? [
          ...acting.map((m) => `- **${text(m.name)}** ${checkRule(m)}: rolls back after ${times(m.failureLimit + 1, m.judge ? 'flagged reading' : 'failed measurement')}${m.noData === 'failed' ? ' (no data counts as failed)' : ''}, measured every ${formatDuration(m.interval ?? analysis.interval)} during the production bakes`),
          ...(acting.length > 0
            ? [
                `- A check inconclusive past its limit: a human is asked, and without an answer within ${formatDuration(analysis.inconclusiveTimeout)} it rolls back`,
                `- The metric source failing past a check's consecutive error limit: ${analysis.onError === 'rollback' ? 'rolls back' : `a human is asked, as for an inconclusive check`}`,
              ]
            : ['- No metric check acts on this release (analysis.metrics): the bakes are timed waits']),
          ...(dryRun.length > 0 ? [`- Not triggers (dry run: measured and reported, never acting): ${dryRun.map((m) => text(m.name)).join(', ')}`] : []),
        ]
      : []),
    '- The release is aborted or cancelled',
    '',
    `### Rollback Method: **${deploy.rollback ? 'ROLLBACK COMMAND' : 'REDEPLOY PREVIOUS VERSION'}**`,
    'Run for each stage already changed, the most recent first:',
    '```bash',
    ...targets.map((phase) => commandLine(r, phase, ROLLBACK, rollbackStep(phase.stage))),
    '```',
    ...(firstFlag
      ? [
          'Once a flag is on, it is turned off instead, and nothing is redeployed:',
          ...(flagd(r.config) ? [flagdLine(r.config, 'off')] : ['```bash', commandLine(r, { ...firstFlag, weight: 0 }, PhaseAction.DISABLE_FLAG, FLAG_ROLLBACK_STEP), '```']),
        ]
      : []),
    '',
    r.config.deploy.merge
      ? `- The merge to main is undone last, by the same command with stage \`main\` (a revert of ${code(r.commit ?? 'HEAD')}), so that the next release from main does not ship it unjudged`
      : `- A rollback restores what serves traffic, not main: revert the merge of ${code(r.commit ?? 'HEAD')} before releasing from main again`,
    '',
    ...rollbackEstimate(r, targets.length),
    '',
    ...cannotRestore(r),
    '### Rollback Verification',
    ...(smokes.length > 0 ? ['```bash', ...smokes.map((url) => `curl -f ${url}`), '```'] : ['- No smoke URL configured (stages.*.smokeUrl): each stage is verified by its command exit status only']),
    ...(analysed && acting.length > 0
      ? [
          analysis.verifyWindow > 0
            ? `- The checks that broke are measured again for up to ${formatDuration(analysis.verifyWindow)}; the rollback counts as verified once they are back within their thresholds, else a human is paged${acting.some((m) => m.judge) ? ' (a judge is not: it weighs a canary that is gone)' : ''}`
            : '- The checks that broke are not measured again (analysis.verifyWindow is 0)',
        ]
      : []),
    '',
  ]);
};

const monitoringAndAlerts: Section = (r) => {
  const { analysis, monitoring } = r.config;
  const { acting, dryRun } = checksOf(r.config);
  const checkLines = (m: Metric, i: number) => [
    `${i + 1}. **${text(m.name)}**${m.dryRun ? ' (dry run: measured and reported, never acting)' : ''}`,
    `   - Query: ${code(m.query)}`,
    `   - Rule: ${checkRule(m)}`,
    `   - Every ${formatDuration(m.interval ?? analysis.interval)}${m.count ? `, ${times(m.count, 'measurement')} per phase` : ''}; limits: ${m.failureLimit} failed, ${m.inconclusiveLimit} inconclusive, ${m.consecutiveErrorLimit} consecutive errors; no data counts as ${m.noData}`,
  ];
  return ruled('MONITORING & ALERTS', [
    '',
    '### Checks rollgate runs (on every production bake)',
    ...(acting.length + dryRun.length === 0 ? ['- None configured (analysis.metrics): bakes are timed waits without metric analysis'] : [...acting, ...dryRun].flatMap(checkLines)),
    ...(r.alertRulesFile ? ['', `Alerting rules for the same conditions: [${text(r.alertRulesFile)}](${r.alertRulesFile})`] : []),
    ...(monitoring.metrics.length > 0
      ? [
          '',
          '### Watched by a human (monitoring.metrics: rollgate neither measures nor acts on these)',
          ...monitoring.metrics.flatMap((m, i) => [`${i + 1}. **${text(m.name)}**`, ...(m.query ? [`   - Query: ${code(m.query)}`] : []), `   - Alert if: ${code(m.alert)}`]),
        ]
      : []),
    '',
  ]);
};

const communicationPlan: Section = (r) => {
  const { channel, onCall } = r.config.notify;
  return ruled('COMMUNICATION PLAN', [
    '',
    ...(channel ? [`- [ ] Post to ${text(channel)} before deploying ${text(r.service)} ${text(r.version)}`, `- [ ] Post to ${text(channel)} after the release or rollback`] : ['- No channel configured (notify.channel)']),
    `- On-call (${onCall ? text(onCall) : 'notify.onCall not named'}): paged through PagerDuty when a human is needed or a rollback fails, where the worker has ${r.config.notify.pagerDutyRoutingKeyEnv}`,
    r.config.notes ? `- Deployment notes appended to ${text(r.config.notes)} in the out folder after the release or rollback` : '- No deployment notes (notes: false)',
    '',
  ]);
};

const contingencyPlans: Section = (r) => {
  const { onCall } = r.config.notify;
  return ruled('CONTINGENCY PLANS', [
    '',
    '### If Rollback Fails',
    '1. The release is marked `rollback_failed` in the ledger and this record, with every step kept',
    `2. ${onCall ? text(onCall) : 'The on-call engineer (notify.onCall is not configured)'} is paged (PagerDuty, where the worker has the routing key) and restores by hand`,
    '',
    '### If Issue Discovered After the Release',
    '1. Create a hotfix branch',
    '2. Run it through the same gates (QA + Security) and rollgate',
    '',
  ]);
};

const signOff: Section = (r) => {
  const d = r.decision;
  const p = r.pendingApproval;
  return ruled('SIGN-OFF', [
    '',
    ...(d.decision === 'ABORTED'
      ? ['- Not requested: the release was aborted by its prerequisites']
      : !d.approvalRequired && r.approvals.length === 0
        ? [`- Not required: ${d.risk?.level ?? 'this'} risk is not in approval.requiredFor (${r.config.approval.requiredFor.join(', ')})`]
        : []),
    ...r.approvals.map(approvedLine),
    ...(r.overrides ?? []).map(overrideLine),
    ...(p
      ? [
          `- **Awaiting**: ${prose(p.reason)}; deadline ${text(p.deadline)}${p.mustAcknowledge ? `; the approval must acknowledge it (--acknowledge ${p.mustAcknowledge})` : ''}`,
          `- **May approve**: ${p.allowedApprovers.length > 0 ? p.allowedApprovers.map(text).join(', ') : 'a principal of the worker\'s allowed signers (signature required)'}${p.excludedApprovers.length > 0 ? `, except the change's authors (${p.excludedApprovers.map(text).join(', ')})` : ''}`,
        ]
      : []),
    ...windowLines(r),
    `- **On-call engineer**: ${onCallLine(r)}`,
    ...confidenceLines(r),
    `- **Recommendation**: ${recommendation(d, r.approvals, r.results?.outcome)}`,
    '',
  ]);
};

/** An approval, and whether its name was verified: a signature of the worker's allowed signers, or a name as typed. */
const approvedLine = (a: Approval): string =>
  `- **Approved by**: ${text(a.by)}${a.verified === undefined ? '' : a.verified ? ' (signature verified)' : ' (unverified: a name as typed)'} at ${text(a.at)}${a.kind === 'release' ? '' : ` (phase ${text(a.target)})`}${a.reason ? ` — ${text(a.reason)}` : ''}${a.acknowledged ? `; acknowledged: ${ACKNOWLEDGED[a.acknowledged]}` : ''}`;

/** A window or a freeze broken for this release, in the sign-off: it is a sign-off of its own. */
const overrideLine = (o: Override): string =>
  `- **Overridden by**: ${text(o.by)}${o.verified ? ' (signature verified)' : ' (unverified: a name as typed)'} at ${text(o.at)}: broke ${text(o.broke)} — ${text(o.reason)}`;

const ACKNOWLEDGED = { 'irreversible-migration': 'a rollback cannot restore the data the irreversible migration drops' } as const;

const onCallLine = (r: RecordInput): string => {
  const { onCall, pagerDutyRoutingKeyEnv } = r.config.notify;
  return `${onCall ? text(onCall) : 'not named (notify.onCall)'}; paged through PagerDuty on a failed rollback and whenever a human is needed, where the worker has ${pagerDutyRoutingKeyEnv}`;
};

/** Planned while the release has not ended; once it has, when it really ran. */
const windowLines = (r: RecordInput): string[] => {
  const d = r.decision;
  const steps = r.results?.steps ?? [];
  if (r.results?.outcome === 'aborted' || r.results?.outcome === 'escalated' || d.decision === 'ABORTED') return [];
  if (r.results && steps.length > 0) {
    const ended = steps.map((s) => s.endedAt ?? s.startedAt).sort().at(-1)!;
    return [`- **Deployment window**: ran ${text(steps[0]!.startedAt)} – ${text(ended)}`];
  }
  if (!d.plan) return [];
  return [`- **Deployment window**: ${windowLine(deploymentWindow(d.plan, r.timestamp, r.approvals), d.approvalRequired || d.plan.phases.some((x) => x.approval))}`];
};

const confidenceLines = (r: RecordInput): string[] => {
  const c = confidence(r.decision, r.gates, r.config);
  if (!c) return [];
  return [`- **Confidence**: ${c.level}${c.doubts.length ? ` (${c.doubts.map(prose).join('; ')})` : ''}`, `- **How confidence is set**: ${CONFIDENCE_RULE}`];
};

/** The measured median of this service's rollbacks, and the worst case its timeouts allow, apart. */
function rollbackEstimate(r: RecordInput, stages: number): string[] {
  const { deploy, analysis } = r.config;
  const perStage = TARGET_ATTEMPTS * (deploy.timeout + TARGET_GRACE_MS);
  const h = r.restoreHistory;
  const verify = checksOf(r.config).acting.length > 0 && analysis.verifyWindow > 0 ? analysis.verifyWindow : 0;
  const measured =
    h && h.medianSeconds !== null
      ? `median ${formatDuration(h.medianSeconds * 1000)}, measured over ${times(h.samples, 'rollback')} of ${text(r.service)} in the ledger's last ${h.days} days`
      : h
        ? `not measured yet: no rollback of ${text(r.service)} in the ledger's last ${h.days} days`
        : 'not measured: the ledger could not be read';
  return [
    `**Estimated rollback time**: ${measured}`,
    `**Worst case**: ${formatDuration(perStage * stages + verify)} (${times(stages, 'stage')} × ${TARGET_ATTEMPTS} attempts × the ${formatDuration(deploy.timeout)} command timeout and a minute${verify ? `, then up to ${formatDuration(verify)} of verification` : ''}; smoke tests on top)`,
  ];
}

/** An irreversible migration, said plainly: what a rollback gives back, and what it never can. */
function cannotRestore(r: RecordInput): string[] {
  const migration = r.decision.risk?.irreversibleMigration;
  if (!migration) return [];
  return [
    '### What a rollback can and cannot restore',
    `- **Can**: traffic back to ${text(r.previousVersion)} and the previous code on every stage changed (the commands above)`,
    `- **Cannot**: the data of ${code(migration)}. Once the migration has run, what it drops or deletes is gone, and no rollback brings it back`,
    '- **Before signing off**: take a backup and test its restore. The sign-off must acknowledge this: `rollgate approve ID --acknowledge irreversible-migration`',
    '',
  ];
}

/** A fleet release: its waves, each a set of targets in parallel, then a bake; what a failed wave does. */
function waves(config: RollgateConfig): string[] {
  const { fleet } = config;
  if (!hasWaves(fleet)) return [];
  return [
    '',
    `### Waves (the production steps below run on each target, wave after wave; the merge and staging once)`,
    ...fleet.waves.map(
      (w, i) =>
        `- Wave ${i + 1}: ${w.targets.join(', ')}${w.maxFailedTargets ? `, up to ${w.maxFailedTargets} may fail (each rolled back at once)` : ', none may fail'}${w.bake && i < fleet.waves.length - 1 ? `, then a ${formatDuration(w.bake)} bake` : ''}`,
    ),
    `- A failed wave: no later wave starts, its running targets roll back, and the targets that passed are ${fleet.onWaveFailure === 'hold' ? 'held while a human decides (approve keeps them, reject rolls them back)' : 'rolled back'}`,
    ...watchedBetweenWaves(config),
  ];
}

/** What watches the targets that passed while the later waves roll out. */
function watchedBetweenWaves(config: RollgateConfig): string[] {
  if (config.fleet.waves.length < 2) return [];
  const checks = config.analysis.metrics.filter((m) => !m.dryRun && measures(m, { weight: 100 })).map((m) => m.name);
  return [
    checks.length > 0
      ? `- A target that passed is watched by ${checks.join(', ')} through the bakes and the later waves: one that breaks rolls back at once and counts against its wave's budget`
      : '- The targets that passed are not watched between waves: no acting check measures a target at 100%',
  ];
}

const results: Section = (r) => {
  const res = r.results;
  if (!res) return [];
  const timeline = phaseTimeline(res.steps, r.approvals);
  return ruled('RESULTS', [
    '',
    `**Outcome**: ${res.outcome}${res.reason ? ` — ${prose(res.reason)}` : ''}`,
    ...(res.rollbackStartedAt ? [`**Rollback**: ${res.rollbackStartedAt} → ${res.rollbackEndedAt ?? '(not finished)'}`] : []),
    '',
    ...(r.fleet && r.decision.plan
      ? ['### Targets', '', ...fleetTable(r.fleet, r.decision.plan.phases.filter((p) => p.stage.startsWith('production')).map((p) => p.id), cell), '', ...r.fleet.waves.flatMap((w) => (w.verdict ? [`- ${prose(w.verdict)}`] : [])), '']
      : []),
    ...(timeline.length > 0
      ? ['### Timeline', '', '| phase | started | ended | approved by |', '|---|---|---|---|', ...timeline.map((t) => `| ${text(t.phase)} | ${t.started} | ${t.ended ?? ''} | ${text(t.approvedBy ?? '')} |`), '']
      : []),
    '### Steps',
    '',
    '| step | status | started | ended | detail |',
    '|---|---|---|---|---|',
    ...res.steps.map((s) => `| ${text(s.name)} | ${s.status} | ${s.startedAt} | ${s.endedAt ?? ''} | ${cell(s.detail ?? '')} |`),
    '',
  ]);
};

/** Part of the results, without a rule of its own: the analysed phases, their metrics' counts and last measurements. */
const analysis: Section = (r) => {
  const res = r.results;
  const analysed = res?.analysed ?? [];
  if (!res || analysed.length === 0) return [];
  return [
    '## ANALYSIS',
    '',
    ...(res.baseline && Object.keys(res.baseline).length > 0 ? [`**Baseline** (before the release): ${Object.entries(res.baseline).map(([k, v]) => `${text(k)} ${v}`).join(', ')}`] : []),
    ...(res.measurementsFile ? [`**Every measurement**: ${code(res.measurementsFile)} (JSON lines: time, value, verdict)`] : []),
    '',
    ...(res.charts ?? []).flatMap((c) => [`![${text(c.metric)}](${c.file})`, '']),
    '| phase | metric | measured | passed | failed | inconclusive | no data | warming up | errors | last |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...analysed.flatMap((a) =>
      a.metrics.map((m) => {
        const last = m.last ? `${m.last.verdict}${m.last.value !== undefined ? ` ${m.last.value}` : ''} at ${m.last.at}` : '';
        return `| ${text(a.phase)} | ${text(m.metric)} | ${m.measured} | ${m.successful} | ${m.failed} | ${m.inconclusive} | ${m.noData} | ${m.warmingUp ?? 0} | ${m.errors} | ${text(last)} |`;
      }),
    ),
    '',
    ...judgeLines(analysed),
  ];
};

/** Each judge's last reading per phase: counts per track, the effect with its confidence sequence, the evidence, when it crossed. */
function judgeLines(analysed: readonly PhaseAnalysis[]): string[] {
  const lines = analysed.flatMap((a) =>
    a.metrics.flatMap((m) => {
      const j = m.last?.judge;
      if (!j) return [];
      return [
        `- **${text(m.metric)}** in ${text(a.phase)}: canary ${j.canary.events}/${j.canary.trials}, stable ${j.stable.events}/${j.stable.trials}; effect ${j.effect === null ? 'not estimated' : pct(j.effect)} (${pct(j.effectLower)} to ${pct(j.effectUpper)}); e-value ${Math.round(j.eValue * 100) / 100}, always-valid p ${Math.round(j.pValue * 10000) / 10000}${j.crossedAt ? `; crossed at ${text(j.crossedAt)}` : ''}`,
      ];
    }),
  );
  return lines.length ? ['### Judges', '', ...lines, ''] : [];
}

/** Where each part of the policy came from: the repository's file at its base, the worker's policy, the floors. */
const releasePolicy: Section = (r) => {
  const p = r.policy;
  if (!p) return [];
  return ruled('RELEASE POLICY', [
    '',
    `- **Repository**: ${text(p.repository)}`,
    `- **Worker policy**: ${text(p.worker)}`,
    ...(p.overridden.length ? [`- **Set by the worker policy** (the repository's value ignored): ${p.overridden.map(text).join('; ')}`] : []),
    ...(p.raised.length ? [`- **Raised to the floors**: ${p.raised.map(text).join('; ')}`] : []),
    '',
  ]);
};

const SECTIONS: Section[] = [header, prerequisites, changeSummary, rolloutStrategy, deploymentPlan, rollbackPlan, monitoringAndAlerts, communicationPlan, contingencyPlans, signOff, releasePolicy, results, analysis];

// C0 and C1 controls, line and paragraph separators, bidirectional overrides and invisible marks.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/**
 * Control characters made visible: a line break in a value cannot start a line of its own (a
 * forged sign-off), an escape sequence cannot drive the terminal that prints the record, an
 * override cannot reorder what a reader sees. C0 controls become their Unicode control pictures
 * (a newline shows as ␊), the rest their code point.
 */
export function visible(s: string): string {
  return s.replace(INVISIBLE, (c) => {
    const n = c.charCodeAt(0);
    if (n < 0x20) return String.fromCharCode(0x2400 + n);
    if (n === 0x7f) return '\u2421';
    return `⟨U+${n.toString(16).toUpperCase().padStart(4, '0')}⟩`;
  });
}

// Characters that open markdown (GFM) inline syntax anywhere in a line: emphasis, code, links and
// images, tables, strikethrough, math, escapes.
const MARKDOWN_SPECIAL = /[\\`*_[\]|~$]/g;

/**
 * A value from the change, its config or people, as inert text: visible control characters, HTML
 * (`<`, `>`, `&`) as entities, markdown's specials backslash-escaped. What a reader sees is the
 * value, never markup it carries.
 */
export function text(s: string): string {
  return visible(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(MARKDOWN_SPECIAL, '\\$&');
}

/** Escaped text that starts a list item or quote: a heading, list or rule marker there would nest a block. */
export const lead = (escaped: string): string => escaped.replace(/^([-+=#])|^(\d+)([.)])/, (_m, mark: string | undefined, num: string | undefined, dot: string | undefined) => (mark ? `\\${mark}` : `${num}\\${dot}`));

/**
 * A message composed by rollgate around values (a risk reason quoting paths in backticks): its
 * code spans stay code, which shows what they hold as it is; everything else is `text`. However a
 * value places its own backticks, each piece is either a code span or escaped text: both inert.
 */
export function prose(s: string): string {
  return s
    .split(/`([^`]+)`/)
    .map((piece, i) => (i % 2 === 1 ? code(piece) : text(piece)))
    .join('');
}

/**
 * `prose` for a table cell: GFM splits a row at every unescaped pipe, code spans included, so the
 * pipes inside code spans are escaped too (the table reads `\|` there as a pipe).
 */
export const cell = (s: string): string => prose(s).replace(/(?<!\\)\|/g, '\\|');

/** Inline code that a backtick in the text cannot close early: a longer fence, as CommonMark allows. Code spans show HTML and markdown as they are. */
export function code(s: string): string {
  const shown = visible(s);
  const longest = Math.max(0, ...(shown.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = /^`|`$/.test(shown) ? ' ' : '';
  return `${fence}${pad}${shown}${pad}${fence}`;
}

const fileLines = (f: FileChange) =>
  f.insertions === f.deletions ? `${f.insertions} line${f.insertions === 1 ? '' : 's'}` : `+${f.insertions} −${f.deletions}`;

/** What a bake watches: the acting checks on production, else a timed wait; and what people watch by hand. */
const metricsClause = (config: RollgateConfig, phase: Phase) => {
  const { acting } = checksOf(config);
  const checked = isAnalysed(phase) && acting.length > 0 ? `: rollgate checks ${acting.map((m) => text(m.name)).join(', ')}, rolling back when one fails` : ' (a timed wait: no check acts here)';
  const byHand = config.monitoring.metrics.length > 0 ? `; watch by hand: ${config.monitoring.metrics.map((m) => text(m.name)).join(', ')}` : '';
  return checked + byHand;
};

/** `release-decision-YYYYMMDD-HHMMSS.md` from an ISO timestamp. */
export function recordFileName(isoTimestamp: string): string {
  const stamp = isoTimestamp.replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '').replace('T', '-').replace('Z', '');
  return `release-decision-${stamp}.md`;
}
