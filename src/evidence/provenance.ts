import { realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { git } from './git';

/** The refusal for evidence that the change under release carries itself. */
export const committedEvidence = (shown: string) => `${shown} is committed in the repository; reports must come from CI, not from the change`;

const inside = (root: string, path: string): string | undefined => {
  const rel = relative(root, path);
  return rel && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel) ? rel.split(sep).join('/') : undefined;
};

const real = (p: string) => realpath(p).catch(() => resolve(p));

/**
 * The files git tracks at `head` under the folder `dir`, as repository paths; none when the folder
 * lies outside the repository. Throws when git cannot say (fail closed).
 */
export async function trackedUnder(repo: string, head: string, dir: string): Promise<string[]> {
  const top = await git(repo, ['rev-parse', '--show-toplevel']).then(
    (out) => real(out.trim()),
    () => real(repo),
  );
  const rel = inside(top, await real(dir));
  if (!rel) return [];
  const out = await git(top, ['--literal-pathspecs', 'ls-tree', '-r', '--full-tree', '-z', '--name-only', '--end-of-options', head, '--', rel]);
  return out.split('\0').filter(Boolean);
}

/**
 * The files of `files` (absolute paths) that git tracks at `head` in the repository at `repo`:
 * evidence the change itself could have written. Checked by the path as given (a committed symlink)
 * and by the file it resolves to. A file outside the repository's work tree is never tracked.
 * Throws when a file lies inside the repository and git cannot say (fail closed).
 */
export async function trackedAtHead(repo: string, head: string, files: readonly string[]): Promise<Set<string>> {
  const tracked = new Set<string>();
  if (files.length === 0) return tracked;
  const top = await git(repo, ['rev-parse', '--show-toplevel']).then(
    (out) => real(out.trim()),
    () => real(repo),
  );
  const byPath = new Map<string, string[]>();
  for (const file of files) {
    const leaf = join(await real(dirname(file)), basename(file));
    for (const rel of new Set([inside(top, leaf), inside(top, await real(file))])) {
      if (rel) byPath.set(rel, [...(byPath.get(rel) ?? []), file]);
    }
  }
  const paths = [...byPath.keys()];
  for (let i = 0; i < paths.length; i += 500) {
    // Literal pathspecs: a name with `*` or `?` names that file only.
    const out = await git(top, ['--literal-pathspecs', 'ls-tree', '--full-tree', '-z', '--name-only', '--end-of-options', head, '--', ...paths.slice(i, i + 500)]);
    for (const name of out.split('\0')) for (const file of byPath.get(name) ?? []) tracked.add(file);
  }
  return tracked;
}
