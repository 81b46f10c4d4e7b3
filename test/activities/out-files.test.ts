import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, defaultDeps } from '../../src/activities';
import { measurementsFile, type MonitorInput } from '../../src/activities/analysis';
import { appendLine, readLines, UnsafePath, writeFileAtomic } from '../../src/activities/out-files';
import type { MetricProvider } from '../../src/activities/prometheus';
import { writeRecord } from '../../src/activities/store';
import { AnalysisConfigSchema } from '../../src/domain/analysis';
import { tempDir } from '../helpers/fixtures';
import { padding } from '../helpers/append-lines';

const ROOT = resolve(__dirname, '../..');
const WRITER = join(ROOT, 'test/helpers/append-lines.ts');

/** An output folder and, beside it, a folder that stands for everything outside it. */
function folders() {
  const dir = tempDir('rollgate-out-');
  const out = join(dir, 'out');
  const outside = join(dir, 'elsewhere');
  mkdirSync(outside);
  return { dir, out, outside };
}

const symlinkRefused = (name: string) => (e: unknown) => e instanceof UnsafePath && e.path === name && /is a symlink: rollgate does not follow symlinks/.test(e.message);

/** Runs `writers` processes that each append `count` lines through appendLine, all released at once. */
async function appendConcurrently(file: string, root: string, writers: number, count: number): Promise<void> {
  const kids = Array.from({ length: writers }, (_, w) =>
    spawn(process.execPath, ['--import', 'tsx', WRITER, file, root, String(w), String(count)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] }),
  );
  const exited = kids.map((k) => new Promise<number | null>((r) => k.on('exit', r)));
  await Promise.all(kids.map((k) => new Promise((r) => k.stdout.once('data', r))));
  for (const k of kids) k.stdin.end('go\n');
  assert.deepEqual(await Promise.all(exited), Array(writers).fill(0), 'every writer finished');
}

describe('files under the output folder', () => {
  it('appends whole lines, creating the folders; after a torn line the next one starts a line of its own', async () => {
    const { out } = folders();
    const file = join(out, 'a', 'b.jsonl');
    await appendLine(file, '{"n":1}', { root: out });
    writeFileSync(file, `${readFileSync(file, 'utf8')}{"n":2,"to`);
    await appendLine(file, '{"n":3}', { root: out });
    assert.equal(readFileSync(file, 'utf8'), '{"n":1}\n{"n":2,"to\n{"n":3}\n');
    assert.deepEqual(await readLines(file, { root: out }), { lines: [{ n: 1 }, { n: 3 }], skippedLines: 1 });
  });

  it('reads a missing file (or folder) as empty, and passes over lines that are not JSON objects', async () => {
    const { out } = folders();
    assert.deepEqual(await readLines(join(out, 'none', 'x.jsonl'), { root: out }), { lines: [], skippedLines: 0 });
    mkdirSync(out);
    writeFileSync(join(out, 'x.jsonl'), 'null\n[1]\n"s"\n\n{"ok":true}\nnot json\n');
    assert.deepEqual(await readLines(join(out, 'x.jsonl'), { root: out }), { lines: [{ ok: true }], skippedLines: 4 });
  });

  it('refuses a path outside the output folder, and a line with a newline in it', async () => {
    const { out, outside } = folders();
    await assert.rejects(appendLine(join(out, '..', 'elsewhere', 'x.jsonl'), '{}', { root: out }), (e) => e instanceof UnsafePath && /is not inside the output folder out/.test(e.message));
    await assert.rejects(writeFileAtomic(out, 'x', { root: out }), UnsafePath);
    await assert.rejects(appendLine(join(out, 'x.jsonl'), '{}\n{}', { root: out }), /holds no newline/);
    assert.deepEqual(readdirSync(outside), []);
  });

  // Each writer's line is one write() of one buffer with O_APPEND, which a local file system keeps
  // whole. The same harness with a write stream that writes a line and its newline as two writes
  // (a logger's way) left about 2,200 of 8,000 lines broken in each of three runs; one appendFile
  // per line (the old ledger's way) kept them whole, but only below its 512 KiB chunk.
  it('keeps lines whole when several processes append 2,000 lines of 3–8 KB each to one file at once', { timeout: 120_000 }, async () => {
    const { out } = folders();
    const file = join(out, 'ledger.jsonl');
    const writers = 4;
    const count = 2000;
    await appendConcurrently(file, out, writers, count);
    const { lines, skippedLines } = await readLines<{ writer: number; i: number; pad: string }>(file, { root: out });
    assert.equal(skippedLines, 0, 'no line was broken');
    assert.equal(lines.length, writers * count);
    for (let w = 0; w < writers; w++) {
      const mine = lines.filter((l) => l.writer === w);
      assert.deepEqual(mine.map((l) => l.i), [...Array(count).keys()], `writer ${w}'s lines, each once, in order`);
      assert.ok(mine.every((l) => l.pad === padding(w, l.i)), `writer ${w}'s lines intact`);
    }
    // The writers really ran at the same time: their lines alternate in the file.
    const switches = lines.filter((l, n) => n > 0 && l.writer !== lines[n - 1]!.writer).length;
    assert.ok(switches > 100, `writers overlapped (${switches} switches)`);
  });
});

