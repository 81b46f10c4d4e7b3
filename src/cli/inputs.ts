import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { parseConfig, type RollgateConfig, type RollgateConfigInput } from '../domain/config';
import { applyPolicy, type PolicyProvenance } from '../domain/policy';
import { gitRef } from '../domain/release';
import { isGitRepository, resolveCommit } from '../evidence/git';
import { InputError } from '../domain/errors';
import { type Options, quoted } from './flags';

export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Where the release policy was read from, for the record. */
export type ConfigSource = { kind: 'defaults' } | { kind: 'file'; file: string } | { kind: 'commit'; commit: string; path: string; missing?: boolean };

/**
 * Loads and validates rollgate.yaml; every problem names the file and the field. `raw` is the file as
 * written. With `atCommit`, a file inside the repository is read as that commit holds it (the base:
 * reviewed code), never from the working tree, which is the change being judged; a file outside the
 * repository is the operator's and read as it is.
 */
export function loadConfig(
  path: string | undefined,
  repo: string,
  atCommit?: string,
): { config: RollgateConfig; raw: RollgateConfigInput; dir: string; file?: string; source: ConfigSource } {
  const candidates = path ? [resolve(path)] : [resolve(repo, 'rollgate.yaml'), resolve(repo, 'rollgate.yml')];
  // Real paths: a symlinked --repo or --config must not pass a file of the working tree off as the operator's.
  const inRepo = (f: string) => isInside(realPathOf(repo), realPathOf(f));
  if (atCommit && candidates.every(inRepo)) {
    const prefix = repoPrefix(repo);
    for (const f of candidates) {
      const rel = relative(realPathOf(repo), realPathOf(f)).split(sep).join('/');
      const text = readAtCommit(repo, atCommit, prefix + rel);
      if (text === undefined) continue;
      const where = `${rel} at ${atCommit.slice(0, 12)}`;
      if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw new InputError(`--config: ${where} is too large (limit ${MAX_CONFIG_BYTES} bytes)`);
      const raw = parseYamlConfig(text, where);
      return { config: parseConfigOrThrow(raw, where), raw, dir: dirname(f), file: f, source: { kind: 'commit', commit: atCommit, path: rel } };
    }
    if (path) throw new InputError(`--config: ${path} does not exist at the base commit ${atCommit.slice(0, 12)} (the release policy is read from the base, never from the change)`);
    const rel = relative(repo, candidates[0]!).split(sep).join('/');
    return { config: parseConfigOrThrow({}, '(defaults)'), raw: {}, dir: repo, source: { kind: 'commit', commit: atCommit, path: rel, missing: true } };
  }
  const file = candidates.find(existsSync);
  if (!file) {
    if (path) throw new InputError(`--config: ${path} does not exist`);
    return { config: parseConfigOrThrow({}, '(defaults)'), raw: {}, dir: repo, source: { kind: 'defaults' } };
  }
  const info = statSync(file);
  if (!info.isFile()) throw new InputError(`--config: ${path} is not a file`);
  if (info.size > MAX_CONFIG_BYTES) throw new InputError(`--config: ${path} is too large (${info.size} bytes; limit ${MAX_CONFIG_BYTES})`);
  const raw = parseYamlConfig(readFileSync(file, 'utf8'), file);
  return { config: parseConfigOrThrow(raw, file), raw, dir: dirname(file), file, source: { kind: 'file', file } };
}

/** The real path of a file, or of its nearest existing folder with the rest appended. */
export function realPathOf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(realPathOf(parent), basename(path));
  }
}

const isInside = (root: string, path: string) => {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
};

/** Where `--repo` lies inside its repository (`svc/` of a monorepo): commits hold paths from the top. */
function repoPrefix(repo: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--show-prefix'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** A file as a commit holds it; undefined when the commit has no such file. */
function readAtCommit(repo: string, commit: string, path: string): string | undefined {
  try {
    return execFileSync('git', ['-c', 'core.quotePath=false', 'show', `${commit}:${path}`], {
      cwd: repo,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 2 * MAX_CONFIG_BYTES,
      // Replace refs would let the repository swap the base's content.
      env: { ...process.env, GIT_NO_REPLACE_OBJECTS: '1' },
    });
  } catch {
    return undefined;
  }
}

function parseYamlConfig(text: string, where: string): RollgateConfigInput {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new InputError(`${where}: line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`);
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 50 });
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) throw new InputError(`${where}: the top level must be a mapping of settings`);
  return (raw ?? {}) as RollgateConfigInput;
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
  configSource: ConfigSource;
  /** Where the policy came from and what the floors raised, without the worker's own policy. */
  policy: PolicyProvenance;
}

/** For people: where the release policy was read. */
export function describeSource(source: ConfigSource): string {
  if (source.kind === 'defaults') return 'defaults (no rollgate.yaml)';
  if (source.kind === 'file') return `${source.file} (given to the CLI, outside the repository)`;
  return source.missing ? `defaults (no ${source.path} at the base commit ${source.commit.slice(0, 12)})` : `${source.path} at the base commit ${source.commit.slice(0, 12)}`;
}

