import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LedgerEntry } from '../../src/domain/ledger';

/** Every line of a JSON-lines file, parsed; none while the file does not exist. */
export const readJsonLines = <T>(file: string): T[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as T)
    : [];

/** The ledger of a repository's releases (`out/ledger.jsonl`, the output folder the tests configure). */
export const readLedger = (repo: string): LedgerEntry[] => readJsonLines<LedgerEntry>(join(repo, 'out', 'ledger.jsonl'));
