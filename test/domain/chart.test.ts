import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { XMLValidator } from 'fast-xml-parser';
import type { Measurement } from '../../src/domain/analysis';
import { chartThresholds, renderMetricChart } from '../../src/domain/chart';
import { MetricSchema } from '../../src/domain/analysis';
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

  describe("a judge's chart", () => {
    const judge = MetricSchema.parse({ name: 'errors-judge', query: 'e', judge: { trials: 't', minEffect: 0.1 } });
    // The effect estimate settles near +100% while its confidence sequence narrows round it.
    const looks = [
      [2, 1.4, -0.9, 9],
      [4, 1.1, -0.2, 3.5],
      [6, 1.0, 0.3, 2.1],
      [8, 1.0, 0.45, 1.7],
    ] as const;
    const measurements = looks.map(([s, effect, lower, upper]): Measurement => ({
      ...m(s, lower > 0.1 ? 'failed' : 'successful', effect),
      metric: 'errors-judge',
      judge: { canary: { events: 9, trials: 500 }, stable: { events: 5, trials: 500 }, effect, effectLower: lower, effectUpper: upper, eValue: 1, pValue: 1 },
    }));
    const svg = renderMetricChart({ metric: 'errors-judge', measurements, thresholds: chartThresholds(judge), phases: [{ id: 'production-canary-5', at: at(0) }] });
    const band = /<polygon class="confidence" points="([^"]+)"/.exec(svg)?.[1]?.split(' ').map((p) => p.split(',').map(Number) as [number, number]);

    it('draws the confidence sequence as a band round the effect, narrowing as the counts come in', () => {
      assert.equal(XMLValidator.validate(svg), true);
      assert.ok(band && band.length === 2 * looks.length, svg);
      const upper = band.slice(0, looks.length);
      const lower = band.slice(looks.length).reverse();
      const widths = upper.map(([, uy], i) => lower[i]![1] - uy);
      assert.ok(widths.every((w, i) => i === 0 || w <= widths[i - 1]!), `widths ${widths.join(', ')}`);
      const effects = [...svg.matchAll(/<circle class="measurement" cx="[\d.]+" cy="([\d.]+)"/g)].map((x) => Number(x[1]));
      effects.forEach((ey, i) => assert.ok(upper[i]![1] <= ey && ey <= lower[i]![1], `look ${i}: the estimate inside its band`));
    });
    it('marks the smallest effect worth catching and no change, and the band crossing it once the judge fails', () => {
      assert.deepEqual(chartThresholds(judge).map((t) => t.value), [0.1, 0]);
      const worth = Number(/class="threshold" x1="[\d.]+" y1="([\d.]+)"[^>]*stroke="#c62828"/.exec(svg)![1]);
      const lastLower = band!.at(looks.length)![1];
      assert.ok(lastLower < worth, 'the last lower bound is drawn above the line');
      assert.match(svg, /smallest effect worth catching: \+10%/);
    });
  });
});
