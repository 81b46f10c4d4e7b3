import { z } from 'zod';
import { durationMs } from './duration';
import type { Override, StepRecord } from './release';

/**
 * Waves across targets (issue 16): one release to many targets (regions, clusters, cells), wave
 * after wave, each target running the release's plan on its own and analysed on its own metrics.
 * A wave passes when no more of its targets failed than its budget; past it, no later wave starts.
 * Pure: the config section, the labels a target lends its commands and queries, a wave's verdict.
 */

/** Names a target's labels may not take: they are the release's own placeholders. */
const RESERVED = ['target', 'service', 'version', 'previousVersion', 'phase', 'stage', 'selector', 'stableSelector', 'canarySelector', 'sincePhase', 'action', 'weight', 'releaseId', 'idempotencyKey', 'commit'];

/** Safe as a command argument and inside a PromQL string as it is: no quotes, braces or spaces. */
const labelValue = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,62}$/, 'must be 1-63 letters, digits, ".", "_", ":", "/" or "-", starting with a letter or digit')
  .refine((v) => !v.split('/').includes('..'), 'must not climb a path ("..")');
const targetName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');

export const TargetSchema = z.strictObject({
  name: targetName,
  /** `{region}` in the deploy command, `{{region}}` in queries and selectors. */
  labels: z
    .record(z.string(), labelValue)
    .superRefine((labels, ctx) => {
      for (const key of Object.keys(labels))
        if (!/^[a-z][A-Za-z0-9_]{0,31}$/.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'a label name is a letter then letters, digits or _' });
        else if (RESERVED.includes(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'is a placeholder of its own; name the label otherwise' });
    })
    .default({}),
});
export type Target = z.output<typeof TargetSchema>;

export const WaveSchema = z.strictObject({
  targets: z.array(targetName).min(1, 'a wave names at least one target'),
  /** The wait after this wave passed, before the next starts. */
  bake: durationMs({ allowZero: true }).prefault('0s'),
  /** How many of this wave's targets may fail (each rolled back at once) with the wave still passing. */
  maxFailedTargets: z.number().int().nonnegative().default(0),
});
export type Wave = z.output<typeof WaveSchema>;

export const OnWaveFailure = { ROLLBACK: 'rollback', HOLD: 'hold' } as const;
export type OnWaveFailure = (typeof OnWaveFailure)[keyof typeof OnWaveFailure];

export const FleetSchema = z
  .strictObject({
    targets: z.array(TargetSchema).default([]),
    waves: z.array(WaveSchema).default([]),
    /** When a wave fails, the targets that succeeded: rolled back (the default), or held while a human decides. */
    onWaveFailure: z.enum([OnWaveFailure.ROLLBACK, OnWaveFailure.HOLD], { error: 'must be rollback or hold' }).default(OnWaveFailure.ROLLBACK),
  })
  .superRefine((f, ctx) => {
    const names = new Map<string, number>();
    f.targets.forEach((t, i) => {
      if (names.has(t.name)) ctx.addIssue({ code: 'custom', path: ['targets', i, 'name'], message: `"${t.name}" is named twice` });
      names.set(t.name, i);
    });
    if (f.targets.length > 0 && f.waves.length === 0) ctx.addIssue({ code: 'custom', path: ['waves'], message: 'targets are given: say in which waves they go' });
    if (f.waves.length > 0 && f.targets.length === 0) ctx.addIssue({ code: 'custom', path: ['targets'], message: 'waves are given: name their targets' });
    const placed = new Set<string>();
    f.waves.forEach((w, i) =>
      w.targets.forEach((t, j) => {
        if (!names.has(t)) ctx.addIssue({ code: 'custom', path: ['waves', i, 'targets', j], message: `"${t}" is not among the targets` });
        else if (placed.has(t)) ctx.addIssue({ code: 'custom', path: ['waves', i, 'targets', j], message: `"${t}" is in an earlier wave already` });
        placed.add(t);
      }),
    );
    if (f.waves.length > 0) for (const t of f.targets) if (!placed.has(t.name)) ctx.addIssue({ code: 'custom', path: ['waves'], message: `target "${t.name}" is in no wave` });
    f.waves.forEach((w, i) => {
      if (w.maxFailedTargets >= w.targets.length && w.targets.length > 0)
        ctx.addIssue({ code: 'custom', path: ['waves', i, 'maxFailedTargets'], message: `${w.maxFailedTargets} of ${w.targets.length} targets may fail: the wave could pass with none released` });
    });
  });
