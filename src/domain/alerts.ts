import type { Metric } from './analysis';
import { type QueryVars, renderQuery } from './promql';
import { parseCondition } from './condition';
import { formatDuration } from './duration';

/**
 * Prometheus alerting rules that keep watching a release's metric checks after it ends, in the
 * shape of the spec's "Monitoring & alerts" example (RedisPoolExhaustion): the failure condition
 * (else the negated success condition is not expressible, and the metric is skipped) as `expr`,
 * measured on what serves traffic once the release is done.
 */

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface AlertRules {
  groups: { name: string; rules: AlertRule[] }[];
}

const camel = (s: string) =>
  s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

export function alertRules(input: {
  releaseId: string;
  vars: QueryVars;
  metrics: readonly Metric[];
  selectors: { stable: Record<string, string>; canary: Record<string, string> };
  baseline: Record<string, number>;
  interval: number;
}): { rules: AlertRules; skipped: { metric: string; why: string }[] } {
  const rules: AlertRule[] = [];
  const skipped: { metric: string; why: string }[] = [];
  for (const m of input.metrics) {
    if (!m.failureCondition) {
      skipped.push({ metric: m.name, why: 'no failureCondition to alert on' });
      continue;
    }
    // After the release the new version is what serves traffic: the canary selector, compared with nothing.
    const result = renderQuery(m.query, input.vars, input.selectors, 'canary');
    const stable = renderQuery(m.query, input.vars, input.selectors, 'stable');
    const baseline = input.baseline[m.name];
    const expr = parseCondition(m.failureCondition).toPromQL({ result, stable, ...(baseline !== undefined ? { baseline } : {}) });
    if (!expr) {
      skipped.push({ metric: m.name, why: baseline === undefined && parseCondition(m.failureCondition).variables.includes('baseline') ? 'no baseline was captured' : 'the condition has no PromQL equivalent' });
      continue;
    }
    // Fire after the limits the analysis allowed: (failureLimit + 1) intervals.
    const forMs = (m.interval ?? input.interval) * (m.failureLimit + 1);
    rules.push({
      alert: `${camel(input.vars.service)}${camel(m.name)}`,
      expr,
      for: formatDuration(forMs),
      labels: { severity: m.dryRun ? 'warning' : 'critical', service: input.vars.service, release: input.releaseId, metric: m.name },
      annotations: {
        summary: `${input.vars.service} ${m.name}: ${m.failureCondition}`,
        description: `The check that guarded release ${input.releaseId} (${input.vars.version}) is failing again.${baseline !== undefined ? ` Baseline before the release: ${baseline}.` : ''}`,
      },
    });
  }
  return { rules: { groups: [{ name: `rollgate-${input.releaseId}`, rules }] }, skipped };
}

/** `…/release-decision-….md` → `…/release-decision-….alerts.yml`, next to the record. */
export const alertsFileName = (recordFileName: string) => recordFileName.replace(/\.md$/, '.alerts.yml');
