import { execFile, type ExecFileException } from 'node:child_process';
import { promisify } from 'node:util';
import type { ChangeSet, CommitInfo, FileChange } from '../domain/changeset';
import { globToRegExp } from '../domain/glob';

const execFileAsync = promisify(execFile);

/** Runs git in a repository with an argument list; `--` separates refs from paths where it matters. */
export async function git(repo: string, args: string[], timeoutMs = 60_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync('git', ['-c', 'core.quotePath=false', ...args], {
      cwd: repo,
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      // Replace refs would let the repository show another commit in place of the one under release.
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', GIT_NO_REPLACE_OBJECTS: '1' },
      maxBuffer: 256 * 1024 * 1024,
      encoding: 'utf8',
    });
    return stdout;
  } catch (e) {
    const err = e as ExecFileException & { stderr?: string };
    // A string code is a failure to run git at all (missing, bad folder, output too large): keep it as it is.
    if (typeof err.code === 'string') throw e;
    throw new Error((err.stderr?.trim() || `git ${args[0]} failed`).split('\n')[0], { cause: e });
  }
}

export async function isGitRepository(dir: string): Promise<boolean> {
  try {
    return (await git(dir, ['rev-parse', '--is-inside-work-tree'])).trim() === 'true';
  } catch {
    return false;
  }
}

