import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { latestReport, parseConditions, parseTestCount, parseVerdict } from '../../src/domain/reports';
import { parseJUnit } from '../../src/domain/junit';

describe('report verdicts', () => {
  const verdicts: [string, string][] = [
    ['Status: PASS', 'PASS'],
    ['**Status**: ✅ PASS', 'PASS'],
    ['## Result: **pass**', 'PASS'],
    ['- Verdict: CONDITIONAL', 'CONDITIONAL'],
    ['| Decision: FAIL |', 'FAIL'],
    ['__status__ : ❌ fail (2 blockers)', 'FAIL'],
  ];
  for (const [text, verdict] of verdicts) it(`reads ${JSON.stringify(text)} as ${verdict}`, () => assert.deepEqual(parseVerdict(`# Report\n\n${text}\n`), { ok: true, verdict, line: 3 }));

  it('fails closed on a missing verdict', () => {
    const r = parseVerdict('# QA\n\nAll good I think\n');
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /no verdict/);
  });
  it('fails closed on two different verdicts, naming both lines', () => {
    const r = parseVerdict('Status: PASS\n\nVerdict: FAIL\n');
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /PASS \(line 1\), FAIL \(line 3\)/);
  });
  it('accepts the same verdict twice', () => assert.equal(parseVerdict('Status: PASS\nResult: pass').ok, true));
});

describe('test counts, conditions and the latest report', () => {
  it('reads test count lines', () => {
    assert.deepEqual(parseTestCount('Tests: 57/57 passing'), { passed: 57, total: 57 });
    assert.deepEqual(parseTestCount('55/57 tests passed'), { passed: 55, total: 57 });
    assert.deepEqual(parseTestCount('12 passed, 1 failed'), { passed: 12, total: 13 });
    assert.equal(parseTestCount('no numbers here'), undefined);
  });
  it('reads the conditions of a CONDITIONAL security report', () => {
    const text = '# Security\n\nVerdict: CONDITIONAL\n\n## Conditions\n- Rotate the Redis password within 7 days\n- [ ] Enable TLS to Redis\n\n## Other\n- not a condition\n';
    assert.deepEqual(parseConditions(text), ['Rotate the Redis password within 7 days', 'Enable TLS to Redis']);
  });
  it('picks the latest by the name stamp, else by modification time', () => {
    const files = [
      { name: 'qa-report-20260105-120000.md', mtimeMs: 3 },
      { name: 'qa-report-20260106-090000.md', mtimeMs: 1 },
      { name: 'security-report-20270101-000000.md', mtimeMs: 9 },
    ];
    assert.equal(latestReport(files, 'qa-report-')?.name, 'qa-report-20260106-090000.md');
    const unstamped = [{ name: 'qa-report-a.md', mtimeMs: 5 }, { name: 'qa-report-b.md', mtimeMs: 7 }];
    assert.equal(latestReport(unstamped, 'qa-report-')?.name, 'qa-report-b.md');
  });
});

describe('JUnit XML', () => {
  it('counts test cases, failures, errors and skips', () => {
    const xml = `<?xml version="1.0"?><testsuites><testsuite name="a"><testcase name="1"/><testcase name="2"><failure message="x"/></testcase></testsuite><testsuite name="b"><testcase name="3"><skipped/></testcase><testcase name="4"><error/></testcase></testsuite></testsuites>`;
    assert.deepEqual(parseJUnit(xml), { ok: true, summary: { tests: 4, failures: 1, errors: 1, skipped: 1 } });
  });
  it('reads a single testsuite root', () => assert.deepEqual(parseJUnit('<testsuite><testcase name="x"/></testsuite>'), { ok: true, summary: { tests: 1, failures: 0, errors: 0, skipped: 0 } }));
  const bad: [string, string, RegExp][] = [
    ['empty', '', /empty/],
    ['entity expansion', '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><testsuite>&lol2;</testsuite>', /document type/],
    ['external entity', '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><testsuite>&xxe;</testsuite>', /document type/],
    ['not well-formed', '<testsuite><testcase></testsuite>', /not well-formed/],
    ['not JUnit', '<html><body/></html>', /no <testsuites>/],
  ];
  for (const [name, xml, reason] of bad)
    it(`refuses ${name}`, () => {
      const r = parseJUnit(xml);
      assert.equal(r.ok, false);
      assert.match((r as { reason: string }).reason, reason);
    });
});
