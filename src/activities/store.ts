import { dirname, join } from 'node:path';
import type { LedgerEntry } from '../domain/ledger';
import { appendLine, readLines, readText, writeFileAtomic } from './out-files';

/** Where release outcomes are kept; `append` is idempotent per release and says how many unreadable lines it passed over. */
export interface LedgerStore {
  append(entry: LedgerEntry): Promise<{ written: boolean; skippedLines?: number }>;
  read(): Promise<LedgerEntry[]>;
}

/**
 * `ledger.jsonl`, one JSON line per release run; `run` (release ID and run) is the idempotency key.
 * `root` is the output folder it lies in: no symlink in it is followed.
 */
export class FileLedgerStore implements LedgerStore {
  constructor(
    readonly path: string,
    readonly root: string = dirname(path),
  ) {}

  async read(): Promise<LedgerEntry[]> {
    return (await this.scan()).entries;
  }

  async append(entry: LedgerEntry): Promise<{ written: boolean; skippedLines: number }> {
    const { entries, skippedLines } = await this.scan();
    if (entries.some((e) => e.run === entry.run)) return { written: false, skippedLines };
    // After a line torn by a crash, appendLine starts a new one: the torn line stays unreadable, this one whole.
    await appendLine(this.path, JSON.stringify(entry), { root: this.root });
    return { written: true, skippedLines };
  }

  /** The readable lines; a line that is not a JSON object (torn by a crash mid-write) is counted and passed over. */
  private async scan(): Promise<{ entries: LedgerEntry[]; skippedLines: number }> {
    const { lines, skippedLines } = await readLines<LedgerEntry>(this.path, { root: this.root });
    return { entries: lines, skippedLines };
  }
}

const RELEASE_ID_LINE = /^\*\*Release ID\*\*: (.+)$/m;

/**
 * Writes the decision record atomically. The name comes from the release's start time; if another
 * release already owns that name, a suffix keeps both, and a retry finds its own file again.
 */
export async function writeRecord(outDir: string, fileName: string, releaseId: string, content: string): Promise<string> {
  for (let n = 1; n < 100; n++) {
    const name = n === 1 ? fileName : fileName.replace(/\.md$/, `-${n}.md`);
    const path = join(outDir, name);
    const existing = await readText(path, { root: outDir });
    const owner = existing ? RELEASE_ID_LINE.exec(existing)?.[1] : undefined;
    if (existing !== undefined && owner !== releaseId) continue;
    await writeFileAtomic(path, content, { root: outDir });
    return path;
  }
  throw new Error(`too many decision records named ${fileName}`);
}
