import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCondition } from '../../src/domain/condition';
import {
  analysisVerdict,
  AnalysisConfigSchema,
  initialState,
  isDone,
  isStable,
  judge,
  judgeReading,
  longestRange,
  type Measurement,
  type Metric,
  MetricSchema,
  record,
  type Verdict,
  warmUpFor,
} from '../../src/domain/analysis';
import { renderQuery } from '../../src/domain/promql';
import { parseConfig } from '../../src/domain/config';

const metric = (m: Partial<Metric> & { failureCondition?: string; successCondition?: string }): Metric =>
  MetricSchema.parse({ name: 'error-rate', query: 'x', ...m, ...(m.warmUp !== undefined ? { warmUp: `${m.warmUp}ms` } : {}) });

function run(m: Metric, verdicts: Verdict[]) {
  let s = initialState(m, 0);
  verdicts.forEach((verdict, i) => {
    const measurement: Measurement = { metric: m.name, phase: 'p', seq: i + 1, at: new Date(i * 1000).toISOString(), verdict };
    s = record(m, s, measurement, 1000);
  });
  return s;
}

describe('conditions', () => {
  const table: [string, Record<string, number>, boolean][] = [
    ['result < 0.05', { result: 0.049 }, true],
    ['result < 0.05', { result: 0.05 }, false],
    ['result >= 0.99', { result: 0.99 }, true],
    ['result > baseline * 1.10', { result: 0.111, baseline: 0.1 }, true],
    ['result > baseline * 1.10', { result: 0.11, baseline: 0.1 }, false],
    ['result - stable > 0.02 && result > 0.01', { result: 0.05, stable: 0.01 }, true],
    ['result - stable > 0.02 and result > 0.01', { result: 0.02, stable: 0.01 }, false],
    ['!(result > 1) || result == 5', { result: 5 }, true],
    ['result > -1e-3', { result: 0 }, true],
    ['(result + 1) / 2 <= 1', { result: 1 }, true],
  ];
  for (const [src, scope, expected] of table) it(`${src} with ${JSON.stringify(scope)} is ${expected}`, () => assert.equal(parseCondition(src).test(scope), expected));

  it('refuses what is not a comparison over result, naming the problem', () => {
    assert.throws(() => parseCondition('result'), /must compare/);
    assert.throws(() => parseCondition('0.05 > 0.01'), /must use result/);
    assert.throws(() => parseCondition('result > limit'), /unknown name "limit"/);
    assert.throws(() => parseCondition('result > (1'), /a "\)" is missing/);
    assert.throws(() => parseCondition('result >'), /ends too early/);
    assert.throws(() => parseCondition('result > 1; rm -rf /'), /unexpected ";"/);
    assert.throws(() => parseCondition('process.exit() > 1'), /unexpected "\."/);
  });

  it('lists the references a check needs', () => {
    assert.deepEqual(parseCondition('result > baseline * 1.1 || result > stable').variables.sort(), ['baseline', 'result', 'stable']);
  });
});

describe('judging one measurement (Argo Rollouts semantics)', () => {
  const both = metric({ successCondition: 'result <= 0.01', failureCondition: 'result > 0.05' });
  it('failure condition true → failed', () => assert.equal(judge(both, { kind: 'value', value: 0.06 }).verdict, 'failed'));
  it('success condition true → successful', () => assert.equal(judge(both, { kind: 'value', value: 0.01 }).verdict, 'successful'));
  it('neither true → inconclusive', () => assert.equal(judge(both, { kind: 'value', value: 0.03 }).verdict, 'inconclusive'));
  it('only a success condition, false → failed', () => assert.equal(judge(metric({ successCondition: 'result >= 0.99' }), { kind: 'value', value: 0.98 }).verdict, 'failed'));
  it('only a failure condition, false → successful', () => assert.equal(judge(metric({ failureCondition: 'result > 0.5' }), { kind: 'value', value: 0.4 }).verdict, 'successful'));
  it('no data is its own verdict, never a pass', () => assert.equal(judge(both, { kind: 'no-data', message: 'no series' }).verdict, 'no-data'));
  it('a provider error is an error, not a failure', () => assert.equal(judge(both, { kind: 'error', message: 'unreachable' }).verdict, 'error'));
  it('a baseline check without a baseline is no data', () => {
    const j = judge(metric({ failureCondition: 'result > baseline * 1.1' }), { kind: 'value', value: 1 });
    assert.equal(j.verdict, 'no-data');
    assert.match(j.message!, /baseline is not known/);
  });
  it('says what broke, with the values it compared', () =>
    assert.equal(judge(metric({ failureCondition: 'result > baseline * 1.1' }), { kind: 'value', value: 0.3, baseline: 0.05 }).message, 'result > baseline * 1.1 (result 0.3, baseline 0.05)'));
});

