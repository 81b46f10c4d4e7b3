import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseDocument } from 'yaml';
import { parseConfig, type RollgateConfig, type RollgateConfigInput } from '../domain/config';
import { InputError } from '../domain/errors';
import { applyPolicy, type PolicyProvenance, type WorkerPolicy } from '../domain/policy';

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

export const isInside = (root: string, path: string) => {
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

/** For people: where the release policy was read. */
export function describeSource(source: ConfigSource): string {
  if (source.kind === 'defaults') return 'defaults (no rollgate.yaml)';
  if (source.kind === 'file') return `${source.file} (given to the CLI, outside the repository)`;
  return source.missing ? `defaults (no ${source.path} at the base commit ${source.commit.slice(0, 12)})` : `${source.path} at the base commit ${source.commit.slice(0, 12)}`;
}


/**
 * Paths a repository's config names stay inside the repository (by real path: a folder the change
 * commits as a symlink leads outside). The operator's own file, outside the repository, may name others.
 * Returns the absolute deploy folder.
 */
export function confinedDeployFolder(repo: string, dir: string, config: RollgateConfig, source: ConfigSource): string {
  const cwd = resolve(dir, config.deploy.cwd ?? '.');
  if (source.kind !== 'file') {
    const inside = (field: string, path: string) => {
      if (!isInside(realPathOf(repo), realPathOf(path))) throw new InputError(`${field}: ${path} lies outside the repository (or reaches out through a symlink); the config may only name paths inside it`);
    };
    inside('deploy.cwd', cwd);
    if (config.featureFlag.file) inside('featureFlag.file', resolve(cwd, config.featureFlag.file));
  }
  return cwd;
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
  const { config, dir, source } = loadConfig(at.policyFile === undefined ? undefined : resolve(at.repo, at.policyFile), at.repo, at.base);
  if (source.kind === 'file') throw new InputError(`policyFile: ${at.policyFile} lies outside the repository; the worker reads the release policy from the repository at the base commit`);
  const cwd = confinedDeployFolder(at.repo, dir, config, source);
  return applyPolicy({ ...config, deploy: { ...config.deploy, cwd } }, worker, describeSource(source), at.repo);
}