/** The full commit id of a ref, or an error naming the ref. */
export async function resolveCommit(repo: string, ref: string): Promise<string> {
  try {
    return (await git(repo, ['rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`])).trim();
  } catch {
    throw new Error(`unknown ref "${ref}"`);
  }
}

/** Whether the full ref name exists (no abbreviation, no lookup rules). */
export async function refExists(repo: string, ref: string): Promise<boolean> {
  return git(repo, ['show-ref', '--verify', '--quiet', ref]).then(
    () => true,
    () => false,
  );
}

export async function commitsAhead(repo: string, base: string, head: string): Promise<number> {
  return Number((await git(repo, ['rev-list', '--count', `${base}..${head}`, '--'])).trim());
}

/** Whether `name` is a branch of the repository, local or remote-tracking: a name that moves. */
export async function isBranchName(repo: string, name: string): Promise<boolean> {
  const refs = (await git(repo, ['for-each-ref', '--format=%(refname)', `refs/heads/${name}`, `refs/remotes/*/${name}`])).split('\n');
  return refs.some((r) => r === `refs/heads/${name}` || /^refs\/remotes\/[^/]+\//.test(r) && r.replace(/^refs\/remotes\/[^/]+\//, '') === name);
}

/** Files small enough to look at line by line (literal-only detection). */
const SMALL_FILE_LINES = 40;
const MAX_FILES_WITH_LINES = 300;

/** A change set that git cannot give: the risk cannot be classified. */
export class ChangeSetUnreadable extends Error {
  override readonly name = 'ChangeSetUnreadable';
}

/**
 * Reads the change set of base..head; any failure is a ChangeSetUnreadable naming the range.
 * `allowedSigners` (the worker's file): commits signed with an SSH key listed there for git name their signer.
 */
export async function readChangeSet(repo: string, base: string, head: string, migrationGlobs: readonly string[], opts: { allowedSigners?: string } = {}): Promise<ChangeSet> {
  try {
    // Independent reads run side by side: the change set is on the path to every decision.
    const [baseSha, headSha] = await Promise.all([resolveCommit(repo, base), resolveCommit(repo, head)]);
    const mergeBase = (await git(repo, ['merge-base', baseSha, headSha]).catch(() => baseSha)).trim();
    const [numstat, nameStatus, log, tree] = await Promise.all([
      git(repo, ['diff', '--numstat', '-z', '--no-renames', mergeBase, headSha, '--']),
      git(repo, ['diff', '--name-status', '-z', '--no-renames', mergeBase, headSha, '--']),
      opts.allowedSigners
        ? git(repo, ['-c', `gpg.ssh.allowedSignersFile=${opts.allowedSigners}`, 'log', `--format=${LOG_FORMAT}%x1f%G?%x1f%GS%x1e`, `${baseSha}..${headSha}`, '--'])
        : git(repo, ['log', `--format=${LOG_FORMAT}%x1e`, `${baseSha}..${headSha}`, '--']),
      git(repo, ['ls-tree', '-d', '--name-only', headSha]),
    ]);
    const files = parseNumstat(numstat);
    const statuses = parseNameStatus(nameStatus);
    for (const f of files) f.status = statuses.get(f.path) ?? 'M';

    const migrationRes = migrationGlobs.map(globToRegExp);
    const isMigration = (p: string) => migrationRes.some((re) => re.test(p));
    // Migrations are read as text whatever .gitattributes says of them (`-diff`, a textconv driver): a
    // change must not hide a DROP from the judge by declaring its migration binary.
    const migrations = files.filter((f) => isMigration(f.path));
    const small = files.filter((f) => !f.binary && !isMigration(f.path) && files.length <= MAX_FILES_WITH_LINES && f.insertions + f.deletions <= SMALL_FILE_LINES);
    for (const [wanted, asText] of [[migrations, true], [small, false]] as const) {
      for (let i = 0; i < wanted.length; i += 200) {
        const chunk = wanted.slice(i, i + 200);
        const args = ['--literal-pathspecs', 'diff', '-U0', '--no-renames', '--no-color', '--no-ext-diff', '--no-textconv', ...(asText ? ['--text'] : []), mergeBase, headSha, '--', ...chunk.map((f) => f.path)];
        const lines = parseUnifiedDiff(await git(repo, args));
        for (const f of chunk) {
          const l = lines.get(f.path);
          if (l) Object.assign(f, l);
        }
      }
    }

    const commits = parseLog(log);
    const topLevel = tree.split('\n').filter(Boolean);
    return { base, head, baseSha, headSha, commits, files, topLevel };
  } catch (e) {
    throw new ChangeSetUnreadable(`cannot read the change set ${base}..${head}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * One record per commit: hash, subject, author, committer, date, then the `Co-authored-by` trailers
 * (git matches the key without case), and where asked the signature's check and signer; `%x1e` ends it. Unit and group separators cannot appear in these fields.
 */
const LOG_FORMAT = '%H%x1f%s%x1f%an%x1f%ae%x1f%cn%x1f%ce%x1f%cI%x1f%(trailers:key=Co-authored-by,valueonly,unfold,separator=%x1d)';

export function parseLog(log: string): CommitInfo[] {
  return log
    .split('\x1e')
    .map((r) => r.trim())
    .filter(Boolean)
    .map((r) => {
      const [sha = '', subject = '', author = '', email = '', committer = '', committerEmail = '', time = '', trailers = '', check = '', signer = ''] = r.split('\x1f');
      const coAuthors = trailers.split('\x1d').map(parseIdentity).filter((a) => a.name || a.email);
      // Only a good signature by a key of the allowed signers (`G`) names who made the commit; author and committer are typed.
      return { sha, subject, author, email, committer, committerEmail, time, coAuthors, ...(check === 'G' && signer ? { signer } : {}) };
    });
}

/** `Name <email>` as trailers write it; a bare email or name is kept as it is. */
function parseIdentity(text: string): { name: string; email: string } {
  const m = /^\s*(.*?)\s*<([^<>]*)>\s*$/.exec(text);
  if (m) return { name: m[1] ?? '', email: (m[2] ?? '').trim() };
  const t = text.trim();
  return t.includes('@') ? { name: '', email: t } : { name: t, email: '' };
}

function parseNumstat(out: string): FileChange[] {
  return out
    .split('\0')
    .filter(Boolean)
    .map((rec) => {
      const [ins = '', del = '', path = ''] = rec.split('\t');
      const binary = ins === '-' && del === '-';
      return { path, status: 'M', insertions: binary ? 0 : Number(ins), deletions: binary ? 0 : Number(del), binary };
    });
}

function parseNameStatus(out: string): Map<string, string> {
  const parts = out.split('\0').filter(Boolean);
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < parts.length; i += 2) map.set(parts[i + 1] as string, (parts[i] as string).charAt(0));
  return map;
}

/**
 * A path as a diff header writes it: git ends a name holding a space with a tab, and quotes a name
 * with special characters C-style (`"b/na\\"me.sql"`, octal escapes for other bytes).
 */
export function diffPath(header: string): string {
  const name = header.replace(/\t$/, '');
  if (!name.startsWith('"') || !name.endsWith('"')) return name;
  const bytes: number[] = [];
  const body = name.slice(1, -1);
  const ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '"': 34, '\\': 92 };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const next = body[i + 1] ?? '';
    if (/[0-7]/.test(next)) {
      bytes.push(parseInt(body.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(ESCAPES[next] ?? next.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function parseUnifiedDiff(out: string): Map<string, { removed: string[]; added: string[] }> {
  const map = new Map<string, { removed: string[]; added: string[] }>();
  let current: { removed: string[]; added: string[] } | undefined;
  let oldPath = '';
  for (const line of out.split('\n')) {
    if (line.startsWith('diff --git ')) current = undefined;
    else if (line.startsWith('--- ')) oldPath = diffPath(line.slice(4)).replace(/^a\//, '');
    else if (line.startsWith('+++ ')) {
      const newPath = diffPath(line.slice(4)).replace(/^b\//, '');
      const path = newPath === '/dev/null' ? oldPath : newPath;
      current = { removed: [], added: [] };
      map.set(path, current);
    } else if (current && line.startsWith('+')) current.added.push(line.slice(1));
    else if (current && line.startsWith('-')) current.removed.push(line.slice(1));
  }
  return map;
}
