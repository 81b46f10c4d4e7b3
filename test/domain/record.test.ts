import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initialState, MetricSchema, record, type MetricState } from '../../src/domain/analysis';
import type { ChangeSet } from '../../src/domain/changeset';
import { parseConfig, type RollgateConfigInput } from '../../src/domain/config';
import { evaluateRelease } from '../../src/domain/evaluate';
import { code, prose, type RecordInput, recordFileName, renderDecisionRecord, text, visible } from '../../src/domain/record';
import type { Approval, GateReport, PendingApproval, StepRecord } from '../../src/domain/release';
import { changeSet, criticalChange, highChange, lowChange, mediumChange, passingGates } from '../helpers/fake-activities';

/** A record input made the way the workflow makes it: the decision comes from the real evaluation. */
function release(o: { gates?: GateReport; change?: ChangeSet; changeSetError?: string; config?: RollgateConfigInput } & Partial<Omit<RecordInput, 'decision' | 'gates' | 'config'>> = {}): RecordInput {
  const { gates = passingGates, change = lowChange, changeSetError, config: raw = {}, ...rest } = o;
  const parsed = parseConfig(raw);
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const present = changeSetError ? undefined : change;
  return {
    releaseId: 'release-cart-0123456789ab',
    runKey: 'release-cart-0123456789ab@abcd1234',
    service: 'cart',
    timestamp: '2026-01-05T12:00:00.000Z',
    branch: 'feature',
    base: 'main',
    version: 'v2',
    previousVersion: 'v1',
    decision: evaluateRelease(gates, present, parsed.config, undefined, changeSetError),
    gates,
    files: present?.files ?? [],
    config: parsed.config,
    approvals: [],
    ...rest,
  };
}

