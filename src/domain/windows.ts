import { z } from 'zod';
import { durationMs, formatDuration } from './duration';

/**
 * Deployment windows (issue 16): recurring times, in a time zone, when a release may start a new
 * phase (`allow`) or must not (`deny`). Each window is a recurrence of its start, written as cron
 * (five fields) or as an RFC 5545 rule (a subset: FREQ=DAILY|WEEKLY|MONTHLY with BYMONTH,
 * BYMONTHDAY, BYDAY, BYHOUR, BYMINUTE), and a duration. Pure; the time zone rules come from the
 * runtime's ICU data, so a workflow asks an activity and keeps the answer in its history.
 */

/** The wall-clock starts a recurrence allows; `days` and `weekdays` null when unrestricted. */
export interface Recurrence {
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  days: ReadonlySet<number> | null;
  months: ReadonlySet<number>;
  /** 0 Sunday … 6 Saturday. */
  weekdays: ReadonlySet<number> | null;
  /** With both restricted: cron takes a day that matches either, an RRULE one that matches both. */
  bothDays: 'either' | 'both';
}

const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const range = (lo: number, hi: number) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

/** One cron field: `*`, `5`, `1-5`, `MON-FRI`, a step after any of these (`1-30/2`), or a list of these. */
function cronField(text: string, name: string, lo: number, hi: number, names: string[] = [], nameBase = lo): Set<number> {
  const value = (v: string) => {
    const byName = names.indexOf(v.toUpperCase());
    const n = byName >= 0 ? byName + nameBase : /^\d+$/.test(v) ? Number(v) : NaN;
    if (!(n >= lo && n <= hi)) throw new Error(`${name}: "${v}" is not in ${lo}-${hi}${names.length ? ` or ${names[0]}-${names.at(-1)}` : ''}`);
    return n;
  };
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|[^-/]+(?:-[^-/]+)?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new Error(`${name}: "${part}" is not a cron value`);
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1) throw new Error(`${name}: a step must be at least 1`);
    const [a, b] = m[1] === '*' ? [lo, hi] : m[1]!.includes('-') ? m[1]!.split('-').map(value) : [value(m[1]!), m[2] === undefined ? value(m[1]!) : hi];
    if (a! > b!) throw new Error(`${name}: "${part}" runs backwards`);
    for (let n = a!; n <= b!; n += step) out.add(n);
  }
  return out;
}

/** Five-field cron: minute hour day-of-month month day-of-week. Both days restricted: either matches, as cron does. */
export function parseCron(expr: string): Recurrence {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) throw new Error(`"${expr}" has ${fields.length} fields; cron takes five: minute hour day-of-month month day-of-week`);
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string];
  const weekdays = cronField(dow, 'day-of-week', 0, 7, WEEKDAYS, 0);
  if (weekdays.delete(7)) weekdays.add(0);
  const days = cronField(dom, 'day-of-month', 1, 31);
  return {
    minutes: cronField(minute, 'minute', 0, 59),
    hours: cronField(hour, 'hour', 0, 23),
    months: cronField(month, 'month', 1, 12, MONTHS, 1),
    days: dom === '*' ? null : days,
    weekdays: dow === '*' ? null : weekdays,
    // As Vixie cron: a day field starting with `*` (`*/2`) narrows the other instead of adding to it.
    bothDays: dom.startsWith('*') || dow.startsWith('*') ? 'both' : 'either',
  };
}

