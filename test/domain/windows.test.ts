import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCron, parseRrule, windowState, WindowsSchema } from '../../src/domain/windows';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('deployment windows: recurrences', () => {
  it('reads cron as cron does: names, ranges, steps, Sunday as 0 or 7, either day field when both are given', () => {
    const weekdays = parseCron('30 9 * * MON-FRI');
    assert.deepEqual([...weekdays.minutes], [30]);
    assert.deepEqual([...weekdays.weekdays!], [1, 2, 3, 4, 5]);
    assert.equal(weekdays.days, null);
    assert.deepEqual([...parseCron('0 */6 * * 7').hours], [0, 6, 12, 18]);
    assert.deepEqual([...parseCron('0 0 * * 7').weekdays!], [0]);
    const both = parseCron('0 0 1 * MON');
    assert.equal(both.bothDays, 'either');
    assert.deepEqual([...both.days!], [1]);
    // Vixie cron: a day field starting with `*` narrows the other one (odd days that are Mondays).
    const stepped = parseCron('0 0 */2 * MON');
    assert.equal(stepped.bothDays, 'both');
    assert.deepEqual([...stepped.days!].slice(0, 3), [1, 3, 5]);
  });

  it('refuses a cron expression naming the field and what is wrong', () => {
    for (const [expr, message] of [
      ['0 9 * *', /has 4 fields; cron takes five/],
      ['61 9 * * *', /Error: minute: "61" is not in 0-59$/],
      ['0 9 * * FUN', /Error: day-of-week: "FUN" is not in 0-7 or SUN-SAT$/],
      ['0 17-9 * * *', /Error: hour: "17-9" runs backwards$/],
      ['0 9 * 13 *', /Error: month: "13" is not in 1-12 or JAN-DEC$/],
    ] as const)
      assert.throws(() => parseCron(expr), message, expr);
  });

  it('reads the RRULE subset that names a start without DTSTART, and refuses the rest', () => {
    const r = parseRrule('FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9,14;BYMINUTE=15');
    assert.deepEqual([...r.weekdays!], [1, 3]);
    assert.deepEqual([...r.hours], [9, 14]);
    assert.equal(r.bothDays, 'both');
    assert.deepEqual([...parseRrule('RRULE:FREQ=DAILY;BYHOUR=22').minutes], [0]);
    for (const [rule, message] of [
      ['FREQ=YEARLY;BYHOUR=9', /FREQ must be DAILY, WEEKLY or MONTHLY/],
      ['FREQ=DAILY', /BYHOUR is required/],
      ['FREQ=WEEKLY;BYHOUR=9', /BYDAY is required with FREQ=WEEKLY/],
      ['FREQ=DAILY;INTERVAL=2;BYHOUR=9', /INTERVAL: only 1/],
      ['FREQ=MONTHLY;BYDAY=1MO;BYHOUR=9', /ordinal days like 1MO are not supported/],
      ['FREQ=DAILY;BYHOUR=9;COUNT=3', /COUNT: not supported/],
    ] as const)
      assert.throws(() => parseRrule(rule), message, rule);
  });

  it('in config: cron or rrule with a duration, in a time zone the runtime knows', () => {
    const ok = WindowsSchema.parse({ timeZone: 'Europe/Berlin', deny: [{ cron: '0 17 * * FRI', duration: '64h' }] });
    assert.equal(ok.deny[0]!.duration, 64 * 3_600_000);
    assert.equal(WindowsSchema.parse({}).timeZone, 'UTC');
    const problems = (input: unknown) => WindowsSchema.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    assert.deepEqual(problems({ timeZone: 'Mars/Olympus_Mons' }), ['timeZone: not a time zone this runtime knows (use an IANA name such as Europe/Berlin)']);
    assert.deepEqual(problems({ allow: [{ cron: '0 9 * * *', rrule: 'FREQ=DAILY;BYHOUR=9', duration: '8h' }] }), ['allow.0: give cron or rrule, one of them']);
    assert.deepEqual(problems({ allow: [{ cron: '0 25 * * *', duration: '8h' }] }), ['allow.0.cron: hour: "25" is not in 0-23']);
    assert.match(problems({ allow: [{ cron: '0 9 * * *' }] })!.join(), /^allow\.0\.duration: /);
    assert.deepEqual(problems({ deny: [{ cron: '* * * * *', duration: '1m' }] }), ['deny.0.cron: starts 1440 times a day; a deployment window starts at most 96 times a day']);
  });
});

