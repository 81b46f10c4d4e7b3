import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FleetSchema, targetVars, TargetOutcome, waveVerdict } from '../../src/domain/waves';

const problems = (input: unknown) => FleetSchema.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
const targets = [
  { name: 'eu-1a', labels: { region: 'eu-west-1' } },
  { name: 'eu-1b', labels: { region: 'eu-west-1' } },
  { name: 'us-1', labels: { region: 'us-east-1' } },
];

describe('waves across targets: the config', () => {
  it('targets with labels, waves in order with their bake and budget, rollback of the rest by default', () => {
    const f = FleetSchema.parse({ targets, waves: [{ targets: ['eu-1a'], bake: '30m' }, { targets: ['eu-1b', 'us-1'], maxFailedTargets: 1 }] });
    assert.deepEqual(
      f.waves.map((w) => [w.targets, w.bake, w.maxFailedTargets]),
      [
        [['eu-1a'], 30 * 60_000, 0],
        [['eu-1b', 'us-1'], 0, 1],
      ],
    );
    assert.equal(f.onWaveFailure, 'rollback');
    assert.deepEqual(targetVars(f.targets[2]!), { region: 'us-east-1', target: 'us-1' });
    assert.deepEqual(FleetSchema.parse({}), { targets: [], waves: [], onWaveFailure: 'rollback' });
  });

  it('refuses what cannot be rolled out, naming the field', () => {
    assert.deepEqual(problems({ targets, waves: [{ targets: ['eu-1a', 'eu-2'] }, { targets: ['eu-1a'] }] }), [
      'waves.0.targets.1: "eu-2" is not among the targets',
      'waves.1.targets.0: "eu-1a" is in an earlier wave already',
      'waves: target "eu-1b" is in no wave',
      'waves: target "us-1" is in no wave',
    ]);
    assert.deepEqual(problems({ targets: [targets[0], targets[0]], waves: [{ targets: ['eu-1a'] }] }), ['targets.1.name: "eu-1a" is named twice']);
    assert.deepEqual(problems({ targets }), ['waves: targets are given: say in which waves they go']);
    assert.deepEqual(problems({ targets: [targets[0]], waves: [{ targets: ['eu-1a'], maxFailedTargets: 1 }] }), ['waves.0.maxFailedTargets: 1 of 1 targets may fail: the wave could pass with none released']);
    assert.deepEqual(problems({ targets: [{ name: 'eu-1a', labels: { version: 'x' } }], waves: [{ targets: ['eu-1a'] }] }), ['targets.0.labels.version: is a placeholder of its own; name the label otherwise']);
    assert.deepEqual(problems({ targets: [{ name: 'eu-1a', labels: { region: 'eu"} or vector(1)' } }], waves: [{ targets: ['eu-1a'] }] }), [
      'targets.0.labels.region: must be 1-63 letters, digits, ".", "_", ":", "/" or "-", starting with a letter or digit',
    ]);
    assert.deepEqual(problems({ targets, waves: [{ targets: ['eu-1a', 'eu-1b', 'us-1'] }], onWaveFailure: 'ignore' }), ['onWaveFailure: must be rollback or hold']);
  });
});

describe('waves across targets: a wave\'s verdict', () => {
  const wave = { targets: ['eu-1b', 'us-1', 'ap-1'], bake: 0, maxFailedTargets: 1 };
  it('passes within its budget, naming the targets that failed', () => {
    const v = waveVerdict(1, wave, { 'eu-1b': TargetOutcome.RELEASED, 'us-1': TargetOutcome.ROLLED_BACK, 'ap-1': TargetOutcome.RELEASED });
    assert.deepEqual(v, { passed: true, failed: ['us-1'], message: 'wave 2 passed: 1 of 3 failed, 1 allowed (us-1)' });
  });
  it('fails past it; a target that never started or whose rollback failed counts as failed', () => {
    const v = waveVerdict(1, wave, { 'eu-1b': TargetOutcome.ROLLBACK_FAILED, 'us-1': TargetOutcome.ROLLED_BACK, 'ap-1': TargetOutcome.RELEASED });
    assert.equal(v.passed, false);
    assert.equal(v.message, 'wave 2 failed: 2 of 3 failed, 1 allowed (eu-1b, us-1)');
    assert.equal(waveVerdict(0, { ...wave, maxFailedTargets: 0 }, { 'eu-1b': TargetOutcome.RELEASED, 'us-1': TargetOutcome.RELEASED }).passed, false, 'ap-1 has no outcome');
  });
});
