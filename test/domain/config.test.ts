import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigSchema, DEFAULT_CRITICAL_AREAS, DEFAULT_POLICY_AREAS, DEFAULT_MIGRATION_GLOBS, formatIssues, parseConfig, type RollgateConfig } from '../../src/domain/config';

const MIN = 60_000;
const HOUR = 60 * MIN;

function ok(raw: unknown): RollgateConfig {
  const r = parseConfig(raw);
  if (!r.ok) assert.fail(`expected a valid config, got: ${r.errors.join('; ')}`);
  return r.config;
}
function errors(raw: unknown): string[] {
  const r = parseConfig(raw);
  if (r.ok) assert.fail(`expected errors for ${JSON.stringify(raw)}`);
  return r.errors;
}
const steps = (...ws: number[]) => ws.map((weight) => ({ weight, bake: '1m' }));

describe('config defaults', () => {
  it('an empty file, or none at all, gives the documented defaults', () => {
    for (const raw of [undefined, null, {}]) {
      const c = ok(raw);
      assert.equal(c.service, undefined, 'the service comes from the command line unless configured');
      assert.equal(c.reports, 'out');
      assert.equal(c.out, 'out');
      assert.deepEqual(c.deploy, {
        command: ['./deploy.sh', '{stage}'],
        timeout: 15 * MIN,
        provider: 'command',
        merge: false,
        webhook: { urlEnv: 'ROLLGATE_DEPLOY_WEBHOOK_URL', secretEnv: 'ROLLGATE_DEPLOY_WEBHOOK_SECRET' },
      });
      assert.equal(c.heartbeatTimeout, 30_000);
      assert.deepEqual(c.stages, { staging: {}, production: {} });
      assert.deepEqual(c.bake, { staging: 15 * MIN, production: HOUR });
      assert.deepEqual(c.canary, {}, 'no steps: the plan uses its default canary steps');
      assert.deepEqual(c.featureFlag, { provider: 'command' });
      assert.deepEqual(c.blueGreen, { rollbackWindow: 24 * HOUR });
      assert.deepEqual(c.risk, { criticalAreas: DEFAULT_CRITICAL_AREAS, policyAreas: DEFAULT_POLICY_AREAS, migrations: DEFAULT_MIGRATION_GLOBS, components: {} });
      assert.deepEqual(c.approval, { requiredFor: ['CRITICAL'], approvers: [], timeout: 24 * HOUR });
      assert.deepEqual(c.monitoring, { metrics: [] });
      assert.deepEqual(c.notify, { slackWebhookUrlEnv: 'ROLLGATE_SLACK_WEBHOOK_URL', webhookUrlEnv: 'ROLLGATE_WEBHOOK_URL', webhookSecretEnv: 'ROLLGATE_WEBHOOK_SECRET', pagerDutyRoutingKeyEnv: 'ROLLGATE_PAGERDUTY_ROUTING_KEY' });
      assert.equal(c.analysis.provider, 'prometheus');
      assert.equal(c.analysis.interval, MIN);
      assert.equal(c.analysis.onError, 'rollback');
      assert.equal(c.analysis.prometheus.timeout, 10_000);
      assert.equal(c.analysis.prometheus.address, undefined, 'the worker\'s ROLLGATE_PROMETHEUS_URL applies');
    }
  });

  it('the default critical areas and migrations are the spec\'s: auth, payment, billing; migration folders and SQL', () => {
    assert.ok(['**/auth/**', '**/payment/**', '**/payments/**', '**/billing/**'].every((g) => DEFAULT_CRITICAL_AREAS.includes(g)));
    assert.deepEqual(DEFAULT_MIGRATION_GLOBS, ['**/migrations/**', '**/migrate/**', '**/*.sql']);
  });

  it('a step\'s approval defaults to false; waits that may be skipped accept zero', () => {
    const c = ok({ canary: { steps: [{ weight: 5, bake: '0s' }, { weight: 100, bake: '1h30m', approval: true }] }, bake: { staging: '0s', production: '0s' }, blueGreen: { rollbackWindow: '0s' } });
    assert.deepEqual(c.canary.steps, [{ weight: 5, bake: 0, approval: false }, { weight: 100, bake: 90 * MIN, approval: true }]);
    assert.deepEqual(c.bake, { staging: 0, production: 0 });
    assert.equal(c.blueGreen.rollbackWindow, 0);
  });

  it('keeps what is given next to the defaults it does not override', () => {
    const c = ok({ deploy: { command: ['kubectl', 'rollout', '{stage}'], rollback: ['./undo.sh'] }, approval: { requiredFor: ['HIGH', 'CRITICAL'], approvers: ['bob'] } });
    assert.deepEqual(c.deploy.command, ['kubectl', 'rollout', '{stage}']);
    assert.deepEqual(c.deploy.rollback, ['./undo.sh']);
    assert.equal(c.deploy.timeout, 15 * MIN);
    assert.deepEqual(c.approval, { requiredFor: ['HIGH', 'CRITICAL'], approvers: ['bob'], timeout: 24 * HOUR });
  });

  it('accepts a service name of 63 characters, the longest', () => {
    assert.equal(ok({ service: `a${'-'.repeat(62)}` }).service?.length, 63);
  });
});

