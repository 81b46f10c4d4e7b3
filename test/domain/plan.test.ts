import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig, type RollgateConfig, type RollgateConfigInput } from '../../src/domain/config';
import { Strategy } from '../../src/domain/enums';
import { buildPlan, isAnalysed, isIntermediate, type Phase, PhaseAction, rollbackTargets, verificationUrl } from '../../src/domain/plan';

const MIN = 60_000;
const HOUR = 60 * MIN;

function config(raw: RollgateConfigInput = {}): RollgateConfig {
  const r = parseConfig(raw);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.config;
}

/** The fields that make a phase's behaviour, one compact line each: easy to compare as a table. */
const shape = (p: Phase) => `${p.id} ${p.action} ${p.stage} w${p.weight} hold${p.holdMs} bake${p.bakeMs}${p.approval ? ' approval' : ''}`;
const phasesOf = (strategy: Strategy, raw: RollgateConfigInput = {}) => buildPlan(strategy, config(raw)).phases;

describe('buildPlan: phases per strategy with the default config', () => {
  const table: [Strategy, string[]][] = [
    [
      Strategy.IMMEDIATE,
      [`staging-deploy deploy staging w100 hold0 bake${15 * MIN}`, `production-deploy deploy production w100 hold0 bake${HOUR}`],
    ],
    [
      Strategy.CANARY,
      [
        `staging-deploy deploy staging w100 hold0 bake${15 * MIN}`,
        `production-canary-5 deploy production w5 hold0 bake${30 * MIN}`,
        `production-canary-50 set-weight production w50 hold0 bake${HOUR}`,
        `production-canary-100 promote production w100 hold0 bake${24 * HOUR}`,
      ],
    ],
    [
      Strategy.FEATURE_FLAG,
      [
        `staging-deploy deploy staging w100 hold0 bake${15 * MIN}`,
        'production-deploy-flag-off deploy production w0 hold0 bake0',
        `production-flag-5 enable-flag production w5 hold0 bake${30 * MIN}`,
        `production-flag-25 enable-flag production w25 hold0 bake${HOUR}`,
        `production-flag-50 enable-flag production w50 hold0 bake${HOUR}`,
        `production-flag-100 enable-flag production w100 hold0 bake${24 * HOUR}`,
      ],
    ],
    [
      Strategy.BLUE_GREEN,
      [
        `staging-deploy deploy staging w100 hold0 bake${15 * MIN}`,
        'production-green-deploy deploy production-green w0 hold0 bake0',
        `production-switch switch production w100 hold0 bake${HOUR} approval`,
        `production-retire-blue retire production-blue w100 hold${24 * HOUR} bake0`,
      ],
    ],
  ];
  for (const [strategy, want] of table)
    it(`${strategy}: ${want.length} phases`, () => {
      const plan = buildPlan(strategy, config());
      assert.equal(plan.strategy, strategy);
      assert.deepEqual(plan.phases.map(shape), want);
    });

  it('titles say what each phase does, the retire title naming the rollback window', () => {
    assert.deepEqual(phasesOf(Strategy.CANARY).map((p) => p.title), ['Deploy to staging', 'Canary: 5% of traffic', 'Canary: 50% of traffic', 'Canary: all traffic']);
    assert.deepEqual(phasesOf(Strategy.FEATURE_FLAG).slice(1, 3).map((p) => p.title), ['Deploy to production with the flag off', 'Flag on for 5% of users']);
    assert.equal(phasesOf(Strategy.BLUE_GREEN, { blueGreen: { rollbackWindow: '1h30m' } }).at(-1)!.title, 'Retire blue after the 1h30m rollback window');
    assert.equal(phasesOf(Strategy.BLUE_GREEN, { blueGreen: { rollbackWindow: '1h30m' } }).at(-1)!.holdMs, 90 * MIN);
  });
});

