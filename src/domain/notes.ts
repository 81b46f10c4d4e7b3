import { formatDuration } from './duration';
import { Outcome } from './enums';
import { prose, text } from './record';
import type { Approval } from './release';

/**
 * The deployment notes the spec appends to NOTES.md after a release or a rollback: one block per
 * release run, marked so that a retried append finds it there and adds nothing.
 */
export interface NotesInput {
  runKey: string;
  releaseId: string;
  service: string;
  version: string;
  previousVersion: string;
  outcome: Outcome;
  reason?: string;
  finishedAt: string;
  risk?: { level: string; strategy: string };
  branch: string;
  /** The phases whose action ran, in order. */
  phases: string[];
  approvals: Approval[];
  rollback?: { startedAt: string; endedAt?: string };
  /** The decision record, relative to the notes' folder. */
  recordFile?: string;
  /** The judged head commit: what main keeps after a rollback, to revert. */
  commit?: string;
  /** rollgate merged it (deploy.merge), so its rollback reverted the merge too. */
  mergedByRollgate?: boolean;
}

/** Outcomes that changed a target: each gets its notes. */
export const NOTED_OUTCOMES: readonly Outcome[] = [Outcome.RELEASED, Outcome.ROLLED_BACK, Outcome.ROLLBACK_FAILED, Outcome.PARTIALLY_RELEASED];

export const notesMarker = (runKey: string): string => `<!-- rollgate:notes ${runKey.replace(/-->/g, '')} -->`;

/** Whether the notes already hold a run's block: its marker as a whole line, which no escaped value can forge. */
export const hasNotes = (text: string, runKey: string): boolean => text.split('\n').includes(notesMarker(runKey));

export function deploymentNotes(n: NotesInput): string {
  const minute = `${n.finishedAt.slice(0, 10)} ${n.finishedAt.slice(11, 16)} UTC`;
  const took = n.rollback?.endedAt ? ` in ${formatDuration(Date.parse(n.rollback.endedAt) - Date.parse(n.rollback.startedAt))}` : '';
  const outcome =
    n.outcome === Outcome.RELEASED
      ? `released ${text(n.version)}`
      : `${n.outcome === Outcome.ROLLED_BACK ? 'rolled back' : 'rollback FAILED'} to ${text(n.previousVersion)}${took}${n.reason ? `: ${prose(n.reason)}` : ''}`;
  return [
    '',
    notesMarker(n.runKey),
    `## ${minute} · ${text(n.service)} ${text(n.version)} · ${n.outcome}`,
    '',
    `- **Outcome**: ${outcome}`,
    `- **Release**: ${text(n.releaseId)}${n.risk ? ` (${n.risk.level} risk → ${n.risk.strategy})` : ''}, from ${text(n.branch)}`,
    `- **Phases run**: ${n.phases.length ? n.phases.map(text).join(' → ') : 'none'}`,
    ...n.approvals.map((a) => `- **Approved by**: ${text(a.by)}${a.verified ? ' (signature verified)' : ''} at ${text(a.at)}${a.kind === 'release' ? '' : ` (${text(a.target)})`}`),
    ...(n.recordFile ? [`- **Record**: [${text(n.recordFile)}](${encodeURI(n.recordFile)})`] : []),
    ...(n.outcome === Outcome.RELEASED || !n.commit
      ? []
      : n.mergedByRollgate
        ? [`- **Main**: the merge of \`${n.commit}\` was reverted by the rollback`]
        : [`- **Follow-up**: main may still hold \`${n.commit}\`; revert its merge before releasing from main again`]),
    '',
  ].join('\n');
}
