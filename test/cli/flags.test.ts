import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { z } from 'zod';
import { InputError } from '../../src/domain/errors';
import { decideFlags } from '../../src/cli/commands/decide';
import { doraFlags } from '../../src/cli/commands/dora';
import { freezeFlags, freezesFlags, unfreezeFlags } from '../../src/cli/commands/freeze';
import { reportFlags } from '../../src/cli/commands/report';
import { schemaFlags } from '../../src/cli/commands/schema';
import { startFlags } from '../../src/cli/commands/start';
import { statusFlags } from '../../src/cli/commands/status';
import { STEER_COMMANDS, steerFlags } from '../../src/cli/commands/steer';
import { workerFlags } from '../../src/cli/commands/worker';
import { type FlagSpec, parseFlags } from '../../src/cli/flags';
import { main } from '../../src/cli/main';

/** The one-line error a command gives for these arguments. */
function refusal<S extends z.ZodType>(spec: FlagSpec<S>, args: string[]): string {
  try {
    parseFlags(spec, args);
  } catch (e) {
    assert.ok(e instanceof InputError, `an InputError, not ${String(e)}`);
    assert.equal(e.message.split('\n').length, 1, 'one line');
    return e.message;
  }
  assert.fail(`${spec.command} ${args.join(' ')} was accepted`);
}

const DAY = 86_400_000;