describe('buildPlan: the config shapes the plan', () => {
  it('takes the bakes of staging and production from bake.*, zero included', () => {
    const phases = phasesOf(Strategy.IMMEDIATE, { bake: { staging: '0s', production: '5m' } });
    assert.deepEqual(phases.map((p) => p.bakeMs), [0, 5 * MIN]);
    assert.equal(phasesOf(Strategy.BLUE_GREEN, { bake: { production: '7m' } })[2]!.bakeMs, 7 * MIN, 'the switch bakes for the production bake');
  });

  it('follows custom canary steps: the first deploys, 100 promotes, the rest set the weight; approvals carried', () => {
    const phases = phasesOf(Strategy.CANARY, { canary: { steps: [{ weight: 10, bake: '0s', approval: true }, { weight: 20, bake: '1m' }, { weight: 100, bake: '2m' }] } });
    assert.deepEqual(phases.slice(1).map(shape), [
      'production-canary-10 deploy production w10 hold0 bake0 approval',
      `production-canary-20 set-weight production w20 hold0 bake${MIN}`,
      `production-canary-100 promote production w100 hold0 bake${2 * MIN}`,
    ]);
  });

  it('a single canary step of 100 deploys (the first step always deploys), titled all traffic', () => {
    const [, only, ...rest] = phasesOf(Strategy.CANARY, { canary: { steps: [{ weight: 100, bake: '1m' }] } });
    assert.equal(rest.length, 0);
    assert.equal(only!.action, PhaseAction.DEPLOY);
    assert.equal(only!.title, 'Canary: all traffic');
  });

  it('follows custom flag steps after the deploy with the flag off', () => {
    const phases = phasesOf(Strategy.FEATURE_FLAG, { featureFlag: { steps: [{ weight: 1, bake: '1m', approval: true }, { weight: 100, bake: '0s' }] } });
    assert.deepEqual(phases.slice(1).map(shape), ['production-deploy-flag-off deploy production w0 hold0 bake0', `production-flag-1 enable-flag production w1 hold0 bake${MIN} approval`, 'production-flag-100 enable-flag production w100 hold0 bake0']);
  });

  it('smoke tests: staging phases get the staging URL, phases that deploy or move traffic in production get the production URL; green its own; flags and retire get none', () => {
    const urls = { stages: { staging: { smokeUrl: 'http://staging.test/health' }, production: { smokeUrl: 'https://prod.test/health' } } };
    const smoke = (s: Strategy) => phasesOf(s, urls).map((p) => `${p.id}=${p.smokeUrl ?? '-'}`);
    assert.deepEqual(smoke(Strategy.IMMEDIATE), ['staging-deploy=http://staging.test/health', 'production-deploy=https://prod.test/health']);
    assert.deepEqual(smoke(Strategy.CANARY).slice(1), ['production-canary-5=https://prod.test/health', 'production-canary-50=https://prod.test/health', 'production-canary-100=https://prod.test/health']);
    assert.deepEqual(smoke(Strategy.FEATURE_FLAG).slice(1, 3), ['production-deploy-flag-off=https://prod.test/health', 'production-flag-5=-']);
    // The production URL still serves blue before the switch: green is tested where it answers, or not at all.
    assert.deepEqual(smoke(Strategy.BLUE_GREEN).slice(1), ['production-green-deploy=-', 'production-switch=https://prod.test/health', 'production-retire-blue=-']);
    const green = phasesOf(Strategy.BLUE_GREEN, { ...urls, blueGreen: { greenSmokeUrl: 'http://green.test/health' } });
    assert.deepEqual(green.slice(1).map((p) => `${p.id}=${p.smokeUrl ?? '-'}`), ['production-green-deploy=http://green.test/health', 'production-switch=https://prod.test/health', 'production-retire-blue=-']);
    assert.ok(phasesOf(Strategy.CANARY).every((p) => !('smokeUrl' in p)), 'no smokeUrl key at all without a configured URL');
  });
});

