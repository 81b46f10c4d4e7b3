import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { formatDuration, parseDuration } from '../../domain/duration';
import { type DoraReport, doraReport } from '../../domain/dora';
import type { LedgerEntry } from '../../domain/ledger';
import { InputError } from '../../domain/errors';
import { ExitCode } from '../exit-code';
import { type FlagSpec, type Out, parseFlags, quoted } from '../flags';
import { loadConfig } from '../../evidence/policy-file';

const sinceWindow = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms !== undefined && ms > 0) return ms;
  ctx.addIssue({ code: 'custom', message: 'is not a duration (e.g. 7d, 30d, 12h)' });
  return z.NEVER;
});

const DoraFlagsSchema = z.strictObject({
  // Milliseconds once parsed.
  since: quoted(sinceWindow).prefault('30d'),
  service: z.string().optional(),
  ledger: z.string().optional(),
  config: z.string().optional(),
  repo: z.string().optional(),
  json: z.boolean().default(false),
});
export type DoraFlags = z.output<typeof DoraFlagsSchema>;

export const doraFlags = {
  command: 'dora',
  options: { since: { type: 'string' }, service: { type: 'string' }, ledger: { type: 'string' }, config: { type: 'string' }, repo: { type: 'string' }, json: { type: 'boolean' } },
  schema: DoraFlagsSchema,
} satisfies FlagSpec<typeof DoraFlagsSchema>;

/** `rollgate dora`: the four DORA metrics from the ledger, each with its band. */
export async function doraCommand(args: string[], out: Out): Promise<number> {
  const flags = parseFlags(doraFlags, args);
  const report = doraCommandReport(flags);
  if (flags.json) out.log(JSON.stringify(report, null, 2));
  else for (const line of printDora(report)) out.log(line);
  return ExitCode.OK;
}

/** Reads ledger.jsonl; a line that is not a ledger entry is an error naming the file and line. */
export function readLedger(file: string): LedgerEntry[] {
  if (!existsSync(file)) throw new InputError(`--ledger: ${file} does not exist`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line, i) => ({ line, n: i + 1 }))
    .filter(({ line }) => line.trim())
    .map(({ line, n }) => {
      let e: Partial<LedgerEntry>;
      try {
        e = JSON.parse(line) as Partial<LedgerEntry>;
      } catch {
        throw new InputError(`${file}: line ${n}: not JSON`);
      }
      if (typeof e.started_at !== 'string' || typeof e.outcome !== 'string' || typeof e.run !== 'string')
        throw new InputError(`${file}: line ${n}: not a rollgate ledger line (started_at, outcome and run are required)`);
      return e as LedgerEntry;
    });
}

export function doraCommandReport(values: Omit<DoraFlags, 'json'>, now = new Date()): DoraReport {
  let file = values.ledger;
  if (!file) {
    const { config, dir } = loadConfig(values.config, resolve(values.repo ?? '.'));
    file = resolve(dir, config.out, 'ledger.jsonl');
  }
  return doraReport(readLedger(file), { to: now, days: values.since / 86_400_000, ...(values.service ? { service: values.service } : {}) });
}

const dur = (s: number | null) => (s === null ? 'n/a' : formatDuration(Math.round(s) * 1000));

export function printDora(r: DoraReport): string[] {
  const row = (name: string, value: string, band: string | null) => `  ${name.padEnd(24)}${value.padEnd(44)}${band ?? '-'}`;
  return [
    `DORA metrics, ${r.from.slice(0, 10)} → ${r.to.slice(0, 10)} (${Math.round(r.days * 10) / 10} days)${r.service ? `, service ${r.service}` : ''}: ${r.releases} releases, ${r.deployments} deployments`,
    row('deployment frequency', `${r.deploymentFrequency.perDay.toFixed(2)} per day`, r.deploymentFrequency.band),
    row('lead time for changes', `median ${dur(r.leadTime.medianSeconds)} (${r.leadTime.samples} changes)`, r.leadTime.band),
    row('change failure rate', r.changeFailureRate.rate === null ? 'n/a (no deployments)' : `${(r.changeFailureRate.rate * 100).toFixed(1)}% (${r.changeFailureRate.failed} of ${r.deployments})`, r.changeFailureRate.band),
    row('time to restore', `median ${dur(r.timeToRestore.medianSeconds)} (${r.timeToRestore.samples} rollbacks)`, r.timeToRestore.band),
  ];
}