/** An RFC 5545 RRULE without DTSTART: the parts that name the start in full. */
export function parseRrule(rule: string): Recurrence {
  const parts = new Map<string, string>();
  for (const p of rule.replace(/^RRULE:/i, '').split(';').filter(Boolean)) {
    const [k, v] = p.split('=');
    if (!k || v === undefined) throw new Error(`"${p}" is not KEY=VALUE`);
    parts.set(k.toUpperCase(), v.toUpperCase());
  }
  const known = ['FREQ', 'INTERVAL', 'BYMONTH', 'BYMONTHDAY', 'BYDAY', 'BYHOUR', 'BYMINUTE', 'WKST'];
  const unknown = [...parts.keys()].filter((k) => !known.includes(k));
  if (unknown.length) throw new Error(`${unknown.join(', ')}: not supported (use ${known.join(', ')})`);
  const freq = parts.get('FREQ');
  if (!freq || !['DAILY', 'WEEKLY', 'MONTHLY'].includes(freq)) throw new Error('FREQ must be DAILY, WEEKLY or MONTHLY');
  // Without DTSTART, an interval of more than one has no anchor.
  if ((parts.get('INTERVAL') ?? '1') !== '1') throw new Error('INTERVAL: only 1 (the rule has no start date to count from)');
  if (!parts.has('BYHOUR')) throw new Error('BYHOUR is required: the rule has no start date to take the hour from');
  if (freq === 'WEEKLY' && !parts.has('BYDAY')) throw new Error('BYDAY is required with FREQ=WEEKLY');
  if (freq === 'MONTHLY' && !parts.has('BYMONTHDAY') && !parts.has('BYDAY')) throw new Error('BYMONTHDAY or BYDAY is required with FREQ=MONTHLY');
  const list = (key: string, lo: number, hi: number) => {
    const v = parts.get(key);
    return v === undefined ? undefined : cronField(v, key, lo, hi);
  };
  const byDay = parts.get('BYDAY');
  const weekdays = byDay === undefined ? null : new Set(byDay.split(',').map((d) => {
    const i = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'].indexOf(d);
    if (i < 0) throw new Error(`BYDAY: "${d}" is not SU, MO, TU, WE, TH, FR or SA (ordinal days like 1MO are not supported)`);
    return i;
  }));
  return {
    minutes: list('BYMINUTE', 0, 59) ?? new Set([0]),
    hours: list('BYHOUR', 0, 23)!,
    months: list('BYMONTH', 1, 12) ?? new Set(range(1, 12)),
    days: list('BYMONTHDAY', 1, 31) ?? null,
    weekdays,
    bothDays: 'both',
  };
}

/** A window in config: kept as written (the config travels as JSON), its recurrence checked here and read when used. */
export const TimeZoneSchema = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'not a time zone this runtime knows (use an IANA name such as Europe/Berlin)');

const MAX_STARTS_PER_DAY = 96;

export const RecurringWindowSchema = z
  .strictObject({
    cron: z.string().optional(),
    rrule: z.string().optional(),
    duration: durationMs(),
    /** This window's own zone; else the section's. */
    timeZone: TimeZoneSchema.optional(),
  })
  .superRefine((w, ctx) => {
    if ((w.cron === undefined) === (w.rrule === undefined)) return ctx.addIssue({ code: 'custom', message: 'give cron or rrule, one of them' });
    try {
      const r = recurrenceOf(w);
      // Each start is a candidate the state walks through: a window is hours, not every minute.
      const perDay = r.hours.size * r.minutes.size;
      if (perDay > MAX_STARTS_PER_DAY) ctx.addIssue({ code: 'custom', path: [w.cron !== undefined ? 'cron' : 'rrule'], message: `starts ${perDay} times a day; a deployment window starts at most ${MAX_STARTS_PER_DAY} times a day` });
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: [w.cron !== undefined ? 'cron' : 'rrule'], message: (e as Error).message });
    }
  });

const recurrenceOf = (w: { cron?: string | undefined; rrule?: string | undefined }): Recurrence => (w.cron !== undefined ? parseCron(w.cron) : parseRrule(w.rrule!));
const describeWindow = (w: RecurringWindow) => `${w.cron !== undefined ? `cron ${w.cron}` : `RRULE ${w.rrule}`}${w.timeZone ? ` (${w.timeZone})` : ''}`;

