import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CommandVars,
  commandEnv,
  commandFor,
  idempotencyKey,
  PLACEHOLDERS,
  renderArgv,
  ROLLBACK,
  rollbackStep,
  type ReleaseRef,
  showArgv,
  stepVars,
} from '../../src/domain/command';

const vars: CommandVars = {
  stage: 'production',
  action: 'set-weight',
  weight: 50,
  version: 'v2',
  previousVersion: 'v1',
  releaseId: 'release-cart-0123456789ab',
  idempotencyKey: 'release-cart-0123456789ab@abcd1234/production-canary-50',
  commit: 'c0ffee0000000000000000000000000000000000',
};

describe('renderArgv', () => {
  it('fills every placeholder, several in one argument, and numbers as text', () => {
    const template = ['./deploy.sh', '{stage}', '--weight={weight}', '{version}..{previousVersion}', '{releaseId}', '{idempotencyKey}', '{action}'];
    assert.deepEqual(renderArgv(template, vars), ['./deploy.sh', 'production', '--weight=50', 'v2..v1', 'release-cart-0123456789ab', 'release-cart-0123456789ab@abcd1234/production-canary-50', 'set-weight']);
  });

  it('knows exactly the documented placeholders', () => {
    assert.deepEqual([...PLACEHOLDERS].sort(), Object.keys(vars).sort());
    for (const p of PLACEHOLDERS) assert.equal(renderArgv([`{${p}}`], vars)[0], String(vars[p]), p);
  });

  it('leaves unknown placeholders and other braces as they are', () => {
    assert.deepEqual(renderArgv(['{region}', '{ stage }', '{{stage}}', '{}'], vars), ['{region}', '{ stage }', '{production}', '{}']);
  });

  it('substitutes once: a value that looks like a placeholder stays literal, and shell syntax stays inert', () => {
    const hostile = { ...vars, version: '{stage}', previousVersion: '$(rm -rf /); `id` | tee x' };
    assert.deepEqual(renderArgv(['{version}', '{previousVersion}'], hostile), ['{stage}', '$(rm -rf /); `id` | tee x']);
  });

  it('does not change the template', () => {
    const template = ['./deploy.sh', '{stage}'];
    renderArgv(template, vars);
    assert.deepEqual(template, ['./deploy.sh', '{stage}']);
  });
});

describe('commandEnv', () => {
  it('gives every command the step as ROLLGATE_* variables, the weight as text', () => {
    assert.deepEqual(commandEnv(vars), {
      ROLLGATE_STAGE: 'production',
      ROLLGATE_ACTION: 'set-weight',
      ROLLGATE_WEIGHT: '50',
      ROLLGATE_VERSION: 'v2',
      ROLLGATE_PREVIOUS_VERSION: 'v1',
      ROLLGATE_RELEASE_ID: 'release-cart-0123456789ab',
      ROLLGATE_IDEMPOTENCY_KEY: 'release-cart-0123456789ab@abcd1234/production-canary-50',
      ROLLGATE_COMMIT: 'c0ffee0000000000000000000000000000000000',
    });
    assert.equal(commandEnv({ ...vars, weight: 0 }).ROLLGATE_WEIGHT, '0');
  });
});

describe('showArgv', () => {
  const table: [string[], string][] = [
    [['./deploy.sh', 'production', '--weight=5', 'a@b', '50%', 'x+y,z', 'host:8080', '{stage}'], './deploy.sh production --weight=5 a@b 50% x+y,z host:8080 {stage}'],
    [['echo', 'two words'], "echo 'two words'"],
    [['echo', "it's"], "echo 'it'\\''s'"],
    [['echo', ''], "echo ''"],
    [['echo', '$HOME', 'a;b', 'a|b', '*'], "echo '$HOME' 'a;b' 'a|b' '*'"],
  ];
  for (const [argv, want] of table) it(`${JSON.stringify(argv)} → ${want}`, () => assert.equal(showArgv(argv), want));
});

describe('idempotency keys and step names', () => {
  it('a key is the run and the step: the same step of the same run always has the same key', () => {
    assert.equal(idempotencyKey('release-cart-0123456789ab@abcd1234', 'production-canary-5'), 'release-cart-0123456789ab@abcd1234/production-canary-5');
    assert.notEqual(idempotencyKey('r@run1', 'staging-deploy'), idempotencyKey('r@run2', 'staging-deploy'), 'another run applies the step again');
  });

  it('a rollback step is named after its stage', () => {
    assert.equal(ROLLBACK, 'rollback');
    assert.equal(rollbackStep('production-green'), 'rollback-production-green');
  });
});

describe('stepVars', () => {
  const release: ReleaseRef = { releaseId: 'release-cart-0123456789ab', runKey: 'release-cart-0123456789ab@abcd1234', version: 'v2', previousVersion: 'v1', commit: 'c0ffee0000000000000000000000000000000000' };

  it('a forward step takes the phase\'s stage and weight and the new version', () => {
    assert.deepEqual(stepVars({ stage: 'production', weight: 50 }, 'set-weight', 'production-canary-50', release), {
      stage: 'production',
      action: 'set-weight',
      weight: 50,
      version: 'v2',
      previousVersion: 'v1',
      releaseId: 'release-cart-0123456789ab',
      idempotencyKey: 'release-cart-0123456789ab@abcd1234/production-canary-50',
      commit: 'c0ffee0000000000000000000000000000000000',
    });
  });

  it('a rollback goes back to the previous version with no traffic on the new one', () => {
    assert.deepEqual(stepVars({ stage: 'production', weight: 50 }, ROLLBACK, rollbackStep('production'), release), {
      stage: 'production',
      action: 'rollback',
      weight: 0,
      version: 'v1',
      previousVersion: 'v1',
      releaseId: 'release-cart-0123456789ab',
      idempotencyKey: 'release-cart-0123456789ab@abcd1234/rollback-production',
      commit: 'c0ffee0000000000000000000000000000000000',
    });
  });

  it('only the rollback action reverses: turning a flag off keeps the version', () => {
    const off = stepVars({ stage: 'production', weight: 0 }, 'disable-flag', 'rollback-flag', release);
    assert.equal(off.version, 'v2');
    assert.equal(off.weight, 0);
  });
});

describe('commandFor', () => {
  const deploy = ['./deploy.sh', '{stage}'];
  const rollback = ['./rollback.sh', '{stage}'];
  it('a rollback runs the rollback command where one is configured', () => assert.deepEqual(commandFor(ROLLBACK, { command: deploy, rollback }), rollback));
  it('a rollback runs the deploy command where none is', () => assert.deepEqual(commandFor(ROLLBACK, { command: deploy }), deploy));
  it('every other action runs the deploy command', () => {
    for (const action of ['deploy', 'set-weight', 'promote', 'switch', 'retire', 'enable-flag', 'disable-flag']) assert.deepEqual(commandFor(action, { command: deploy, rollback }), deploy, action);
  });
});
