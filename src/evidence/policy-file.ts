import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseDocument } from 'yaml';
import { parseConfig, type RollgateConfig, type RollgateConfigInput } from '../domain/config';
import { InputError } from '../domain/errors';
import { applyPolicy, parseWorkerPolicy, type PolicyProvenance, type WorkerPolicy } from '../domain/policy';

/**
 * The repository's release policy (rollgate.yaml), read at the base commit: reviewed code, never
 * the change. The CLI reads it to decide and to check a release before starting it; the worker
 * reads it again for the release it runs, so that the workflow input carries identifiers only.
 */

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
  /** How the file was named, for errors: the CLI's flag, or the worker's input field. */
  field = '--config',
): { config: RollgateConfig; raw: RollgateConfigInput; dir: string; file?: string; source: ConfigSource } {
  const candidates = path ? [resolve(path)] : [resolve(repo, 'rollgate.yaml'), resolve(repo, 'rollgate.yml')];
  if (atCommit && candidates.every((f) => nameInRepo(repo, f) !== undefined)) {
    const prefix = repoPrefix(repo);
    for (const f of candidates) {
      // By name: a link in the working tree (the change) must not choose which of the base's files is the policy.
      const rel = nameInRepo(repo, f)!;
      const where = `${rel} at ${atCommit.slice(0, 12)}`;
      const text = readAtCommit(repo, atCommit, prefix + rel, where);
      if (text === undefined) continue;
      const raw = parseYamlConfig(text, where);
      return { config: parseConfigOrThrow(raw, where), raw, dir: dirname(f), file: f, source: { kind: 'commit', commit: atCommit, path: rel } };
    }
    if (path) throw new InputError(`${field}: ${path} does not exist at the base commit ${atCommit.slice(0, 12)} (the release policy is read from the base, never from the change)`);
    const rel = nameInRepo(repo, candidates[0]!)!;
    return { config: parseConfigOrThrow({}, '(defaults)'), raw: {}, dir: repo, source: { kind: 'commit', commit: atCommit, path: rel, missing: true } };
  }
  // Outside the repository by name, but inside it by real path: a link into the change, not the operator's file.
  if (atCommit && candidates.some((f) => isInside(realPathOf(repo), realPathOf(f))))
    throw new InputError(`${field}: ${path ?? candidates[0]} leads into the repository through a symlink; name the file by its path inside the repository`);
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

export const isInside = (root: string, path: string) => {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
};

/** A path's place in the repository by its name alone (no link followed below the repository), or undefined outside it. */
function nameInRepo(repo: string, path: string): string | undefined {
  for (const root of new Set([resolve(repo), realPathOf(repo)])) {
    const rel = relative(root, resolve(path));
    if (rel && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel)) return rel.split(sep).join('/');
  }
  return undefined;
}

/** git, with replace refs ignored: they would let the repository swap the base's content. */
function gitSync(repo: string, args: string[], maxBuffer = 1024 * 1024): string {
  return execFileSync('git', ['-c', 'core.quotePath=false', ...args], {
    cwd: repo,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer,
    env: { ...process.env, GIT_NO_REPLACE_OBJECTS: '1', LC_ALL: 'C' },
  });
}

const gitFailure = (e: unknown) => ((e as { stderr?: string }).stderr?.trim() || (e as Error).message).split('\n')[0];

/** Where `--repo` lies inside its repository (`svc/` of a monorepo): commits hold paths from the top. Fails closed. */
function repoPrefix(repo: string): string {
  try {
    return gitSync(repo, ['rev-parse', '--show-prefix']).trim();
  } catch (e) {
    throw new InputError(`--repo: cannot tell where ${repo} lies in its repository: ${gitFailure(e)}`);
  }
}

/**
 * A regular file as a commit holds it; undefined when the commit has no entry at that path. A
 * symlink, a folder, a file too large or a failure of git is an error, never taken for "missing",
 * which would fall back to another file or to the defaults.
 */