export const WindowsSchema = z.strictObject({
  /** IANA time zone the recurrences are read in. */
  timeZone: TimeZoneSchema.default('UTC'),
  /** When given, a phase starts only inside one of these. */
  allow: z.array(RecurringWindowSchema).default([]),
  /** A phase never starts inside one of these. */
  deny: z.array(RecurringWindowSchema).default([]),
});
export type Windows = z.infer<typeof WindowsSchema>;
export type RecurringWindow = Windows['allow'][number];

// --- time zones ------------------------------------------------------------------------------------

const DAY_MS = 86_400_000;

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();
function wallClock(ms: number, tz: string): Wall {
  let f = formats.get(tz);
  if (!f) formats.set(tz, (f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'short' })));
  const p = Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, x.value]));
  return { year: Number(p.year), month: Number(p.month), day: Number(p.day), hour: Number(p.hour), minute: Number(p.minute), weekday: WEEKDAYS.indexOf(p.weekday!.toUpperCase()) };
}

/** The zone's offset from UTC at `ms`, in ms (Berlin in winter: +3,600,000). */
function offsetAt(ms: number, tz: string): number {
  const w = wallClock(ms, tz);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute) - Math.floor(ms / 60_000) * 60_000;
}

/**
 * The instant a wall-clock time names in `tz`, as RFC 5545 reads one: a time a fall-back repeats
 * is its first occurrence; a time a spring-forward skips is read with the offset before the gap
 * (so it falls an hour later on the clock).
 */
function instantOf(year: number, month: number, day: number, hour: number, minute: number, tz: string): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const before = offsetAt(wall - DAY_MS, tz);
  const after = offsetAt(wall + DAY_MS, tz);
  const fits = [wall - before, wall - after].filter((t) => offsetAt(t, tz) === wall - t);
  return fits.length ? Math.min(...fits) : wall - before;
}

/** The starts of `r` on the calendar day of `day` (a UTC date standing for a wall-clock day), in order. */
function startsOn(r: Recurrence, year: number, month: number, day: number, tz: string): number[] {
  if (!r.months.has(month)) return [];
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  const byDay = r.days?.has(day);
  const byWeekday = r.weekdays?.has(weekday);
  const dayOk = byDay === undefined || byWeekday === undefined ? (byDay ?? byWeekday ?? true) : r.bothDays === 'both' ? byDay && byWeekday : byDay || byWeekday;
  if (!dayOk) return [];
  const out: number[] = [];
  for (const h of [...r.hours].sort((a, b) => a - b)) for (const m of [...r.minutes].sort((a, b) => a - b)) out.push(instantOf(year, month, day, h, m, tz));
  return out;
}

