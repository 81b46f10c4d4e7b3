import { type Fleet, labelPlaceholder } from './waves';

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
  /** A fleet target's name (`target`) and labels. */
  labels?: Record<string, string>;
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
        return renderSelector(fillSelector(selectors[subject], vars));
      case 'stableSelector':
        return renderSelector(fillSelector(selectors.stable, vars));
      case 'canarySelector':
        return renderSelector(fillSelector(selectors.canary, vars));
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
        if (vars.labels && Object.hasOwn(vars.labels, name)) return escapeLabelValue(vars.labels[name]!);
        throw new Error(`unknown placeholder ${whole} (known: ${QUERY_PLACEHOLDERS.map((p) => `{{${p}}}`).join(' ')})`);
    }
  });
}

/** What a selector's label value may hold: the plain variables and the target's labels, never a selector. */
export const SELECTOR_PLACEHOLDERS = ['service', 'version', 'previousVersion', 'phase', 'stage'] as const;

/** Unknown placeholders are a config error, found before anything starts; a target's labels are known where every target has them. */
export function templateErrors(template: string, fleet?: Pick<Fleet, 'targets'>, known: readonly string[] = QUERY_PLACEHOLDERS): string[] {
  return [...template.matchAll(TEMPLATE)].flatMap((m) => {
    if (known.includes(m[1]!)) return [];
    const label = labelPlaceholder(m[1]!, fleet);
    return label === 'ok' ? [] : [label === 'unknown' ? `unknown placeholder ${m[0]}` : `${m[0]}: ${label.problem}`];
  });
}

/** A selector's label values with their placeholders filled in (escaped where the selector is rendered). */
export function fillSelector(labels: Record<string, string>, vars: QueryVars): Record<string, string> {
  const plain: Record<string, string | undefined> = { service: vars.service, version: vars.version, previousVersion: vars.previousVersion, phase: vars.phase, stage: vars.stage, ...vars.labels };
  return Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, v.replace(TEMPLATE, (whole, name: string) => (Object.hasOwn(plain, name) ? (plain[name] ?? whole) : whole))]));
}
