import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { alertRules } from '../../src/domain/alerts';
import { AnalysisConfigSchema } from '../../src/domain/analysis';
import { parseCondition } from '../../src/domain/condition';
import { tempDir } from '../helpers/fixtures';

const PROMTOOL = [resolve(__dirname, '../../.tools/bin/promtool'), 'promtool'].find((p) => p === 'promtool' || existsSync(p))!;

const analysis = AnalysisConfigSchema.parse({
  interval: '30s',
  selectors: { stable: { track: 'stable' }, canary: { track: 'canary' } },
  metrics: [
    { name: 'error-rate', query: 'sum(rate(http_requests_total{code=~"5..",{{selector}}}[1m])) / sum(rate(http_requests_total{{{selector}}}[1m]))', successCondition: 'result <= 0.01', failureCondition: 'result > 0.05', failureLimit: 1 },
    { name: 'redis-pool', query: 'redis_pool_active_connections{service="{{service}}"} / redis_pool_max_connections{service="{{service}}"}', failureCondition: 'result > 0.9', interval: '1m' },
    { name: 'connection-errors', query: 'sum(rate(redis_connection_errors_total{{{selector}}}[5m]))', failureCondition: 'result > baseline * 1.10' },
    { name: 'p99-vs-stable', query: 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{{selector}}}[5m])))', failureCondition: 'result > 0.5 || result > stable * 1.5' },
    { name: 'success-only', query: 'up', successCondition: 'result == 1' },
    { name: 'negated', query: 'up', failureCondition: '!(result >= 1)' },
  ],
});
const vars = { service: 'auth', version: 'v2', previousVersion: 'v1', phase: 'production-canary-5', stage: 'production' };

describe('alerting rules from the metric checks', () => {
  it('translates conditions into PromQL filters', () => {
    assert.equal(parseCondition('result > baseline * 1.1').toPromQL({ result: 'x', baseline: 0.2 }), '((x) > (0.2 * 1.1))');
    assert.equal(parseCondition('result > 0.5 && result > stable').toPromQL({ result: 'x', stable: 'y' }), '(((x) > 0.5) and ((x) > (y)))');
    assert.equal(parseCondition('result > baseline').toPromQL({ result: 'x' }), undefined);
    assert.equal(parseCondition('!(result > 1)').toPromQL({ result: 'x' }), undefined);
  });

  it('writes one rule per expressible failure condition, says why it skipped the others, and promtool accepts the file', () => {
    const { rules, skipped } = alertRules({ releaseId: 'release-auth-abc', vars, metrics: analysis.metrics, selectors: analysis.selectors, baseline: { 'connection-errors': 0.4 }, interval: analysis.interval });
    const group = rules.groups[0]!;
    assert.equal(group.name, 'rollgate-release-auth-abc');
    assert.deepEqual(group.rules.map((r) => `${r.alert} for ${r.for}`), ['AuthErrorRate for 1m', 'AuthRedisPool for 1m', 'AuthConnectionErrors for 30s', 'AuthP99VsStable for 30s']);
    assert.equal(group.rules[1]!.expr, '((redis_pool_active_connections{service="auth"} / redis_pool_max_connections{service="auth"}) > 0.9)');
    assert.match(group.rules[2]!.expr, /\(0\.4 \* 1\.1\)\)$/);
    assert.match(group.rules[3]!.expr, / or /);
    assert.deepEqual(group.rules[0]!.labels, { severity: 'critical', service: 'auth', release: 'release-auth-abc', metric: 'error-rate' });
    assert.deepEqual(skipped, [
      { metric: 'success-only', why: 'no failureCondition to alert on' },
      { metric: 'negated', why: 'the condition has no PromQL equivalent' },
    ]);
    const file = join(tempDir(), 'release-decision-20261128-120000.alerts.yml');
    writeFileSync(file, stringify(rules));
    const out = execFileSync(PROMTOOL, ['check', 'rules', file], { encoding: 'utf8' });
    assert.match(out, /SUCCESS: 4 rules found/);
  });

  it('skips a baseline check whose baseline was never captured', () => {
    const { rules, skipped } = alertRules({ releaseId: 'r', vars, metrics: analysis.metrics.slice(2, 3), selectors: analysis.selectors, baseline: {}, interval: analysis.interval });
    assert.equal(rules.groups[0]!.rules.length, 0);
    assert.deepEqual(skipped, [{ metric: 'connection-errors', why: 'no baseline was captured' }]);
  });
});
