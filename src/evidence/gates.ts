import { createHash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { PrerequisiteName } from '../domain/enums';
import { parseJUnit } from '../domain/junit';
import type { EvidenceDigest, GateReport, PrerequisiteResult } from '../domain/release';
import { futureDated, latestReport, parseConditions, parseTestCount, parseVerdict, type ReportFile } from '../domain/reports';
import { globToRegExp } from '../domain/glob';
import { commitsAhead, isBranchName } from './git';
import { type PlanFacts, planGates } from '../domain/plan-gates';
import { committedEvidence, trackedAtHead, trackedUnder } from './provenance';

/** Reports and JUnit files larger than this are refused rather than read. */
export const MAX_EVIDENCE_BYTES = 5 * 1024 * 1024;

export interface GateInput {
  repo: string;
  base: string;
  head: string;
  reportsDir: string;
  /** JUnit XML files or globs, relative to the repository unless absolute. */
  junit: string[];
  /** What the release policy says of the rollback and the monitoring: the spec's last two gates. */
  plan?: PlanFacts;
  /** The names given for base and head, for people reading the branch prerequisite. */
  refs?: { base: string; head: string };
  /** The release's out folder: files the change commits there would speak for rollgate (a ledger, journals, notes). */
  outDir?: string;
}

type Evidence = { ok: true; text: string; sha256: string } | { ok: false; reason: string };

/** Reads a text file, refusing what is missing, empty, too large or binary; the digest is of the bytes judged. */
export async function readEvidence(path: string): Promise<Evidence> {
  let handle;
  try {
    handle = await open(path, 'r');
    const info = await handle.stat();
    if (!info.isFile()) return { ok: false, reason: 'not a regular file' };
    if (info.size === 0) return { ok: false, reason: 'empty file' };
    if (info.size > MAX_EVIDENCE_BYTES) return { ok: false, reason: `too large (${info.size} bytes; limit ${MAX_EVIDENCE_BYTES})` };
    const buf = await handle.readFile();
    if (buf.includes(0)) return { ok: false, reason: 'binary content (NUL bytes)' };
    return { ok: true, text: buf.toString('utf8'), sha256: createHash('sha256').update(buf).digest('hex') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? 'does not exist' : `unreadable (${code ?? (e as Error).message})` };
  } finally {
    await handle?.close();
  }
}

async function listReports(dir: string): Promise<(ReportFile & { path: string })[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && e.name.endsWith('.md'));
  return Promise.all(files.map(async (e) => ({ name: e.name, path: join(dir, e.name), mtimeMs: (await stat(join(dir, e.name))).mtimeMs })));
}