describe('limits over a phase', () => {
  it('fails on the first failed measurement by default (failureLimit 0)', () => assert.equal(run(metric({ failureCondition: 'result > 1' }), ['successful', 'failed']).phase, 'failed'));
  it('tolerates failures up to failureLimit', () => {
    const m = metric({ failureCondition: 'result > 1', failureLimit: 2 });
    assert.equal(run(m, ['failed', 'failed']).phase, 'running');
    assert.equal(run(m, ['failed', 'failed', 'failed']).phase, 'failed');
  });
  it('errors only past 4 consecutive errors by default, and a success resets the count', () => {
    const m = metric({ failureCondition: 'result > 1' });
    assert.equal(run(m, ['error', 'error', 'error', 'error']).phase, 'running');
    assert.equal(run(m, ['error', 'error', 'error', 'error', 'error']).phase, 'error');
    assert.equal(run(m, ['error', 'error', 'error', 'error', 'successful', 'error']).phase, 'running');
  });
  it('counts no data as inconclusive by default, as failed when the policy says so', () => {
    assert.equal(run(metric({ failureCondition: 'result > 1' }), ['no-data']).phase, 'inconclusive');
    assert.equal(run(metric({ failureCondition: 'result > 1', noData: 'failed' }), ['no-data']).phase, 'failed');
    assert.equal(run(metric({ failureCondition: 'result > 1', inconclusiveLimit: 1 }), ['no-data']).phase, 'running');
  });
  it('takes the worst metric, ignoring dry-run ones, and is stable only when every acting metric last passed', () => {
    const acting = metric({ name: 'a', failureCondition: 'result > 1' });
    const dry = metric({ name: 'd', failureCondition: 'result > 1', dryRun: true });
    const states = [run(acting, ['successful']), run(dry, ['failed'])];
    assert.deepEqual(analysisVerdict([acting, dry], states), { verdict: 'running', metrics: [] });
    assert.equal(isStable([acting, dry], states), true);
    assert.equal(isStable([acting, dry], [run(acting, ['successful', 'error']), states[1]!]), false);
    assert.deepEqual(analysisVerdict([acting, dry], [run(acting, ['failed']), states[1]!]), { verdict: 'failed', metrics: ['a'] });
  });
  it('keeps only the latest measurements in the state', () => assert.equal(run(metric({ failureCondition: 'result > 1', failureLimit: 99 }), Array(25).fill('failed')).recent.length, 10));
});

describe('PromQL templates', () => {
  const vars = { service: 'pay"ments', version: 'v2\\1', previousVersion: 'v1', phase: 'production-canary-5', stage: 'production' };
  const selectors = { stable: { track: 'stable' }, canary: { track: 'canary', version: 'v"2' } };
  it('escapes label values and renders selectors per subject', () => {
    assert.equal(
      renderQuery('sum(rate(http_requests_total{service="{{service}}",version="{{version}}",{{selector}}}[1m]))', vars, selectors, 'canary'),
      'sum(rate(http_requests_total{service="pay\\"ments",version="v2\\\\1",track="canary",version="v\\"2"}[1m]))',
    );
    assert.equal(renderQuery('up{{{selector}}}', vars, selectors, 'stable'), 'up{track="stable"}');
    assert.equal(renderQuery('up{{{canarySelector}}} - up{{{stableSelector}}}', vars, selectors, 'stable'), 'up{track="canary",version="v\\"2"} - up{track="stable"}');
  });
  it('refuses unknown placeholders and bad conditions when the config is read', () => {
    const parsed = parseConfig({ analysis: { metrics: [{ name: 'e', query: 'up{job="{{jobb}}"}', failureCondition: 'result >> 1' }] } });
    assert.ok(!parsed.ok);
    assert.deepEqual(parsed.errors, ['analysis.metrics.0.failureCondition: invalid condition "result >> 1": unexpected ">"', 'analysis.metrics.0.query: unknown placeholder {{jobb}}']);
  });
  it('needs a condition, a known provider, unique names and variable names for credentials', () => {
    const r = AnalysisConfigSchema.safeParse({ provider: 'datadog', prometheus: { bearerTokenEnv: 'my token' }, metrics: [{ name: 'e', query: 'up' }, { name: 'e', query: 'up', failureCondition: 'result < 1' }] });
    assert.ok(!r.success);
    const messages = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    assert.ok(messages.includes('provider: unknown metric provider (known: prometheus)'), messages.join('\n'));
    assert.ok(messages.includes('prometheus.bearerTokenEnv: must be an environment variable name'));
    assert.ok(messages.includes('metrics.0.successCondition: give a successCondition, a failureCondition or both (or a judge)'));
    assert.ok(messages.includes('metrics.1.name: "e" is used twice'));
  });
});

