import { mkdir, readFile, rename, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LedgerEntry } from '../domain/ledger';

/** Where release outcomes are kept; `append` is idempotent per release. */
export interface LedgerStore {
  append(entry: LedgerEntry): Promise<{ written: boolean }>;
  read(): Promise<LedgerEntry[]>;
}

/** `ledger.jsonl`, one JSON line per release run; `run` (release ID and run) is the idempotency key. */
export class FileLedgerStore implements LedgerStore {
  constructor(readonly path: string) {}

  async read(): Promise<LedgerEntry[]> {
    const text = await readFile(this.path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return '';
      throw e;
    });
    return text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as LedgerEntry);
  }

  async append(entry: LedgerEntry): Promise<{ written: boolean }> {
    if ((await this.read()).some((e) => e.run === entry.run)) return { written: false };
    await mkdir(join(this.path, '..'), { recursive: true });
    await appendFile(this.path, `${JSON.stringify(entry)}\n`);
    return { written: true };
  }
}

const RELEASE_ID_LINE = /^\*\*Release ID\*\*: (.+)$/m;

/**
 * Writes the decision record atomically. The name comes from the release's start time; if another
 * release already owns that name, a suffix keeps both, and a retry finds its own file again.
 */
export async function writeRecord(outDir: string, fileName: string, releaseId: string, content: string): Promise<string> {
  await mkdir(outDir, { recursive: true });
  for (let n = 1; n < 100; n++) {
    const name = n === 1 ? fileName : fileName.replace(/\.md$/, `-${n}.md`);
    const path = join(outDir, name);
    const existing = await readFile(path, 'utf8').catch(() => undefined);
    const owner = existing ? RELEASE_ID_LINE.exec(existing)?.[1] : undefined;
    if (existing !== undefined && owner !== releaseId) continue;
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, content);
    await rename(tmp, path);
    return path;
  }
  throw new Error(`too many decision records named ${fileName}`);
}
