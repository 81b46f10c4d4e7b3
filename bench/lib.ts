import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

export const RESULTS = resolve(__dirname, 'results');

/** Linear interpolation between the closest ranks (the median of an even count is the mean of the middle two). */
export function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  return sorted[lo]! + (sorted[Math.min(lo + 1, sorted.length - 1)]! - sorted[lo]!) * (pos - lo);
}

export const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

export function machine() {
  return {
    date: new Date().toISOString(),
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: __dirname, encoding: 'utf8' }).trim(),
    machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  };
}

/** Writes bench/results/<name>.json and prints it. */
export function writeResult(name: string, result: object): void {
  mkdirSync(RESULTS, { recursive: true });
  const text = `${JSON.stringify({ benchmark: name, ...machine(), ...result }, null, 2)}\n`;
  writeFileSync(join(RESULTS, `${name}.json`), text);
  process.stdout.write(text);
}

export const readResult = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(RESULTS, `${name}.json`), 'utf8')) as Record<string, unknown>;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system) and peak RSS of a process, from /proc. */
export function processUsage(pid: number): { cpuSeconds: number; peakRssMiB: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { cpuSeconds: ticks / 100, peakRssMiB: round(kib('VmHWM') / 1024), rssMiB: round(kib('VmRSS') / 1024) };
}

export function main(run: () => Promise<void>): void {
  run().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
