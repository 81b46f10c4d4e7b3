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
  /\bdrop\s+(table|column|schema|database|index|view)\b/i,
  /\balter\s+table\b.*\bdrop\b/i,
  /\btruncate\b/i,
  /\bdelete\s+(\w+\s+)?from\b/i,
  /\b(drop_table|remove_column|drop_column|RemoveField|DeleteModel|dropTable|dropColumn|dropColumns|removeColumn|dropIfExists|dropSchema)\b/,
  /\bSchema::drop/,
];
const DOWN_MARKERS = [/\bdef\s+(down|downgrade)\b/, /--\s*\+(migrate|goose)\s+down/i, /\bexports\.down\b/, /\basync\s+down\s*\(/, /\bdown\s*\(\s*\)\s*{/];
const DOWN_PATH = /(^|[/._-])down([/._-]|$)/i;
/** A line that does something: not blank, not only a comment (SQL, shell, Python and C-style). */
const isStatement = (line: string) => {
  const t = line.trim();
  return t !== '' && !/^(--|#|\/\/|\/\*|\*)/.test(t);
};

/** A down marker in the migration itself, followed by statements: goose, migrate, Alembic, knex. */
function downInside(migration: FileChange): boolean {
  const added = migration.added ?? [];
  // goose and migrate mark their sections in comments; every other marker must be code, not a comment that mentions it.
  const marker = added.findIndex((l) => DOWN_MARKERS.some((re) => re.test(l)) && (isStatement(l) || /--\s*\+(migrate|goose)\s+down/i.test(l)));
  return marker !== -1 && added.slice(marker + 1).some(isStatement);
}

/** A path without its up or down token: `0003_drop.down.sql` and `0003_drop.sql`, `0003/up.sql` and `0003/down.sql` pair. */
const stem = (path: string) => path.replace(/([/._-])(up|down)(?=[/._-]|$)/gi, '$1').replace(/([/._-])[._-]+/g, '$1');

/**
 * The destructive statement of a migration that has no down migration in the change set, if any.
 * Statements are read across lines (a DROP on the line after its ALTER TABLE counts) and comments
 * are not statements. A down migration counts for the migration it pairs with by name, when it
 * does something; a file named down with nothing to pair with is judged as any migration. A
 * migration whose lines could not be read counts as destructive: fail closed.
 */
export function irreversibleMigration(migrations: readonly FileChange[]): string | undefined {
  const live = migrations.filter((f) => f.status !== 'D');
  const isDownOf = (down: FileChange, up: FileChange) => down !== up && DOWN_PATH.test(down.path) && stem(down.path) === stem(up.path) && (down.added ?? []).some(isStatement);
  const pairedDowns = new Set(live.filter((d) => live.some((u) => !DOWN_PATH.test(u.path) && isDownOf(d, u))));
  for (const file of live) {
    if (pairedDowns.has(file) || downInside(file) || live.some((d) => isDownOf(d, file))) continue;
    if (file.added === undefined && (file.binary || file.insertions > 0)) return `${file.path}: its lines could not be read`;
    const statements = (file.added ?? [])
      .filter(isStatement)
      .join(' ')
      .split(';')
      .map((st) => st.replace(/\s+/g, ' ').trim());
    const found = statements.find((st) => DESTRUCTIVE_SQL.some((re) => re.test(st)));
    if (found) return `${file.path}: ${found.slice(0, 120)};`;
  }
  return undefined;
}