describe('deployment windows: open or closed, and until when', () => {
  const weekend = WindowsSchema.parse({ timeZone: 'Europe/Berlin', deny: [{ cron: '0 17 * * FRI', duration: '64h' }] });
  const officeHours = WindowsSchema.parse({ timeZone: 'America/New_York', allow: [{ rrule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9', duration: '8h' }] });

  it('a release on a Friday at 17:00 against a weekend deny window waits until Monday 09:00', () => {
    // 2026-12-04 is a Friday; Berlin is UTC+1 in December.
    const s = windowState(weekend, at('2026-12-04T16:00:00Z'));
    assert.equal(s.open, false);
    assert.equal(iso(s.opensAt), '2026-12-07T08:00:00.000Z');
    assert.match(s.reason, /^closed: inside deny window cron 0 17 \* \* FRI, until 2026-12-07T08:00Z \(Mon 09:00 Europe\/Berlin, 2d16h from now\)$/);
    const before = windowState(weekend, at('2026-12-04T15:59:00Z'));
    assert.equal(before.open, true);
    assert.equal(iso(before.closesAt), '2026-12-04T16:00:00.000Z');
  });

  it('office hours in New York: closed on Saturday until Monday 09:00 local, open on Wednesday until 17:00', () => {
    const saturday = windowState(officeHours, at('2026-12-05T15:00:00Z'));
    assert.equal(saturday.open, false);
    assert.equal(iso(saturday.opensAt), '2026-12-07T14:00:00.000Z');
    assert.match(saturday.reason, /outside every allow window/);
    const wednesday = windowState(officeHours, at('2026-12-09T21:30:00Z'));
    assert.equal(wednesday.open, true);
    assert.equal(iso(wednesday.closesAt), '2026-12-09T22:00:00.000Z');
  });

  it('a deny window inside the allowed hours wins, and the release opens once both agree', () => {
    const holidays = WindowsSchema.parse({ timeZone: 'America/New_York', allow: [{ rrule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9', duration: '8h' }], deny: [{ cron: '0 0 24 12 *', duration: '1d' }] });
    // Thursday 24 December 2026, 10:00 in New York: denied all day; Friday's hours open at 09:00.
    const s = windowState(holidays, at('2026-12-24T15:00:00Z'));
    assert.equal(s.open, false);
    assert.equal(iso(s.opensAt), '2026-12-25T14:00:00.000Z');
  });

  it('follows the zone across a change of clocks: a start the spring-forward skips falls an hour later', () => {
    // Berlin moves from 02:00 CET to 03:00 CEST on 2026-03-29; 02:30 does not exist that day.
    const nightly = WindowsSchema.parse({ timeZone: 'Europe/Berlin', allow: [{ cron: '30 2 * * *', duration: '1h' }] });
    assert.equal(iso(windowState(nightly, at('2026-03-28T12:00:00Z')).opensAt), '2026-03-29T01:30:00.000Z');
    assert.equal(iso(windowState(nightly, at('2026-03-29T12:00:00Z')).opensAt), '2026-03-30T00:30:00.000Z');
  });

  it('east of UTC, a start before the clocks change that day keeps its hour', () => {
    // 01:30 in Berlin on 2026-03-29 comes before the 02:00 change: 00:30Z, not the evening before.
    const early = WindowsSchema.parse({ timeZone: 'Europe/Berlin', allow: [{ cron: '30 1 * * *', duration: '1h' }] });
    assert.equal(iso(windowState(early, at('2026-03-28T12:00:00Z')).opensAt), '2026-03-29T00:30:00.000Z');
    const auckland = WindowsSchema.parse({ timeZone: 'Pacific/Auckland', allow: [{ cron: '30 0 * * *', duration: '1h' }] });
    // Auckland moves from +12 to +13 at 02:00 on 2026-09-27; 00:30 that day is 12:30Z the day before.
    assert.equal(iso(windowState(auckland, at('2026-09-26T06:00:00Z')).opensAt), '2026-09-26T12:30:00.000Z');
  });

  it('a time the fall-back repeats is its first occurrence, east and west of UTC', () => {
    // Berlin repeats 02:00-03:00 on 2026-10-25 (first at 00:xxZ); New York repeats 01:00-02:00 on 2026-11-01 (first at 05:xxZ).
    const berlin = WindowsSchema.parse({ timeZone: 'Europe/Berlin', allow: [{ cron: '30 2 * * *', duration: '1h' }] });
    assert.equal(iso(windowState(berlin, at('2026-10-24T12:00:00Z')).opensAt), '2026-10-25T00:30:00.000Z');
    const newYork = WindowsSchema.parse({ timeZone: 'America/New_York', allow: [{ cron: '30 1 * * *', duration: '1h' }] });
    assert.equal(iso(windowState(newYork, at('2026-10-31T12:00:00Z')).opensAt), '2026-11-01T05:30:00.000Z');
  });

  it('allow windows that overlap or meet close at the end of the last, not the first', () => {
    const shifts = WindowsSchema.parse({
      allow: [
        { cron: '0 8 * * *', duration: '4h' },
        { cron: '0 12 * * *', duration: '4h' },
        { cron: '0 15 * * *', duration: '2h' },
      ],
    });
    const s = windowState(shifts, at('2026-12-09T09:00:00Z'));
    assert.equal(s.open, true);
    assert.equal(iso(s.closesAt), '2026-12-09T17:00:00.000Z');
    // Allow windows that never leave a gap close only where a deny window starts, or never.
    const always = { cron: '0 0 * * *', duration: '24h' };
    assert.equal(windowState(WindowsSchema.parse({ allow: [always] }), at('2026-12-09T09:00:00Z')).closesAt, undefined);
    const cut = windowState(WindowsSchema.parse({ allow: [always], deny: [{ cron: '0 17 * * FRI', duration: '1h' }] }), at('2026-12-09T09:00:00Z'));
    assert.equal(iso(cut.closesAt), '2026-12-11T17:00:00.000Z');
  });

  it('past the boundaries it looks at, a closed state asks again later rather than giving up', () => {
    // Deny windows that each end where another starts, for longer than the boundaries looked across.
    const deny = [
      { cron: '0 0 * * *', duration: '12h' },
      { cron: '0 12 * * *', duration: '12h' },
    ];
    const s = windowState(WindowsSchema.parse({ allow: [{ cron: '0 9 1 1 *', duration: '1h' }], deny }), at('2026-12-09T09:00:00Z'));
    assert.equal(s.open, false);
    assert.ok(s.opensAt! > at('2027-12-01T00:00:00Z'), iso(s.opensAt));
    assert.match(s.reason, /looked 1000 boundaries ahead; asks again at /);
  });

  it('no windows: always open, never closing', () => {
    const s = windowState(WindowsSchema.parse({}), at('2026-12-04T16:00:00Z'));
    assert.deepEqual(s, { open: true, reason: 'open: no deny window holds it' });
  });
});
