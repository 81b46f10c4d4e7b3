import { type Decision, Outcome, type RiskLevel, type Strategy } from './enums';
import type { EvidenceDigest, Override, StopKind, StopReason } from './release';

/** One line of `ledger.jsonl`: the spec's fields, then rollgate's. */
export interface LedgerEntry {
  skill: 'release-decision';
  timestamp: string;
  input: string;
  output: string | null;
  decision: Decision;
  risk_level: RiskLevel | null;
  rollout_strategy: Strategy | null;
  deployment_time: string | null;
  next_skill: 'ledger-update';
  release_id: string;
  /** Release ID and run: the key that keeps this line unique when its activity is retried. */
  run: string;
  service: string;
  commit: string | null;
  version: string;
  outcome: Outcome;
  reason: string | null;
  /** Why it stopped, as a kind: what the worker's rollback counter labels by; null when released. */
  reason_kind: StopKind | null;
  started_at: string;
  finished_at: string;
  rollback_started_at: string | null;
  rollback_finished_at: string | null;
  rollback_duration_seconds: number | null;
  /** Head commit time to production, in seconds; only for released changes. */
  lead_time_seconds: number | null;
  /** Each evidence file the gates judged, with its SHA-256: what an auditor matches to the CI artefacts. */
  evidence: { kind: EvidenceDigest['kind']; file: string; sha256: string }[];
  /** Deployment windows and freezes broken for this release: who (and whether verified), what and why. */
  overrides: { by: string; verified: boolean; at: string; broke: string; reason: string }[];
  /** A fleet release: how each target ended (`released`, `rolled_back`, `not_started`, …); the release itself counts once. */
  targets?: Record<string, string>;
}

const seconds = (from: string | null | undefined, to: string | null | undefined): number | null =>
  from && to ? Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000)) : null;

export function ledgerEntry(e: {
  releaseId: string;
  run: string;
  service: string;
  startedAt: string;
  finishedAt: string;
  decision: Decision;
  outcome: Outcome;
  reason?: StopReason;
  riskLevel?: RiskLevel;
  strategy?: Strategy;
  /** The record as the spec's ledger names it: `<output folder's name>/<file>` (`out/release-decision-….md`), never a machine path. */
  recordFile?: string;
  commit?: string;
  commitTime?: string;
  version: string;
  productionAt?: string;
  rollbackStartedAt?: string;
  rollbackFinishedAt?: string;
  evidence?: readonly EvidenceDigest[];
  overrides?: readonly Override[];
  targets?: Record<string, string>;
}): LedgerEntry {
  return {
    skill: 'release-decision',
    timestamp: e.startedAt,
    input: 'QA + Security reports, test results, git change set',
    output: e.recordFile ?? null,
    decision: e.decision,
    risk_level: e.riskLevel ?? null,
    rollout_strategy: e.strategy ?? null,
    deployment_time: e.productionAt ?? null,
    next_skill: 'ledger-update',
    release_id: e.releaseId,
    run: e.run,
    service: e.service,
    commit: e.commit ?? null,
    version: e.version,
    outcome: e.outcome,
    reason: e.reason?.message ?? null,
    reason_kind: e.reason?.kind ?? null,
    started_at: e.startedAt,
    finished_at: e.finishedAt,
    rollback_started_at: e.rollbackStartedAt ?? null,
    rollback_finished_at: e.rollbackFinishedAt ?? null,
    rollback_duration_seconds: seconds(e.rollbackStartedAt, e.rollbackFinishedAt),
    lead_time_seconds: e.outcome === Outcome.RELEASED ? seconds(e.commitTime, e.productionAt) : null,
    evidence: (e.evidence ?? []).map(({ kind, file, sha256 }) => ({ kind, file, sha256 })),
    overrides: (e.overrides ?? []).map(({ by, verified, at, broke, reason }) => ({ by, verified, at, broke, reason })),
    ...(e.targets ? { targets: e.targets } : {}),
  };
}
