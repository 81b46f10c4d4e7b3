import { Outcome } from './enums';
import type { LedgerEntry } from './ledger';

/**
 * The four DORA metrics from ledger lines. A deployment is a release that reached production
 * traffic and ended released, rolled back or with a failed rollback; aborted and escalated
 * releases changed nothing and are not counted.
 */

export const Band = { ELITE: 'elite', HIGH: 'high', MEDIUM: 'medium', LOW: 'low' } as const;
export type Band = (typeof Band)[keyof typeof Band];

const HOUR = 3600;
const DAY = 24 * HOUR;

/** Thresholds after the DORA reports' performance clusters; each is the upper bound of its band. */
export const BANDS = {
  /** Deployments per day: elite on demand (daily or more), high weekly, medium monthly. */
  deploymentFrequency: [
    { band: Band.ELITE, atLeastPerDay: 1 },
    { band: Band.HIGH, atLeastPerDay: 1 / 7 },
    { band: Band.MEDIUM, atLeastPerDay: 1 / 30 },
  ],
  leadTimeSeconds: [
    { band: Band.ELITE, below: DAY },
    { band: Band.HIGH, below: 7 * DAY },
    { band: Band.MEDIUM, below: 30 * DAY },
  ],
  changeFailureRate: [
    { band: Band.ELITE, atMost: 0.05 },
    { band: Band.HIGH, atMost: 0.1 },
    { band: Band.MEDIUM, atMost: 0.15 },
  ],
  timeToRestoreSeconds: [
    { band: Band.ELITE, below: HOUR },
    { band: Band.HIGH, below: DAY },
    { band: Band.MEDIUM, below: 7 * DAY },
  ],
} as const;

export interface DoraReport {
  from: string;
  to: string;
  days: number;
  service?: string;
  releases: number;
  deployments: number;
  deploymentFrequency: { perDay: number; band: Band };
  /** Median, head commit to production, released changes only. */
  leadTime: { medianSeconds: number | null; samples: number; band: Band | null };
  /** Rolled back (or failed to roll back) over deployments. */
  changeFailureRate: { rate: number | null; failed: number; band: Band | null };
  /** Median rollback duration. */
  timeToRestore: { medianSeconds: number | null; samples: number; band: Band | null };
}

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const byBelow = (v: number | null, table: readonly { band: Band; below: number }[]): Band | null => (v === null ? null : (table.find((t) => v < t.below)?.band ?? Band.LOW));

/** Ledger lines whose release started in [to − days, to], optionally for one service; a retried line (same run) counts once. */
export function doraReport(entries: readonly LedgerEntry[], opts: { to: Date; days: number; service?: string }): DoraReport {
  const from = new Date(opts.to.getTime() - opts.days * DAY * 1000);
  const seen = new Set<string>();
  const inWindow = entries.filter((e) => {
    const t = Date.parse(e.started_at);
    if (!(t >= from.getTime() && t <= opts.to.getTime())) return false;
    if (opts.service && e.service !== opts.service) return false;
    if (seen.has(e.run)) return false;
    seen.add(e.run);
    return true;
  });
  const deployments = inWindow.filter((e) => e.outcome === Outcome.RELEASED || e.outcome === Outcome.ROLLED_BACK || e.outcome === Outcome.ROLLBACK_FAILED || e.outcome === Outcome.PARTIALLY_RELEASED);
  const failed = deployments.filter((e) => e.outcome !== Outcome.RELEASED);
  const released = deployments.filter((e) => e.outcome === Outcome.RELEASED);
  const perDay = released.length / opts.days;
  const leadTimes = released.map((e) => e.lead_time_seconds).filter((x): x is number => x !== null);
  const restores = failed.map((e) => e.rollback_duration_seconds).filter((x): x is number => x !== null);
  const rate = deployments.length ? failed.length / deployments.length : null;
  const lead = median(leadTimes);
  const restore = median(restores);
  return {
    from: from.toISOString(),
    to: opts.to.toISOString(),
    days: opts.days,
    ...(opts.service ? { service: opts.service } : {}),
    releases: inWindow.length,
    deployments: deployments.length,
    deploymentFrequency: { perDay, band: BANDS.deploymentFrequency.find((t) => perDay >= t.atLeastPerDay)?.band ?? Band.LOW },
    leadTime: { medianSeconds: lead, samples: leadTimes.length, band: byBelow(lead, BANDS.leadTimeSeconds) },
    changeFailureRate: { rate, failed: failed.length, band: rate === null ? null : (BANDS.changeFailureRate.find((t) => rate <= t.atMost)?.band ?? Band.LOW) },
    timeToRestore: { medianSeconds: restore, samples: restores.length, band: byBelow(restore, BANDS.timeToRestoreSeconds) },
  };
}

/** How far back the record looks for a service's rollbacks when it estimates the next one. */
export const RESTORE_HISTORY_DAYS = 90;

/** This service's measured time to restore: the median rollback duration in the ledger's last 90 days. */
export interface RestoreHistory {
  medianSeconds: number | null;
  samples: number;
  days: number;
}

export function restoreHistory(entries: readonly LedgerEntry[], service: string, to: Date): RestoreHistory {
  const { medianSeconds, samples } = doraReport(entries, { to, days: RESTORE_HISTORY_DAYS, service }).timeToRestore;
  return { medianSeconds, samples, days: RESTORE_HISTORY_DAYS };
}
