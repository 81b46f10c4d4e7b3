/**
 * PromQL query templates: placeholders filled with escaped label values and rendered selectors,
 * and the check that finds unknown placeholders when the config is read.
 */

/** Escapes a value for a double-quoted PromQL string (label values). */
export const escapeLabelValue = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export const renderSelector = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
    .join(',');

export interface QueryVars {
  service: string;
  version: string;
  previousVersion: string;
  phase: string;
  stage: string;
  /** For a judge's counts: the time since its phase started, as a PromQL range (`123s`). */
  sincePhase?: string;
}

const TEMPLATE = /\{\{\s*(\w+)\s*\}\}/g;
export const QUERY_PLACEHOLDERS = ['service', 'version', 'previousVersion', 'phase', 'stage', 'selector', 'stableSelector', 'canarySelector', 'sincePhase'] as const;

/**
 * Fills a query template. Plain variables are escaped as label values; selectors are rendered as
 * label matchers. `subject` picks what {{selector}} means: the canary, or the stable version.
 */
export function renderQuery(template: string, vars: QueryVars, selectors: { stable: Record<string, string>; canary: Record<string, string> }, subject: 'canary' | 'stable'): string {
  return template.replace(TEMPLATE, (whole, name: string) => {
    switch (name) {
      case 'selector':
        return renderSelector(selectors[subject]);
      case 'stableSelector':
        return renderSelector(selectors.stable);
      case 'canarySelector':
        return renderSelector(selectors.canary);
      case 'sincePhase':
        // A range rollgate computes, never a value from people: digits and a unit. Checks run before a phase read one minute.
        return /^\d+s$/.test(vars.sincePhase ?? '') ? vars.sincePhase! : '1m';
      case 'service':
      case 'version':
      case 'previousVersion':
      case 'phase':
      case 'stage':
        return escapeLabelValue(vars[name]);
      default:
        throw new Error(`unknown placeholder ${whole} (known: ${QUERY_PLACEHOLDERS.map((p) => `{{${p}}}`).join(' ')})`);
    }
  });
}

/** Unknown placeholders are a config error, found before anything starts. */
export function templateErrors(template: string): string[] {
  return [...template.matchAll(TEMPLATE)].filter((m) => !(QUERY_PLACEHOLDERS as readonly string[]).includes(m[1]!)).map((m) => `unknown placeholder ${m[0]}`);
}
