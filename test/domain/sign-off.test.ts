import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChangeSet } from '../../src/domain/changeset';
import { parseConfig, type RollgateConfigInput } from '../../src/domain/config';
import { evaluateRelease } from '../../src/domain/evaluate';
import type { GateReport } from '../../src/domain/release';
import { confidence, deploymentWindow, recommendation } from '../../src/domain/sign-off';
import { buildPlan } from '../../src/domain/plan';
import { changeSet, criticalChange, highChange, lowChange, mediumChange, passingGates } from '../helpers/fake-activities';

const config = (raw: RollgateConfigInput) => {
  const r = parseConfig(raw);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.config;
};
/** Watched by an acting check, verified by smoke tests: no doubt from the plan. */
const watched: RollgateConfigInput = {
  stages: { staging: { smokeUrl: 'http://staging.test/health' }, production: { smokeUrl: 'https://prod.test/health' } },
  analysis: { metrics: [{ name: 'errors', query: 'sum(rate(errors_total[1m]))', failureCondition: 'result > 0.05' }] },
};
const judge = (change: ChangeSet, raw: RollgateConfigInput = watched, gates: GateReport = passingGates) => {
  const c = config(raw);
  return confidence(evaluateRelease(gates, change, c, undefined, undefined), gates, c);
};
const judgeMetric = { name: 'errors-judge', query: 'sum(increase(e{{{selector}}}[{{sincePhase}}]))', judge: { trials: 'sum(increase(r{{{selector}}}[{{sincePhase}}]))' } };
const conditional: GateReport = { ...passingGates, securityConditions: ['Rotate the key within 7 days'] };
const drop = changeSet([{ path: 'db/migrations/0003_drop.sql', status: 'A', insertions: 1, deletions: 0, binary: false, added: ['DROP TABLE legacy;'] }]);

describe('confidence: HIGH with no doubt, MEDIUM with one, LOW with two or a decisive one', () => {
  const table: [string, () => ReturnType<typeof judge>, string, string[]][] = [
    ['LOW risk, watched and smoke-tested', () => judge(lowChange), 'HIGH', []],
    ['one doubt: security passed with conditions', () => judge(lowChange, watched, conditional), 'MEDIUM', ['security passed with 1 condition']],
    ['one doubt: HIGH risk', () => judge(highChange), 'MEDIUM', ['HIGH risk']],
    ['one doubt: no acting check on the production bakes', () => judge(lowChange, { stages: watched.stages }), 'MEDIUM', ['no metric check acts on the production bakes']],
    ['one doubt: a dry-run check does not act', () => judge(lowChange, { ...watched, analysis: { metrics: [{ ...watched.analysis!.metrics![0]!, dryRun: true }] } }), 'MEDIUM', ['no metric check acts on the production bakes']],
    ['one doubt: a canary watched by a judge alone leaves its 100% bake unmeasured', () => judge(mediumChange, { ...watched, analysis: { metrics: [judgeMetric] } }), 'MEDIUM', ['no metric check acts on Canary: all traffic: its judges need stable traffic to compare with']],
    ['one doubt: a judge alone measures nothing of an immediate release', () => judge(lowChange, { ...watched, analysis: { metrics: [judgeMetric] } }), 'MEDIUM', ['no metric check acts on the production bakes']],
    ['no doubt: a judge beside a threshold', () => judge(mediumChange, { ...watched, analysis: { metrics: [...watched.analysis!.metrics!, judgeMetric] } }), 'HIGH', []],
    ['one doubt: no smoke URL', () => judge(lowChange, { analysis: watched.analysis }), 'MEDIUM', ['no smoke URL: stages are verified by their command exit status only']],
    ['two doubts: CRITICAL risk and conditions', () => judge(criticalChange, watched, conditional), 'LOW', ['CRITICAL risk', 'security passed with 1 condition']],
    ['decisive: an irreversible migration', () => judge(drop), 'LOW', ['an irreversible migration', 'CRITICAL risk']],
  ];
  for (const [name, run, level, doubts] of table)
    it(name, () => {
      const c = run();
      assert.equal(c?.level, level);
      assert.deepEqual(c?.doubts, doubts);
    });

  it('none for an aborted release', () => {
    const failing: GateReport = { ...passingGates, prerequisites: passingGates.prerequisites.map((p) => (p.name === 'qa' ? { ...p, passed: false } : p)) };
    assert.equal(judge(lowChange, watched, failing), undefined);
  });
});

describe('recommendation and deployment window', () => {
  it('recommends by the decision and the sign-off it waits for', () => {
    const c = config(watched);
    const low = evaluateRelease(passingGates, lowChange, c, undefined, undefined);
    const critical = evaluateRelease(passingGates, criticalChange, c, undefined, undefined);
    assert.equal(recommendation(low, []), '✅ PROCEED WITH DEPLOYMENT');
    assert.equal(recommendation(critical, []), '⏳ PROCEED AFTER SIGN-OFF');
    assert.equal(recommendation(critical, [{ kind: 'release', target: 'release', by: 'bob', at: '2026-01-05T12:05:00.000Z' }]), '✅ PROCEED WITH DEPLOYMENT');
    const aborted = evaluateRelease({ ...passingGates, prerequisites: [{ name: 'qa', passed: false, detail: 'FAIL' }] }, lowChange, c, undefined, undefined);
    assert.match(recommendation(aborted, []), /^⛔ DO NOT DEPLOY/);
  });

  it('runs from the sign-off (else the start) through every hold and bake, back to back', () => {
    const plan = buildPlan('blue-green', config({ blueGreen: { rollbackWindow: '2h' } }));
    const w = deploymentWindow(plan, '2026-01-05T12:00:00.000Z', [{ kind: 'release', target: 'release', by: 'bob', at: '2026-01-05T12:30:00.000Z' }]);
    // 15m staging bake + 1h after the switch + 2h keeping blue.
    assert.deepEqual(w, { from: '2026-01-05T12:30:00.000Z', to: '2026-01-05T15:45:00.000Z', plannedMs: 3.25 * 3_600_000 });
    assert.equal(deploymentWindow(plan, '2026-01-05T12:00:00.000Z', []).from, '2026-01-05T12:00:00.000Z');
  });
});