function readAtCommit(repo: string, commit: string, path: string, where: string): string | undefined {
  let entry: string;
  try {
    entry = gitSync(repo, ['ls-tree', '-z', '--full-tree', commit, '--', path]);
  } catch (e) {
    throw new InputError(`${where}: cannot read the base commit: ${gitFailure(e)}`);
  }
  const found = entry.split('\0').find((line) => line.endsWith(`\t${path}`));
  if (!found) return undefined;
  const [mode, type, object] = found.slice(0, found.indexOf('\t')).split(' ');
  if (mode === '120000') throw new InputError(`${where}: is a symlink at the base commit; the release policy must be a file of its own`);
  if (type !== 'blob' || (mode !== '100644' && mode !== '100755')) throw new InputError(`${where}: is not a file at the base commit`);
  const size = Number(gitSync(repo, ['cat-file', '-s', object!]).trim());
  if (size > MAX_CONFIG_BYTES) throw new InputError(`${where}: is too large (${size} bytes; limit ${MAX_CONFIG_BYTES})`);
  return gitSync(repo, ['cat-file', 'blob', object!], 2 * MAX_CONFIG_BYTES);
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

/** For people: where the release policy was read. */
export function describeSource(source: ConfigSource): string {
  if (source.kind === 'defaults') return 'defaults (no rollgate.yaml)';
  if (source.kind === 'file') return `${source.file} (given to the CLI, outside the repository)`;
  return source.missing ? `defaults (no ${source.path} at the base commit ${source.commit.slice(0, 12)})` : `${source.path} at the base commit ${source.commit.slice(0, 12)}`;
}


/**
 * The config with its paths anchored: `deploy.cwd` absolute, `featureFlag.file` relative to the
 * repository folder (absolute for the operator's own file outside it), whoever owns the deploy
 * section later. A repository's paths must stay inside the repository (by real path: a folder the
 * change commits as a symlink leads outside); the operator's own file may name others.
 */
/**
 * A path a repository's config names must lie inside the repository, by real path: a folder the
 * change commits as a symlink (reports -> ../other) leads outside.
 */
export function insideRepository(repo: string, field: string, path: string): void {
  if (!isInside(realPathOf(repo), realPathOf(path))) throw new InputError(`${field}: ${path} lies outside the repository (or reaches out through a symlink); the config may only name paths inside it`);
}

export function anchorPaths(repo: string, dir: string, config: RollgateConfig, source: ConfigSource): RollgateConfig {
  const cwd = resolve(dir, config.deploy.cwd ?? '.');
  const flagFile = config.featureFlag.file === undefined ? undefined : resolve(cwd, config.featureFlag.file);
  if (source.kind !== 'file') {
    insideRepository(repo, 'deploy.cwd', cwd);
    if (flagFile) insideRepository(repo, 'featureFlag.file', flagFile);
  }
  const inRepo = flagFile !== undefined && source.kind !== 'file' ? relative(resolve(repo), flagFile).split(sep).join('/') : flagFile;
  return { ...config, deploy: { ...config.deploy, cwd }, featureFlag: { ...config.featureFlag, ...(inRepo !== undefined ? { file: inRepo } : {}) } };
}

/** What the worker needs to find a release's policy: the repository, the base commit, and the file's path in it. */
export interface PolicyLocation {
  repo: string;
  base: string;
  /** The policy file's path relative to the repository folder; none: rollgate.yaml or rollgate.yml, else the defaults. */
  policyFile?: string;
}

/**
 * The effective policy of a release, as the worker resolves it: the repository's file at the base,
 * its paths confined, the worker's policy over it and the floors applied.
 */
export function releasePolicy(at: PolicyLocation, worker: WorkerPolicy | undefined): { config: RollgateConfig; provenance: PolicyProvenance } {
  const { config, dir, source } = loadConfig(at.policyFile === undefined ? undefined : resolve(at.repo, at.policyFile), at.repo, at.base, 'policyFile');
  return applyPolicy(anchorPaths(at.repo, dir, config, source), worker, describeSource(source), at.repo);
}

/**
 * The worker's own release policy, from the YAML file ROLLGATE_POLICY names: undefined without one.
 * A policy that cannot be read or is invalid stops the worker, naming the file and the field:
 * a worker must never run releases under a policy other than the one its operator wrote.
 */
export function workerPolicyFromEnv(env: NodeJS.ProcessEnv): WorkerPolicy | undefined {
  const file = env.ROLLGATE_POLICY;
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`ROLLGATE_POLICY: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new Error(`ROLLGATE_POLICY ${file}: ${doc.errors[0]!.message.split('\n')[0]}`);
  const parsed = parseWorkerPolicy(doc.toJS({ maxAliasCount: 50 }));
  if (!parsed.ok) throw new Error(`ROLLGATE_POLICY ${file}: ${parsed.errors.join('; ')}`);
  return parsed.policy;
}
