import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Turns a feature flag on for a share of users. Setting a percentage is idempotent by nature. */
export interface FlagProvider {
  setRollout(req: { flag: string; percentage: number; file: string }): Promise<{ changed: boolean }>;
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
 */
export class FlagdFileProvider implements FlagProvider {
  async setRollout(req: { flag: string; percentage: number; file: string }): Promise<{ changed: boolean }> {
    const text = await readFile(req.file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    const doc: { flags?: Record<string, unknown> } = text ? (JSON.parse(text) as { flags?: Record<string, unknown> }) : { $schema: SCHEMA, flags: {} } as { flags: Record<string, unknown> };
    const flags = (doc.flags ??= {});
    const next = flagdFlag(req.percentage);
    if (JSON.stringify(flags[req.flag]) === JSON.stringify(next)) return { changed: false };
    flags[req.flag] = next;
    await mkdir(dirname(req.file), { recursive: true });
    const tmp = `${req.file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(doc, null, 2)}\n`);
    await rename(tmp, req.file);
    return { changed: true };
  }
}