/** The record cut at its `## ` headings: the text before the first, and each section's lines up to the next rule. */
function sectionsOf(markdown: string): { head: string; titles: string[]; of: (title: string) => string } {
  const [head, ...parts] = markdown.split(/^## /m);
  const bodies = new Map<string, string>();
  for (const part of parts) {
    const [title, ...lines] = part.split('\n');
    const end = lines.indexOf('---');
    bodies.set(title!, (end === -1 ? lines : lines.slice(0, end)).join('\n').trim());
  }
  return {
    head: head!,
    titles: [...bodies.keys()],
    of: (title) => {
      const body = bodies.get(title);
      if (body === undefined) assert.fail(`no section ${title}; the record has ${[...bodies.keys()].join(', ')}`);
      return body;
    },
  };
}
const render = (input: RecordInput) => sectionsOf(renderDecisionRecord(input));
const lines = (...ls: string[]) => ls.join('\n');
/** The sign-off's approvals and requests, without its closing judgements (window, on-call, confidence, recommendation: tested on their own). */
const signOffOf = (r: ReturnType<typeof render>) =>
  r
    .of('SIGN-OFF')
    .split('\n')
    .filter((l) => !/^- \*\*(Deployment window|On-call engineer|Confidence|How confidence is set|Recommendation)\*\*/.test(l))
    .join('\n');
/** The merge to main that the plan shows when rollgate does not run it. */
const MERGE_BY_HAND = ['### Step 1: Merge to main (by your CI or by hand: rollgate runs it only with deploy.merge)', '```bash', 'git checkout main', 'git merge --no-ff HEAD', 'git push origin main', '```', ''];

const ALL = ['PREREQUISITES', 'CHANGE SUMMARY', 'ROLLOUT STRATEGY', 'DEPLOYMENT PLAN', 'ROLLBACK PLAN', 'MONITORING & ALERTS', 'COMMUNICATION PLAN', 'CONTINGENCY PLANS', 'SIGN-OFF'];
const at = (minute: number) => `2026-01-05T12:${String(minute).padStart(2, '0')}:00.000Z`;

describe('the decision record: the header and the record\'s frame', () => {
  it('names the release, the change and the decision; the commit only when known', () => {
    const withCommit = renderDecisionRecord(release({ commit: 'b'.repeat(40) }));
    assert.ok(
      withCommit.startsWith(
        lines(
          '# Release Decision',
          '',
          '**Timestamp**: 2026-01-05T12:00:00.000Z',
          '**Release ID**: release-cart-0123456789ab',
          '**Service**: cart',
          '**Branch**: feature (base: main)',
          `**Commit**: ${'b'.repeat(40)}`,
          '**Version**: v2 (previous: v1)',
          '**Decision**: ✅ APPROVED FOR RELEASE',
          '',
          '---',
          '',
          '## PREREQUISITES',
        ),
      ),
      withCommit.slice(0, 400),
    );
    assert.ok(!renderDecisionRecord(release()).includes('**Commit**'));
  });

  it('says "awaiting sign-off", not "approved for release", until the sign-off the rules ask for has come', () => {
    const critical = { change: criticalChange };
    assert.match(renderDecisionRecord(release(critical)), /^\*\*Decision\*\*: ⏳ AWAITING SIGN-OFF \(the rules approve; a human must sign off before anything is deployed\)$/m);
    const signed = renderDecisionRecord(release({ ...critical, approvals: [{ kind: 'release', target: 'release', by: 'bob', at: at(1) }] }));
    assert.match(signed, /^\*\*Decision\*\*: ✅ APPROVED FOR RELEASE$/m);
  });

  it('every section is set apart by a rule, and the record ends with exactly one newline', () => {
    const md = renderDecisionRecord(release());
    for (const title of ALL) assert.ok(md.includes(`---\n\n## ${title}\n`), title);
    assert.ok(md.endsWith('\n'), 'the last section closes with an empty line');
    assert.ok(!md.endsWith('\n\n'));
  });

  it('names the file after the release\'s start, to the second', () => {
    assert.equal(recordFileName('2026-01-05T12:03:09.123Z'), 'release-decision-20260105-120309.md');
    assert.equal(recordFileName('2026-01-05T12:03:09Z'), 'release-decision-20260105-120309.md');
  });
});

describe('the decision record of a release aborted at the gates', () => {
  const gates: GateReport = {
    ...passingGates,
    prerequisites: passingGates.prerequisites.map((p) => (p.name === 'qa' ? { ...p, passed: false, detail: 'qa-report-20260105-120000.md: FAIL (needs PASS)' } : p)),
  };
  const steps: StepRecord[] = [{ name: 'prerequisites', status: 'done', startedAt: at(0), endedAt: at(1) }];
  const r = render(release({ gates, change: mediumChange, results: { outcome: 'aborted', reason: 'Prerequisite qa failed: qa-report-20260105-120000.md: FAIL (needs PASS)', steps } }));

  it('says ABORTED, and has no plan to deploy or roll back', () => {
    assert.match(r.head, /^\*\*Decision\*\*: ⛔ ABORTED$/m);
    assert.deepEqual(r.titles, ['PREREQUISITES', 'CHANGE SUMMARY', 'ROLLOUT STRATEGY', 'MONITORING & ALERTS', 'COMMUNICATION PLAN', 'CONTINGENCY PLANS', 'SIGN-OFF', 'RESULTS']);
  });

  it('ticks each prerequisite that passed, and says which failed', () => {
    assert.equal(
      r.of('PREREQUISITES'),
      lines(
        '- [ ] **qa**: qa-report-20260105-120000.md: FAIL (needs PASS)',
        '- [x] **security**: security-report-20260105-120000.md: PASS',
        '- [x] **tests**: 57/57 passing',
        '- [x] **branch**: feature is 1 commit ahead of main',
        '',
        '> Prerequisite qa failed: qa-report-20260105-120000.md: FAIL (needs PASS)',
      ),
    );
  });

  it('asks no one to sign off, and recommends not deploying', () => {
    assert.equal(signOffOf(r), '- Not requested: the release was aborted by its prerequisites');
    assert.match(r.of('SIGN-OFF'), /^- \*\*Recommendation\*\*: ⛔ DO NOT DEPLOY: a prerequisite failed$/m);
    assert.doesNotMatch(r.of('SIGN-OFF'), /Confidence|Deployment window/, 'no confidence or window for a release that will not run');
  });

  it('the results give the outcome and its reason, no timeline without phases, and the steps', () => {
    assert.equal(
      r.of('RESULTS'),
      lines(
        '**Outcome**: aborted — Prerequisite qa failed: qa-report-20260105-120000.md: FAIL (needs PASS)',
        '',
        '### Steps',
        '',
        '| step | status | started | ended | detail |',
        '|---|---|---|---|---|',
        `| prerequisites | done | ${at(0)} | ${at(1)} |  |`,
      ),
    );
  });
});

describe('the decision record of an escalated release', () => {
  const pending = (allowed: string[], excluded: string[]): PendingApproval => ({
    kind: 'release',
    target: 'release',
    reason: 'the release was escalated to a human',
    requestedAt: at(0),
    deadline: '2026-01-06T12:00:00.000Z',
    allowedApprovers: allowed,
    excludedApprovers: excluded,
  });

  it('with a change set that could not be read: no risk and no plan, and who may approve', () => {
    const r = render(release({ changeSetError: 'git diff main..feature: bad revision', pendingApproval: pending([], ['alice@example.com']) }));
    assert.match(r.head, /^\*\*Decision\*\*: ⚠️ ESCALATED TO A HUMAN$/m);
    assert.deepEqual(r.titles, ['PREREQUISITES', 'MONITORING & ALERTS', 'COMMUNICATION PLAN', 'CONTINGENCY PLANS', 'SIGN-OFF']);
    assert.match(r.of('PREREQUISITES'), /\n> Risk cannot be classified: git diff main\.\.feature: bad revision$/);
    assert.equal(
      signOffOf(r),
      lines('- **Awaiting**: the release was escalated to a human; deadline 2026-01-06T12:00:00.000Z', "- **May approve**: a principal of the worker's allowed signers (signature required), except the change's authors (alice@example.com)"),
    );
  });

  it('with an irreversible migration: the escalation in the change summary, what a rollback can and cannot restore, and a sign-off that must acknowledge it', () => {
    const drop = changeSet([{ path: 'db/migrations/0003_drop.sql', status: 'A', insertions: 1, deletions: 0, binary: false, added: ['DROP TABLE legacy;'] }]);
    const r = render(release({ change: drop, pendingApproval: { ...pending(['bob', 'carol'], []), mustAcknowledge: 'irreversible-migration' } }));
    assert.deepEqual(r.titles, ALL);
    assert.match(r.of('CHANGE SUMMARY'), /\n\*\*Escalation\*\*: Irreversible migration without a down migration \(db\/migrations\/0003\\_drop\.sql: DROP TABLE legacy;\): a rollback restores the code, never the data it drops/);
    assert.match(r.of('ROLLOUT STRATEGY'), /^### Selected Strategy: \*\*BLUE-GREEN \+ HUMAN SUPERVISION\*\*$/m);
    const rollback = r.of('ROLLBACK PLAN');
    assert.doesNotMatch(rollback, /no rollback plan possible/i, 'the record never says "no rollback plan" above the plan it shows');
    assert.match(
      rollback,
      /### What a rollback can and cannot restore\n- \*\*Can\*\*: traffic back to v1 and the previous code on every stage changed \(the commands above\)\n- \*\*Cannot\*\*: the data of `db\/migrations\/0003_drop\.sql: DROP TABLE legacy;`\. Once the migration has run, what it drops or deletes is gone, and no rollback brings it back\n- \*\*Before signing off\*\*: take a backup and test its restore\. The sign-off must acknowledge this: `rollgate approve ID --acknowledge irreversible-migration`/,
    );
    assert.equal(
      signOffOf(r),
      lines('- **Awaiting**: the release was escalated to a human; deadline 2026-01-06T12:00:00.000Z; the approval must acknowledge it (--acknowledge irreversible-migration)', '- **May approve**: bob, carol'),
    );
    assert.match(r.of('SIGN-OFF'), /^- \*\*Confidence\*\*: LOW \(an irreversible migration; CRITICAL risk/m);
    const signed = render(release({ change: drop, approvals: [{ kind: 'release', target: 'release', by: 'bob', at: at(1), acknowledged: 'irreversible-migration' }] }));
    assert.match(signed.of('SIGN-OFF'), /^- \*\*Approved by\*\*: bob at .*; acknowledged: a rollback cannot restore the data the irreversible migration drops$/m);
  });
});

describe('the decision record of an approved canary with results and a rollback', () => {
  const config: RollgateConfigInput = {
    stages: { staging: { smokeUrl: 'http://staging.test/health' }, production: { smokeUrl: 'https://prod.test/health' } },
    deploy: { command: ['./deploy.sh', '{stage}', '--version', '{version}', '--key', '{idempotencyKey}'], rollback: ['./rollback.sh', '{stage}', '{version}'], timeout: '10m' },
    canary: { steps: [{ weight: 10, bake: '5m', approval: true }, { weight: 100, bake: '1h' }] },
    analysis: {
      interval: '2m',
      metrics: [
        { name: 'errors', query: 'sum(rate(http_errors_total[1m]))', failureCondition: 'result > 0.05', successCondition: 'result <= 0.01', failureLimit: 1 },
        { name: 'p99', query: 'histogram_quantile(0.99, sum by (le) (rate(latency_bucket[1m])))', failureCondition: 'result > 0.5', interval: '30s', dryRun: true },
      ],
    },
    monitoring: { metrics: [{ name: 'error-rate', query: 'sum(rate(errors[1m]))', alert: 'error rate > 5%' }, { name: 'latency', alert: 'p99 > 500ms' }] },
    notify: { channel: '#releases', onCall: '@oncall-cart' },
    approval: { requiredFor: ['HIGH', 'CRITICAL'] },
  };
  const gates: GateReport = {
    ...passingGates,
    prerequisites: passingGates.prerequisites.map((p) => (p.name === 'security' ? { ...p, detail: 'security-report-20260105-120000.md: CONDITIONAL' } : p)),
    securityConditions: ['Rotate the API key within 7 days'],
  };
  const approvals: Approval[] = [
    { kind: 'release', target: 'release', by: 'bob', at: at(2), reason: 'reviewed' },
    { kind: 'phase', target: 'production-canary-10', phase: 'production-canary-10', by: 'carol', at: at(6) },
  ];
  const steps: StepRecord[] = [
    { name: 'prerequisites', status: 'done', startedAt: at(0), endedAt: at(1) },
    { name: 'staging-deploy: deploy', phase: 'staging-deploy', status: 'done', startedAt: at(3), endedAt: at(4), detail: 'exit 0 | applied' },
    { name: 'production-canary-10: deploy', phase: 'production-canary-10', status: 'done', startedAt: at(7), endedAt: at(8) },
    { name: 'production-canary-10: bake', phase: 'production-canary-10', status: 'failed', startedAt: at(8), endedAt: at(12), detail: 'analysis failed: error-rate failed' },
    { name: 'rollback-production', status: 'running', startedAt: at(13) },
  ];
  const input = release({ gates, change: mediumChange, config, approvals, alertRulesFile: 'release-decision-20260105-120000.alerts.yml', results: { outcome: 'rolled_back', reason: 'analysis failed: error-rate failed', steps, rollbackStartedAt: at(13) } });
  const r = render(input);

  it('has every section, in the spec\'s order, then the results', () => assert.deepEqual(r.titles, [...ALL, 'RESULTS']));

  it('carries the security report\'s conditions under the prerequisites', () => {
    assert.match(r.of('PREREQUISITES'), /\n\n### Security conditions \(carried from the security report\)\n- \[ \] Rotate the API key within 7 days\n\n> All prerequisites passed; MEDIUM risk → canary$/);
  });

  it('the change summary gives files, risk, its evidence, the other signals and the blast radius', () => {
    assert.equal(
      r.of('CHANGE SUMMARY'),
      lines(
        '### Files Modified (1; +12 −3)',
        '- `frontend/cart.py` (+12 −3)',
        '',
        '### Risk Level: **MEDIUM**',
        '**Rationale**:',
        '- Logic changes in 1 file: `frontend/cart.py`',
        '- Tests: 57/57 passing (qa-report-20260105-120000.md)',
        '- Security: security-report-20260105-120000.md: CONDITIONAL',
        '',
        'Other signals considered:',
        '- LOW: 1 file changed (fewer than 5)',
        '- LOW: All tests passing',
        '',
        '### Blast Radius: **SMALL**',
        '**Affected**:',
        '- frontend/',
        '',
        '**NOT affected**:',
        '- auth/',
        '- db/',
      ),
    );
  });

  it('the rollout strategy gives the choice and why not each other one', () => {
    const s = r.of('ROLLOUT STRATEGY');
    assert.match(s, /^### Selected Strategy: \*\*CANARY RELEASE\*\*\n\*\*Rationale\*\*: MEDIUM risk, small blast radius → canary\n/);
    assert.deepEqual([...s.matchAll(/^#### (.+)$/gm)].map((m) => m[1]), ['IMMEDIATE RELEASE', 'FEATURE FLAG + GRADUAL ROLLOUT', 'BLUE-GREEN + HUMAN SUPERVISION']);
    assert.match(s, /#### IMMEDIATE RELEASE\n- \*\*When to use\*\*: .+\n- Not safe enough here: MEDIUM risk needs at least canary/);
  });

  it('the deployment plan shows each step\'s command as it will run, its sign-off, smoke test and watch', () => {
    assert.equal(
      r.of('DEPLOYMENT PLAN'),
      lines(
        ...MERGE_BY_HAND,
        '### Step 2: Deploy to staging',
        '```bash',
        './deploy.sh staging --version v2 --key release-cart-0123456789ab@abcd1234/staging-deploy',
        'curl -f http://staging.test/health || exit 1   # smoke test',
        '```',
        '- Monitor for 15m (a timed wait: no check acts here); watch by hand: error-rate, latency',
        '',
        '### Step 3: Canary: 10% of traffic',
        '- Waits for a human approval before it starts',
        '```bash',
        './deploy.sh production --version v2 --key release-cart-0123456789ab@abcd1234/production-canary-10',
        'curl -f https://prod.test/health || exit 1   # smoke test',
        '```',
        '- Monitor for 5m: rollgate checks errors, rolling back when one fails; watch by hand: error-rate, latency',
        '',
        '### Step 4: Canary: all traffic',
        '```bash',
        './deploy.sh production --version v2 --key release-cart-0123456789ab@abcd1234/production-canary-100',
        'curl -f https://prod.test/health || exit 1   # smoke test',
        '```',
        '- Monitor for 1h: rollgate checks errors, rolling back when one fails; watch by hand: error-rate, latency',
      ),
    );
  });

  it('the rollback plan: the acting checks as its triggers (not the human-watched metrics, not a dry run), the rollback command back to the previous version per stage, its time and its verification, metrics included', () => {
    assert.equal(
      r.of('ROLLBACK PLAN'),
      lines(
        '### Trigger Conditions (Auto-Rollback)',
        '- A deploy step fails or times out',
        '- A smoke test fails after a deploy',
        '- **errors** fails when `result > 0.05`, passes when `result <= 0.01`, inconclusive between: rolls back after 2 failed measurements, measured every 2m during the production bakes',
        '- A check inconclusive past its limit: a human is asked, and without an answer within 1h it rolls back',
        '- The metric source failing past a check\'s consecutive error limit: rolls back',
        '- Not triggers (dry run: measured and reported, never acting): p99',
        '- The release is aborted or cancelled',
        '',
        '### Rollback Method: **ROLLBACK COMMAND**',
        'Run for each stage already changed, the most recent first:',
        '```bash',
        './rollback.sh production v1',
        './rollback.sh staging v1',
        '```',
        '',
        '- A rollback restores what serves traffic, not main: revert the merge of `HEAD` before releasing from main again',
        '',
        "**Estimated rollback time**: not measured: the ledger could not be read",
        '**Worst case**: 1h11m (2 stages × 3 attempts × the 10m command timeout and a minute, then up to 5m of verification; smoke tests on top)',
        '',
        '### Rollback Verification',
        '```bash',
        'curl -f https://prod.test/health',
        'curl -f http://staging.test/health',
        '```',
        '- The checks that broke are measured again for up to 5m; the rollback counts as verified once they are back within their thresholds, else a human is paged',
      ),
    );
  });

  it('monitoring lists the checks rollgate runs with their rules, intervals, limits and dry run, links the alert rules, and sets apart what a human watches', () => {
    assert.equal(
      r.of('MONITORING & ALERTS'),
      lines(
        '### Checks rollgate runs (on every production bake)',
        '1. **errors**',
        '   - Query: `sum(rate(http_errors_total[1m]))`',
        '   - Rule: fails when `result > 0.05`, passes when `result <= 0.01`, inconclusive between',
        '   - Every 2m; limits: 1 failed, 0 inconclusive, 4 consecutive errors; no data counts as inconclusive',
        '2. **p99** (dry run: measured and reported, never acting)',
        '   - Query: `histogram_quantile(0.99, sum by (le) (rate(latency_bucket[1m])))`',
        '   - Rule: fails when `result > 0.5`',
        '   - Every 30s; limits: 0 failed, 0 inconclusive, 4 consecutive errors; no data counts as inconclusive',
        '',
        'Alerting rules for the same conditions: [release-decision-20260105-120000.alerts.yml](release-decision-20260105-120000.alerts.yml)',
        '',
        '### Watched by a human (monitoring.metrics: rollgate neither measures nor acts on these)',
        '1. **error-rate**',
        '   - Query: `sum(rate(errors[1m]))`',
        '   - Alert if: `error rate > 5%`',
        '2. **latency**',
        '   - Alert if: `p99 > 500ms`',
      ),
    );
  });

  it('communication and contingency follow the config', () => {
    assert.equal(
      r.of('COMMUNICATION PLAN'),
      lines(
        '- [ ] Post to #releases before deploying cart v2',
        '- [ ] Post to #releases after the release or rollback',
        '- On-call (@oncall-cart): paged through PagerDuty when a human is needed or a rollback fails, where the worker has ROLLGATE_PAGERDUTY_ROUTING_KEY',
        '- Deployment notes appended to NOTES.md in the out folder after the release or rollback',
      ),
    );
    assert.match(r.of('CONTINGENCY PLANS'), /^2\. @oncall-cart is paged \(PagerDuty, where the worker has the routing key\) and restores by hand$/m);
  });

  it('the sign-off lists who approved what; a phase approval names its phase', () => {
    assert.equal(signOffOf(r), lines(`- **Approved by**: bob at ${at(2)} — reviewed`, `- **Approved by**: carol at ${at(6)} (phase production-canary-10)`));
  });

  it('the sign-off lists the overrides of a window or a freeze, with who, whether verified, what and why, escaped', () => {
    const overrides = [
      { by: 'oncall', verified: true, at: at(3), reason: 'security fix *now*', broke: 'freeze F4', freezes: ['F4'] },
      { by: 'sre', verified: false, at: at(4), reason: 'hotfix', broke: 'the deployment window closed until 2026-01-05T13:00:00.000Z', windowUntil: '2026-01-05T13:00:00.000Z' },
    ];
    const s = render({ ...input, overrides }).of('SIGN-OFF');
    assert.match(s, new RegExp(`^- \\*\\*Overridden by\\*\\*: oncall \\(signature verified\\) at ${at(3).replace(/\./g, '\\.')}: broke freeze F4 — security fix \\\\\\*now\\\\\\*$`, 'm'));
    assert.match(s, /^- \*\*Overridden by\*\*: sre \(unverified: a name as typed\) at \S+: broke the deployment window closed until 2026-01-05T13:00:00\.000Z — hotfix$/m);
  });

  it('the sign-off gives the deployment window from the sign-off on, the on-call engineer, the confidence with its rule, and the recommendation', () => {
    const planned = render({ ...input, results: undefined }).of('SIGN-OFF');
    // 15m staging + 5m + 1h of canary bakes, from bob's sign-off at 12:02.
    assert.match(planned, /^- \*\*Deployment window\*\*: 2026-01-05 12:02 UTC – 2026-01-05 13:22 UTC at the earliest \(1h20m of bakes and holds; each sign-off wait comes on top\)$/m);
    assert.match(planned, /^- \*\*Recommendation\*\*: ✅ PROCEED WITH DEPLOYMENT$/m);
    // Once it has ended: when it really ran, and how it ended.
    const s = r.of('SIGN-OFF');
    assert.match(s, /^- \*\*Deployment window\*\*: ran 2026-01-05T12:00:00\.000Z – 2026-01-05T12:13:00\.000Z$/m);
    assert.match(s, /^- \*\*Recommendation\*\*: ↩️ ROLLED BACK: do not release this version again before the cause is fixed$/m);
    assert.match(s, /^- \*\*On-call engineer\*\*: @oncall-cart; paged through PagerDuty on a failed rollback and whenever a human is needed, where the worker has ROLLGATE_PAGERDUTY_ROUTING_KEY$/m);
    assert.match(s, /^- \*\*Confidence\*\*: MEDIUM \(security passed with 1 condition\)$/m);
    assert.match(s, /^- \*\*How confidence is set\*\*: HIGH with no doubt below; MEDIUM with one; LOW with two or more/m);
    const unsigned = render({ ...input, approvals: [], results: undefined }).of('SIGN-OFF');
    assert.match(unsigned, /^- \*\*Deployment window\*\*: 2026-01-05 12:00 UTC – /m, 'from the start while no one has signed off');
  });

  it('the rollback estimate: the median of this service\'s measured rollbacks, the worst case apart', () => {
    const measured = render({ ...input, restoreHistory: { medianSeconds: 95, samples: 3, days: 90 } }).of('ROLLBACK PLAN');
    assert.match(measured, /^\*\*Estimated rollback time\*\*: median 1m35s, measured over 3 rollbacks of cart in the ledger's last 90 days$/m);
    assert.match(measured, /^\*\*Worst case\*\*: 1h11m /m);
    const none = render({ ...input, restoreHistory: { medianSeconds: null, samples: 0, days: 90 } }).of('ROLLBACK PLAN');
    assert.match(none, /^\*\*Estimated rollback time\*\*: not measured yet: no rollback of cart in the ledger's last 90 days$/m);
  });

  it('the results: outcome and reason, the rollback still running, the timeline with its approver, every step with pipes kept inside their cell', () => {
    assert.equal(
      r.of('RESULTS'),
      lines(
        '**Outcome**: rolled_back — analysis failed: error-rate failed',
        `**Rollback**: ${at(13)} → (not finished)`,
        '',
        '### Timeline',
        '',
        '| phase | started | ended | approved by |',
        '|---|---|---|---|',
        `| staging-deploy | ${at(3)} | ${at(4)} |  |`,
        `| production-canary-10 | ${at(7)} | ${at(12)} | carol |`,
        '',
        '### Steps',
        '',
        '| step | status | started | ended | detail |',
        '|---|---|---|---|---|',
        `| prerequisites | done | ${at(0)} | ${at(1)} |  |`,
        `| staging-deploy: deploy | done | ${at(3)} | ${at(4)} | exit 0 \\| applied |`,
        `| production-canary-10: deploy | done | ${at(7)} | ${at(8)} |  |`,
        `| production-canary-10: bake | failed | ${at(8)} | ${at(12)} | analysis failed: error-rate failed |`,
        `| rollback-production | running | ${at(13)} |  |  |`,
      ),
    );
    const ended = render({ ...input, results: { ...input.results!, rollbackEndedAt: at(14) } });
    assert.match(ended.of('RESULTS'), new RegExp(`^\\*\\*Rollback\\*\\*: ${at(13)} → ${at(14)}$`, 'm'));
  });
});

describe('the decision record with the default config', () => {
  const r = render(release());

  it('says what is not configured rather than leaving it out', () => {
    assert.equal(r.of('MONITORING & ALERTS'), lines('### Checks rollgate runs (on every production bake)', '- None configured (analysis.metrics): bakes are timed waits without metric analysis'));
    assert.match(r.of('ROLLBACK PLAN'), /\n- No metric check acts on this release \(analysis\.metrics\): the bakes are timed waits\n/);
    assert.match(r.of('COMMUNICATION PLAN'), /^- No channel configured \(notify\.channel\)\n- On-call \(notify\.onCall not named\): paged through PagerDuty/);
    assert.match(r.of('CONTINGENCY PLANS'), /^2\. The on-call engineer \(notify\.onCall is not configured\) is paged/m);
    assert.match(r.of('ROLLBACK PLAN'), /### Rollback Verification\n- No smoke URL configured \(stages\.\*\.smokeUrl\): each stage is verified by its command exit status only$/);
    assert.equal(signOffOf(r), '- Not required: LOW risk is not in approval.requiredFor (CRITICAL)');
    assert.match(r.of('SIGN-OFF'), /^- \*\*On-call engineer\*\*: not named \(notify\.onCall\)/m);
    assert.match(r.of('SIGN-OFF'), /^- \*\*Confidence\*\*: LOW \(no metric check acts on the production bakes; no smoke URL: stages are verified by their command exit status only\)$/m);
  });

  it('rolls back by redeploying the previous version with the deploy command, no smoke trigger', () => {
    const s = r.of('ROLLBACK PLAN');
    assert.match(s, /### Rollback Method: \*\*REDEPLOY PREVIOUS VERSION\*\*\nRun for each stage already changed, the most recent first:\n```bash\n\.\/deploy\.sh production\n\.\/deploy\.sh staging\n```/);
    assert.ok(!s.includes('A smoke test fails'));
    assert.match(s, /\*\*Worst case\*\*: 1h36m \(2 stages × 3 attempts × the 15m command timeout and a minute; smoke tests on top\)/);
  });

  it('lists at most 50 files, binary ones as such, and counts the rest', () => {
    const files = Array.from({ length: 53 }, (_, i) => ({ path: `web/f${i}.ts`, status: 'M', insertions: i % 3, deletions: i % 3 === 2 ? 0 : i % 3, binary: i === 3 }));
    const s = render(release({ change: changeSet(files) })).of('CHANGE SUMMARY');
    const listed = s.split('\n').filter((l) => l.startsWith('- `'));
    assert.equal(listed.length, 50);
    assert.deepEqual(listed.slice(0, 4), ['- `web/f0.ts` (0 lines)', '- `web/f1.ts` (1 line)', '- `web/f2.ts` (+2 −0)', '- `web/f3.ts` (binary)']);
    assert.match(s, /\n- … and 3 more\n/);
  });

  it('a release approved though not required says who, and no "not required" line', () => {
    const s = signOffOf(render(release({ approvals: [{ kind: 'release', target: 'release', by: 'bob', at: at(1) }] })));
    assert.equal(s, `- **Approved by**: bob at ${at(1)}`);
  });
});

describe('the decision record of a blue-green release', () => {
  const r = render(release({ change: criticalChange, config: { blueGreen: { rollbackWindow: '2h' } } }));

  it('waits for the switch\'s sign-off and keeps blue for the rollback window', () => {
    const s = r.of('DEPLOYMENT PLAN');
    assert.match(s, /### Step 4: Switch traffic to green\n- Waits for a human approval before it starts\n```bash\n\.\/deploy\.sh production\n```\n- Monitor for 1h \(a timed wait: no check acts here\)\n/);
    assert.match(s, /### Step 5: Retire blue after the 2h rollback window\n- Waits 2h with blue kept for rollback\n```bash\n\.\/deploy\.sh production-blue\n```$/);
  });

  it('rolls back the switch, then green, then staging: three stages, blue never retired', () => {
    const s = r.of('ROLLBACK PLAN');
    assert.match(s, /```bash\n\.\/deploy\.sh production\n\.\/deploy\.sh production-green\n\.\/deploy\.sh staging\n```/);
    assert.match(s, /\*\*Worst case\*\*: 2h24m \(3 stages × 3 attempts × the 15m command timeout and a minute; smoke tests on top\)/);
  });

  it('needs the sign-off of a CRITICAL release', () => {
    assert.equal(signOffOf(r), '', 'required, so no "not required" line; nobody has approved yet');
    assert.match(r.of('SIGN-OFF'), /^- \*\*Recommendation\*\*: ⏳ PROCEED AFTER SIGN-OFF$/m);
  });
});

describe('the decision record: the merge to main and green\'s own smoke test', () => {
  it('with deploy.merge, the merge is the plan\'s first step, through the deploy command with the judged commit', () => {
    const commit = 'c'.repeat(40);
    const r = render(release({ commit, baseBranch: 'trunk', config: { deploy: { merge: true, command: ['./deploy.sh', '{action}', '{stage}', '{commit}'] } } }));
    assert.match(r.of('DEPLOYMENT PLAN'), new RegExp(`^### Step 1: Merge to main\\n\`\`\`bash\\n\\./deploy\\.sh merge main ${commit}\\n\`\`\`\\n\\n### Step 2: Deploy to staging`));
    // Undone last: left on main, the next release would ship the change unjudged.
    assert.match(r.of('ROLLBACK PLAN'), new RegExp(`\\./deploy\\.sh rollback staging ${commit}\\n\\./deploy\\.sh rollback main ${commit}\\n`));
    assert.match(r.of('ROLLBACK PLAN'), new RegExp(`The merge to main is undone last, by the same command with stage \`main\` \\(a revert of \`${commit}\`\\)`));
  });

  it('without it, the merge is shown for CI or a person, into the base branch, of the judged commit', () => {
    const r = render(release({ commit: 'd'.repeat(40), baseBranch: 'trunk' }));
    assert.match(r.of('DEPLOYMENT PLAN'), new RegExp(`^### Step 1: Merge to main \\(by your CI or by hand: rollgate runs it only with deploy\\.merge\\)\\n\`\`\`bash\\ngit checkout trunk\\ngit merge --no-ff ${'d'.repeat(40)}\\ngit push origin trunk\\n\`\`\``));
  });

  it('blue-green tests green at its own URL before the switch, and says so when it cannot', () => {
    const urls = { stages: { production: { smokeUrl: 'https://prod.test/health' } } };
    const tested = render(release({ change: criticalChange, config: { ...urls, blueGreen: { greenSmokeUrl: 'http://green.internal:8080/health' } } })).of('DEPLOYMENT PLAN');
    assert.match(tested, /### Step 3: Deploy green \(no traffic\)\n```bash\n\.\/deploy\.sh production-green\ncurl -f http:\/\/green\.internal:8080\/health \|\| exit 1 {3}# smoke test\n```/);
    const untested = render(release({ change: criticalChange, config: urls })).of('DEPLOYMENT PLAN');
    assert.match(untested, /### Step 3: Deploy green \(no traffic\)\n```bash\n\.\/deploy\.sh production-green\n```\n- Green is not tested before the switch: set blueGreen\.greenSmokeUrl to where green answers/);
    assert.ok(!untested.split('### Step 4')[0]!.includes('prod.test'), 'the production URL, which still serves blue, is not green\'s test');
  });
});

describe('the decision record of a feature-flag release', () => {
  const deploy = { command: ['./deploy.sh', '{action}', '{stage}', '{weight}'], rollback: ['./rollback.sh', '{stage}'] };

  it('through the deploy command: each step enables the flag for its share; rolled back by redeploying until a flag is on, then by turning it off', () => {
    const r = render(release({ change: highChange, config: { deploy } }));
    assert.match(r.of('DEPLOYMENT PLAN'), /### Step 4: Flag on for 5% of users\n```bash\n\.\/deploy\.sh enable-flag production 5\n```\n- Monitor for 30m \(a timed wait: no check acts here\)\n/);
    assert.equal(
      r.of('ROLLBACK PLAN').split('### Rollback Method')[1],
      lines(
        ': **ROLLBACK COMMAND**',
        'Run for each stage already changed, the most recent first:',
        '```bash',
        './rollback.sh production',
        './rollback.sh staging',
        '```',
        'Once a flag is on, it is turned off instead, and nothing is redeployed:',
        '```bash',
        './deploy.sh disable-flag production 0',
        '```',
        '',
        '- A rollback restores what serves traffic, not main: revert the merge of `HEAD` before releasing from main again',
        '',
        '**Estimated rollback time**: not measured: the ledger could not be read',
        '**Worst case**: 1h36m (2 stages × 3 attempts × the 15m command timeout and a minute; smoke tests on top)',
        '',
        '### Rollback Verification',
        '- No smoke URL configured (stages.*.smokeUrl): each stage is verified by its command exit status only',
      ),
    );
  });

  it('through flagd: the worker writes the flag file, so no command is shown for the flag steps or for turning it off', () => {
    const r = render(release({ change: highChange, config: { deploy, featureFlag: { provider: 'flagd', flag: 'one-click', file: 'flags/flags.json' } } }));
    const plan = r.of('DEPLOYMENT PLAN');
    assert.match(plan, /### Step 3: Deploy to production with the flag off\n```bash\n\.\/deploy\.sh deploy production 0\n```\n/);
    assert.match(plan, /### Step 4: Flag on for 5% of users\n- flagd: `one-click` on for 5% of users in `flags\/flags\.json`\n- Monitor for 30m \(a timed wait: no check acts here\)\n/);
    assert.ok(!plan.includes('enable-flag'), plan);
    assert.match(r.of('ROLLBACK PLAN'), /\n```\nOnce a flag is on, it is turned off instead, and nothing is redeployed:\n- flagd: `one-click` off in `flags\/flags\.json`\n\n- A rollback restores what serves traffic, not main/);
  });
});

describe('the decision record of a release with deployment windows', () => {
  it('lists them above the steps, each with its duration and zone', () => {
    const windows = { timeZone: 'Europe/Berlin', allow: [{ rrule: 'FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=9', duration: '8h' }], deny: [{ cron: '0 17 * * FRI', duration: '64h', timeZone: 'UTC' }] };
    const plan = render(release({ change: mediumChange, config: { windows } })).of('DEPLOYMENT PLAN');
    assert.ok(
      plan.startsWith(
        lines(
          '### Deployment windows (a phase starts only inside them; outside, the release waits at the phase boundary, its live phase watched)',
          '- Allowed: `RRULE FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=9` for 8h (Europe/Berlin)',
          '- Denied: `cron 0 17 * * FRI` for 2d16h (UTC)',
        ),
      ),
      plan,
    );
    assert.doesNotMatch(render(release({ change: mediumChange })).of('DEPLOYMENT PLAN'), /Deployment windows/);
  });
});

describe('the decision record of a release with a judge', () => {
  const judge = { name: 'errors-judge', query: 'sum(increase(errors{{{selector}}}[{{sincePhase}}]))', judge: { trials: 'sum(increase(requests{{{selector}}}[{{sincePhase}}]))', minEffect: 0.1 } };
  const r = render(release({ change: mediumChange, config: { analysis: { metrics: [judge] } } }));

  it('says what the judge compares, its tolerance and α, when it is inconclusive, and where it judges', () => {
    const rule = "fails when the sequential judge finds the canary's rate of these events more than 10% above stable's (counts since the phase started; in each judged phase, at most a 1% chance of ever flagging a canary within that of stable); too little traffic by the bake's end (under 20 events on both tracks together, or 500 canary requests) is inconclusive; it judges only phases where canary and stable both take traffic";
    assert.ok(r.of('MONITORING & ALERTS').includes(`   - Rule: ${rule}`), r.of('MONITORING & ALERTS'));
    assert.ok(r.of('ROLLBACK PLAN').includes(`- **errors-judge** ${rule}: rolls back after 1 flagged reading, measured every`), r.of('ROLLBACK PLAN'));
    assert.doesNotMatch(r.of('MONITORING & ALERTS') + r.of('ROLLBACK PLAN'), /undefined/);
  });
});

describe('the decision record of analysed phases', () => {
  const metric = MetricSchema.parse({ name: 'error-rate', query: 'sum(errors)', successCondition: 'result <= 0.05', failureCondition: 'result > 0.05' });
  const measured = (state: MetricState, phase: string, minute: number, verdict: 'successful' | 'failed' | 'no-data', value?: number): MetricState =>
    record(metric, state, { metric: state.metric, phase, seq: state.measured + 1, at: at(minute), verdict, ...(value === undefined ? {} : { value }) }, 60_000);
  const start = (name: string) => ({ ...initialState(metric, 0), metric: name });
  const canary10 = measured(measured(start('error-rate'), 'production-canary-10', 5, 'successful', 0.01), 'production-canary-10', 6, 'successful', 0.02);
  const latency = start('latency');
  const canary100 = measured(start('error-rate'), 'production-canary-100', 9, 'failed', 0.2);
  const silent = measured(start('orders'), 'production-canary-100', 10, 'no-data');
  const results = (extra: Partial<NonNullable<RecordInput['results']>> = {}): NonNullable<RecordInput['results']> => ({
    outcome: 'rolled_back',
    steps: [],
    analysed: [
      { phase: 'production-canary-10', verdict: 'running', metrics: [canary10, latency] },
      { phase: 'production-canary-100', verdict: 'failed', metrics: [canary100, silent] },
    ],
    ...extra,
  });

  it('follows the results with the baseline, where every measurement is, the charts and one row per phase and metric', () => {
    const md = renderDecisionRecord(
      release({ change: mediumChange, results: results({ baseline: { 'error-rate': 0.012, latency: 0.3 }, measurementsFile: 'analysis/release-cart-0123456789ab@abcd1234.jsonl', charts: [{ metric: 'error-rate', file: 'release-decision-20260105-120000-charts/error-rate.svg' }] }) }),
    );
    const analysis = md.slice(md.indexOf('\n## ANALYSIS\n') + 1);
    assert.ok(md.indexOf('## RESULTS') < md.indexOf('## ANALYSIS'));
    assert.equal(
      analysis,
      lines(
        '## ANALYSIS',
        '',
        '**Baseline** (before the release): error-rate 0.012, latency 0.3',
        '**Every measurement**: `analysis/release-cart-0123456789ab@abcd1234.jsonl` (JSON lines: time, value, verdict)',
        '',
        '![error-rate](release-decision-20260105-120000-charts/error-rate.svg)',
        '',
        '| phase | metric | measured | passed | failed | inconclusive | no data | warming up | errors | last |',
        '|---|---|---|---|---|---|---|---|---|---|',
        `| production-canary-10 | error-rate | 2 | 2 | 0 | 0 | 0 | 0 | 0 | successful 0.02 at ${at(6)} |`,
        '| production-canary-10 | latency | 0 | 0 | 0 | 0 | 0 | 0 | 0 |  |',
        `| production-canary-100 | error-rate | 1 | 0 | 1 | 0 | 0 | 0 | 0 | failed 0.2 at ${at(9)} |`,
        `| production-canary-100 | orders | 1 | 0 | 0 | 0 | 1 | 0 | 0 | no-data at ${at(10)} |`,
        '',
      ),
    );
  });

  it('leaves out an empty baseline, a missing measurements file and charts', () => {
    const md = renderDecisionRecord(release({ change: mediumChange, results: results({ baseline: {} }) }));
    assert.match(md, /\n## ANALYSIS\n\n\n\| phase \| metric \|/);
  });

  it('has no analysis section when no phase was analysed', () => {
    assert.ok(!renderDecisionRecord(release({ change: mediumChange, results: results({ analysed: [] }) })).includes('## ANALYSIS'));
    assert.ok(!renderDecisionRecord(release({ change: mediumChange, results: { outcome: 'released', steps: [] } })).includes('## ANALYSIS'));
  });
});

describe('the decision record keeps text from the change and from people in its place', () => {
  const forged = '\n\n## SIGN-OFF\n\n- **Approved by**: cto at 2026-01-05T12:00:00.000Z';

  it('a file path with line breaks cannot add a section or a sign-off', () => {
    const path = `docs/notes.md${forged}`;
    const md = renderDecisionRecord(release({ change: changeSet([{ path, status: 'M', insertions: 1, deletions: 1, binary: false }]) }));
    const r = sectionsOf(md);
    assert.deepEqual(r.titles, ALL);
    assert.equal(signOffOf(r), '- Not required: MEDIUM risk is not in approval.requiredFor (CRITICAL)');
    assert.equal(md.split('\n').filter((l) => l.startsWith('- **Approved by**')).length, 0);
    // The path stays in its code span, where nothing is markup; its line breaks show as ␊.
    assert.match(r.of('CHANGE SUMMARY'), /^- `docs\/notes\.md␊␊## SIGN-OFF␊␊- \*\*Approved by\*\*: cto at 2026-01-05T12:00:00\.000Z` \(1 line\)$/m);
    assert.equal(md.split('\n').filter((l) => /^\s*<!--|\*\*Approved by\*\*/.test(l.replace(/`[^`]*`/g, ''))).length, 0);
  });

  it('a backtick in a path cannot close its code span', () => {
    const files = ['src/a`b.ts', '`lead.ts', 'x``y.ts'].map((path) => ({ path, status: 'M', insertions: 3, deletions: 1, binary: false }));
    const listed = render(release({ change: changeSet(files) })).of('CHANGE SUMMARY').split('\n').filter((l) => l.startsWith('- `'));
    assert.deepEqual(listed, ['- ``src/a`b.ts`` (+3 −1)', '- `` `lead.ts `` (+3 −1)', '- ```x``y.ts``` (+3 −1)']);
  });

  it('says whether each approver was verified by a signature or is a name as typed', () => {
    const r = render(
      release({
        approvals: [
          { kind: 'release', target: 'release', by: 'bob@example.com', verified: true, at: at(1) },
          { kind: 'phase', target: 'production-deploy', phase: 'production-deploy', by: 'carol', verified: false, at: at(2) },
        ],
      }),
    );
    assert.equal(signOffOf(r), [`- **Approved by**: bob@example.com (signature verified) at ${at(1)}`, `- **Approved by**: carol (unverified: a name as typed) at ${at(2)} (phase production-deploy)`].join('\n'));
  });

  it('reasons and names typed by people stay on their line and in their cell, as text', () => {
    const r = render(
      release({
        approvals: [{ kind: 'phase', target: 'production-deploy', phase: 'production-deploy', by: 'eve | mallory', at: at(1), reason: `fine${forged}` }],
        results: { outcome: 'rolled_back', reason: `aborted by eve: wrong build${forged}`, steps: [{ name: 'production-deploy: deploy', phase: 'production-deploy', status: 'failed', startedAt: at(1), endedAt: at(2), detail: `exit 1${forged}` }] },
      }),
    );
    assert.deepEqual(r.titles, [...ALL, 'RESULTS']);
    const escaped = '␊␊## SIGN-OFF␊␊- \\*\\*Approved by\\*\\*: cto at 2026-01-05T12:00:00.000Z';
    assert.equal(signOffOf(r), `- **Approved by**: eve \\| mallory at ${at(1)} (phase production-deploy) — fine${escaped}`);
    const results = r.of('RESULTS');
    assert.ok(results.split('\n').includes(`**Outcome**: rolled_back — aborted by eve: wrong build${escaped}`));
    assert.ok(results.split('\n').includes(`| production-deploy | ${at(1)} | ${at(2)} | eve \\| mallory |`));
    assert.ok(results.split('\n').includes(`| production-deploy: deploy | failed | ${at(1)} | ${at(2)} | exit 1${escaped} |`));
  });
});

describe('escaping a value for the record', () => {
  it('text: HTML as entities, markdown specials escaped, control characters visible', () => {
    assert.equal(text('<!-- x --> & y'), '&lt;!-- x --&gt; &amp; y');
    assert.equal(text('a*b_c`d[e](f)|g~h$i\\j'), 'a\\*b\\_c\\`d\\[e\\](f)\\|g\\~h\\$i\\\\j');
    assert.equal(text('fine\n- **Approved by**: cto'), 'fine␊- \\*\\*Approved by\\*\\*: cto');
    assert.equal(text('plain words, v1.2.3 (ok) #1 @bob'), 'plain words, v1.2.3 (ok) #1 @bob');
  });

  it('visible: C0 controls as control pictures, other invisible controls by code point', () => {
    assert.equal(visible('a\r\nb\tc\u001b[2Jd\u007f'), 'a␍␊b␉c␛[2Jd␡');
    assert.equal(visible('x\u202Ey\u2028z\u0085'), 'x⟨U+202E⟩y⟨U+2028⟩z⟨U+0085⟩');
    assert.equal(visible('⚠️ 👩‍💻'), '⚠️ 👩‍💻', 'emoji and their joiners are kept');
  });

  it('prose: rollgate\'s own code spans stay code, the rest is text, however a value places backticks', () => {
    assert.equal(prose('Logic changes in 2 files: `a_b.py`, `c<d>.py`'), 'Logic changes in 2 files: `a_b.py`, `c<d>.py`');
    assert.equal(prose('Data migration: `x` <!--`'), 'Data migration: `x` &lt;!--\\`');
    assert.equal(code('a\nb'), '`a␊b`');
  });
});