describe('CLI flags: every command parses and refuses its own flags, no server needed', () => {
  const specs: FlagSpec<z.ZodType>[] = [decideFlags, startFlags, ...STEER_COMMANDS.map(steerFlags), statusFlags, reportFlags, doraFlags, schemaFlags, workerFlags, freezeFlags, unfreezeFlags, freezesFlags];

  it('every command has a spec, and each spec validates exactly the flags it parses', () => {
    assert.deepEqual(specs.map((s) => s.command).sort(), ['abort', 'approve', 'decide', 'dora', 'freeze', 'freezes', 'override', 'pause', 'promote', 'reject', 'report', 'resolve', 'resume', 'schema', 'start', 'status', 'unfreeze', 'worker']);
    for (const spec of specs) {
      const keys = Object.keys((spec.schema as z.ZodObject).shape).sort();
      assert.deepEqual(keys, [...Object.keys(spec.options), ...(spec.positionals ?? [])].sort(), spec.command);
    }
  });

  it('refuses unknown flags, flags without their value and extra arguments the way node parses them', () => {
    assert.match(refusal(decideFlags, ['--fast']), /^Unknown option '--fast'/);
    assert.match(refusal(decideFlags, ['--repo']), /^Option '--repo <value>' argument missing/);
    assert.match(refusal(statusFlags, ['a', 'b']), /^unexpected argument "b"$/);
    assert.match(refusal(doraFlags, ['extra']), /^Unexpected argument 'extra'/);
  });

  describe('freeze and unfreeze', () => {
    it('freeze: services or all, a reason, who, and until as an instant or a duration from now', () => {
      const f = parseFlags(freezeFlags, ['--service', 'checkout', '--service', 'payments', '--reason', 'year end', '--by', 'cab', '--until', '2026-12-27T08:00:00+01:00']);
      assert.deepEqual(f, { service: ['checkout', 'payments'], reason: 'year end', by: 'cab', until: '2026-12-27T07:00:00.000Z' });
      const inTwoDays = Date.parse(parseFlags(freezeFlags, ['--all', '--reason', 'r', '--by', 'cab', '--until', '2d']).until) - Date.now();
      assert.ok(Math.abs(inTwoDays - 2 * DAY) < 60_000, String(inTwoDays));
      assert.equal(refusal(freezeFlags, ['--all', '--service', 'x', '--reason', 'r', '--by', 'cab', '--until', '2d']), '--service: name the services (--service, repeatable) or --all, one of them');
      assert.equal(refusal(freezeFlags, ['--all', '--reason', 'r', '--by', 'cab', '--until', 'soon']), '--until: "soon" is neither an ISO 8601 instant (2026-12-27T08:00:00Z) nor a duration (3d, 12h)');
      assert.equal(refusal(freezeFlags, ['--all', '--until', '1h']), '--reason: a reason must be given; --by: who freezes must be given');
    });
    it('unfreeze: one freeze by its ID, or services, or all', () => {
      assert.deepEqual(parseFlags(unfreezeFlags, ['F3', '--by', 'cab']), { id: 'F3', by: 'cab' });
      assert.equal(refusal(unfreezeFlags, ['F3', '--all', '--by', 'cab']), 'unfreeze: give a freeze ID, --service or --all, one of them');
      assert.equal(refusal(unfreezeFlags, ['--by', 'cab']), 'unfreeze: give a freeze ID, --service or --all, one of them');
    });
    it('unfreeze: who, by name or signed with a key', () => {
      assert.deepEqual(parseFlags(unfreezeFlags, ['F3', '--key', 'id_ed25519']), { id: 'F3', key: 'id_ed25519' });
      assert.equal(refusal(unfreezeFlags, ['F3']), '--by: who unfreezes must be given (or sign with --key)');
      assert.equal(refusal(unfreezeFlags, ['F3', '--by', ' ']), '--by: must not be blank');
    });
    it('override: who and why', () => {
      assert.equal(refusal(steerFlags('override'), ['release-x', '--by', 'oncall']), '--reason: a reason must be given');
    });
  });

  describe('decide', () => {
    it('defaults the refs and turns --users-affected into a number', () => {
      assert.deepEqual(parseFlags(decideFlags, []), { base: 'main', head: 'HEAD', junit: [], json: false });
      const f = parseFlags(decideFlags, ['--repo', 'r', '--base', 'origin/main', '--head', 'abc123', '--reports', 'rep', '--junit', 'a.xml', '--junit', '**/b.xml', '--users-affected', '5000', '--config', 'c.yaml', '--out', 'o', '--json']);
      assert.deepEqual(f, { repo: 'r', base: 'origin/main', head: 'abc123', reports: 'rep', junit: ['a.xml', '**/b.xml'], 'users-affected': 5000, config: 'c.yaml', out: 'o', json: true });
    });

    const cases: [string, string[], RegExp][] = [
      ['a ref that looks like an option', ['--base=--upload-pack=x'], /^--base: "--upload-pack=x" must start with a letter or digit$/],
      ['a ref with shell syntax', ['--head', '$(touch x)'], /^--head: "\$\(touch x\)" is not a valid git ref$/],
      ['a ref with ..', ['--head', 'a..b'], /^--head: "a\.\.b" is not a valid git ref$/],
      ['an empty ref', ['--base='], /^--base: "" must not be empty$/],
      ['users affected that are words', ['--users-affected', 'lots'], /^--users-affected: "lots" is not a whole number of users$/],
      ['users affected with a fraction', ['--users-affected', '1.5'], /^--users-affected: "1\.5" is not a whole number of users$/],
      ['users affected past a safe integer', ['--users-affected', '99999999999999999999'], /^--users-affected: "9+" is not a whole number of users$/],
      ['an empty JUnit pattern', ['--junit', 'a.xml', '--junit', ' '], /^--junit: must not be empty$/],
      ['a flag of start', ['--service', 'auth'], /Unknown option '--service'/],
    ];
    for (const [name, args, message] of cases) it(`refuses ${name}`, () => assert.match(refusal(decideFlags, args), message));

    it('names every bad flag at once', () => {
      assert.equal(refusal(decideFlags, ['--base=-x', '--users-affected', 'x']), '--base: "-x" must start with a letter or digit; --users-affected: "x" is not a whole number of users');
    });
  });

  describe('start', () => {
    it('takes the evidence flags and its own, with --wait-timeout in milliseconds', () => {
      const f = parseFlags(startFlags, ['--service', 'auth', '--version', 'v1.2.3+build:7@x/y', '--previous-version', 'v1.2.2', '--wait', '--wait-timeout', '1h30m', '--users-affected', '3']);
      assert.deepEqual(f, { base: 'main', head: 'HEAD', junit: [], json: false, service: 'auth', version: 'v1.2.3+build:7@x/y', 'previous-version': 'v1.2.2', wait: true, 'wait-timeout': 90 * 60_000, 'users-affected': 3 });
      assert.deepEqual(parseFlags(startFlags, []), { base: 'main', head: 'HEAD', junit: [], json: false, wait: false }, 'the service may come from rollgate.yaml');
    });

    const cases: [string, string[], RegExp][] = [
      ['a service name with a path in it', ['--service', '../etc'], /^--service: "\.\.\/etc" must be 1-63 letters/],
      ['a version with shell syntax', ['--version', 'v1; rm -rf ~'], /^--version: "v1; rm -rf ~" must be 1-128 letters, digits or \. _ - \+ : @ \/$/],
      ['an empty previous version', ['--previous-version='], /^--previous-version: "" must be 1-128/],
      ['a version too long', ['--version', 'v'.repeat(129)], /^--version: "v+" must be 1-128/],
      ['a wait timeout that is not a duration', ['--wait-timeout', 'soon'], /^--wait-timeout: "soon" is not a duration \(e\.g\. 30m, 2h\)$/],
      ['a zero wait timeout', ['--wait-timeout', '0s'], /^--wait-timeout: "0s" is not a duration/],
      ['a bad ref, as decide does', ['--base=-x'], /^--base: "-x" must start with a letter or digit$/],
    ];
    for (const [name, args, message] of cases) it(`refuses ${name}`, () => assert.match(refusal(startFlags, args), message));
  });

  describe('approve, reject, abort, pause, resume, promote, resolve', () => {
    it('take the release ID and pass --by and --reason as written', () => {
      assert.deepEqual(parseFlags(steerFlags('approve'), ['release-x-1', '--by', ' bob ', '--reason', 'looked at it']), { id: 'release-x-1', by: ' bob ', reason: 'looked at it' });
      assert.deepEqual(parseFlags(steerFlags('abort'), ['release-x-1', '--reason', 'wrong build']), { id: 'release-x-1', reason: 'wrong build' }, '--by is optional for abort');
      assert.deepEqual(parseFlags(steerFlags('promote'), ['release-x-1', '--by', 'bob', '--full']), { id: 'release-x-1', by: 'bob', full: true });
      assert.deepEqual(parseFlags(steerFlags('resolve'), ['release-x-1', '--by', 'bob', '--reason', 'x', '--restored']), { id: 'release-x-1', by: 'bob', reason: 'x', restored: true });
      assert.deepEqual(parseFlags(steerFlags('resume'), ['release-x-1', '--by', 'bob']), { id: 'release-x-1', by: 'bob' });
    });

    it('require the release ID', () => {
      for (const command of STEER_COMMANDS) assert.match(refusal(steerFlags(command), ['--by', 'bob', '--reason', 'x']), new RegExp(`^${command}: the release ID is required \\(rollgate ${command} ID\\)`));
    });

    it('require --by, named with the verb, except abort', () => {
      const verbs = { approve: 'approves', reject: 'rejects', pause: 'pauses', resume: 'resumes', promote: 'promotes', resolve: 'resolves' } as const;
      for (const [command, verb] of Object.entries(verbs) as [keyof typeof verbs, string][]) {
        assert.match(refusal(steerFlags(command), ['id']), new RegExp(`^--by: who ${verb} must be given`), command);
        assert.match(refusal(steerFlags(command), ['id', '--by', '  ']), new RegExp(`^--by: who ${verb} must be given`), `${command}: blanks are not a name`);
      }
    });

    it('require a reason to reject, abort and resolve', () => {
      assert.equal(refusal(steerFlags('reject'), ['id', '--by', 'bob']), '--reason: a reason must be given');
      assert.equal(refusal(steerFlags('abort'), ['id']), '--reason: a reason must be given');
      assert.equal(refusal(steerFlags('resolve'), ['id', '--by', 'bob', '--retry', '--reason', ' ']), '--reason: a reason must be given');
    });

    it('refuse the switches of another command', () => {
      assert.equal(refusal(steerFlags('pause'), ['id', '--by', 'bob', '--full']), '--full: only promote takes it');
      assert.equal(refusal(steerFlags('approve'), ['id', '--by', 'bob', '--retry']), '--retry: only resolve takes it');
      assert.equal(refusal(steerFlags('promote'), ['id', '--by', 'bob', '--restored']), '--restored: only resolve takes it');
    });

    it('resolve takes exactly one of --retry and --restored', () => {
      const message = 'resolve: give exactly one of --retry (run the rollback again) or --restored (a human restored the service)';
      assert.equal(refusal(steerFlags('resolve'), ['id', '--by', 'bob', '--reason', 'x']), message);
      assert.equal(refusal(steerFlags('resolve'), ['id', '--by', 'bob', '--reason', 'x', '--retry', '--restored']), message);
    });

    it('take one release at a time', () => assert.equal(refusal(steerFlags('approve'), ['a', 'b', '--by', 'bob']), 'unexpected argument "b"'));
  });

  describe('status and report', () => {
    it('status takes the release ID, --json, and --wait with its timeout', () => {
      assert.deepEqual(parseFlags(statusFlags, ['release-x-1']), { id: 'release-x-1', json: false, wait: false });
      assert.deepEqual(parseFlags(statusFlags, ['release-x-1', '--json']), { id: 'release-x-1', json: true, wait: false });
      assert.deepEqual(parseFlags(statusFlags, ['release-x-1', '--wait', '--wait-timeout', '1h30m']), { id: 'release-x-1', json: false, wait: true, 'wait-timeout': 5_400_000 });
      assert.match(refusal(statusFlags, ['release-x-1', '--wait', '--wait-timeout', 'soon']), /--wait-timeout/);
      assert.match(refusal(statusFlags, []), /^status: the release ID is required \(rollgate status ID\)$/);
    });

    it('report takes the release ID and nothing else', () => {
      assert.deepEqual(parseFlags(reportFlags, ['release-x-1']), { id: 'release-x-1' });
      assert.match(refusal(reportFlags, []), /^report: the release ID is required/);
      assert.match(refusal(reportFlags, ['release-x-1', '--json']), /Unknown option '--json'/);
    });
  });

  describe('dora', () => {
    it('looks back 30 days unless --since says otherwise, in milliseconds', () => {
      assert.deepEqual(parseFlags(doraFlags, []), { since: 30 * DAY, json: false });
      assert.deepEqual(parseFlags(doraFlags, ['--since', '12h', '--service', 'auth', '--ledger', 'l.jsonl', '--json']), { since: DAY / 2, service: 'auth', ledger: 'l.jsonl', json: true });
      assert.deepEqual(parseFlags(doraFlags, ['--config', 'c.yaml', '--repo', 'r']), { since: 30 * DAY, config: 'c.yaml', repo: 'r', json: false });
    });

    it('refuses a window that is not a positive duration', () => {
      assert.equal(refusal(doraFlags, ['--since', 'forever']), '--since: "forever" is not a duration (e.g. 7d, 30d, 12h)');
      assert.equal(refusal(doraFlags, ['--since', '0d']), '--since: "0d" is not a duration (e.g. 7d, 30d, 12h)');
    });
  });

  describe('schema and worker', () => {
    it('take no flags and no arguments', () => {
      for (const spec of [schemaFlags, workerFlags]) {
        assert.deepEqual(parseFlags(spec, []), {});
        assert.match(refusal(spec, ['--json']), /Unknown option '--json'/);
        assert.match(refusal(spec, ['extra']), /Unexpected argument 'extra'/);
      }
    });
  });

  describe('main', () => {
    const run = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(args, { log: (s) => out.push(s), err: (s) => err.push(s) });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };

    it('prints the usage: status 0 when asked, 1 with no command', async () => {
      for (const ask of ['help', '--help', '-h']) assert.equal((await run([ask])).code, 0);
      const none = await run([]);
      assert.equal(none.code, 1);
      assert.match(none.out, /^rollgate: release decisions and rollouts on Temporal/);
    });

    it('refuses an unknown command, and names it', async () => {
      for (const name of ['deploy', 'constructor', '__proto__']) {
        const res = await run([name]);
        assert.equal(res.code, 1);
        assert.equal(res.err, `rollgate: unknown command "${name}" (try rollgate help)`);
      }
    });

    it('puts a flag error on stderr with status 1, before any connection', async () => {
      const res = await run(['approve', 'release-x-1']);
      assert.deepEqual(res, { code: 1, out: '', err: 'rollgate: --by: who approves must be given (or sign with --key)' });
    });

    it('runs schema: the JSON Schema of rollgate.yaml', async () => {
      const res = await run(['schema']);
      assert.equal(res.code, 0);
      const schema = JSON.parse(res.out) as { type: string; properties: Record<string, unknown> };
      assert.equal(schema.type, 'object');
      assert.ok('deploy' in schema.properties && 'canary' in schema.properties);
    });
  });
});
