import type { Measurement, Metric } from './analysis';
import { parseCondition } from './condition';
import { percentChange } from './judge';

/**
 * An SVG line chart of one metric's measurements over a release: points coloured by verdict,
 * dashed threshold lines, phase boundaries, and the rollback moment. A judge's chart plots its
 * effect estimate inside its confidence sequence, a band that narrows as counts come in. Pure:
 * text in, text out.
 */

/** The lines a metric's conditions draw: each number `result` is compared with, by the condition it belongs to. A judge: no change, and the smallest effect worth catching. */
export function chartThresholds(metric: Pick<Metric, 'failureCondition' | 'successCondition' | 'judge'>): ChartInput['thresholds'] {
  if (metric.judge)
    return [
      { value: metric.judge.minEffect, label: `smallest effect worth catching: ${percentChange(metric.judge.minEffect)}`, kind: 'failure' },
      { value: 0, label: 'as stable', kind: 'success' },
    ];
  return (
    [
      [metric.failureCondition, 'failure'],
      [metric.successCondition, 'success'],
    ] as const
  ).flatMap(([c, kind]) => (c ? parseCondition(c).thresholds.map((value) => ({ value, label: c, kind })) : []));
}

export interface ChartInput {
  metric: string;
  measurements: readonly Measurement[];
  /** Failure thresholds are drawn red, success thresholds green. */
  thresholds: readonly { value: number; label: string; kind: 'failure' | 'success' }[];
  phases: readonly { id: string; at: string }[];
  rollbackAt?: string;
}

const W = 720;
const H = 260;
const PAD = { left: 64, right: 16, top: 28, bottom: 40 };
const COLOR: Record<string, string> = { successful: '#2e7d32', failed: '#c62828', inconclusive: '#f9a825', 'no-data': '#9e9e9e', error: '#6a1b9a' };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number) => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v * 100) / 100) : v.toPrecision(3));
const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

