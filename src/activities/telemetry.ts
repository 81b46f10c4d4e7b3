import type { LedgerEntry } from '../domain/ledger';

/** What the activities report about releases; the worker turns it into /metrics. */
export interface Telemetry {
  releaseStarted(strategy: string, risk: string): void;
  releaseFinished(entry: LedgerEntry): void;
  stepDone(action: string, ms: number): void;
  measured(metric: string, verdict: string): void;
}

export const noTelemetry: Telemetry = { releaseStarted() {}, releaseFinished() {}, stepDone() {}, measured() {} };
