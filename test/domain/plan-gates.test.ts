import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig, type RollgateConfigInput } from '../../src/domain/config';
import { planFacts, planGates } from '../../src/domain/plan-gates';
import { checkPrerequisites } from '../../src/evidence/gates';
import { rollgate } from '../helpers/cli';
import { git, makeRepo, writeReports } from '../helpers/fixtures';

const config = (raw: RollgateConfigInput) => {
  const parsed = parseConfig(raw);
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.config;
};

const errors = { name: 'errors', query: 'sum(rate(http_errors_total[1m]))', failureCondition: 'result > 0.05' };
const smoke = { stages: { production: { smokeUrl: 'https://prod.test/health' } } };
const base = { version: 'a'.repeat(40), given: false };
const byName = (raw: RollgateConfigInput, target = base, problem?: string) =>
  Object.fromEntries(planGates(planFacts(config(raw), target), problem).map((p) => [p.name, p]));

describe('the spec\'s last two gates: a concrete rollback plan, monitoring defined', () => {
  it('pass with a pinned target, a command, a verification and an acting check, and say so', () => {
    const g = byName({ ...smoke, deploy: { command: ['./deploy.sh', '{stage}'], rollback: ['./rollback.sh', '{stage}', '{version}'] }, analysis: { metrics: [errors] } }, { version: 'v1.4.2', given: true });
    assert.deepEqual(g['rollback-plan'], {
      name: 'rollback-plan',
      passed: true,
      detail: 'back to v1.4.2 by ./rollback.sh {stage} {version}, verified by smoke test https://prod.test/health and re-check of the broken metrics',
    });
    assert.deepEqual(g.monitoring, { name: 'monitoring', passed: true, detail: 'errors checked on production, rolling back when one fails' });
  });

  it('the base commit is a pinned target; the deploy command redeploys it where no rollback command is given', () => {
    assert.equal(byName({ ...smoke, analysis: { metrics: [errors] } })['rollback-plan']!.detail, `back to ${'a'.repeat(40)} (the base commit) by ./deploy.sh {stage}, verified by smoke test https://prod.test/health and re-check of the broken metrics`);
    assert.match(byName({ ...smoke, deploy: { provider: 'webhook' }, analysis: { metrics: [errors] } })['rollback-plan']!.detail, /by the deploy webhook, action rollback/);
  });

  it('judges alone pass, saying which plans and phases they leave unmeasured; next to a threshold, nothing is added', () => {
    const judge = { name: 'errors-judge', query: 'sum(increase(e{{{selector}}}[{{sincePhase}}]))', judge: { trials: 'sum(increase(r{{{selector}}}[{{sincePhase}}]))' } };
    assert.deepEqual(byName({ ...smoke, analysis: { metrics: [judge] } }).monitoring, {
      name: 'monitoring',
      passed: true,
      detail: 'errors-judge checked on production, rolling back when one fails (judges only: they measure only while canary and stable share traffic, so an immediate or blue-green plan, and a canary at 100%, go unmeasured)',
    });
    assert.equal(byName({ ...smoke, analysis: { metrics: [errors, judge] } }).monitoring!.detail, 'errors, errors-judge checked on production, rolling back when one fails');
  });

  it('fail with what is missing: no check that acts (a dry run does not count), nothing to verify a rollback, a target that moves', () => {
    const none = byName({});
    assert.equal(none.monitoring!.passed, false);
    assert.equal(none.monitoring!.detail, 'no check acts on production: define analysis.metrics (a dry run does not count)');
    assert.equal(none['rollback-plan']!.passed, false);
    assert.match(none['rollback-plan']!.detail, /^nothing verifies a rollback: set stages\.production\.smokeUrl, or an acting check/);
    const dry = byName({ analysis: { metrics: [{ ...errors, dryRun: true }] } });
    assert.equal(dry.monitoring!.passed, false);
    assert.equal(dry['rollback-plan']!.passed, false, 'a dry run verifies nothing either');
    assert.equal(byName({ analysis: { metrics: [errors], verifyWindow: '0s' } })['rollback-plan']!.passed, false, 'no re-check without a window');
    const moving = byName({ ...smoke, analysis: { metrics: [errors] } }, { version: 'main', given: true }, 'the rollback target "main" is a branch name');
    assert.deepEqual([moving['rollback-plan']!.passed, moving['rollback-plan']!.detail], [false, 'the rollback target "main" is a branch name']);
  });

  it('the gate reader finds a previous version that names a branch, local or remote-tracking, and passes a version or a commit', async () => {
    const repo = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'fix: x', files: { 'app.py': 'x = 2\n' } }]);
    const reports = writeReports(join(repo, 'reports'));
    git(repo, ['update-ref', 'refs/remotes/origin/release-line', 'main']);
    const planned = (version: string) => planFacts(config({ ...smoke, analysis: { metrics: [errors] } }), { version, given: true });
    const gate = async (version: string) => (await checkPrerequisites({ repo, base: 'main', head: 'feature', reportsDir: reports, junit: [], plan: planned(version) })).prerequisites.find((p) => p.name === 'rollback-plan')!;
    for (const branch of ['main', 'release-line']) {
      const g = await gate(branch);
      assert.equal(g.passed, false, branch);
      assert.match(g.detail, new RegExp(`the rollback target "${branch}" is a branch name, which moves`));
    }
    assert.equal((await gate('v1.4.2')).passed, true);
    assert.equal((await gate(git(repo, ['rev-parse', 'main']).trim())).passed, true);
  });

  it('rollgate decide aborts a release whose policy has neither, naming each gate and what is missing', async () => {
    const repo = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'fix: x', files: { 'app.py': 'x = 2\n' } }]);
    const reports = writeReports(join(repo, 'reports'));
    const res = await rollgate(['decide', '--repo', repo, '--base', 'main', '--head', 'feature', '--reports', reports, '--json']);
    assert.equal(res.code, 2, res.stdout + res.stderr);
    const json = JSON.parse(res.stdout) as { decision: string; because: string[]; prerequisites: { name: string; passed: boolean }[] };
    assert.equal(json.decision, 'ABORTED');
    assert.deepEqual(json.prerequisites.filter((p) => !p.passed).map((p) => p.name), ['rollback-plan', 'monitoring']);
    assert.match(json.because.join('\n'), /^Prerequisite rollback-plan failed: nothing verifies a rollback/m);
    assert.match(json.because.join('\n'), /^Prerequisite monitoring failed: no check acts on production/m);
  });
});