export function renderMetricChart(input: ChartInput): string {
  const points = input.measurements.map((m) => ({ t: Date.parse(m.at), v: m.value, m }));
  const times = [...points.map((p) => p.t), ...input.phases.map((p) => Date.parse(p.at)), ...(input.rollbackAt ? [Date.parse(input.rollbackAt)] : [])];
  const t0 = Math.min(...times);
  const t1 = Math.max(...times, t0 + 1000);
  // A judge's band: its lower bounds set the scale (they cross the line that matters); its upper
  // bounds, wide before the counts come in, are cut at the top.
  const band = points.flatMap(({ t, m }) =>
    m.judge && m.judge.effect !== null && Number.isFinite(m.judge.effectLower) && Number.isFinite(m.judge.effectUpper) ? [{ t, phase: m.phase, lower: m.judge.effectLower, upper: m.judge.effectUpper }] : [],
  );
  const values = [...points.flatMap((p) => (p.v === undefined ? [] : [p.v])), ...input.thresholds.map((t) => t.value), ...band.map((b) => b.lower)];
  let v0 = Math.min(0, ...values);
  let v1 = Math.max(...values, v0 + 1e-9);
  const span = v1 - v0;
  v1 += span * 0.1;
  if (v0 < 0) v0 -= span * 0.1;
  const x = (t: number) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - ((v - v0) / (v1 - v0)) * (H - PAD.top - PAD.bottom);
  const bottom = H - PAD.bottom;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<title>${esc(input.metric)}</title>`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${PAD.left}" y="18" font-size="13" font-weight="bold">${esc(input.metric)}</text>`);
  // Axes and value ticks.
  out.push(`<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${bottom}" stroke="#555"/>`);
  out.push(`<line x1="${PAD.left}" y1="${bottom}" x2="${W - PAD.right}" y2="${bottom}" stroke="#555"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = v0 + ((v1 - v0) * i) / 4;
    out.push(`<line x1="${PAD.left - 4}" y1="${y(v).toFixed(1)}" x2="${W - PAD.right}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${num(v)}</text>`);
  }
  out.push(`<text x="${PAD.left}" y="${H - 8}" fill="#555">${clock(t0)} UTC</text>`);
  out.push(`<text x="${W - PAD.right}" y="${H - 8}" text-anchor="end" fill="#555">${clock(t1)} UTC</text>`);
  // Phase boundaries.
  // Labels step down so that phases that start close together stay readable.
  input.phases.forEach((p, i) => {
    const px = x(Date.parse(p.at)).toFixed(1);
    out.push(`<line x1="${px}" y1="${PAD.top}" x2="${px}" y2="${bottom}" stroke="#90a4ae" stroke-dasharray="2,3"/>`);
    out.push(`<text x="${Number(px) + 3}" y="${PAD.top + 10 + (i % 4) * 11}" fill="#607d8b" font-size="10">${esc(p.id)}</text>`);
  });
  // A judge's confidence sequence, one band per phase.
  const clip = (v: number) => Math.min(v1, Math.max(v0, v));
  for (const phase of new Set(band.map((b) => b.phase))) {
    const b = band.filter((pt) => pt.phase === phase);
    const edge = (v: (pt: (typeof b)[number]) => number) => b.map((pt) => `${x(pt.t).toFixed(1)},${y(clip(v(pt))).toFixed(1)}`);
    if (b.length > 1) out.push(`<polygon class="confidence" points="${[...edge((pt) => pt.upper), ...edge((pt) => pt.lower).reverse()].join(' ')}" fill="#1565c0" fill-opacity="0.15" stroke="none"><title>${esc(`${phase}: confidence sequence of the effect`)}</title></polygon>`);
  }
  // Thresholds.
  // One line per value: a success and a failure condition on the same number share it.
  const lines = new Map<number, { value: number; labels: string[]; kind: 'failure' | 'success' }>();
  for (const t of input.thresholds) {
    const l = lines.get(t.value) ?? { value: t.value, labels: [], kind: t.kind };
    l.labels.push(t.label);
    if (t.kind === 'failure') l.kind = 'failure';
    lines.set(t.value, l);
  }
  for (const t of [...lines.values()].map((l) => ({ value: l.value, kind: l.kind, label: l.labels.join(' · ') }))) {
    const ty = y(t.value).toFixed(1);
    const color = t.kind === 'failure' ? '#c62828' : '#2e7d32';
    out.push(`<line class="threshold" x1="${PAD.left}" y1="${ty}" x2="${W - PAD.right}" y2="${ty}" stroke="${color}" stroke-dasharray="6,4"/>`);
    out.push(`<text x="${PAD.left + 6}" y="${Number(ty) - 4}" fill="${color}">${esc(t.label)}</text>`);
  }
  // One line per phase (each measures its own subject), then each measurement coloured by its verdict; no value: a mark on the axis.
  for (const phase of new Set(points.map((p) => p.m.phase))) {
    const line = points.filter((p) => p.m.phase === phase && p.v !== undefined).map((p) => `${x(p.t).toFixed(1)},${y(p.v!).toFixed(1)}`);
    if (line.length > 1) out.push(`<polyline points="${line.join(' ')}" fill="none" stroke="#1565c0" stroke-width="1.5"/>`);
  }
  for (const p of points) {
    const color = COLOR[p.m.verdict] ?? '#000';
    if (p.v === undefined) out.push(`<rect class="measurement" x="${(x(p.t) - 3).toFixed(1)}" y="${bottom - 3}" width="6" height="6" fill="${color}"><title>${esc(`${p.m.at} ${p.m.verdict}: ${p.m.message ?? ''}`)}</title></rect>`);
    else out.push(`<circle class="measurement" cx="${x(p.t).toFixed(1)}" cy="${y(p.v).toFixed(1)}" r="3" fill="${color}"><title>${esc(`${p.m.at} ${num(p.v)} ${p.m.verdict}`)}</title></circle>`);
  }
  if (input.rollbackAt) {
    const rx = x(Date.parse(input.rollbackAt)).toFixed(1);
    out.push(`<line class="rollback" x1="${rx}" y1="${PAD.top}" x2="${rx}" y2="${bottom}" stroke="#c62828" stroke-width="2"/>`);
    out.push(`<text x="${Number(rx) - 4}" y="${bottom - 6}" text-anchor="end" fill="#c62828" font-weight="bold">rollback</text>`);
  }
  // Legend.
  const legend = Object.entries(COLOR);
  legend.forEach(([verdict, color], i) => {
    const lx = W - PAD.right - (legend.length - i) * 92;
    out.push(`<circle cx="${lx}" cy="14" r="4" fill="${color}"/><text x="${lx + 7}" y="18" fill="#333">${verdict}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