/** The wall-clock calendar days from `from` on (or back), in `tz`. */
function* days(fromMs: number, tz: string, step: 1 | -1, count: number): Generator<[number, number, number]> {
  const w = wallClock(fromMs, tz);
  const base = Date.UTC(w.year, w.month - 1, w.day);
  for (let i = 0; i < count; i++) {
    const d = new Date(base + step * i * DAY_MS);
    yield [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
  }
}

/** The occurrence of `w` that holds `at`, if one does: its start and end. */
function occurrenceAt(w: RecurringWindow, at: number, tz: string): { from: number; until: number } | undefined {
  const r = recurrenceOf(w);
  let found: { from: number; until: number } | undefined;
  for (const [y, m, d] of days(at, tz, -1, Math.ceil(w.duration / DAY_MS) + 2))
    for (const s of startsOn(r, y, m, d, tz)) if (s <= at && at < s + w.duration && (!found || s + w.duration > found.until)) found = { from: s, until: s + w.duration };
  return found;
}

/** The first start of `w` after `at`, within four years (a 29 February comes that rarely). */
function nextStart(w: RecurringWindow, at: number, tz: string): number | undefined {
  const r = recurrenceOf(w);
  for (const [y, m, d] of days(at, tz, 1, 4 * 366)) for (const s of startsOn(r, y, m, d, tz)) if (s > at) return s;
  return undefined;
}

export interface WindowState {
  open: boolean;
  /** Closed: when the next phase may start (undefined: never, as configured). */
  opensAt?: number;
  /** Open: when it closes, if it does. */
  closesAt?: number;
  /** Why, in words: the window that holds it, or the one it waits for. */
  reason: string;
}

/** `Mon 09:00 Europe/Berlin`: an instant as the people of a zone read it. */
function localTime(ms: number, tz: string): string {
  const w = wallClock(ms, tz);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${WEEKDAYS[w.weekday]![0]}${WEEKDAYS[w.weekday]!.slice(1).toLowerCase()} ${pad(w.hour)}:${pad(w.minute)} ${tz}`;
}

/** How many window boundaries a state looks across before it settles for asking again later. */
const MAX_BOUNDARIES = 1000;

const iso = (ms: number) => new Date(ms).toISOString().replace(/:00\.000Z$/, 'Z');

/**
 * Whether a phase may start at `at`: inside an allow window (when any are given) and no deny
 * window. Closed, it says when it opens: the end of the deny window, or the next allow window
 * that no deny window covers. Open, when it closes.
 */
export function windowState(windows: Windows, at: number): WindowState {
  const { allow, deny } = windows;
  const tz = (w: RecurringWindow) => w.timeZone ?? windows.timeZone;
  const local = (t: number) => (windows.timeZone === 'UTC' ? '' : `${localTime(t, windows.timeZone)}, `);
  const holding = (list: RecurringWindow[], t: number) => list.map((w) => ({ w, o: occurrenceAt(w, t, tz(w)) })).filter((x) => x.o !== undefined);
  const denied = (t: number) => holding(deny, t)[0];
  const openAt = (t: number) => !denied(t) && (allow.length === 0 || holding(allow, t).length > 0);
  if (openAt(at)) {
    const inside = allow.length ? `inside ${describeWindow(holding(allow, at)[0]!.w)}` : 'no deny window holds it';
    const closesAt = closing(at);
    return { open: true, ...(closesAt !== undefined ? { closesAt } : {}), reason: `open: ${inside}${closesAt !== undefined ? `, until ${iso(closesAt)}` : ''}` };
  }
  const why = denied(at) ? `inside deny window ${describeWindow(denied(at)!.w)}` : `outside every allow window`;
  // Step to each boundary in turn: the end of a deny window, or the next allow start.
  let t = at;
  for (let i = 0; i < MAX_BOUNDARIES && !openAt(t); i++) {
    const d = denied(t);
    const next = d ? d.o!.until : Math.min(...allow.map((w) => nextStart(w, t, tz(w)) ?? Infinity));
    if (!Number.isFinite(next)) return { open: false, reason: `closed: ${why}; no window opens again` };
    t = next;
  }
  // Past the boundaries looked at, the release asks again then rather than giving up.
  const until = openAt(t) ? `until ${iso(t)}` : `looked ${MAX_BOUNDARIES} boundaries ahead; asks again at ${iso(t)}`;
  return { open: false, opensAt: t, reason: `closed: ${why}, ${until} (${local(t)}${formatDuration(t - at)} from now)` };

  /** The end of the open time that holds `from`: allow windows that overlap or meet run on, the first deny start cuts it. */
  function closing(from: number): number | undefined {
    const denyStart = Math.min(...deny.map((w) => nextStart(w, from, tz(w)) ?? Infinity));
    if (allow.length === 0) return Number.isFinite(denyStart) ? denyStart : undefined;
    let end = from;
    for (let i = 0; i < MAX_BOUNDARIES && end < denyStart; i++) {
      const next = Math.max(...holding(allow, end).map((x) => x.o!.until));
      if (!(next > end)) return Math.min(end, denyStart);
      end = next;
    }
    // Allow windows that run on past every boundary looked at: only a deny window closes it.
    return Number.isFinite(denyStart) ? denyStart : undefined;
  }
}