describe('warm-up: no data before a phase has seen any is not yet inconclusive', () => {
  const m = metric({ query: 'sum(rate(x{a="[1]"}[30s])) / sum(rate(y[2m:10s]))', successCondition: 'result < 1', failureCondition: 'result > 2' });
  const noData = { kind: 'no-data', message: 'the query returned no series' } as const;

  it('reads the longest range or subquery window of a query', () => {
    assert.equal(longestRange(m.query), 120_000);
    assert.equal(longestRange('up'), 0);
  });

  it('defaults to the longest of two intervals, the query range and three scrapes; a configured warm-up wins', () => {
    assert.equal(warmUpFor(m, 10_000, 15_000), 120_000);
    assert.equal(warmUpFor(metric({ query: 'up', failureCondition: 'result > 1' }), 10_000, 15_000), 45_000);
    assert.equal(warmUpFor(metric({ query: 'up', failureCondition: 'result > 1' }), 30_000, 1_000), 60_000);
    assert.equal(warmUpFor(metric({ query: 'up', failureCondition: 'result > 1', warmUp: 0 }), 30_000, 1_000), 0);
  });

  it('counts no data as warming up until data is seen or the warm-up ends, then as no data', () => {
    let s = initialState(m, 0, 5_000);
    const at = (ms: number, obs: Parameters<typeof judgeReading>[2]) => {
      const j = judgeReading(m, s, obs, ms);
      s = record(m, s, { metric: m.name, phase: 'p', seq: s.measured + 1, at: new Date(ms).toISOString(), verdict: j.verdict, ...(j.message ? { message: j.message } : {}) }, 1000);
      return j;
    };
    assert.equal(at(0, noData).verdict, 'warming-up');
    assert.match(s.last!.message!, /^no data yet, warming up until 1970-01-01T00:00:05\.000Z: the query returned no series$/);
    assert.equal(at(4_000, noData).verdict, 'warming-up');
    assert.deepEqual([s.warmingUp, s.noData, s.phase], [2, 0, 'running']);
    assert.equal(at(5_000, noData).verdict, 'no-data', 'the warm-up is over');
    assert.equal(s.phase, 'inconclusive');

    s = initialState(m, 0, 60_000);
    assert.equal(at(1_000, { kind: 'value', value: 0.5 }).verdict, 'successful');
    assert.equal(at(2_000, noData).verdict, 'no-data', 'data was seen: no data counts at once');
    assert.equal(s.phase, 'inconclusive');
  });

  it('does not count warming-up readings toward a metric\'s count', () => {
    const counted = { ...m, count: 2 };
    let s = initialState(counted, 0, 60_000);
    for (const [i, verdict] of (['warming-up', 'warming-up', 'successful'] as const).entries())
      s = record(counted, s, { metric: m.name, phase: 'p', seq: i + 1, at: new Date(i * 1000).toISOString(), verdict }, 1000);
    assert.equal(isDone(counted, s), false, 'one real reading of two');
    s = record(counted, s, { metric: m.name, phase: 'p', seq: 4, at: new Date(4000).toISOString(), verdict: 'successful' }, 1000);
    assert.equal(isDone(counted, s), true);
  });
});
