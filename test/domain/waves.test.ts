import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FleetSchema, fleetTable, liveTargetWorkflow, targetVars, TargetOutcome, waveVerdict } from '../../src/domain/waves';
import { parseConfig } from '../../src/domain/config';
import { commandEnv, renderArgv } from '../../src/domain/command';
import { renderQuery } from '../../src/domain/promql';

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

describe('waves across targets: labels in queries, selectors and commands', () => {
  const fleet = (labels: Record<string, string>[]) => ({ targets: labels.map((l, i) => ({ name: `t${i}`, labels: l })), waves: [{ targets: labels.map((_, i) => `t${i}`) }] });
  const metric = (query: string) => ({ name: 'e', query, failureCondition: 'result > 1' });

  it('a label every target has, and {{target}}, are known to queries and selectors; one some target lacks is an error naming them', () => {
    const ok = parseConfig({ fleet: fleet([{ region: 'eu' }, { region: 'us' }]), analysis: { selectors: { canary: { region: '{{region}}' } }, metrics: [metric('up{region="{{region}}",t="{{target}}"}')] } });
    assert.ok(ok.ok, ok.ok ? '' : ok.errors.join('; '));
    const lacking = parseConfig({ fleet: fleet([{ region: 'eu' }, {}]), analysis: { selectors: { canary: { region: '{{region}}' } }, metrics: [metric('up{region="{{region}}"}')] } });
    assert.ok(!lacking.ok);
    assert.deepEqual(lacking.errors, ['analysis.metrics.0.query: {{region}}: the label region is missing from target t1', 'analysis.selectors.canary.region: {{region}}: the label region is missing from target t1']);
    const none = parseConfig({ analysis: { metrics: [metric('up{t="{{target}}"}')] } });
    assert.ok(!none.ok);
    assert.deepEqual(none.errors, ['analysis.metrics.0.query: unknown placeholder {{target}}'], 'without targets {{target}} is unknown');
  });

  it('a deploy command\'s {label} is filled in, ROLLGATE_TARGET and ROLLGATE_TARGET_<LABEL> are set; a label some target lacks is refused', () => {
    const labels = targetVars({ name: 'eu-1', labels: { region: 'eu-west-1', clusterName: 'a' } });
    const vars = { stage: 'production', action: 'deploy', weight: 5, version: 'v2', previousVersion: 'v1', releaseId: 'r', idempotencyKey: 'k', commit: 'c', labels };
    assert.deepEqual(renderArgv(['./deploy.sh', '{stage}', '--region={region}', '{target}', '{other}'], vars), ['./deploy.sh', 'production', '--region=eu-west-1', 'eu-1', '{other}']);
    const env = commandEnv(vars);
    assert.equal(env.ROLLGATE_TARGET, 'eu-1');
    assert.equal(env.ROLLGATE_TARGET_REGION, 'eu-west-1');
    assert.equal(env.ROLLGATE_TARGET_CLUSTER_NAME, 'a');
    const bad = parseConfig({ fleet: fleet([{ region: 'eu' }, {}]), deploy: { command: ['./deploy.sh', '{stage}', '{region}'] } });
    assert.ok(!bad.ok);
    assert.deepEqual(bad.errors, ['deploy.command.2: {region}: the label region is missing from target t1']);
  });

  it('a query fills in the target\'s labels, escaped, in the query and in the selector', () => {
    const vars = { service: 's', version: 'v2', previousVersion: 'v1', phase: 'p', stage: 'production', labels: { target: 'eu-1', region: 'eu"west' } };
    assert.equal(renderQuery('up{{{selector}},t="{{target}}"}', vars, { stable: {}, canary: { region: '{{region}}', track: 'canary' } }, 'canary'), 'up{region="eu\\"west",track="canary",t="eu-1"}');
  });
});

