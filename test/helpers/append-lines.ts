/**
 * One writer of the concurrent-append test: prints "ready", waits for a line on stdin (so that all
 * writers start together), then appends `count` lines of 3–8 KB to `file` with appendLine.
 * Usage: node --import tsx append-lines.ts FILE ROOT WRITER COUNT
 */
import { appendLine } from '../../src/activities/out-files';

const [file, root, writer, count] = process.argv.slice(2) as [string, string, string, string];

/** 3000–7999 bytes of padding, different per line and writer. */
export const padding = (writer: number, i: number) => 'x'.repeat(3000 + ((i * 7919 + writer * 104729) % 5000));

async function main(): Promise<void> {
  const w = Number(writer);
  for (let i = 0; i < Number(count); i++) await appendLine(file, JSON.stringify({ writer: w, i, pad: padding(w, i) }), { root });
}

if (require.main === module) {
  process.stdout.write('ready\n');
  process.stdin.once('data', () => {
    main().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`${String(e)}\n`);
        process.exit(1);
      },
    );
  });
}
