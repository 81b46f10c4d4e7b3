import { mkdir, readFile, rename, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LedgerEntry } from '../domain/ledger';

/** Where release outcomes are kept; `append` is idempotent per release and says how many unreadable lines it passed over. */
export interface LedgerStore {
  append(entry: LedgerEntry): Promise<{ written: boolean; skippedLines?: number }>;
  read(): Promise<LedgerEntry[]>;
}

/** `ledger.jsonl`, one JSON line per release run; `run` (release ID and run) is the idempotency key. */
export class FileLedgerStore implements LedgerStore {
  constructor(readonly path: string) {}

  async read(): Promise<LedgerEntry[]> {
    return (await this.scan()).entries;
  }

  async append(entry: LedgerEntry): Promise<{ written: boolean; skippedLines: number }> {
    const { entries, skippedLines, endsLine } = await this.scan();
    if (entries.some((e) => e.run === entry.run)) return { written: false, skippedLines };
    await mkdir(join(this.path, '..'), { recursive: true });
    // After a line torn by a crash, start a new one: the torn line stays unreadable, this one whole.
    await appendFile(this.path, `${endsLine ? '' : '\n'}${JSON.stringify(entry)}\n`);
    return { written: true, skippedLines };
  }

  /** The readable lines; a line that is not a JSON object (torn by a crash mid-write) is counted and passed over. */
  private async scan(): Promise<{ entries: LedgerEntry[]; skippedLines: number; endsLine: boolean }> {
    const text = await readFile(this.path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return '';
      throw e;
    });
    const entries: LedgerEntry[] = [];
    let skippedLines = 0;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as unknown;
        if (e && typeof e === 'object' && !Array.isArray(e)) entries.push(e as LedgerEntry);
        else skippedLines++;
      } catch {
        skippedLines++;
      }
    }
    return { entries, skippedLines, endsLine: text === '' || text.endsWith('\n') };
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