export type Fleet = z.output<typeof FleetSchema>;

/** A release without targets runs its plan once, on the deploy command's own target. */
export const hasWaves = (f: Fleet | undefined): boolean => (f?.waves?.length ?? 0) > 0;

/** A target's placeholders: `target` and its labels. */
export const targetVars = (t: Target): Record<string, string> => ({ ...t.labels, target: t.name });

/** How a target's run ended: what the wave's verdict and the ledger read. */
export const TargetOutcome = { RELEASED: 'released', ROLLED_BACK: 'rolled_back', ROLLBACK_FAILED: 'rollback_failed', NOT_STARTED: 'not_started', ABORTED: 'aborted' } as const;
export type TargetOutcome = (typeof TargetOutcome)[keyof typeof TargetOutcome];

export interface WaveVerdict {
  passed: boolean;
  failed: string[];
  /** In words, for the step and the record. */
  message: string;
}

/** A wave passes when no more of its targets failed than its budget allows. */
export function waveVerdict(index: number, wave: Wave, outcomes: Readonly<Record<string, TargetOutcome>>): WaveVerdict {
  const failed = wave.targets.filter((t) => outcomes[t] !== TargetOutcome.RELEASED);
  const passed = failed.length <= wave.maxFailedTargets;
  const budget = `${failed.length} of ${wave.targets.length} failed, ${wave.maxFailedTargets} allowed`;
  return { passed, failed, message: `wave ${index + 1} ${passed ? 'passed' : 'failed'}: ${budget}${failed.length ? ` (${failed.join(', ')})` : ''}` };
}

/** How a wave stands, for status and the record. */
export type WaveState = 'waiting' | 'running' | 'baking' | 'passed' | 'failed' | 'stopped';

/** One target of a fleet release as the release sees it: its wave, its child workflow, how it ended. */
export interface TargetProgress {
  name: string;
  wave: number;
  /** The child workflow that rolls the target out (`<release ID>/<target>`); `rollgate status` reads it live. */
  workflowId: string;
  state: 'waiting' | 'running' | 'rolling-back' | TargetOutcome;
  /** Each plan phase the target reached, as it ended: done, failed, skipped. */
  phases?: Record<string, string>;
  reason?: string;
  /** The phases its rollout started: what a later rollback undoes. */
  started?: string[];
  productionAt?: string;
  rollbackStartedAt?: string;
  rollbackEndedAt?: string;
  /** A target that passed, watched on its live production while later waves roll out (`<release ID>/<target>/watch`). */
  watch?: { state: 'watching' | 'passed' | 'broke' | 'lost'; since: string; endedAt?: string; message?: string };
}

export interface FleetStatus {
  onWaveFailure: OnWaveFailure;
  waves: { targets: string[]; maxFailedTargets: number; bakeMs: number; state: WaveState; verdict?: string }[];
  targets: TargetProgress[];
  /** The watched targets whose breaks failed their wave and stopped the release: their rollbacks are part of the time to restore. */
  stoppedBy?: string[];
}

/**
 * What a release orders its running targets, read by each target from the release's own query
 * whenever the release wakes it: a wake-up carries nothing, so nobody but the release steers them.
 */
export interface FleetOrders {
  paused?: { by: string; at: string; reason?: string };
  /** Promotions so far: each new one ends the target's current bake. */
  promotions: number;
  /** `promote --full`: every remaining intermediate phase is skipped. */
  full: boolean;
  /** Who promoted last. */
  promotedBy?: string;
  /** The release stops: every running target rolls itself back, and every watch ends. */
  stop?: { by?: string; reason: string };
  /** Every wave has passed: the targets watched meanwhile stop watching, released. */
  wavesDone?: boolean;
}

/** How a running target stands, from its own status query: what its release counts a failure by before the target has ended. */
export interface TargetState {
  state: string;
  outcome?: string;
}

