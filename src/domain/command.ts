/** Deploy command templates: argv lists whose elements may hold placeholders, never a shell string. */

export interface CommandVars {
  stage: string;
  action: string;
  weight: number;
  version: string;
  previousVersion: string;
  releaseId: string;
  idempotencyKey: string;
}

const PLACEHOLDER = /\{(stage|action|weight|version|previousVersion|releaseId|idempotencyKey)\}/g;
export const PLACEHOLDERS = ['stage', 'action', 'weight', 'version', 'previousVersion', 'releaseId', 'idempotencyKey'] as const;

/** Substitutes placeholders inside each argument; the result is passed to execFile as is. */
export function renderArgv(template: readonly string[], vars: CommandVars): string[] {
  return template.map((arg) => arg.replace(PLACEHOLDER, (_, key: keyof CommandVars) => String(vars[key])));
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
  };
}

/** For the decision record: an argv shown as a person would type it. */
export function showArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w./{}:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The idempotency key of one side effect: the release (workflow ID) and the step. */
export const idempotencyKey = (releaseId: string, step: string): string => `${releaseId}/${step}`;

/** Default rollback: the deploy command again, for the previous version. */
export function rollbackTemplate(deploy: readonly string[], rollback: readonly string[] | undefined): readonly string[] {
  return rollback ?? deploy;
}