describe('symlinks committed into the output folder are refused, never followed', () => {
  it('out itself a symlink (out -> elsewhere): the decision record is refused, nothing lands elsewhere', async () => {
    const { out, outside } = folders();
    symlinkSync(outside, out);
    await assert.rejects(writeRecord(out, 'release-decision-20260101-000000.md', 'release-cart-0123456789ab', '# record\n'), symlinkRefused('out'));
    await assert.rejects(appendLine(join(out, 'ledger.jsonl'), '{}', { root: out }), symlinkRefused('out'));
    assert.deepEqual(readdirSync(outside), []);
  });

  it('the record file a symlink to a file elsewhere: refused, the file untouched', async () => {
    const { out, outside } = folders();
    mkdirSync(out);
    const target = join(outside, 'target.md');
    writeFileSync(target, 'precious\n');
    symlinkSync(target, join(out, 'release-decision-20260101-000000.md'));
    await assert.rejects(writeRecord(out, 'release-decision-20260101-000000.md', 'release-cart-0123456789ab', '# record\n'), symlinkRefused('out/release-decision-20260101-000000.md'));
    assert.equal(readFileSync(target, 'utf8'), 'precious\n');
    assert.deepEqual(readdirSync(out), ['release-decision-20260101-000000.md'], 'no record under another name either');
  });

  it('a symlink planted at the temporary name a write used to take (record.md.<pid>.tmp): not written through', async () => {
    const { out, outside } = folders();
    mkdirSync(out);
    const target = join(outside, 'target');
    writeFileSync(target, 'precious\n');
    const record = join(out, 'release-decision-20260101-000000.md');
    symlinkSync(target, `${record}.${process.pid}.tmp`);
    assert.equal(await writeRecord(out, 'release-decision-20260101-000000.md', 'release-cart-0123456789ab', '# record\n'), record);
    assert.equal(readFileSync(record, 'utf8'), '# record\n');
    assert.equal(readFileSync(target, 'utf8'), 'precious\n');
  });

  it('out/analysis a symlink to a folder elsewhere: the monitor activity fails for good at its first measurement, nothing written elsewhere', async () => {
    const { out, outside } = folders();
    mkdirSync(out);
    symlinkSync(outside, join(out, 'analysis'));
    const metrics: MetricProvider = { query: async () => ({ kind: 'value', value: 0.01 }), reachable: async () => true };
    const { monitorPhase } = createActivities({ ...defaultDeps(), metrics: () => metrics });
    const analysis = AnalysisConfigSchema.parse({
      interval: '100ms',
      selectors: { canary: { track: 'canary' }, stable: { track: 'stable' } },
      metrics: [{ name: 'errors', query: 'sum(errors{{{selector}}})', successCondition: 'result <= 0.05', failureCondition: 'result > 0.05' }],
    });
    const input: MonitorInput = {
      runKey: 'release-cart-0123456789ab@run',
      outDir: out,
      phase: 'production-canary-5',
      vars: { service: 'cart', version: 'v2', previousVersion: 'v1', phase: 'production-canary-5', stage: 'production' },
      analysis,
      subject: 'canary',
      baseline: {},
      runForMs: 10_000,
      untilStable: true,
    };
    const e = await new MockActivityEnvironment().run(monitorPhase, input).then(
      () => assert.fail('expected the monitor to fail'),
      (err: unknown) => err,
    );
    assert.ok(e instanceof ApplicationFailure, String(e));
    assert.equal(e.type, 'UnsafePath');
    assert.equal(e.nonRetryable, true);
    assert.match(e.message, /^out\/analysis is a symlink/);
    assert.deepEqual(readdirSync(outside), []);
    assert.equal(existsSync(measurementsFile(outside, input.runKey)), false);
  });
});
