import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig, type RollgateConfig, type RollgateConfigInput } from '../../src/domain/config';
import { evaluateRelease } from '../../src/domain/evaluate';
import type { GateReport } from '../../src/domain/release';
import { changeSet, criticalChange, highChange, lowChange, mediumChange, passingGates } from '../helpers/fake-activities';

function config(raw: RollgateConfigInput = {}): RollgateConfig {
  const r = parseConfig(raw);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.config;
}

/** The passing gates with one prerequisite failed. */
const failing = (name: string, detail: string): GateReport => ({
  ...passingGates,
  prerequisites: passingGates.prerequisites.map((p) => (p.name === name ? { ...p, passed: false, detail } : p)),
});

describe('evaluateRelease: gates + change set + config → decision', () => {
  const table: [string, typeof lowChange, string, string, number, boolean][] = [
    ['the spec reference change', lowChange, 'LOW', 'immediate', 2, false],
    ['logic outside the critical areas', mediumChange, 'MEDIUM', 'canary', 4, false],
    ['a new feature', highChange, 'HIGH', 'feature-flag', 6, false],
    ['logic in auth (CRITICAL needs a sign-off by default)', criticalChange, 'CRITICAL', 'blue-green', 4, true],
  ];
  for (const [name, change, level, strategy, phases, signOff] of table)
    it(`${name}: APPROVED, ${level} → ${strategy}, ${phases} phases${signOff ? ', sign-off required' : ''}`, () => {
      const d = evaluateRelease(passingGates, change, config(), undefined);
      assert.equal(d.decision, 'APPROVED');
      assert.deepEqual(d.because, [`All prerequisites passed; ${level} risk → ${strategy}`]);
      assert.equal(d.risk?.level, level);
      assert.equal(d.strategy, strategy);
      assert.equal(d.plan?.strategy, strategy);
      assert.equal(d.plan?.phases.length, phases);
      assert.equal(d.approvalRequired, signOff);
      assert.deepEqual(d.prerequisites, passingGates.prerequisites);
    });

  it('asks for a sign-off exactly at the levels in approval.requiredFor', () => {
    assert.equal(evaluateRelease(passingGates, criticalChange, config({ approval: { requiredFor: [] } }), undefined).approvalRequired, false);
    assert.equal(evaluateRelease(passingGates, mediumChange, config({ approval: { requiredFor: ['MEDIUM'] } }), undefined).approvalRequired, true);
    assert.equal(evaluateRelease(passingGates, highChange, config({ approval: { requiredFor: ['MEDIUM', 'CRITICAL'] } }), undefined).approvalRequired, false);
  });

  it('builds the plan from the config it is given', () => {
    const d = evaluateRelease(passingGates, mediumChange, config({ canary: { steps: [{ weight: 10, bake: '1m' }, { weight: 100, bake: '2m' }] }, bake: { staging: '0s' } }), undefined);
    assert.deepEqual(d.plan?.phases.map((p) => `${p.id} ${p.bakeMs}`), ['staging-deploy 0', 'production-canary-10 60000', 'production-canary-100 120000']);
  });

  it('judges risk with the config\'s critical areas, migrations and components', () => {
    assert.equal(evaluateRelease(passingGates, mediumChange, config({ risk: { criticalAreas: ['frontend/**'] } }), undefined).risk?.level, 'CRITICAL');
    assert.equal(evaluateRelease(passingGates, criticalChange, config({ risk: { criticalAreas: [] } }), undefined).risk?.level, 'MEDIUM');
    const sql = changeSet([{ path: 'db/schema.ddl', status: 'M', insertions: 1, deletions: 0, binary: false }]);
    assert.equal(evaluateRelease(passingGates, sql, config({ risk: { migrations: ['**/*.ddl'] } }), undefined).risk?.level, 'CRITICAL');
    assert.deepEqual(evaluateRelease(passingGates, lowChange, config({ risk: { components: { 'auth/**': 'Auth service' } } }), undefined).risk?.blastRadius.affected, ['Auth service']);
  });
});

describe('evaluateRelease: users affected', () => {
  const level = (arg: number | undefined, configured?: number) => evaluateRelease(passingGates, lowChange, config(configured === undefined ? {} : { risk: { usersAffected: configured } }), arg).risk?.level;

  it('10,000 users is HIGH, 9,999 is not', () => {
    assert.equal(level(10_000), 'HIGH');
    assert.equal(level(9_999), 'LOW');
  });
  it('takes the config\'s number when none is given', () => assert.equal(level(undefined, 50_000), 'HIGH'));
  it('the number given wins over the config\'s, zero included', () => {
    assert.equal(level(0, 50_000), 'LOW');
    assert.equal(level(20_000, 10), 'HIGH');
  });
  it('leaves users out of the risk when neither says', () => {
    const d = evaluateRelease(passingGates, lowChange, config(), undefined);
    assert.ok(!d.risk!.signals.some((s) => /users? affected/.test(s.reason)), JSON.stringify(d.risk!.signals));
  });
});

