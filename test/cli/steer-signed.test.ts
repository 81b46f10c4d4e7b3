import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { steerFlags } from '../../src/cli/commands/steer';
import { parseFlags } from '../../src/cli/flags';
import { main } from '../../src/cli/main';
import { InputError } from '../../src/domain/errors';

/** The steering commands' signed-request flags (issue 13 §2), refused before any connection. */
const refusal = (command: Parameters<typeof steerFlags>[0], args: string[]) => {
  try {
    parseFlags(steerFlags(command), args);
    return undefined;
  } catch (e) {
    assert.ok(e instanceof InputError);
    return e.message;
  }
};
const run = async (args: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  // No server listens here: a command that got as far as connecting would fail differently.
  const code = await main(args, { log: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

describe('steering with --key (issue 13 §2)', () => {
  it('--key stands for --by: the key names the principal', () => {
    assert.deepEqual(parseFlags(steerFlags('approve'), ['release-x-1', '--key', 'id_ed25519']), { id: 'release-x-1', key: 'id_ed25519' });
    assert.deepEqual(parseFlags(steerFlags('promote'), ['release-x-1', '--key', 'k', '--full']), { id: 'release-x-1', key: 'k', full: true });
    assert.deepEqual(parseFlags(steerFlags('approve'), ['release-x-1', '--key', 'k', '--by', 'bob@example.com']), { id: 'release-x-1', key: 'k', by: 'bob@example.com' });
    assert.equal(refusal('approve', ['id']), '--by: who approves must be given (or sign with --key)');
    assert.equal(refusal('approve', ['id', '--key', 'k', '--by', ' ']), '--by: must not be blank');
    assert.equal(refusal('approve', ['id', '--key', '']), '--key: must name an SSH key file');
  });

  it('a name or reason with control characters is refused, naming the flag', () => {
    assert.match(refusal('approve', ['id', '--by', 'bob\n**Approved by**: carol']) ?? '', /^--by: must not contain control characters/);
    assert.match(refusal('reject', ['id', '--by', 'bob', '--reason', 'no\r\nApproved']) ?? '', /^--reason: must not contain control characters/);
    assert.match(refusal('abort', ['id', '--reason', 'stop\u2028now']) ?? '', /^--reason: must not contain control characters/);
  });

  it('a key that cannot be read is refused before any connection', async () => {
    const res = await run(['approve', 'release-x-1', '--key', '/nonexistent/id_ed25519']);
    assert.deepEqual(res, { code: 1, out: '', err: 'rollgate: --key: cannot read /nonexistent/id_ed25519' });
  });
});
