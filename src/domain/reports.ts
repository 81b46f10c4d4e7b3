/**
 * Reading gate evidence from report text: verdicts, test counts and which report is the latest.
 * Pure: callers pass file names, modification times and contents.
 */

export const VERDICT_LABELS = ['status', 'result', 'verdict', 'decision'] as const;

export type VerdictParse =
  | { ok: true; verdict: string; line: number }
  | { ok: false; reason: string };

// Markdown emphasis, headings, list bullets, table pipes and emoji around a label or value.
const DECORATION = /[*_`#>|~\u{1F000}-\u{1FAFF}\u{2600}-\u{27BF}\u{2B00}-\u{2BFF}]|\u{FE0F}|\u{200D}/gu;
const LABEL_LINE = new RegExp(`^\\s*(?:[-+]\\s+)?(${VERDICT_LABELS.join('|')})\\s*:\\s*(.*)$`, 'i');

/** Finds the verdict after a Status / Result / Verdict / Decision label. Missing or conflicting verdicts fail closed. */
export function parseVerdict(text: string): VerdictParse {
  const found: { verdict: string; line: number }[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const cleaned = raw.replace(DECORATION, ' ').replace(/\s+/g, ' ');
    const match = LABEL_LINE.exec(cleaned);
    if (!match) return;
    const word = /^[\s:]*([A-Za-z][A-Za-z_-]*)/.exec(match[2] ?? '');
    if (word?.[1]) found.push({ verdict: word[1].toUpperCase().replace(/-/g, '_'), line: index + 1 });
  });
  if (found.length === 0) return { ok: false, reason: 'no verdict found (expected a line such as "Status: PASS")' };
  const distinct = [...new Set(found.map((f) => f.verdict))];
  if (distinct.length > 1)
    return { ok: false, reason: `conflicting verdicts: ${found.map((f) => `${f.verdict} (line ${f.line})`).join(', ')}` };
  return { ok: true, verdict: found[0]!.verdict, line: found[0]!.line };
}

export interface TestCount {
  passed: number;
  total: number;
}

/** A test count line such as "57/57 passing", "Tests: 57/57 passed" or "57 passed, 0 failed". */
export function parseTestCount(text: string): TestCount | undefined {
  const ratio = /(\d+)\s*\/\s*(\d+)\s*(?:tests?\s+)?(?:passing|passed|pass)\b/i.exec(text);
  if (ratio) return { passed: Number(ratio[1]), total: Number(ratio[2]) };
  const split = /(\d+)\s+(?:tests?\s+)?passed\s*,\s*(\d+)\s+failed/i.exec(text);
  if (split) {
    const passed = Number(split[1]);
    return { passed, total: passed + Number(split[2]) };
  }
  return undefined;
}

/** Conditions of a CONDITIONAL security report: list items under a heading or label mentioning "condition". */
export function parseConditions(text: string): string[] {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((l) => /condition/i.test(l) && !LABEL_LINE.test(l.replace(DECORATION, ' ')));
  if (start < 0) return [];
  const items: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^\s*#/.test(line)) break;
    const item = /^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s*)?(.+?)\s*$/.exec(line);
    if (item?.[1]) items.push(item[1]);
    else if (items.length > 0 && line.trim() === '') break;
  }
  return items;
}

export interface ReportFile {
  name: string;
  mtimeMs: number;
}

const NAME_STAMP = /(\d{8})-(\d{6})/;

/** Sort key: the YYYYMMDD-HHMMSS stamp in the name, else the modification time. */
export function reportTime(file: ReportFile): number {
  return nameStamp(file.name) ?? file.mtimeMs;
}

/** How far ahead of the reader's clock a report's time may be: clocks of CI runners and workers drift a little. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** The stamp in a report's name, read as UTC; none when the name has none. */
export function nameStamp(name: string): number | undefined {
  const m = NAME_STAMP.exec(name);
  if (!m) return undefined;
  const [d, t] = [m[1]!, m[2]!];
  const ms = Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +t.slice(0, 2), +t.slice(2, 4), +t.slice(4, 6));
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Why a report dated in the future is refused, if it is: a stamp or modification time past
 * `nowMs + skewMs` cannot come from a scanner that has run, and would win the "latest" choice.
 */
export function futureDated(file: ReportFile, nowMs: number, skewMs = MAX_CLOCK_SKEW_MS): string | undefined {
  const limit = nowMs + skewMs;
  const stamp = nameStamp(file.name);
  const iso = (ms: number) => (Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms));
  const ahead = `more than ${Math.round(skewMs / 60_000)} min ahead of this machine's clock (${iso(nowMs)})`;
  if (stamp !== undefined && stamp > limit) return `the stamp in its name (${iso(stamp)}, read as UTC) is in the future, ${ahead}`;
  if (file.mtimeMs > limit) return `its modification time (${iso(file.mtimeMs)}) is in the future, ${ahead}`;
  return undefined;
}

export function latestReport<T extends ReportFile>(files: readonly T[], prefix: string): T | undefined {
  const matching = files.filter((f) => f.name.startsWith(prefix) && f.name.endsWith('.md'));
  return matching.reduce<T | undefined>((best, f) => (!best || reportTime(f) > reportTime(best) ? f : best), undefined);
}