/**
 * The base commit, from a branch (local, else remote-tracking) or a full commit id, never a tag or
 * another ref: the change under release can create a tag named `main` or `origin/main`, which git
 * would prefer, and so choose the policy and the diff it is judged by.
 */
async function resolveBase(repo: string, base: string): Promise<string> {
  const candidates = base.startsWith('refs/heads/') || base.startsWith('refs/remotes/') ? [base] : /^[0-9a-f]{40}$/.test(base) ? [base] : [`refs/heads/${base}`, `refs/remotes/${base}`];
  for (const ref of candidates) {
    const sha = await resolveCommit(repo, ref).catch(() => undefined);
    if (sha) return sha;
  }
  const exists = await resolveCommit(repo, base).catch(() => undefined);
  throw new InputError(
    exists
      ? `--base: "${base}" is not a branch (a tag or another ref, which the change could have made); give a branch, refs/heads/…, refs/remotes/… or a full commit id`
      : `--base: unknown ref "${base}" in ${repo}`,
  );
}

/** Checks what the flags name before anything happens: nothing is started or written on bad input. */
export async function resolveInputs(flags: EvidenceFlags): Promise<ResolvedInputs> {
  const repo = resolve(flags.repo ?? '.');
  if (!existsSync(repo) || !statSync(repo).isDirectory()) throw new InputError(`--repo: ${flags.repo ?? '.'} is not a folder`);
  if (!(await isGitRepository(repo))) throw new InputError(`--repo: ${flags.repo ?? '.'} is not a git repository`);
  const baseSha = await resolveBase(repo, flags.base);
  const { config, raw, dir, source } = loadConfig(flags.config, repo, baseSha);
  const headSha = await resolveCommit(repo, flags.head).catch(() => {
    throw new InputError(`--head: unknown ref "${flags.head}" in ${repo}`);
  });

  const reportsDir = flags.reports ? resolve(flags.reports) : resolve(dir, config.reports);
  // A first rollgate.yaml, added by the change itself, is not in force yet: say so where it surprises.
  const notYet =
    source.kind === 'commit' && source.missing && existsSync(resolve(repo, source.path))
      ? ` (the ${source.path} in the working tree is not in force: the policy is read at the base commit, which has none; it applies once merged, so give --reports meanwhile)`
      : '';
  if (!existsSync(reportsDir)) throw new InputError(`--reports: ${flags.reports ?? `${config.reports} (config reports)`} does not exist${notYet}`);
  if (!statSync(reportsDir).isDirectory()) throw new InputError(`--reports: ${flags.reports ?? reportsDir} is not a folder`);

  const usersAffected = flags['users-affected'];
  const cwd = resolve(dir, config.deploy.cwd ?? '.');
  // A repository's config names places inside it; the operator's flags and the worker policy may name others.
  // Real paths: a folder the change commits as a symlink (reports -> ../other) leads outside.
  const inside = (field: string, path: string) => {
    if (source.kind === 'file') return; // the operator's own config, outside the repository
    if (!isInside(realPathOf(repo), realPathOf(path))) throw new InputError(`${field}: ${path} lies outside the repository (or reaches out through a symlink); the config may only name paths inside it`);
  };
  // Given on the command line they may lie elsewhere, but not reach out of the repository through it.
  const notThrough = (field: string, path: string) => {
    if (isInside(repo, path) && !isInside(realPathOf(repo), realPathOf(path))) throw new InputError(`${field}: ${path} reaches out of the repository through a symlink`);
  };
  if (!flags.reports) inside('reports', reportsDir);
  else notThrough('--reports', reportsDir);
  if (!flags.out) inside('out', resolve(dir, config.out));
  else notThrough('--out', resolve(flags.out));
  inside('deploy.cwd', cwd);
  if (config.featureFlag.file) inside('featureFlag.file', resolve(cwd, config.featureFlag.file));
  // The floors apply here too, as the worker applies them: what `decide` shows is what `start` does (the worker may add its own policy).
  const applied = applyPolicy({ ...config, deploy: { ...config.deploy, cwd } }, undefined, describeSource(source), repo);
  return {
    repo,
    // Commits, not names: the worker reads the same diff, whatever refs the checkout gains meanwhile.
    base: baseSha,
    head: headSha,
    headSha,
    reportsDir,
    outDir: flags.out ? resolve(flags.out) : resolve(dir, config.out),
    junit: flags.junit.map((j) => resolve(j)),
    ...(usersAffected !== undefined ? { usersAffected } : {}),
    config: applied.config,
    policy: applied.provenance,
    rawConfig: { ...raw, deploy: { ...raw.deploy, cwd } },
    configSource: source,
  };
}

/** One release per service and head commit, so a re-run CI job attaches to the running release. */
export const releaseIdFor = (service: string, headSha: string) => `release-${service}-${headSha.slice(0, 12)}`;
