import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { readText, writeFileAtomic } from './out-files';

/** Turns a feature flag on for a share of users. Setting a percentage is idempotent by nature. */
export interface FlagProvider {
  /** `root`: the folder the file must lie in (the repository, or the worker policy's folder); nothing from it down is a symlink followed. */
  setRollout(req: { flag: string; percentage: number; file: string; root?: string }): Promise<{ changed: boolean }>;
}

const SCHEMA = 'https://flagd.dev/schema/v0/flags.json';

/** The flagd definition of a boolean flag on for `percentage`% of targeting keys (fractional targeting). */
export function flagdFlag(percentage: number): Record<string, unknown> {
  const base = { state: 'ENABLED', variants: { on: true, off: false } };
  if (percentage <= 0) return { ...base, defaultVariant: 'off' };
  if (percentage >= 100) return { ...base, defaultVariant: 'on' };
  return { ...base, defaultVariant: 'off', targeting: { fractional: [['on', percentage], ['off', 100 - percentage]] } };
}

/**
 * Writes flagd flag definitions (the format OpenFeature's flagd serves from a file or a ConfigMap).
 * Other flags in the file are kept; the file is replaced atomically so flagd never reads half of it.
 * The file usually lies in the change's checkout, which may make it or its folder a symlink to a
 * file of the worker's: neither is followed (src/activities/out-files).
 */
export class FlagdFileProvider implements FlagProvider {
  async setRollout(req: { flag: string; percentage: number; file: string; root?: string }): Promise<{ changed: boolean }> {
    const file = resolve(req.file);
    // A file outside the root is the worker policy's own (the policy keeps a repository's inside it).
    const inRoot = req.root !== undefined && !relative(req.root, file).startsWith('..') && !isAbsolute(relative(req.root, file));
    const folder = { root: inRoot ? req.root! : dirname(file) };
    const text = await readText(file, folder);
    const doc: { flags?: Record<string, unknown> } = text ? (JSON.parse(text) as { flags?: Record<string, unknown> }) : { $schema: SCHEMA, flags: {} } as { flags: Record<string, unknown> };
    const flags = (doc.flags ??= {});
    const next = flagdFlag(req.percentage);
    if (JSON.stringify(flags[req.flag]) === JSON.stringify(next)) return { changed: false };
    flags[req.flag] = next;
    await writeFileAtomic(file, `${JSON.stringify(doc, null, 2)}\n`, folder);
    return { changed: true };
  }
}
