import { alertRules } from '../domain/alerts';
import { comparisons } from '../domain/analysis';
import type { Phase } from '../domain/plan';
import type { ReleaseRun } from './run-state';

/**
 * Before the first deploy: every metric query once (one Prometheus rejects ends the release with
 * nothing deployed), the baseline for checks that compare with it, and the alerting rules.
 */
export async function preflightChecks(run: ReleaseRun, first: Phase, labels?: Record<string, string>): Promise<void> {
  const { metrics, config, acts } = run;
  if (metrics.length === 0) return;
  const vars = { ...run.queryVars(first), ...(labels ? { labels } : {}) };
  await run.step('metric queries', () => acts.quick.checkQueries({ vars, analysis: config.analysis }), (d) => d);
  if (metrics.some((m) => comparisons(m).baseline)) {
    const captured = await run.step('baseline', () => acts.quick.captureBaseline({ vars, analysis: config.analysis }), (b) =>
      [...Object.entries(b.values).map(([k, v]) => `${k} ${v}`), ...Object.entries(b.missing).map(([k, why]) => `${k}: ${why}`)].join(', '),
    );
    run.baseline = captured.values;
    run.status.baseline = captured.values;
  }
  const recordPath = run.status.recordPath;
  if (!recordPath) return;
  const { rules, skipped } = alertRules({ releaseId: run.releaseId, vars, metrics, selectors: config.analysis.selectors, baseline: run.baseline, interval: config.analysis.interval });
  const written = await run.step('alert rules', () => acts.quick.writeAlertRules({ recordPath, rules }), (path) =>
    `${path}${skipped.length ? `; skipped ${skipped.map((x) => `${x.metric} (${x.why})`).join(', ')}` : ''}`,
  );
  // The record links the file once it is there, by its name beside the record.
  run.alertRulesFile = written.split('/').pop();
}
