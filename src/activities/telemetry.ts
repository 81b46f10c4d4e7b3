import type { LedgerEntry } from '../domain/ledger';
import type { ReleaseDurations } from '../domain/timeline';

/** What the activities report about releases; the worker turns it into /metrics. */
export interface Telemetry {
  releaseStarted(strategy: string, risk: string): void;
  decisionMade(decision: string, seconds: number): void;
  releaseFinished(entry: LedgerEntry, durations?: ReleaseDurations): void;
  stepDone(action: string, ms: number): void;
  measured(metric: string, verdict: string): void;
}

export const noTelemetry: Telemetry = { releaseStarted() {}, decisionMade() {}, releaseFinished() {}, stepDone() {}, measured() {} };
