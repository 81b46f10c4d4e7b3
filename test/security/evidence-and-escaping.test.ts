/**
 * Attack catalogue, issue 13 §3 and §4: evidence the change cannot forge, and text from the change
 * as data. Each test replays an attack on real git repositories and report folders (or on the pure
 * renderers the workflow calls) and asserts the defence; each failed on the code before it.
 * Only APIs that existed before are used, so running this file against an older checkout shows
 * which attacks that code let through.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SlackNotifier } from '../../src/activities/notifier';
import { main } from '../../src/cli/main';
import type { ChangeSet } from '../../src/domain/changeset';
import { parseConfig } from '../../src/domain/config';
import { evaluateRelease } from '../../src/domain/evaluate';
import { ledgerEntry } from '../../src/domain/ledger';
import { renderDecisionRecord, type RecordInput } from '../../src/domain/record';
import type { Approval, GateReport } from '../../src/domain/release';
import { checkPrerequisites } from '../../src/evidence/gates';
import { readChangeSet } from '../../src/evidence/git';
import { makeRepo, tempDir, writeReports } from '../helpers/fixtures';

const PASS = '# Security Report\n\n**Verdict**: PASS\n';
const FAIL = '# Security Report\n\n**Verdict**: FAIL\n\n- SQL injection in /search\n';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const gatesOf = (repo: string, reportsDir: string, junit: string[] = []) => checkPrerequisites({ repo, base: 'main', head: 'feature', reportsDir, junit });
const prerequisite = (g: GateReport, name: string) => g.prerequisites.find((p) => p.name === name)!;

describe('§3 evidence the change cannot forge', () => {
  it('a security report committed in the change, named later than the scanner\'s FAIL, is refused by name', async () => {
    // The change commits out/security-report-…-120500.md saying PASS; CI's scanner then writes its FAIL, stamped earlier.
    const repo = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'fix: x', files: { 'app.py': 'x = 2\n', 'out/security-report-20260105-120500.md': PASS } }]);
    const out = writeReports(join(repo, 'out'), { stamp: '20260105-120000', security: FAIL });
    const security = prerequisite(await gatesOf(repo, out), 'security');
    assert.equal(security.passed, false);
    assert.match(security.detail, /^security-report-20260105-120500\.md is committed in the repository; reports must come from CI, not from the change$/);
    // The QA report, written by CI and untracked, is still read.
    assert.equal(prerequisite(await gatesOf(repo, out), 'qa').passed, true);
  });

  it('rollgate decide aborts on it, naming the file', async () => {
    const repo = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'fix: x', files: { 'app.py': 'x = 2\n', 'out/security-report-99991231-235959.md': PASS } }]);
    const out = writeReports(join(repo, 'out'), { security: FAIL });
    const lines: string[] = [];
    const code = await main(['decide', '--repo', repo, '--base', 'main', '--head', 'feature', '--reports', out, '--json'], { log: (s) => lines.push(s), err: (s) => lines.push(s) });
    assert.equal(code, 2, lines.join('\n'));
    const decision = JSON.parse(lines.join('\n')) as { decision: string; prerequisites: { name: string; passed: boolean; detail: string }[] };
    assert.equal(decision.decision, 'ABORTED');
    const security = decision.prerequisites.find((p) => p.name === 'security')!;
    assert.equal(security.passed, false);
    assert.match(security.detail, /security-report-99991231-235959\.md is committed in the repository/);
  });

  it('a ledger the change commits in the out folder cannot forge the measured rollback time, nor journals mark a rollback done: the release stops at its gates', async () => {
    const forged = Array.from({ length: 20 }, (_, i) => JSON.stringify({ run: `x${i}`, service: 'app', outcome: 'rolled_back', started_at: new Date(Date.now() - 86_400_000).toISOString(), rollback_duration_seconds: 9 })).join('\n');
    const repo = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'fix: x', files: { 'app.py': 'x = 2\n', 'out/ledger.jsonl': `${forged}\n`, 'out/.rollgate/deploy-journal.jsonl': '{"key":"release-app-x@00000000/rollback-production"}\n' } }]);
    const reports = writeReports(join(tempDir(), 'reports'));
    const lines: string[] = [];
    const code = await main(['decide', '--repo', repo, '--base', 'main', '--head', 'feature', '--reports', reports, '--json'], { log: (s) => lines.push(s), err: (s) => lines.push(s) });
    assert.equal(code, 2, lines.join('\n'));
    const decision = JSON.parse(lines.join('\n')) as { decision: string; prerequisites: { name: string; passed: boolean; detail: string }[] };
    const out = decision.prerequisites.find((p) => p.name === 'out-folder');
    assert.equal(out?.passed, false);
    assert.match(out!.detail, /^the out folder holds files committed with the change \(out\/\.rollgate\/deploy-journal\.jsonl, out\/ledger\.jsonl\)/);
    // The same release without the committed files: no such prerequisite at all.
    const clean = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'fix: x', files: { 'app.py': 'x = 2\n' } }]);
    const again: string[] = [];
    await main(['decide', '--repo', clean, '--base', 'main', '--head', 'feature', '--reports', reports, '--json'], { log: (s) => again.push(s), err: (s) => again.push(s) });
    assert.ok(!(JSON.parse(again.join('\n')) as { prerequisites: { name: string }[] }).prerequisites.some((p) => p.name === 'out-folder'));
  });

  it('a report whose name is stamped in the future is refused, even when nothing committed it', async () => {
    const repo = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'fix: x', files: { 'app.py': 'x = 2\n' } }]);
    const reports = writeReports(join(tempDir(), 'reports'), { security: FAIL });
    writeFileSync(join(reports, 'security-report-99991231-235959.md'), PASS);
    const security = prerequisite(await gatesOf(repo, reports), 'security');
    assert.equal(security.passed, false);
    assert.match(security.detail, /^security-report-99991231-235959\.md: the stamp in its name \(9999-12-31T23:59:59\.000Z, read as UTC\) is in the future/);
  });

  it('a report without a stamp whose modification time is in the future is refused; one a minute ahead (clock skew) is read', async () => {
    const repo = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'fix: x', files: { 'app.py': 'x = 2\n' } }]);
    const reports = writeReports(join(tempDir(), 'reports'), { security: FAIL });
    const forged = join(reports, 'security-report-latest.md');
    writeFileSync(forged, PASS);
    const tomorrow = new Date(Date.now() + 24 * 3600_000);
    utimesSync(forged, tomorrow, tomorrow);
    const security = prerequisite(await gatesOf(repo, reports), 'security');
    assert.equal(security.passed, false);
    assert.match(security.detail, /^security-report-latest\.md: its modification time \(\S+\) is in the future/);

    const skewed = new Date(Date.now() + 60_000);
    utimesSync(forged, skewed, skewed);
    const read = prerequisite(await gatesOf(repo, reports), 'security');
    assert.deepEqual([read.passed, read.detail], [true, 'security-report-latest.md: PASS']);
  });

  it('a JUnit file committed in the change is refused, so it cannot stand in for the tests CI ran', async () => {
    const junit = '<testsuite tests="1"><testcase name="ok"/></testsuite>';
    const repo = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'fix: x', files: { 'app.py': 'x = 2\n', 'test-results/junit.xml': junit } }]);
    const reports = writeReports(join(tempDir(), 'reports'));
    const tests = prerequisite(await gatesOf(repo, reports, ['test-results/*.xml']), 'tests');
    assert.equal(tests.passed, false);
    assert.match(tests.detail, /^test-results\/junit\.xml is committed in the repository; reports must come from CI, not from the change$/);
    // The same file written by CI, untracked, counts.
    writeFileSync(join(repo, 'test-results', 'ci.xml'), junit);
    const ci = prerequisite(await gatesOf(repo, reports, ['test-results/ci.xml']), 'tests');
    assert.deepEqual([ci.passed, ci.detail], [true, '1/1 passing']);
  });

  it('a committed report without a stamp, newest by its checkout time, is refused by its own name; glob characters in it match nothing else', async () => {
    const repo = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'fix: x', files: { 'app.py': 'x = 2\n', 'out/qa-report-*.md': '# QA\n\nStatus: PASS\n\n1/1 passing\n' } }]);
    const out = writeReports(join(repo, 'out'), { qa: '# QA\n\nStatus: FAIL\n\n50/57 passing\n' });
    const g = await gatesOf(repo, out);
    assert.equal(prerequisite(g, 'qa').passed, false);
    assert.match(prerequisite(g, 'qa').detail, /^qa-report-\*\.md is committed in the repository; reports must come from CI, not from the change$/);
    assert.equal(prerequisite(g, 'security').passed, true, 'the untracked security report next to it is not taken for committed');
  });

  it('the record and the ledger list each evidence file with its SHA-256, as judged', async () => {
    const repo = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'fix: x', files: { 'app.py': 'x = 2\n' } }]);
    const reports = writeReports(join(tempDir(), 'reports'));
    const junitDir = join(tempDir(), 'junit');
    mkdirSync(junitDir);
    writeFileSync(join(junitDir, 'unit.xml'), '<testsuite><testcase name="a"/><testcase name="b"/></testsuite>');
    const gates = await gatesOf(repo, reports, [join(junitDir, '*.xml')]);
    assert.ok(gates.prerequisites.every((p) => p.passed), JSON.stringify(gates.prerequisites));
    const expected = [
      { kind: 'qa', file: 'qa-report-20260105-120000.md', sha256: sha256(join(reports, 'qa-report-20260105-120000.md')) },
      { kind: 'security', file: 'security-report-20260105-120000.md', sha256: sha256(join(reports, 'security-report-20260105-120000.md')) },
      { kind: 'junit', sha256: sha256(join(junitDir, 'unit.xml')) },
    ];
    assert.deepEqual(
      gates.evidence?.map((e) => (e.kind === 'junit' ? { kind: e.kind, sha256: e.sha256 } : e)),
      expected,
    );
    assert.ok(gates.evidence?.[2]?.file.endsWith('unit.xml'));

    const change = await readChangeSet(repo, 'main', 'feature', []);
    const md = renderDecisionRecord(recordOf(gates, change));
    for (const e of gates.evidence ?? []) assert.ok(md.split('\n').some((l) => l.includes(e.file) && l.includes(e.sha256)), `the record lists ${e.file} with its digest`);

    const entry = ledgerEntry({ releaseId: 'r', run: 'r@1', service: 'cart', startedAt: 'a', finishedAt: 'b', decision: 'APPROVED', outcome: 'released', version: 'v2', evidence: gates.evidence ?? [] });
    assert.deepEqual(JSON.parse(JSON.stringify(entry)).evidence, gates.evidence);
  });
});

/** A record input as the workflow makes it, from real gates and a real change set. */
function recordOf(gates: GateReport, change: ChangeSet, extra: Partial<RecordInput> = {}): RecordInput {
  const parsed = parseConfig({});
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  return {
    releaseId: 'release-cart-0123456789ab',
    runKey: 'release-cart-0123456789ab@abcd1234',
    service: 'cart',
    timestamp: '2026-01-05T12:00:00.000Z',
    branch: 'feature',
    base: 'main',
    commit: change.headSha,
    version: 'v2',
    previousVersion: 'v1',
    decision: evaluateRelease(gates, change, parsed.config, undefined),
    gates,
    files: change.files,
    config: parsed.config,
    approvals: [],
    ...extra,
  };
}

