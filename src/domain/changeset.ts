/** The git change set between base and head, as read by the change-set activity. */

export interface FileChange {
  path: string;
  /** git's status letter: A added, M modified, D deleted, T type change. */
  status: string;
  insertions: number;
  deletions: number;
  binary: boolean;
  /** Changed lines, kept only for small diffs (literal-only detection) and for migrations. */
  removed?: string[];
  added?: string[];
}

export interface CommitInfo {
  sha: string;
  subject: string;
  author: string;
  email: string;
  /** Who committed it: the author name is set by whoever commits, so four eyes look at both. */
  committer?: string;
  committerEmail?: string;
  /** `Co-authored-by:` trailers, as written in the message. */
  coAuthors?: { name: string; email: string }[];
  /** The principal whose SSH key signed the commit, verified against the worker's allowed signers. */
  signer?: string;
  /** ISO time the commit was made (committer date). */
  time: string;
}

export interface ChangeSet {
  base: string;
  head: string;
  baseSha: string;
  headSha: string;
  /** Commits in base..head, newest first. */
  commits: CommitInfo[];
  files: FileChange[];
  /** Top-level folders of the repository at head, for the blast radius. */
  topLevel: string[];
}

const SOURCE_EXT = /\.(ts|tsx|js|jsx|mjs|cjs|py|go|rb|java|kt|scala|cs|rs|php|swift|c|cc|cpp|h|hpp|ex|exs|sh|bash)$/i;
const CONFIG_EXTENSIONS = /\.(ya?ml|json|toml|ini|cfg|conf|properties|env)$/i;
const CONFIG_NAMES = /(^|\/)\.env(\.[^/]*)?$/i;
const CONFIG_FOLDERS = /(^|\/)(config|configs|conf|settings)\//i;

/** Configuration by its name or folder; a source file is code wherever it lies (a `config/` folder cannot launder it). */
export function isConfigPath(path: string): boolean {
  return CONFIG_EXTENSIONS.test(path) || CONFIG_NAMES.test(path) || (CONFIG_FOLDERS.test(path) && !SOURCE_EXT.test(path));
}

// String literals, numbers (decimal, hex, with separators or units), booleans and nulls of common languages.
const LITERAL =
  /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`|\b0x[0-9a-f_]+\b|-?\b\d[\d_]*(?:\.\d+)?(?:e[+-]?\d+)?[a-z%]*\b|\b(?:true|false|null|none|nil|undefined)\b/gi;

const skeleton = (line: string) => line.replace(LITERAL, '\u0000').replace(/\s+/g, ' ').trim();

/** True when a modified file's changed lines pair up one for one and every pair passes `same` (needs the changed lines). */
function everyChangedLine(file: FileChange, same: (before: string, after: string) => boolean): boolean {
  const { removed, added } = file;
  if (!removed || !added || file.binary || file.status !== 'M') return false;
  if (removed.length === 0 || removed.length !== added.length) return false;
  return removed.every((line, i) => line !== added[i] && same(line, added[i] as string));
}

/** True when every changed line of a code file only changes literal values (e.g. `pool_size=10` → `pool_size=50`). */
export const isLiteralOnlyChange = (file: FileChange): boolean => everyChangedLine(file, (a, b) => skeleton(a) === skeleton(b));

const NUMBER = /^(?:0x[0-9a-f_]+|-?\d[\d_]*(?:\.\d+)?(?:e[+-]?\d+)?[a-z%]*)$/i;

/**
 * True when every changed line only retunes numbers (`max_connections=10` → `50`): the spec's
 * pool-size example. A boolean or a string that changes (`VERIFY_SIGNATURE = True` → `False`, a role
 * `"viewer"` → `"admin"`, `level: info` → `debug`) is not tuning. Needs the changed lines.
 */
export const isNumericTuning = (file: FileChange): boolean =>
  everyChangedLine(file, (line, other) => {
    if (skeleton(line) !== skeleton(other)) return false;
    const after = other.match(LITERAL) ?? [];
    return (line.match(LITERAL) ?? []).every((lit, j) => lit === after[j] || (NUMBER.test(lit) && NUMBER.test(after[j] ?? '')));
  });

export function isConfigOnlyFile(file: FileChange): boolean {
  return isConfigPath(file.path) || isLiteralOnlyChange(file);
}

/** Test code: shown as tests, never raising the risk level or the blast radius. */
export const isTestPath = (path: string): boolean => TEST_PATH.test(path);

const FEAT_SUBJECT = /^feat(\([^)]*\))?!?:/i;
export const isFeatureCommit = (subject: string): boolean => FEAT_SUBJECT.test(subject.trim());

const TEST_PATH = /(^|\/)(tests?|__tests__|spec|specs)\/|[._-](test|spec)\.[a-z]+$|(^|\/)test_[^/]+$/i;

/** An added source file that is neither a test nor configuration: a new module. */
export const isNewSourceModule = (file: FileChange): boolean =>
  file.status === 'A' && SOURCE_EXT.test(file.path) && !TEST_PATH.test(file.path) && !isConfigPath(file.path);

const DESTRUCTIVE_SQL = [
  /\bdrop\s+(table|column|schema|database)\b/i,
  /\balter\s+table\b.*\bdrop\b/i,
  /\btruncate\b/i,
  /\bdelete\s+from\b/i,
  /\b(drop_table|remove_column|drop_column|RemoveField|DeleteModel)\b/,
];
const DOWN_MARKERS = [/\bdef\s+(down|downgrade)\b/, /--\s*\+(migrate|goose)\s+down/i, /\bexports\.down\b/, /\basync\s+down\s*\(/, /\bdown\s*\(\s*\)\s*{/];
const DOWN_PATH = /(^|[/._-])down([/._-]|$)/i;

/** The destructive statement of a migration that has no down migration in the change set, if any. */
export function irreversibleMigration(migrations: readonly FileChange[], all: readonly FileChange[]): string | undefined {
  const hasDown =
    all.some((f) => DOWN_PATH.test(f.path) && f.status !== 'D') ||
    migrations.some((f) => (f.added ?? []).some((l) => DOWN_MARKERS.some((re) => re.test(l))));
  if (hasDown) return undefined;
  for (const file of migrations) {
    const line = (file.added ?? []).find((l) => DESTRUCTIVE_SQL.some((re) => re.test(l)));
    if (line) return `${file.path}: ${line.trim().slice(0, 120)}`;
  }
  return undefined;
}
