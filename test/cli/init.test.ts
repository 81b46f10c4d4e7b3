import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { parseConfig } from '../../src/domain/config';
import { rollgate } from '../helpers/cli';
import { commitToBase, makeRepo, tempDir, writeReports } from '../helpers/fixtures';

const promtool = [resolve(__dirname, '../../.tools/bin/promtool'), 'promtool'].find((p) => p === 'promtool' || existsSync(p))!;

/** The template with every `<…>` placeholder filled in, as a user would. */
const filled = (yaml: string) =>
  yaml
    .replace('<service-name>', 'cart')
    .replace('<https://staging.example.com/health>', 'https://staging.cart.test/health')
    .replace('<https://example.com/health>', 'https://cart.test/health')
    .replace('<http://prometheus:9090>', 'http://prometheus.test:9090')
    .replace('<your-name>', 'alice');

describe('rollgate init', () => {
  it('writes a commented rollgate.yaml that names each placeholder left, and its JSON Schema for editors', async () => {
    const dir = tempDir();
    const res = await rollgate(['init', '--dir', dir]);
    assert.equal(res.code, 0, res.stderr);
    const yaml = readFileSync(join(dir, 'rollgate.yaml'), 'utf8');
    assert.match(yaml, /^# yaml-language-server: \$schema=\.\/rollgate\.schema\.json\n/);
    const schema = JSON.parse(readFileSync(join(dir, 'rollgate.schema.json'), 'utf8')) as { $schema: string; properties: Record<string, unknown> };
    assert.match(schema.$schema, /json-schema\.org/);
    assert.ok(schema.properties.analysis && schema.properties.deploy);
    const unfilled = parseConfig(parse(yaml));
    assert.equal(unfilled.ok, false);
    const problems = unfilled.ok ? '' : unfilled.errors.join('\n');
    for (const field of ['service', 'stages.staging.smokeUrl', 'stages.production.smokeUrl', 'analysis.prometheus.address', 'approval.approvers.0']) assert.match(problems, new RegExp(`^${field.replace(/\./g, '\\.')}:`, 'm'), problems);
  });

  it('filled in, it passes every prerequisite rollgate decide checks, the rollback plan and the monitoring included', async () => {
    const dir = tempDir();
    assert.equal((await rollgate(['init', '--dir', dir])).code, 0);
    const repo = makeRepo({ 'cart/totals.py': 'def total(items):\n    return sum(items)\n' }, [{ subject: 'fix(cart): round totals', files: { 'cart/totals.py': 'def total(items):\n    return round(sum(items), 2)\n' } }]);
    commitToBase(repo, { 'rollgate.yaml': filled(readFileSync(join(dir, 'rollgate.yaml'), 'utf8')) });
    writeReports(join(repo, 'reports'));
    const res = await rollgate(['decide', '--repo', repo, '--base', 'main', '--head', 'feature', '--json']);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const json = JSON.parse(res.stdout) as { decision: string; strategy: string; prerequisites: { name: string; passed: boolean; detail: string }[] };
    assert.deepEqual(json.prerequisites.map((p) => `${p.name} ${p.passed}`), ['qa true', 'security true', 'tests true', 'branch true', 'rollback-plan true', 'monitoring true']);
    assert.equal(json.strategy, 'canary');
    // The branch as people named it, with the commits the names stood for.
    assert.match(json.prerequisites.find((p) => p.name === 'branch')!.detail, /^feature \([0-9a-f]{12}\) is 1 commit ahead of main \([0-9a-f]{12}\)$/);
  });

  it('decide --out writes the decision record and its alert rules with no server, the acting checks named', async () => {
    const dir = tempDir();
    assert.equal((await rollgate(['init', '--dir', dir])).code, 0);
    const repo = makeRepo({ 'cart/totals.py': 'def total(items):\n    return sum(items)\n' }, [{ subject: 'fix(cart): round totals', files: { 'cart/totals.py': 'def total(items):\n    return round(sum(items), 2)\n' } }]);
    commitToBase(repo, { 'rollgate.yaml': filled(readFileSync(join(dir, 'rollgate.yaml'), 'utf8')) });
    writeReports(join(repo, 'reports'));
    const out = join(tempDir(), 'records');
    // This service's past rollbacks, as workers write them beside the records (and another service's, not counted).
    mkdirSync(out);
    const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
    const line = (service: string, run: string, seconds: number) => JSON.stringify({ service, run, started_at: ago(60), outcome: 'rolled_back', rollback_duration_seconds: seconds });
    writeFileSync(join(out, 'ledger.jsonl'), [line('cart', 'a', 60), line('cart', 'b', 120), line('cart', 'c', 600), line('auth', 'd', 5)].join('\n') + '\n');
    const summary = join(tempDir(), 'step-summary.md');
    writeFileSync(summary, '# earlier step\n');
    const res = await rollgate(['decide', '--repo', repo, '--base', 'main', '--head', 'feature', '--out', out, '--json'], { TEMPORAL_ADDRESS: '127.0.0.1:1', GITHUB_STEP_SUMMARY: summary });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const { recordPath, alertRulesPath } = JSON.parse(res.stdout) as { recordPath: string; alertRulesPath: string };
    assert.match(recordPath, /records\/release-decision-\d{8}-\d{6}\.md$/);
    const record = readFileSync(recordPath, 'utf8');
    assert.match(record, /^\*\*Branch\*\*: feature at [0-9a-f]{12} \(base: main at [0-9a-f]{12}\)$/m);
    assert.match(record, /- \[x\] \*\*rollback-plan\*\*: back to [0-9a-f]{40} \(the base commit\) by \.\/deploy\.sh/);
    assert.match(record, /- \*\*error-rate\*\* fails when `result > 0\.05`/);
    assert.match(record, /Alerting rules for the same conditions: \[release-decision-\d{8}-\d{6}\.alerts\.yml\]/);
    assert.match(execFileSync(promtool, ['check', 'rules', alertRulesPath], { encoding: 'utf8' }), /SUCCESS: 2 rules found/);
    assert.match(record, /^\*\*Estimated rollback time\*\*: median 2m, measured over 3 rollbacks of cart in the ledger's last 90 days$/m);
    assert.match(record, /^- \*\*Recommendation\*\*: ✅ PROCEED WITH DEPLOYMENT$/m);
    // The job summary GitHub Actions shows on the run page: appended after what earlier steps wrote.
    const md = readFileSync(summary, 'utf8');
    assert.match(md, /^# earlier step\n### rollgate · cart: ✅ APPROVED \(MEDIUM risk → canary\)\n/);
    assert.match(md, /^\| rollback-plan \| ✅ \| back to [0-9a-f]{40} /m);
    assert.match(md, /^\*\*Plan\*\*: Deploy to staging → Canary: 5% of traffic → Canary: 50% of traffic → Canary: all traffic$/m);
    assert.match(md, /^\*\*Decision record\*\*: release-decision-\d{8}-\d{6}\.md$/m);
  });

  it('leaves an existing file as it is unless --force, and never writes through a symlink', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'rollgate.yaml'), 'service: mine\n');
    const res = await rollgate(['init', '--dir', dir]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /rollgate\.yaml exists; rollgate init leaves it as it is \(--force overwrites it\)/);
    assert.equal(readFileSync(join(dir, 'rollgate.yaml'), 'utf8'), 'service: mine\n');
    assert.equal((await rollgate(['init', '--dir', dir, '--force'])).code, 0);
    assert.match(readFileSync(join(dir, 'rollgate.yaml'), 'utf8'), /^# yaml-language-server/);
    const linked = tempDir();
    const elsewhere = join(tempDir(), 'target');
    writeFileSync(elsewhere, 'untouched\n');
    symlinkSync(elsewhere, join(linked, 'rollgate.yaml'));
    const refused = await rollgate(['init', '--dir', linked, '--force']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is a symlink; rollgate does not write through it/);
    assert.equal(readFileSync(elsewhere, 'utf8'), 'untouched\n');
  });
});