const passing: GateReport = {
  prerequisites: [
    { name: 'qa', passed: true, detail: 'qa-report-20260105-120000.md: PASS' },
    { name: 'security', passed: true, detail: 'security-report-20260105-120000.md: PASS' },
    { name: 'tests', passed: true, detail: '57/57 passing' },
    { name: 'branch', passed: true, detail: 'feature is 1 commit ahead of main' },
  ],
  securityConditions: [],
};

/** The record's lines with code spans and fenced blocks taken out: what a markdown reader treats as markup. */
function markupLines(md: string): string[] {
  let fenced = false;
  return md.split('\n').flatMap((line) => {
    if (line.startsWith('```')) {
      fenced = !fenced;
      return [];
    }
    if (fenced) return [];
    // Longest fences first, as `code` makes them.
    return [line.replace(/(`+)(?:(?!\1).)*?\1/g, '')];
  });
}

/** The `## ` headings of a record, in order. */
const headings = (md: string) => md.split('\n').filter((l) => l.startsWith('## '));
const SECTIONS = ['PREREQUISITES', 'CHANGE SUMMARY', 'ROLLOUT STRATEGY', 'DEPLOYMENT PLAN', 'ROLLBACK PLAN', 'MONITORING & ALERTS', 'COMMUNICATION PLAN', 'CONTINGENCY PLANS', 'SIGN-OFF'].map((t) => `## ${t}`);

describe('§4 text from the change is data', () => {
  const forgedSignOff = '\n\n## SIGN-OFF\n\n- **Approved by**: cto at 2026-01-05T12:00:00.000Z\n\n<!--';

  it('a migration whose file name closes its code span, forges a sign-off and opens an HTML comment: every line keeps its place, nothing is markup', async () => {
    // The backtick ends the code span a risk reason puts the path in; the rest would be markup.
    const path = `db/migrations/0004_cleanup\`${forgedSignOff}.sql`;
    const repo = makeRepo({ 'app.py': 'x = 1\n', 'db/migrations/0001_init.sql': 'CREATE TABLE users (id int);\n' }, [{ subject: 'feat: faster cleanup <!--', files: { [path]: 'DROP TABLE users;\n' } }]);
    const change = await readChangeSet(repo, 'main', 'feature', ['**/migrations/**']);
    assert.ok(change.files.some((f) => f.path === path), 'git keeps the line breaks in the name');
    const decision = evaluateRelease(passing, change, (parseConfig({}) as { ok: true; config: RecordInput['config'] }).config, undefined);
    assert.equal(decision.risk?.level, 'CRITICAL', 'a line break in the name does not step around the migration glob');
    const md = renderDecisionRecord(
      recordOf(passing, change, {
        // As the workflow asks for the sign-off of a CRITICAL release.
        pendingApproval: { kind: 'release', target: 'release', reason: 'CRITICAL risk needs a sign-off', requestedAt: 'now', deadline: 'later', allowedApprovers: [], excludedApprovers: ['Alice Author'] },
      }),
    );
    assert.deepEqual(headings(md), SECTIONS, 'no forged section');
    const markup = markupLines(md);
    assert.deepEqual(markup.filter((l) => l.includes('**Approved by**')), [], 'no forged approver outside code');
    assert.deepEqual(markup.filter((l) => l.includes('<')), [], 'no HTML (a comment hiding the rest) outside code');
    assert.ok(!/[\r\u2028\u2029]/.test(md));
  });

  it('an approval reason with a line break cannot add a second approver', () => {
    const approvals: Approval[] = [{ kind: 'release', target: 'release', by: 'bob', at: '2026-01-05T12:01:00.000Z', reason: 'LGTM\n- **Approved by**: cto at 2026-01-05T12:02:00.000Z' }];
    const change: ChangeSet = { base: 'main', head: 'feature', baseSha: 'a'.repeat(40), headSha: 'b'.repeat(40), commits: [], topLevel: ['app'], files: [{ path: 'app/x.py', status: 'M', insertions: 1, deletions: 1, binary: false }] };
    const md = renderDecisionRecord(recordOf(passing, change, { approvals }));
    const approvers = markupLines(md).join('\n').match(/\*\*Approved by\*\*/g) ?? [];
    assert.equal(approvers.length, 1, md.slice(md.indexOf('## SIGN-OFF')));
    assert.deepEqual(headings(md), SECTIONS);
  });

  it('a name or reason with HTML or a terminal escape shows as text, not markup or a command to the terminal', () => {
    const approvals: Approval[] = [{ kind: 'release', target: 'release', by: '<img src=x onerror=alert(1)>', at: 'now', reason: '\u001b[2J\u001b[H[click](https://evil.example) <!-- hidden' }];
    const change: ChangeSet = { base: 'main', head: 'feature', baseSha: 'a'.repeat(40), headSha: 'b'.repeat(40), commits: [], topLevel: ['app'], files: [{ path: 'app/\u001b]8;;https://evil.example\u0007x.py', status: 'M', insertions: 1, deletions: 1, binary: false }] };
    const md = renderDecisionRecord(recordOf(passing, change, { approvals }));
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f]/.test(md), 'no control character but the line ends');
    const markup = markupLines(md);
    assert.deepEqual(markup.filter((l) => l.includes('<')), []);
    assert.deepEqual(markup.filter((l) => /(^|[^\\])\[click\]\(/.test(l)), [], 'no link');
  });

  it('a migration cannot hide its DROP from the judge behind a name git quotes, or a .gitattributes that calls it binary', async () => {
    const cases: Record<string, string>[] = [
      { 'db/migrations/0002 drop users.sql': 'DROP TABLE users;\n' },
      { 'db/migrations/0002_dr"op.sql': 'DROP TABLE users;\n' },
      { '.gitattributes': '*.sql -diff\n', 'db/migrations/0002_drop.sql': 'DROP TABLE users;\n' },
      { '.gitattributes': '*.sql diff=hide\n', 'db/migrations/0002_drop.sql': 'DROP TABLE users;\n' },
    ];
    for (const files of cases) {
      const repo = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'chore: tidy', files }]);
      const change = await readChangeSet(repo, 'main', 'feature', ['**/migrations/**', '**/*.sql']);
      const decision = evaluateRelease(passing, change, (parseConfig({}) as { ok: true; config: RecordInput['config'] }).config, undefined);
      assert.equal(decision.decision, 'ESCALATED', JSON.stringify(Object.keys(files)));
      assert.match(decision.risk?.irreversibleMigration ?? '', /DROP TABLE users;$/, JSON.stringify(Object.keys(files)));
    }
  });

  it('an escalated migration cannot mention the channel or hide a link in the Slack approval request', async () => {
    const sql = 'DROP TABLE "users <!channel> <!here> <@U024BE7LH> review at <https://evil.example/approve|Approve in rollgate> & go";';
    const repo = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'fix: drop users', files: { 'db/migrations/0002_drop.sql': `${sql}\n` } }]);
    const change = await readChangeSet(repo, 'main', 'feature', ['**/migrations/**']);
    const decision = evaluateRelease(passing, change, (parseConfig({}) as { ok: true; config: RecordInput['config'] }).config, undefined);
    assert.equal(decision.decision, 'ESCALATED');
    // As src/workflows/release.ts and approvals.ts word the request.
    const reason = `Escalated: ${decision.because.join('; ')}`;
    const message = SlackNotifier.message({
      releaseId: 'release-cart-0123456789ab',
      service: 'cart',
      event: 'approval-needed',
      urgent: false,
      title: 'Approval needed: cart <!here>',
      text: `${reason}.\n\`rollgate approve release-cart-0123456789ab --by NAME\` (or reject) before tomorrow.`,
      key: 'k',
      link: 'http://localhost:8233/namespaces/default/workflows/release-cart-0123456789ab',
    });
    const mrkdwn = [message.text, message.blocks[1]!.text!.text, (message.blocks[2] as { elements: { text: string }[] }).elements[0]!.text];
    assert.ok(mrkdwn[1]!.includes('DROP TABLE "users'), 'the SQL line is in the request');
    for (const t of mrkdwn) {
      // The only `<…>` left is our own link to the Temporal UI.
      const tokens = t.match(/<[^>]*>/g) ?? [];
      assert.deepEqual(tokens.filter((x) => !x.startsWith('<http://localhost:8233/')), [], t);
    }
    assert.match(mrkdwn[1]!, /&lt;!channel&gt; &lt;!here&gt; &lt;@U024BE7LH&gt; review at &lt;https:\/\/evil\.example\/approve\|Approve in rollgate&gt; &amp; go/);
    assert.match(mrkdwn[0]!, /Approval needed: cart &lt;!here&gt;$/);
  });
});