/** A target that broke and is rolling back (or has ended other than released): a failure of its wave, before its result comes. */
export const isFailing = (t: TargetState): boolean =>
  ['rolling-back', 'verifying-rollback', 'needs-human'].includes(t.state) || (t.state === 'finished' && t.outcome !== TargetOutcome.RELEASED);

/** How a target's child workflow ended. */
export interface TargetResult {
  target: string;
  outcome: TargetOutcome;
  reason?: string;
  /** Each plan phase the target reached, as it ended. */
  phases: Record<string, string>;
  /** What a later rollback of this target must undo (phase ids, in the order they started). */
  started: string[];
  productionAt?: string;
  rollbackStartedAt?: string;
  rollbackEndedAt?: string;
  /** What the target's checks compared against before its rollout: its watch compares against it too. */
  baseline?: Record<string, number>;
  /** The overrides sent to the target itself, and its waits for a window or a freeze: the release's record and ledger keep them. */
  overrides?: Override[];
  waits?: StepRecord[];
}

/** The child workflow of a target that runs now, if any: its rollout, its watch, or its rollback. */
export function liveTargetWorkflow(t: TargetProgress): string | undefined {
  if (t.state === 'running') return t.workflowId;
  if (t.state === 'rolling-back') return `${t.workflowId}/rollback`;
  if (t.watch?.state === 'watching') return `${t.workflowId}/watch`;
  return undefined;
}

const CELL: Record<string, string> = { done: '✓', failed: '✗', skipped: '–', running: '…' };
const WATCH: Record<NonNullable<TargetProgress['watch']>['state'], string> = { watching: 'watching', passed: 'watched', broke: 'broke while watched', lost: 'watch lost' };

/** The targets × phases table of the record and `status`: a row per target, a column per phase, then how it ended. */
export function fleetTable(fleet: FleetStatus, phases: readonly string[], escape: (s: string) => string = (s) => s.replace(/\|/g, '\\|')): string[] {
  const head = ['target', 'wave', ...phases, 'outcome'];
  const rows = fleet.targets.map((t) => [t.name, String(t.wave + 1), ...phases.map((p) => CELL[t.phases?.[p] ?? ''] ?? '·'), escape(t.state.replace(/_/g, ' ') + (t.watch ? ` (${WATCH[t.watch.state]})` : '') + (t.reason ? `: ${t.reason}` : ''))]);
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/**
 * Whether `{name}` / `{{name}}` is a target placeholder of this fleet: `ok` for `target` and a label
 * every target has, a problem for a label some target lacks, `unknown` for anything else.
 */
export function labelPlaceholder(name: string, fleet: Pick<Fleet, 'targets'> | undefined): 'ok' | 'unknown' | { problem: string } {
  const targets = fleet?.targets ?? [];
  if (targets.length === 0) return 'unknown';
  if (name === 'target') return 'ok';
  const lacking = targets.filter((t) => !Object.hasOwn(t.labels, name)).map((t) => t.name);
  if (lacking.length === 0) return 'ok';
  if (lacking.length === targets.length) return 'unknown';
  return { problem: `the label ${name} is missing from target${lacking.length > 1 ? 's' : ''} ${lacking.join(', ')}` };
}

/** A deploy command's `{label}`s: other braces are left as they are, but a label some target lacks is an error. */
export function labelPlaceholderErrors(arg: string, fleet: Pick<Fleet, 'targets'>): string[] {
  return [...arg.matchAll(/\{(\w+)\}/g)].flatMap((m) => {
    const found = labelPlaceholder(m[1]!, fleet);
    return typeof found === 'object' ? [`{${m[1]}}: ${found.problem}`] : [];
  });
}

/** How each phase a target reached stands, from its steps: running, failed, skipped (by a full promotion) or done. */
export function phaseStates(steps: readonly { name: string; phase?: string; status: string }[], phases: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const id of phases) {
    const own = steps.filter((s) => s.phase === id);
    if (own.length === 0) continue;
    out[id] = own.some((s) => s.status === 'failed')
      ? 'failed'
      : own.some((s) => s.status === 'running')
        ? 'running'
        : own.some((s) => s.name.includes(': skipped (promoted to 100%)'))
          ? 'skipped'
          : 'done';
  }
  return out;
}