describe('waves across targets: what a config may not do', () => {
  const fleet = (labels: unknown) => ({ targets: [{ name: 't0', labels }], waves: [{ targets: ['t0'] }] });
  it('refuses a label value that climbs a path, a placeholder inherited from Object, a flagd flag shared by the targets; a null label set is an error, not a crash', () => {
    const climb = parseConfig({ fleet: fleet({ kubeconfig: 'a/../../etc' }) });
    assert.ok(!climb.ok);
    assert.deepEqual(climb.errors, ['fleet.targets.0.labels.kubeconfig: must not climb a path ("..")']);
    const inherited = parseConfig({ fleet: fleet({ region: 'eu' }), analysis: { metrics: [{ name: 'e', query: 'up{x="{{constructor}}"}', failureCondition: 'result > 1' }] } });
    assert.ok(!inherited.ok);
    assert.deepEqual(inherited.errors, ['analysis.metrics.0.query: unknown placeholder {{constructor}}']);
    const flagd = parseConfig({ fleet: fleet({}), featureFlag: { provider: 'flagd', flag: 'f', file: 'flags.json' } });
    assert.ok(!flagd.ok);
    assert.deepEqual(flagd.errors, ['featureFlag.provider: a fleet\'s targets would share one flagd file: use the command provider, which gets each target']);
    const nullLabels = parseConfig({ fleet: fleet(null), analysis: { metrics: [{ name: 'e', query: 'up{x="{{region}}"}', failureCondition: 'result > 1' }] } });
    assert.ok(!nullLabels.ok);
    assert.ok(nullLabels.errors.some((e) => e.startsWith('fleet.targets.0.labels')), nullLabels.errors.join('; '));
  });
});

describe('waves across targets: the record\'s table', () => {
  it('a row per target, a column per phase, and how each ended', () => {
    const table = fleetTable(
      {
        onWaveFailure: 'rollback',
        waves: [],
        targets: [
          { name: 'eu-1', wave: 0, workflowId: 'r/eu-1', state: 'released', phases: { c5: 'done', c100: 'done' }, watch: { state: 'passed', since: 't0', endedAt: 't1' } },
          { name: 'eu-2', wave: 0, workflowId: 'r/eu-2', state: 'rolled_back', phases: { c5: 'done', c100: 'done' }, watch: { state: 'broke', since: 't0' }, reason: 'errors broke' },
          { name: 'us-1', wave: 1, workflowId: 'r/us-1', state: 'rolled_back', phases: { c5: 'failed' }, reason: 'errors | 0.2 > 0.05' },
          { name: 'ap-1', wave: 2, workflowId: 'r/ap-1', state: 'waiting' },
        ],
      },
      ['c5', 'c100'],
    );
    assert.deepEqual(table, [
      '| target | wave | c5 | c100 | outcome |',
      '|---|---|---|---|---|',
      '| eu-1 | 1 | ✓ | ✓ | released (watched) |',
      '| eu-2 | 1 | ✓ | ✓ | rolled back (broke while watched): errors broke |',
      '| us-1 | 2 | ✗ | · | rolled back: errors \\| 0.2 > 0.05 |',
      '| ap-1 | 3 | · | · | waiting |',
    ]);
  });

  it('status reads the child workflow that runs a target now: its rollout, its watch or its rollback', () => {
    const t = { name: 'eu-1', wave: 0, workflowId: 'r/eu-1' };
    assert.equal(liveTargetWorkflow({ ...t, state: 'running' }), 'r/eu-1');
    assert.equal(liveTargetWorkflow({ ...t, state: 'released', watch: { state: 'watching', since: 't0' } }), 'r/eu-1/watch');
    assert.equal(liveTargetWorkflow({ ...t, state: 'rolling-back', watch: { state: 'passed', since: 't0' } }), 'r/eu-1/rollback');
    assert.equal(liveTargetWorkflow({ ...t, state: 'released', watch: { state: 'passed', since: 't0' } }), undefined);
    assert.equal(liveTargetWorkflow({ ...t, state: 'waiting' }), undefined);
  });
});
