import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { RollgateConfig } from '../domain/config';
import { applyPolicy, type PolicyProvenance } from '../domain/policy';
import { commitExpression } from '../domain/release';
import { git, isBranchName, isGitRepository, refExists, resolveCommit } from '../evidence/git';
import { type ConfigSource, anchorPaths, describeSource, insideRepository, isInside, loadConfig, realPathOf, workerPolicyFromEnv } from '../evidence/policy-file';
import { InputError } from '../domain/errors';
import { type Options, quoted } from './flags';

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
  base: quoted(commitExpression).default('main'),
  head: quoted(commitExpression).default('HEAD'),
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
  configSource: ConfigSource;
  /** Where the policy came from and what the floors raised, without the worker's own policy. */
  policy: PolicyProvenance;
}

/**
 * The base commit. A full commit id is itself; a name is looked up as a branch (local, then
 * remote-tracking), `HEAD` or an explicit `refs/…`, and only then as a tag, when no branch of that
 * name exists anywhere and the name has no `/`: the change under release can create a tag named
 * `main` or `origin/main`, which git itself would prefer to the branch, and so choose the policy and
 * the diff it is judged by. Ancestry steps (`~N`, `^N`) then apply to what was found.
 */
async function resolveBase(repo: string, base: string): Promise<string> {
  const name = base.replace(/(?:[~^]\d*)*$/, '');
  const steps = base.slice(name.length);
  const direct = /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(name) || name === 'HEAD' || /^refs\//.test(name);
  const tag = !direct && !name.includes('/') && !(await isBranchName(repo, name)) ? [`refs/tags/${name}`] : [];
  const candidates = direct ? [name] : [`refs/heads/${name}`, `refs/remotes/${name}`, ...tag];
  for (const ref of candidates) {
    if (ref !== name && !(await refExists(repo, ref))) continue;
    const sha = await resolveCommit(repo, `${ref}${steps}`).catch(() => undefined);
    if (sha) return sha;
    throw new InputError(`--base: "${base}" names no commit in ${repo}${steps ? ` (${ref} has no ${steps})` : ''}`);
  }
  const exists = await resolveCommit(repo, base).catch(() => undefined);
  const remote = !exists ? undefined : (await git(repo, ['for-each-ref', '--format=%(refname)', `refs/remotes/*/${name}`])).split('\n').find(Boolean)?.replace(/^refs\/remotes\//, '');
  throw new InputError(
    exists
      ? `--base: "${base}" is not a branch, a tag or a full commit id (an abbreviated id, or a ref the change could have made under a branch's name)${remote ? `; the branch is ${remote}` : ''}: give one of those, or refs/tags/… for a tag with a /, optionally with ~N or ^N`
      : `--base: unknown ref "${base}" in ${repo}`,
  );
}

/** Checks what the flags name before anything happens: nothing is started or written on bad input. */
export async function resolveInputs(flags: EvidenceFlags): Promise<ResolvedInputs> {
  const repo = resolve(flags.repo ?? '.');
  if (!existsSync(repo) || !statSync(repo).isDirectory()) throw new InputError(`--repo: ${flags.repo ?? '.'} is not a folder`);
  if (!(await isGitRepository(repo))) throw new InputError(`--repo: ${flags.repo ?? '.'} is not a git repository`);
  const baseSha = await resolveBase(repo, flags.base);
  const { config, dir, source } = loadConfig(flags.config, repo, baseSha);
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
  // A repository's config names places inside it; the operator's own config, the flags and the worker policy may name others.
  const inside = (field: string, path: string) => source.kind === 'file' || insideRepository(repo, field, path);
  // Given on the command line they may lie elsewhere, but not reach out of the repository through it.
  const notThrough = (field: string, path: string) => {
    if (isInside(repo, path) && !isInside(realPathOf(repo), realPathOf(path))) throw new InputError(`${field}: ${path} reaches out of the repository through a symlink`);
  };
  if (!flags.reports) inside('reports', reportsDir);
  else notThrough('--reports', reportsDir);
  if (!flags.out) inside('out', resolve(dir, config.out));
  else notThrough('--out', resolve(flags.out));
  // The floors apply here too, as the worker applies them, with the worker's policy where this machine has it
  // (ROLLGATE_POLICY): what `decide` shows is what `start` does.
  const applied = applyPolicy(anchorPaths(repo, dir, config, source), workerPolicyFromEnv(process.env), describeSource(source), repo);
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
    configSource: source,
  };
}

/** One release per service and head commit, so a re-run CI job attaches to the running release. */
export const releaseIdFor = (service: string, headSha: string) => `release-${service}-${headSha.slice(0, 12)}`;
