import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { InputError } from '../domain/errors';

/** Where a command prints: stdout and stderr, one line at a time; tests collect them instead. */
export type Out = { log: (s: string) => void; err: (s: string) => void };

export type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * A command's flags. parseArgs knows their shapes (string, boolean, repeatable) and refuses unknown
 * ones; the zod schema says what a value must be and turns it into what the command uses.
 */
export interface FlagSpec<S extends z.ZodType> {
  command: string;
  options: Options;
  /** Names of the positional arguments, in order (e.g. the release ID); none unless given. */
  positionals?: readonly string[];
  schema: S;
}

/** Parses and validates a command's arguments; bad input is an InputError that names the flag and what is wrong. */
export function parseFlags<S extends z.ZodType>(spec: FlagSpec<S>, args: string[]): z.output<S> {
  const names = spec.positionals ?? [];
  let parsed: { values: object; positionals: string[] };
  try {
    parsed = parseArgs({ args, options: spec.options, strict: true, allowPositionals: names.length > 0 });
  } catch (e) {
    throw new InputError(((e as Error).message.split('\n')[0] ?? '').replace(/\. To specify a positional.*$/, ''));
  }
  if (parsed.positionals.length > names.length) throw new InputError(`unexpected argument "${parsed.positionals[names.length]}"`);
  const input: Record<string, unknown> = { ...parsed.values };
  names.forEach((name, i) => (input[name] = parsed.positionals[i]));
  const result = spec.schema.safeParse(input);
  if (!result.success) throw new InputError(formatFlagIssues(spec, result.error));
  return result.data;
}

/** One line: `--flag: what is wrong` per issue; the command's name for positionals and for rules across flags. */
export function formatFlagIssues(spec: Pick<FlagSpec<z.ZodType>, 'command' | 'positionals'>, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const key = issue.path[0];
      const flag = typeof key === 'string' && !(spec.positionals ?? []).includes(key);
      return `${flag ? `--${key}` : spec.command}: ${issue.message}`;
    })
    .join('; ');
}

/** A string that must hold more than blanks; `message` says what is missing. */
export const given = (message: string) => z.string({ error: message }).refine((s) => s.trim() !== '', message);

/** A flag the command refuses (it belongs to another command of the same family). */
export const refused = (message: string) => z.undefined({ error: message }).optional();

/** A schema whose first problem is reported after the value in quotes: `"../etc" must be …`. */
export function quoted<T extends z.ZodType<unknown, string>>(schema: T) {
  return z.string().transform((text, ctx) => {
    const result = schema.safeParse(text);
    if (result.success) return result.data as z.output<T>;
    ctx.addIssue({ code: 'custom', message: `"${text}" ${result.error.issues[0]?.message ?? 'is not valid'}` });
    return z.NEVER;
  });
}

/** The release ID, the first positional of the commands that act on a release. */
export const releaseId = (command: string) => given(`the release ID is required (rollgate ${command} ID)`);