describe('evaluateRelease: the tests gate feeds the risk', () => {
  const passing = (gates: GateReport) => evaluateRelease(gates, lowChange, config(), undefined).risk!.signals.some((s) => s.reason === 'All tests passing');

  it('"All tests passing" counts only when the tests prerequisite passed', () => {
    assert.equal(passing(passingGates), true);
    assert.equal(passing(failing('tests', '56/57 passing')), false);
    assert.equal(passing({ ...passingGates, prerequisites: passingGates.prerequisites.filter((p) => p.name !== 'tests') }), false, 'no tests prerequisite: unknown, never a pass');
  });
});

describe('evaluateRelease: aborted and escalated', () => {
  it('a failed prerequisite aborts, naming each failure; the risk is still shown, but no plan and no sign-off', () => {
    const gates: GateReport = { ...passingGates, prerequisites: passingGates.prerequisites.map((p) => (p.name === 'qa' || p.name === 'branch' ? { ...p, passed: false, detail: `${p.name} broke` } : p)) };
    const d = evaluateRelease(gates, criticalChange, config(), undefined);
    assert.equal(d.decision, 'ABORTED');
    assert.deepEqual(d.because, ['Prerequisite qa failed: qa broke', 'Prerequisite branch failed: branch broke']);
    assert.equal(d.risk?.level, 'CRITICAL');
    assert.equal(d.strategy, 'blue-green');
    assert.equal(d.plan, undefined);
    assert.equal(d.approvalRequired, false, 'nothing to sign off');
  });

  it('an unreadable change set escalates with its error; a failed prerequisite still aborts first', () => {
    const d = evaluateRelease(passingGates, undefined, config(), undefined, 'git diff: bad revision');
    assert.equal(d.decision, 'ESCALATED');
    assert.deepEqual(d.because, ['Risk cannot be classified: git diff: bad revision']);
    assert.equal(d.risk, undefined);
    assert.equal(d.plan, undefined);
    assert.equal(d.approvalRequired, true);
    assert.equal(evaluateRelease(failing('security', 'FAIL'), undefined, config(), undefined, 'git diff: bad revision').decision, 'ABORTED');
  });

  it('no change set and no error still escalates', () => {
    assert.deepEqual(evaluateRelease(passingGates, undefined, config(), undefined).because, ['Risk cannot be classified']);
  });

  it('an escalation of the risk (here: an empty change set) escalates with the plan kept for the human', () => {
    const d = evaluateRelease(passingGates, changeSet([]), config(), undefined);
    assert.equal(d.decision, 'ESCALATED');
    assert.match(d.because[0]!, /^Risk cannot be classified: the change set between base and head has no files$/);
    assert.equal(d.plan?.strategy, 'immediate');
    assert.equal(d.approvalRequired, true);
  });

  it('an irreversible migration escalates: a rollback restores the code, never the data', () => {
    const drop = changeSet([{ path: 'db/migrations/0003_drop.sql', status: 'A', insertions: 1, deletions: 0, binary: false, added: ['DROP TABLE legacy;'] }]);
    const d = evaluateRelease(passingGates, drop, config(), undefined);
    assert.equal(d.decision, 'ESCALATED');
    assert.deepEqual(d.because, ['Irreversible migration without a down migration (db/migrations/0003_drop.sql: DROP TABLE legacy;): a rollback restores the code, never the data it drops, so a human must sign off knowing it']);
    assert.equal(d.strategy, 'blue-green');
  });

  it('a sign-off nobody can be trusted to give aborts before anything is deployed; a release needing none goes ahead', () => {
    const problem = 'approval.approvers is empty';
    const critical = evaluateRelease(passingGates, criticalChange, config(), undefined, undefined, problem);
    assert.equal(critical.decision, 'ABORTED');
    assert.equal(critical.approvalRequired, false);
    assert.deepEqual(critical.because.slice(1), ['Sign-off needed but no approver is configured: approval.approvers is empty']);
    assert.equal(evaluateRelease(passingGates, undefined, config(), undefined, 'git failed', problem).decision, 'ABORTED', 'an escalation needs a sign-off too');
    assert.equal(evaluateRelease(passingGates, lowChange, config(), undefined, undefined, problem).decision, 'APPROVED');
    const phaseSignOff = config({ canary: { steps: [{ weight: 5, bake: '1m' }, { weight: 100, bake: '1m', approval: true }] } });
    assert.equal(evaluateRelease(passingGates, mediumChange, phaseSignOff, undefined, undefined, problem).decision, 'ABORTED', 'a phase\'s sign-off too');
  });
});