/** Expands JUnit paths and globs (`**`, `*`) against the file system. */
export async function expandJUnit(repo: string, patterns: readonly string[]): Promise<{ pattern: string; files: string[] }[]> {
  return Promise.all(
    patterns.map(async (pattern) => {
      const abs = isAbsolute(pattern) ? pattern : resolve(repo, pattern);
      if (!/[*?{]/.test(abs)) return { pattern, files: [abs] };
      const staticPart = abs.slice(0, abs.search(/[*?{]/)).replace(/[^/]*$/, '');
      const re = globToRegExp(abs);
      const files: string[] = [];
      const walk = async (dir: string, depth: number) => {
        if (depth > 20) return;
        const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
        for (const e of entries) {
          const p = join(dir, e.name);
          if (e.isDirectory() && e.name !== 'node_modules' && e.name !== '.git') await walk(p, depth + 1);
          else if (e.isFile() && re.test(p)) files.push(p);
        }
      };
      await walk(staticPart || '/', 0);
      return { pattern, files: files.sort() };
    }),
  );
}

/** Tracked files among `files`, or why git could not say: evidence the change could have written. */
async function provenance(input: GateInput, files: string[]): Promise<{ tracked: Set<string> } | { error: string }> {
  try {
    return { tracked: await trackedAtHead(input.repo, input.head, files) };
  } catch (e) {
    return { error: `cannot check that the evidence is not committed at ${input.head}: ${(e as Error).message}` };
  }
}

/**
 * The spec's hard prerequisites. Business failures are results, never exceptions. Evidence the
 * change under release carries itself (a report or JUnit file committed at the head), or a report
 * dated in the future, fails its prerequisite: the change must not vouch for itself.
 */
export async function checkPrerequisites(input: GateInput, nowMs = Date.now()): Promise<GateReport> {
  // git runs while the reports are read.
  const ahead = commitsAhead(input.repo, input.base, input.head).then(
    (n) => ({ n }),
    (e: Error) => ({ error: e }),
  );
  const prerequisites: PrerequisiteResult[] = [];
  let securityConditions: string[] = [];
  const evidence: EvidenceDigest[] = [];
  let qaText: string | undefined;
  let qaSource: string | undefined;

  let reports: (ReportFile & { path: string })[] | undefined;
  let reportsError: string | undefined;
  try {
    reports = await listReports(input.reportsDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    reportsError = `reports folder ${input.reportsDir} ${code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a folder' : `is unreadable (${code})`}`;
  }
  const isReport = (f: ReportFile) => f.name.startsWith('qa-report-') || f.name.startsWith('security-report-');
  const reportOrigin = await provenance(input, (reports ?? []).filter(isReport).map((f) => f.path));

  for (const [name, prefix, accepted] of [
    [PrerequisiteName.QA, 'qa-report-', ['PASS']],
    [PrerequisiteName.SECURITY, 'security-report-', ['PASS', 'CONDITIONAL']],
  ] as const) {
    if (!reports) {
      prerequisites.push({ name, passed: false, detail: reportsError ?? 'no reports' });
      continue;
    }
    const latest = latestReport(reports, prefix);
    if (!latest) {
      prerequisites.push({ name, passed: false, detail: `no ${prefix}*.md in ${input.reportsDir}` });
      continue;
    }
    // Any candidate, not only the latest: which one is latest is what a forged file would change.
    const candidates = reports.filter((f) => f.name.startsWith(prefix) && f.name.endsWith('.md'));
    const refused = [
      ...('error' in reportOrigin ? [reportOrigin.error] : candidates.filter((f) => reportOrigin.tracked.has(f.path)).map((f) => committedEvidence(f.name))),
      ...candidates.flatMap((f) => {
        const future = futureDated(f, nowMs);
        return future ? [`${f.name}: ${future}; refused`] : [];
      }),
    ];
    if (refused.length > 0) {
      prerequisites.push({ name, passed: false, detail: refused.join('; '), source: latest.name });
      continue;
    }
    const read = await readEvidence(latest.path);
    if (!read.ok) {
      prerequisites.push({ name, passed: false, detail: `${latest.name}: ${read.reason}`, source: latest.name });
      continue;
    }
    evidence.push({ kind: name === PrerequisiteName.QA ? 'qa' : 'security', file: latest.name, sha256: read.sha256 });
    const verdict = parseVerdict(read.text);
    if (!verdict.ok) {
      prerequisites.push({ name, passed: false, detail: `${latest.name}: ${verdict.reason}`, source: latest.name });
      continue;
    }
    const passed = (accepted as readonly string[]).includes(verdict.verdict);
    prerequisites.push({
      name,
      passed,
      detail: `${latest.name}: ${verdict.verdict}${passed ? '' : ` (needs ${accepted.join(' or ')})`}`,
      source: latest.name,
    });
    if (name === PrerequisiteName.QA) {
      qaText = read.text;
      qaSource = latest.name;
    }
    if (name === PrerequisiteName.SECURITY && verdict.verdict === 'CONDITIONAL') securityConditions = parseConditions(read.text);
  }

  const tests = await testsGate(input, qaText, qaSource, evidence);
  prerequisites.push(tests.result);

  const branch = await ahead;
  // Names as people gave them, with the commits they stood for: a name alone can move.
  const named = (ref: string | undefined, sha: string) => (ref && ref !== sha ? `${ref} (${sha.slice(0, 12)})` : sha);
  const [baseName, headName] = [named(input.refs?.base, input.base), named(input.refs?.head, input.head)];
  if ('error' in branch) prerequisites.push({ name: PrerequisiteName.BRANCH, passed: false, detail: `cannot compare ${baseName}..${headName}: ${branch.error.message}` });
  else
    prerequisites.push({
      name: PrerequisiteName.BRANCH,
      passed: branch.n > 0,
      detail: branch.n > 0 ? `${headName} is ${branch.n} commit${branch.n === 1 ? '' : 's'} ahead of ${baseName}` : `${headName} has no commits ahead of ${baseName}`,
    });

  if (input.plan) {
    const { rollbackTarget } = input.plan;
    // A failure of git to look is not a pass.
    const targetProblem = !rollbackTarget.given
      ? undefined
      : await isBranchName(input.repo, rollbackTarget.version).then(
          (branch) => (branch ? `the rollback target "${rollbackTarget.version}" is a branch name, which moves: give --previous-version a release version or a commit` : undefined),
          (e: Error) => `cannot check that the rollback target "${rollbackTarget.version}" is not a branch: ${e.message}`,
        );
    prerequisites.push(...planGates(input.plan, targetProblem));
  }

  const outProblem = input.outDir ? await committedOutFolder(input) : undefined;
  if (outProblem) prerequisites.push({ name: PrerequisiteName.OUT_FOLDER, passed: false, detail: outProblem });

  return { prerequisites, securityConditions, ...(tests.count ? { tests: tests.count } : {}), evidence };
}

/**
 * The out folder holds what rollgate itself wrote: the ledger the rollback estimate is measured
 * from, the journals that keep a retried step from running twice, the notes. Files the change
 * commits there would speak in rollgate's name (a forged median, a rollback step marked done), so
 * a release whose out folder is tracked by git stops at its gates. Shown only when it fails.
 */
async function committedOutFolder(input: GateInput): Promise<string | undefined> {
  try {
    const files = await trackedUnder(input.repo, input.head, input.outDir!);
    if (files.length === 0) return undefined;
    return `the out folder holds files committed with the change (${files.slice(0, 3).join(', ')}${files.length > 3 ? `, and ${files.length - 3} more` : ''}): its ledger, journals and notes must be rollgate's own. Keep the out folder out of git (.gitignore), or give the worker its own (ROLLGATE_POLICY out)`;
  } catch (e) {
    return `cannot check that the out folder is not committed at ${input.head}: ${(e as Error).message}`;
  }
}

async function testsGate(input: GateInput, qaText: string | undefined, qaSource: string | undefined, evidence: EvidenceDigest[]) {
  if (input.junit.length > 0) {
    const expanded = await expandJUnit(input.repo, input.junit);
    const total = { tests: 0, failures: 0, errors: 0, skipped: 0 };
    const problems: string[] = [];
    const origin = await provenance(input, expanded.flatMap((e) => e.files));
    if ('error' in origin) problems.push(origin.error);
    for (const { pattern, files } of expanded) {
      if (files.length === 0) problems.push(`no JUnit file matches ${pattern}`);
      for (const file of files) {
        const shown = relative(input.repo, file) || file;
        if ('tracked' in origin && origin.tracked.has(file)) {
          problems.push(committedEvidence(shown));
          continue;
        }
        const read = await readEvidence(file);
        if (!read.ok) {
          problems.push(`${shown}: ${read.reason}`);
          continue;
        }
        evidence.push({ kind: 'junit', file: shown, sha256: read.sha256 });
        const parsed = parseJUnit(read.text);
        if (!parsed.ok) problems.push(`${shown}: ${parsed.reason}`);
        else for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += parsed.summary[k];
      }
    }
    const ran = total.tests - total.skipped;
    const passedCount = ran - total.failures - total.errors;
    const source = `JUnit: ${input.junit.join(', ')}`;
    if (problems.length > 0) return { result: { name: PrerequisiteName.TESTS, passed: false, detail: problems.join('; '), source } };
    if (total.tests === 0) return { result: { name: PrerequisiteName.TESTS, passed: false, detail: 'JUnit files hold no test cases', source } };
    const passed = total.failures === 0 && total.errors === 0;
    return {
      result: {
        name: PrerequisiteName.TESTS,
        passed,
        detail: `${passedCount}/${ran} passing${total.skipped ? `, ${total.skipped} skipped` : ''}${passed ? '' : ` (${total.failures} failed, ${total.errors} errors)`}`,
        source,
      },
      count: { passed: passedCount, total: ran, source },
    };
  }
  const count = qaText ? parseTestCount(qaText) : undefined;
  if (count && qaSource) {
    const passed = count.total > 0 && count.passed === count.total;
    return {
      result: { name: PrerequisiteName.TESTS, passed, detail: `${count.passed}/${count.total} passing (${qaSource})`, source: qaSource },
      count: { ...count, source: qaSource },
    };
  }
  return { result: { name: PrerequisiteName.TESTS, passed: false, detail: 'no test evidence: give --junit files or a "N/N passing" line in the QA report' } };
}
