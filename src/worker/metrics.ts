import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LedgerEntry } from '../domain/ledger';
import { type ReleaseState, StopKind } from '../domain/release';
import type { ReleaseDurations } from '../domain/timeline';
import type { Telemetry } from '../activities/telemetry';

/** Why a release was rolled back, as a small fixed set of label values. */
export const ROLLBACK_REASON: Record<StopKind, string> = {
  [StopKind.ANALYSIS_FAILED]: 'metric',
  [StopKind.ANALYSIS_ERROR]: 'metric',
  [StopKind.ABORTED]: 'abort',
  [StopKind.REJECTED]: 'approval',
  [StopKind.APPROVAL_TIMEOUT]: 'approval',
  [StopKind.NO_APPROVER]: 'approval',
  [StopKind.STEP_FAILED]: 'step',
  [StopKind.CANCELLED]: 'cancel',
  [StopKind.WAVE_FAILED]: 'wave',
  [StopKind.GATES]: 'other',
  [StopKind.ESCALATED]: 'other',
};

/** Counts running releases in a state, from Temporal's visibility; undefined when it cannot. */
export type CountReleases = (state: ReleaseState) => Promise<number | undefined>;

export class WorkerMetrics implements Telemetry {
  readonly registry = new Registry();
  private readonly decisionSeconds = new Histogram({ name: 'rollgate_decision_duration_seconds', help: 'Release start to its decision (gates, change set, risk), by decision.', labelNames: ['decision'], buckets: [0.25, 0.5, 1, 2, 5, 15, 60], registers: [this.registry] });
  private readonly phaseSeconds = new Histogram({ name: 'rollgate_phase_duration_seconds', help: 'Plan phases from first step to last (deploy, bake, analysis), observed when the release ends; by phase.', labelNames: ['phase'], buckets: [10, 60, 600, 1800, 3600, 4 * 3600, 86_400, 2 * 86_400], registers: [this.registry] });
  private readonly approvalSeconds = new Histogram({ name: 'rollgate_approval_wait_seconds', help: 'Waits for a human, from request to answer, observed when the release ends; by kind and outcome.', labelNames: ['kind', 'outcome'], buckets: [60, 600, 3600, 4 * 3600, 86_400, 3 * 86_400], registers: [this.registry] });
  private readonly started = new Counter({ name: 'rollgate_releases_started_total', help: 'Releases decided and started, by strategy and risk.', labelNames: ['strategy', 'risk'], registers: [this.registry] });
  private readonly finished = new Counter({ name: 'rollgate_releases_finished_total', help: 'Releases finished, by outcome and strategy.', labelNames: ['outcome', 'strategy'], registers: [this.registry] });
  private readonly rollbacks = new Counter({ name: 'rollgate_rollbacks_total', help: 'Rollbacks, by reason.', labelNames: ['reason', 'outcome'], registers: [this.registry] });
  private readonly rollbackSeconds = new Histogram({ name: 'rollgate_rollback_duration_seconds', help: 'Rollback start to end.', buckets: [1, 5, 15, 60, 300, 900, 3600], registers: [this.registry] });
  private readonly releaseSeconds = new Histogram({ name: 'rollgate_release_duration_seconds', help: 'Release start to finish, by outcome.', labelNames: ['outcome'], buckets: [60, 600, 3600, 6 * 3600, 86_400, 3 * 86_400], registers: [this.registry] });
  private readonly stepSeconds = new Histogram({ name: 'rollgate_step_duration_seconds', help: 'Deploy command runs (phase actions and rollbacks), by action.', labelNames: ['action'], buckets: [0.1, 1, 5, 30, 120, 600, 1800], registers: [this.registry] });
  private readonly measurements = new Counter({ name: 'rollgate_analysis_measurements_total', help: 'Metric measurements, by metric and verdict.', labelNames: ['metric', 'verdict'], registers: [this.registry] });

  constructor(countReleases?: CountReleases) {
    if (!countReleases) return;
    // Namespace-wide figures: every worker reports the same value, so aggregate with max, not sum.
    const gauge = (name: string, help: string, state: ReleaseState) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          // NaN, not 0, when visibility cannot answer: an unknown is never reported as none.
          this.set((await countReleases(state)) ?? NaN);
        },
      });
    gauge('rollgate_pending_approvals', 'Running releases waiting for a human approval (release sign-off, gated phase or inconclusive analysis).', 'awaiting-approval');
    gauge('rollgate_releases_needing_human', 'Running releases whose rollback failed and that wait for rollgate resolve.', 'needs-human');
  }

  releaseStarted(strategy: string, risk: string): void {
    this.started.inc({ strategy, risk });
  }
  decisionMade(decision: string, seconds: number): void {
    this.decisionSeconds.observe({ decision }, seconds);
  }
  releaseFinished(e: LedgerEntry, durations?: ReleaseDurations): void {
    for (const p of durations?.phases ?? []) this.phaseSeconds.observe({ phase: p.phase }, p.seconds);
    for (const a of durations?.approvals ?? []) this.approvalSeconds.observe({ kind: a.kind, outcome: a.outcome }, a.seconds);
    this.finished.inc({ outcome: e.outcome, strategy: e.rollout_strategy ?? 'none' });
    this.releaseSeconds.observe({ outcome: e.outcome }, Math.max(0, (Date.parse(e.finished_at) - Date.parse(e.started_at)) / 1000));
    if (e.rollback_started_at) {
      this.rollbacks.inc({ reason: e.reason_kind ? ROLLBACK_REASON[e.reason_kind] : 'other', outcome: e.outcome });
      if (e.rollback_duration_seconds !== null) this.rollbackSeconds.observe(e.rollback_duration_seconds);
    }
  }
  stepDone(action: string, ms: number): void {
    this.stepSeconds.observe({ action }, ms / 1000);
  }
  measured(metric: string, verdict: string): void {
    this.measurements.inc({ metric, verdict });
  }
}

/**
 * /healthz (200 while the worker runs) and /metrics: rollgate's own metrics followed by the
 * Temporal SDK's runtime metrics, fetched from the SDK's exporter on a loopback port.
 */
export function serveMetrics(opts: { host: string; port: number; metrics: WorkerMetrics; sdkMetricsUrl?: string; healthy: () => boolean }): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      const ok = opts.healthy();
      return void res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'not running' }));
    }
    if (req.url === '/metrics') {
      void (async () => {
        const own = await opts.metrics.registry.metrics();
        const sdk = opts.sdkMetricsUrl ? await fetch(opts.sdkMetricsUrl).then((r) => r.text(), () => '# temporal sdk metrics unavailable\n') : '';
        res.writeHead(200, { 'content-type': opts.metrics.registry.contentType }).end(`${own}\n${sdk}`);
      })();
      return;
    }
    res.writeHead(404).end('not found');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve(server));
  });
}
