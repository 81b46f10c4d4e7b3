import { type Approval, type ApprovalKind, type ApprovalOutcome, type StepRecord } from './release';

export interface PhaseTimelineEntry {
  phase: string;
  started: string;
  ended?: string;
  approvedBy?: string;
}

/** Phases in the order they ran: their first step's start, their last step's end, and who approved them. */
export function phaseTimeline(steps: readonly StepRecord[], approvals: readonly Approval[]): PhaseTimelineEntry[] {
  const phases = new Map<string, PhaseTimelineEntry>();
  for (const s of steps) {
    if (!s.phase) continue;
    const entry = phases.get(s.phase) ?? { phase: s.phase, started: s.startedAt };
    if (s.endedAt) entry.ended = s.endedAt;
    phases.set(s.phase, entry);
  }
  for (const a of approvals) {
    const entry = a.phase ? phases.get(a.phase) : undefined;
    if (entry) entry.approvedBy = [entry.approvedBy, a.by].filter(Boolean).join(', ');
  }
  return [...phases.values()];
}

/** How long a release's phases and its waits for a human took: what the worker's histograms observe. */
export interface ReleaseDurations {
  phases: { phase: string; seconds: number }[];
  approvals: { kind: ApprovalKind; outcome: ApprovalOutcome; seconds: number }[];
}

const seconds = (from: string, to: string) => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

export function releaseDurations(steps: readonly StepRecord[]): ReleaseDurations {
  const phases = phaseTimeline(steps, []).flatMap((p) => (p.ended ? [{ phase: p.phase, seconds: seconds(p.started, p.ended) }] : []));
  const approvals = steps.flatMap((s) =>
    s.approval?.outcome && s.endedAt ? [{ kind: s.approval.kind, outcome: s.approval.outcome, seconds: seconds(s.startedAt, s.endedAt) }] : [],
  );
  return { phases, approvals };
}