describe('config errors name the field', () => {
  const table: [string, unknown, string[]][] = [
    ['not an object', 'deploy: now', ['(root): Invalid input: expected object, received string']],
    ['an unknown key at the top (a typo never falls back to a default)', { servce: 'x' }, ['(root): Unrecognized key: "servce"']],
    ['an unknown nested key', { deploy: { comand: ['x'] } }, ['deploy: Unrecognized key: "comand"']],
    ['a zero deploy timeout', { deploy: { timeout: '0s' } }, ['deploy.timeout: must be longer than zero']],
    ['a zero heartbeat timeout', { heartbeatTimeout: '0s' }, ['heartbeatTimeout: must be longer than zero']],
    ['a zero approval timeout', { approval: { timeout: '0s' } }, ['approval.timeout: must be longer than zero']],
    ['a duration that is not one', { bake: { production: 'an hour' } }, ['bake.production: "an hour" is not a duration (use e.g. 30s, 15m, 1h30m)']],
    ['an empty command', { deploy: { command: [] } }, ['deploy.command: needs at least the program']],
    ['an empty argument', { deploy: { command: ['./deploy.sh', ''] } }, ['deploy.command.1: an argument must not be empty']],
    ['an empty rollback command', { deploy: { rollback: [] } }, ['deploy.rollback: needs at least the program']],
    ['an unknown deploy provider', { deploy: { provider: 'ssh' } }, ['deploy.provider: unknown deploy provider (known: command, webhook)']],
    ['an unknown flag provider', { featureFlag: { provider: 'launchdarkly' } }, ['featureFlag.provider: unknown flag provider (known: command, flagd)']],
    ['an unknown metric provider', { analysis: { provider: 'datadog' } }, ['analysis.provider: unknown metric provider (known: prometheus)']],
    ['flagd without its file and flag', { featureFlag: { provider: 'flagd' } }, ['featureFlag.file: the flagd provider needs the definitions file', 'featureFlag.flag: the flagd provider needs the flag name']],
    ['a smoke URL that is not http(s)', { stages: { production: { smokeUrl: 'file:///etc/passwd' } } }, ['stages.production.smokeUrl: must be an http(s) URL']],
    ['a service name with a space', { service: 'my service' }, ['service: letters, digits, . _ - (max 63)']],
    ['a service name of 64 characters', { service: 'a'.repeat(64) }, ['service: letters, digits, . _ - (max 63)']],
    ['a secret where a variable name belongs', { notify: { slackWebhookUrlEnv: 'https://hooks.slack.test/T0/B0/x' } }, ['notify.slackWebhookUrlEnv: must be an environment variable name', 'notify.slackWebhookUrlEnv: must start with ROLLGATE_SLACK_: a variable meant for this purpose']],
    ['a deploy webhook variable in lower case', { deploy: { webhook: { urlEnv: 'deploy_url' } } }, ['deploy.webhook.urlEnv: must be an environment variable name', 'deploy.webhook.urlEnv: must start with ROLLGATE_DEPLOY_: a variable meant for this purpose']],
    ['an unknown risk level', { approval: { requiredFor: ['SEVERE'] } }, ['approval.requiredFor.0: Invalid option: expected one of "LOW"|"MEDIUM"|"HIGH"|"CRITICAL"']],
    ['negative users', { risk: { usersAffected: -1 } }, ['risk.usersAffected: Too small: expected number to be >=0']],
  ];
  for (const [name, raw, want] of table) it(name, () => assert.deepEqual(errors(raw), want));

  it('reports every broken field at once, one line each', () => {
    assert.deepEqual(errors({ deploy: { timeout: '0s', provider: 'ssh' }, service: 'a b' }), [
      'service: letters, digits, . _ - (max 63)',
      'deploy.timeout: must be longer than zero',
      'deploy.provider: unknown deploy provider (known: command, webhook)',
    ]);
  });
});

describe('rollout steps', () => {
  it('accept 1 and 100, whole and increasing, ending at 100', () => {
    assert.deepEqual(ok({ canary: { steps: steps(1, 100) } }).canary.steps!.map((s) => s.weight), [1, 100]);
    assert.deepEqual(ok({ featureFlag: { steps: steps(100) } }).featureFlag.steps!.map((s) => s.weight), [100]);
  });

  const table: [string, unknown, string[]][] = [
    ['no steps', { canary: { steps: [] } }, ['canary.steps: Too small: expected array to have >=1 items']],
    ['a weight of 0', { canary: { steps: steps(0, 100) } }, ['canary.steps.0.weight: Too small: expected number to be >=1']],
    ['a weight of 101', { canary: { steps: steps(5, 101) } }, ['canary.steps.1.weight: Too big: expected number to be <=100', 'canary.steps.1.weight: the last step must reach 100']],
    ['a fraction', { canary: { steps: steps(2.5, 100) } }, ['canary.steps.0.weight: must be a whole percentage']],
    ['the same weight twice', { canary: { steps: steps(50, 50, 100) } }, ['canary.steps.1.weight: weights must increase (50 then 50)']],
    ['a weight going down', { featureFlag: { steps: steps(50, 25, 100) } }, ['featureFlag.steps.1.weight: weights must increase (50 then 25)']],
    ['a last step short of 100', { canary: { steps: steps(5, 99) } }, ['canary.steps.1.weight: the last step must reach 100']],
    ['a step without a bake', { canary: { steps: [{ weight: 100 }] } }, ['canary.steps.0.bake: Invalid input: expected string, received undefined']],
  ];
  for (const [name, raw, want] of table) it(`refuse ${name}`, () => assert.deepEqual(errors(raw), want));
});

describe('formatIssues', () => {
  const issues = (raw: unknown) => {
    const r = ConfigSchema.safeParse(raw);
    assert.ok(!r.success);
    return r.error;
  };
  it('puts a prefix before the field path, or alone for an issue at the root', () => {
    assert.deepEqual(formatIssues(issues({ deploy: { timeout: '0s' } }), 'config'), ['config.deploy.timeout: must be longer than zero']);
    assert.deepEqual(formatIssues(issues(7), 'config'), ['config: Invalid input: expected object, received number']);
    assert.deepEqual(formatIssues(issues(7)), ['(root): Invalid input: expected object, received number']);
  });
});
