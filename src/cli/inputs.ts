import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { parseConfig, type RollgateConfig, type RollgateConfigInput } from '../domain/config';
import { gitRef } from '../domain/release';
import { isGitRepository, resolveCommit } from '../evidence/git';
import { InputError } from '../domain/errors';
import { type Options, quoted } from './flags';

export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Loads and validates rollgate.yaml; every problem names the file and the field. `raw` is the file as
 * written, the form the workflow input carries (the workflow validates it again).
 */
export function loadConfig(path: string | undefined, repo: string): { config: RollgateConfig; raw: RollgateConfigInput; dir: string; file?: string } {
  const file = path ? resolve(path) : [resolve(repo, 'rollgate.yaml'), resolve(repo, 'rollgate.yml')].find(existsSync);
  if (!file) return { config: parseConfigOrThrow({}, '(defaults)'), raw: {}, dir: repo };
  if (!existsSync(file)) throw new InputError(`--config: ${path} does not exist`);
  const info = statSync(file);
  if (!info.isFile()) throw new InputError(`--config: ${path} is not a file`);
  if (info.size > MAX_CONFIG_BYTES) throw new InputError(`--config: ${path} is too large (${info.size} bytes; limit ${MAX_CONFIG_BYTES})`);
  const text = readFileSync(file, 'utf8');
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new InputError(`${file}: line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`);
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 50 });
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) throw new InputError(`${file}: the top level must be a mapping of settings`);
  return { config: parseConfigOrThrow(raw ?? {}, file), raw: (raw ?? {}) as RollgateConfigInput, dir: dirname(file), file };
}

function parseConfigOrThrow(raw: unknown, where: string): RollgateConfig {
  const res = parseConfig(raw);
  if (!res.ok) throw new InputError(`${where}: ${res.errors.join('; ')}`);
  return res.config;
}

/** The flags of decide and start: where the change and its evidence are. */
export const evidenceOptions = {
  repo: { type: 'string' },
  base: { type: 'string' },
  head: { type: 'string' },
  reports: { type: 'string' },
  junit: { type: 'string', multiple: true },
  'users-affected': { type: 'string' },
  config: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies Options;

const usersAffected = z
  .string()
  .regex(/^\d+$/, 'is not a whole number of users')
  .refine((text) => Number.isSafeInteger(Number(text)), 'is not a whole number of users')
  .transform(Number);

/** What the evidence flags must be before anything is read; the files and refs they name are checked by resolveInputs. */
export const evidenceFlags = {
  repo: z.string().optional(),
  base: quoted(gitRef).default('main'),
  head: quoted(gitRef).default('HEAD'),
  reports: z.string().optional(),
  junit: z.array(z.string().refine((j) => j.trim() !== '', 'must not be empty')).default([]),
  'users-affected': quoted(usersAffected).optional(),
  config: z.string().optional(),
  out: z.string().optional(),
  json: z.boolean().default(false),
};
export const EvidenceFlagsSchema = z.strictObject(evidenceFlags);
export type EvidenceFlags = z.output<typeof EvidenceFlagsSchema>;

export interface ResolvedInputs {
  repo: string;
  base: string;
  head: string;
  headSha: string;
  reportsDir: string;
  outDir: string;
  junit: string[];
  usersAffected?: number;
  config: RollgateConfig;
  /** The config as written, with `deploy.cwd` made absolute: what `rollgate start` sends. */
  rawConfig: RollgateConfigInput;
}

/** Checks what the flags name before anything happens: nothing is started or written on bad input. */
export async function resolveInputs(flags: EvidenceFlags): Promise<ResolvedInputs> {
  const repo = resolve(flags.repo ?? '.');
  if (!existsSync(repo) || !statSync(repo).isDirectory()) throw new InputError(`--repo: ${flags.repo ?? '.'} is not a folder`);
  if (!(await isGitRepository(repo))) throw new InputError(`--repo: ${flags.repo ?? '.'} is not a git repository`);
  const { config, raw, dir } = loadConfig(flags.config, repo);

  await resolveCommit(repo, flags.base).catch(() => {
    throw new InputError(`--base: unknown ref "${flags.base}" in ${repo}`);
  });
  const headSha = await resolveCommit(repo, flags.head).catch(() => {
    throw new InputError(`--head: unknown ref "${flags.head}" in ${repo}`);
  });

  const reportsDir = flags.reports ? resolve(flags.reports) : resolve(dir, config.reports);
  if (!existsSync(reportsDir)) throw new InputError(`--reports: ${flags.reports ?? `${config.reports} (config reports)`} does not exist`);
  if (!statSync(reportsDir).isDirectory()) throw new InputError(`--reports: ${flags.reports ?? reportsDir} is not a folder`);

  const usersAffected = flags['users-affected'];
  const cwd = resolve(dir, config.deploy.cwd ?? '.');
  return {
    repo,
    base: flags.base,
    head: flags.head,
    headSha,
    reportsDir,
    outDir: flags.out ? resolve(flags.out) : resolve(dir, config.out),
    junit: flags.junit.map((j) => resolve(j)),
    ...(usersAffected !== undefined ? { usersAffected } : {}),
    config: { ...config, deploy: { ...config.deploy, cwd } },
    rawConfig: { ...raw, deploy: { ...raw.deploy, cwd } },
  };
}

/** One release per service and head commit, so a re-run CI job attaches to the running release. */
export const releaseIdFor = (service: string, headSha: string) => `release-${service}-${headSha.slice(0, 12)}`;
