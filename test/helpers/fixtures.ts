import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const tempDir = (prefix = 'rollgate-') => mkdtempSync(join(tmpdir(), prefix));

const gitEnv = (date: string) => ({
  ...process.env,
  GIT_AUTHOR_NAME: 'Alice Author',
  GIT_AUTHOR_EMAIL: 'alice@example.com',
  GIT_COMMITTER_NAME: 'Alice Author',
  GIT_COMMITTER_EMAIL: 'alice@example.com',
  GIT_AUTHOR_DATE: date,
  GIT_COMMITTER_DATE: date,
});

export function git(repo: string, args: string[], date = '2026-01-05T10:00:00Z'): string {
  return execFileSync('git', args, { cwd: repo, env: gitEnv(date), encoding: 'utf8' });
}

export function writeFiles(root: string, files: Record<string, string>) {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

/**
 * A repository with `main` holding `base` files and a `feature` branch with one commit per entry of
 * `commits`. Returns its path.
 */
export function makeRepo(base: Record<string, string>, commits: { subject: string; files: Record<string, string> }[]): string {
  const repo = tempDir('rollgate-repo-');
  git(repo, ['init', '-q', '-b', 'main']);
  writeFiles(repo, base);
  git(repo, ['add', '-A']);
  git(repo, ['commit', '-q', '-m', 'initial']);
  git(repo, ['checkout', '-q', '-b', 'feature']);
  commits.forEach((c, i) => {
    writeFiles(repo, c.files);
    git(repo, ['add', '-A']);
    git(repo, ['commit', '-q', '--allow-empty', '-m', c.subject], `2026-01-05T11:0${i}:00Z`);
  });
  return repo;
}

/**
 * Commits `files` to the base branch, as reviewed code, and rebases `feature` onto it: rollgate
 * reads the release policy (rollgate.yaml) from the base commit, never from the change.
 */
export function commitToBase(repo: string, files: Record<string, string>, subject = 'chore: release policy'): void {
  const branch = git(repo, ['rev-parse', '--abbrev-ref', 'HEAD']).trim();
  git(repo, ['checkout', '-q', 'main']);
  writeFiles(repo, files);
  git(repo, ['add', '--', ...Object.keys(files)]);
  git(repo, ['commit', '-q', '-m', subject]);
  git(repo, ['checkout', '-q', branch]);
  if (branch !== 'main') git(repo, ['rebase', '-q', 'main']);
}

/** The spec's reference change: a one-line pool size change in auth/redis_pool.py. */
export function referenceRepo(): string {
  return makeRepo(
    {
      'auth/redis_pool.py': 'import redis\n\nPOOL = redis.ConnectionPool(max_connections=10)\n',
      'frontend/app.js': 'console.log("hi")\n',
      'db/schema.sql': 'CREATE TABLE users (id int);\n',
    },
    [{ subject: 'fix(auth): raise redis pool size', files: { 'auth/redis_pool.py': 'import redis\n\nPOOL = redis.ConnectionPool(max_connections=50)\n' } }],
  );
}

export function writeReports(dir: string, opts: { qa?: string; security?: string; stamp?: string } = {}): string {
  const stamp = opts.stamp ?? '20260105-120000';
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `qa-report-${stamp}.md`), opts.qa ?? '# QA Report\n\n**Status**: ✅ PASS\n\nTests: 57/57 passing\n');
  writeFileSync(join(dir, `security-report-${stamp}.md`), opts.security ?? '# Security Report\n\n**Verdict**: PASS\n');
  return dir;
}

/**
 * An analysis section (YAML) with one check that acts and always passes (`vector(0)` on a real
 * Prometheus): the monitoring gate every release must pass, for tests about something else.
 */
export const passingAnalysis = (prometheusUrl: string): string =>
  `analysis: ${JSON.stringify({ prometheus: { address: prometheusUrl }, interval: '1s', metrics: [{ name: 'alive', query: 'vector(0)', failureCondition: 'result > 0' }] })}\n`;