describe('phase predicates', () => {
  const phase = (action: PhaseAction, weight: number, stage = 'production'): Phase => ({ id: 'x', title: 'x', action, stage, weight, holdMs: 0, bakeMs: 0, approval: false });
  const table: [string, Phase, boolean][] = [
    ['set-weight 50', phase('set-weight', 50), true],
    ['set-weight 99 (boundary)', phase('set-weight', 99), true],
    ['set-weight 100', phase('set-weight', 100), false],
    ['enable-flag 5', phase('enable-flag', 5), true],
    ['enable-flag 100', phase('enable-flag', 100), false],
    ['deploy 5 (the first canary step)', phase('deploy', 5), false],
    ['promote 100', phase('promote', 100), false],
    ['switch 100', phase('switch', 100), false],
  ];
  for (const [name, p, want] of table) it(`isIntermediate(${name}) = ${want}`, () => assert.equal(isIntermediate(p), want));

  it('isAnalysed: every production stage (green and blue too), never staging', () => {
    assert.deepEqual(['production', 'production-green', 'production-blue', 'staging'].map((s) => isAnalysed(phase('deploy', 100, s))), [true, true, true, false]);
  });

  it('promote --full skips exactly the steps between the first and the full rollout', () => {
    assert.deepEqual(phasesOf(Strategy.CANARY).filter(isIntermediate).map((p) => p.id), ['production-canary-50']);
    assert.deepEqual(phasesOf(Strategy.FEATURE_FLAG).filter(isIntermediate).map((p) => p.id), ['production-flag-5', 'production-flag-25', 'production-flag-50']);
    assert.deepEqual(phasesOf(Strategy.BLUE_GREEN).filter(isIntermediate), []);
  });
});

describe('rollbackTargets', () => {
  const ids = (phases: Phase[]) => rollbackTargets(phases).map((p) => p.id);

  it('nothing started: nothing to roll back', () => assert.deepEqual(ids([]), []));

  it('one phase per stage, the stage\'s first, the most recent stage first', () => {
    const canary = phasesOf(Strategy.CANARY);
    assert.deepEqual(ids(canary.slice(0, 1)), ['staging-deploy']);
    assert.deepEqual(ids(canary.slice(0, 3)), ['production-canary-5', 'staging-deploy']);
    assert.deepEqual(ids(canary), ['production-canary-5', 'staging-deploy']);
  });

  it('blue-green: the switch, then green, then staging; retiring blue is never undone', () => {
    const bg = phasesOf(Strategy.BLUE_GREEN);
    assert.deepEqual(ids(bg), ['production-switch', 'production-green-deploy', 'staging-deploy']);
    assert.deepEqual(ids(bg.slice(0, 2)), ['production-green-deploy', 'staging-deploy']);
  });

  it('the merge to main is undone last: left on main, the next release would ship it unjudged', () => {
    const merged = phasesOf(Strategy.CANARY, { deploy: { merge: true } });
    assert.equal(merged[0]!.action, PhaseAction.MERGE);
    assert.deepEqual(ids(merged.slice(0, 1)), ['merge-main']);
    assert.deepEqual(ids(merged), ['production-canary-5', 'staging-deploy', 'merge-main']);
    assert.deepEqual(ids(phasesOf(Strategy.FEATURE_FLAG, { deploy: { merge: true } })), ['production-flag-5'], 'once a flag is on, only the flag goes off: the code stays dormant');
  });

  it('after a rollback, green is verified where traffic is served: its own URL serves nothing once it is gone', () => {
    const cfg = config({ stages: { production: { smokeUrl: 'https://prod.test/health' } }, blueGreen: { greenSmokeUrl: 'http://green.test/health' } });
    const [, green, sw] = buildPlan(Strategy.BLUE_GREEN, cfg).phases;
    assert.equal(verificationUrl(green!, cfg), 'https://prod.test/health');
    assert.equal(verificationUrl(sw!, cfg), 'https://prod.test/health');
  });

  it('flags: before a flag is on, the deploys are undone; once one is on, only the flag goes off', () => {
    const flag = phasesOf(Strategy.FEATURE_FLAG);
    assert.deepEqual(ids(flag.slice(0, 2)), ['production-deploy-flag-off', 'staging-deploy']);
    assert.deepEqual(ids(flag.slice(0, 3)), ['production-flag-5']);
    assert.deepEqual(ids(flag), ['production-flag-5'], 'the first flag phase stands for all of them');
  });
});
