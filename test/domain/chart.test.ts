import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { XMLValidator } from 'fast-xml-parser';
import type { Measurement } from '../../src/domain/analysis';
import { renderMetricChart } from '../../src/domain/chart';
import { parseCondition } from '../../src/domain/condition';

const at = (s: number) => new Date(Date.UTC(2026, 10, 28, 12, 0, s)).toISOString();
const m = (s: number, verdict: Measurement['verdict'], value?: number): Measurement => ({ metric: 'error-rate', phase: 'production-canary-5', seq: s, at: at(s), verdict, ...(value !== undefined ? { value } : {}) });

describe('metric charts', () => {
  const svg = renderMetricChart({
    metric: 'error-rate <5%>',
    measurements: [m(2, 'no-data'), m(4, 'successful', 0.01), m(6, 'successful', 0.02), m(8, 'failed', 0.3)],
    thresholds: [{ value: 0.05, label: 'result > 0.05', kind: 'failure' }],
    phases: [{ id: 'production-canary-5', at: at(0) }],
    rollbackAt: at(9),
  });

  it('is well-formed SVG with escaped text', () => {
    assert.equal(XMLValidator.validate(svg), true);
    assert.match(svg, /<title>error-rate &lt;5%&gt;<\/title>/);
  });
  it('draws every measurement, coloured by verdict, with no data on the axis', () => {
    assert.equal((svg.match(/class="measurement"/g) ?? []).length, 4);
    assert.match(svg, /<rect class="measurement"[^>]*fill="#9e9e9e"/);
    assert.match(svg, /<circle class="measurement"[^>]*fill="#c62828"/);
  });
  it('puts the threshold below the failed point and the rollback after the last measurement', () => {
    const thresholdY = Number(/class="threshold" x1="[\d.]+" y1="([\d.]+)"/.exec(svg)![1]);
    const failedY = Number(/<circle class="measurement" cx="[\d.]+" cy="([\d.]+)" r="3" fill="#c62828"/.exec(svg)![1]);
    assert.ok(failedY < thresholdY, 'a higher value is drawn higher');
    const rollbackX = Number(/class="rollback" x1="([\d.]+)"/.exec(svg)![1]);
    const lastX = Number([...svg.matchAll(/<circle class="measurement" cx="([\d.]+)"/g)].at(-1)![1]);
    assert.ok(rollbackX > lastX);
  });
  it('reads threshold lines from conditions that compare result with a number', () => {
    assert.deepEqual(parseCondition('result > 0.05 || result < 0.001').thresholds, [0.05, 0.001]);
    assert.deepEqual(parseCondition('result > baseline * 1.1').thresholds, []);
    assert.deepEqual(parseCondition('0.99 <= result').thresholds, [0.99]);
  });
});
