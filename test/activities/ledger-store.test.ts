import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UnsafePath } from '../../src/activities/out-files';
import { FileLedgerStore } from '../../src/activities/store';
import { ledgerEntry } from '../../src/domain/ledger';
import { tempDir } from '../helpers/fixtures';

const entry = (run: string) =>
  ledgerEntry({ releaseId: 'r', run, service: 'cart', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T01:00:00Z', decision: 'APPROVED', outcome: 'released', version: 'v2' });

describe('the ledger file', () => {
  it('after a line torn by a crash, appends a whole line of its own and passes the torn one over', async () => {
    const path = join(tempDir('rollgate-ledger-'), 'ledger.jsonl');
    writeFileSync(path, `${JSON.stringify(entry('r@1'))}\n{"skill":"release-decision","run":"r@2","outc`);
    const store = new FileLedgerStore(path);
    assert.deepEqual(await store.append(entry('r@3')), { written: true, skippedLines: 1 });
    const lines = readFileSync(path, 'utf8').split('\n');
    assert.equal(JSON.parse(lines[2]!).run, 'r@3', 'the new line starts after the torn one');
    assert.deepEqual((await store.read()).map((e) => e.run), ['r@1', 'r@3']);
    assert.deepEqual(await store.append(entry('r@3')), { written: false, skippedLines: 1 }, 'still once per run');
  });

  it('passes over lines that are JSON but not an entry', async () => {
    const path = join(tempDir('rollgate-ledger-'), 'ledger.jsonl');
    writeFileSync(path, `null\n[1]\n42\n${JSON.stringify(entry('r@1'))}\n`);
    assert.deepEqual(await new FileLedgerStore(path).append(entry('r@2')), { written: true, skippedLines: 3 });
  });

  it('refuses a ledger committed as a symlink to a file elsewhere (out/ledger.jsonl -> …): neither read nor appended to', async () => {
    const dir = tempDir('rollgate-ledger-');
    const out = join(dir, 'out');
    mkdirSync(out);
    const target = join(dir, 'elsewhere.jsonl');
    writeFileSync(target, `${JSON.stringify(entry('r@1'))}\n`);
    symlinkSync(target, join(out, 'ledger.jsonl'));
    const store = new FileLedgerStore(join(out, 'ledger.jsonl'), out);
    const refused = (e: unknown) => e instanceof UnsafePath && e.message === 'out/ledger.jsonl is a symlink: rollgate does not follow symlinks in its output folder';
    await assert.rejects(store.append(entry('r@2')), refused);
    await assert.rejects(store.read(), refused);
    assert.equal(readFileSync(target, 'utf8'), `${JSON.stringify(entry('r@1'))}\n`, 'the file elsewhere is untouched');
  });
});
