/** Deploy command templates: argv lists whose elements may hold placeholders, never a shell string. */

export interface CommandVars {
  stage: string;
  action: string;
  weight: number;
  version: string;
  previousVersion: string;
  releaseId: string;
  idempotencyKey: string;
  /** The head commit the release judged (40 or 64 hex): what `merge` merges, never a branch that may have moved since. */
  commit: string;
  /** A fleet target's name (`target`) and labels: `{target}`, `{region}`. */
  labels?: Record<string, string>;
}

const PLACEHOLDER = /\{(stage|action|weight|version|previousVersion|releaseId|idempotencyKey|commit)\}/g;
export const PLACEHOLDERS = ['stage', 'action', 'weight', 'version', 'previousVersion', 'releaseId', 'idempotencyKey', 'commit'] as const;

/** Substitutes placeholders inside each argument; the result is passed to execFile as is. */
export function renderArgv(template: readonly string[], vars: CommandVars): string[] {
  const labels = vars.labels ?? {};
  return template.map((arg) =>
    arg.replace(PLACEHOLDER, (_, key: Exclude<keyof CommandVars, 'labels'>) => String(vars[key])).replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(labels, name) ? labels[name]! : whole)),
  );
}

/** The environment every deploy command receives, whatever its arguments. */
export function commandEnv(vars: CommandVars): Record<string, string> {
  return {
    ROLLGATE_STAGE: vars.stage,
    ROLLGATE_ACTION: vars.action,
    ROLLGATE_WEIGHT: String(vars.weight),
    ROLLGATE_VERSION: vars.version,
    ROLLGATE_PREVIOUS_VERSION: vars.previousVersion,
    ROLLGATE_RELEASE_ID: vars.releaseId,
    ROLLGATE_IDEMPOTENCY_KEY: vars.idempotencyKey,
    ROLLGATE_COMMIT: vars.commit,
    // A fleet target: ROLLGATE_TARGET, and each label as ROLLGATE_TARGET_<LABEL> (region → ROLLGATE_TARGET_REGION).
    ...Object.fromEntries(Object.entries(vars.labels ?? {}).map(([k, v]) => [k === 'target' ? 'ROLLGATE_TARGET' : `ROLLGATE_TARGET_${k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`, v])),
  };
}

/** For the decision record: an argv shown as a person would type it. */
export function showArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w./{}:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The idempotency key of one side effect: the release run (`<workflow ID>@<run>`) and the step. */
export const idempotencyKey = (runKey: string, step: string): string => `${runKey}/${step}`;

export const ROLLBACK = 'rollback';
export const rollbackStep = (stage: string): string => `rollback-${stage}`;
/** The step that turns a flag off through the deploy command: the flag strategy's rollback. */
export const FLAG_ROLLBACK_STEP = 'rollback-flag';

export interface ReleaseRef {
  releaseId: string;
  /** `<release ID>@<run>`: the base of the run's idempotency keys. */
  runKey: string;
  version: string;
  previousVersion: string;
  /** The judged head commit; unknown (empty) only where no change set was read. */
  commit?: string;
  /** A fleet target's name and labels. */
  labels?: Record<string, string>;
}

/** The variables of one step's command. A rollback goes back to the previous version, with no traffic on the new one. */
export function stepVars(target: { stage: string; weight: number }, action: string, step: string, release: ReleaseRef): CommandVars {
  const rollback = action === ROLLBACK;
  return {
    stage: target.stage,
    action,
    weight: rollback ? 0 : target.weight,
    version: rollback ? release.previousVersion : release.version,
    previousVersion: release.previousVersion,
    releaseId: release.releaseId,
    idempotencyKey: idempotencyKey(release.runKey, step),
    commit: release.commit ?? '',
    ...(release.labels ? { labels: release.labels } : {}),
  };
}

/** The argv template of an action: the rollback command for rollbacks, where one is configured, else the deploy command. */
export function commandFor(action: string, deploy: { command: readonly string[]; rollback?: readonly string[] | undefined }): readonly string[] {
  return action === ROLLBACK ? (deploy.rollback ?? deploy.command) : deploy.command;
}
