import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startFlags } from '../../src/cli/commands/start';
import { parseFlags } from '../../src/cli/flags';
import { InputError } from '../../src/domain/errors';
import { formatIssues } from '../../src/domain/config';
import { ReleaseInputSchema } from '../../src/domain/release';

/**
 * Issue 13 §5: a version or ref that starts like an option (`--version=--force`) reached the deploy
 * command's argv, where `./deploy.sh {version}` then read it as a flag. Both the CLI and the
 * workflow's input schema refuse it, naming the flag or field.
 */
describe('attack: a version or ref that a deploy command would read as an option', () => {
  const refused = (args: string[]) => {
    try {
      parseFlags(startFlags, ['--service', 'auth', ...args]);
    } catch (e) {
      assert.ok(e instanceof InputError, String(e));
      return e.message;
    }
    return assert.fail(`start ${args.join(' ')} was accepted`);
  };

  for (const [flag, value] of [
    ['version', '--force'],
    ['version', '-rf'],
    ['previous-version', '--delete-all'],
    ['version', '.hidden'],
    ['version', '/etc/passwd'],
    ['head', '+main'],
    ['base', '.git'],
  ] as const) {
    it(`start --${flag}=${value} is refused, naming the flag`, () => {
      assert.match(refused([`--${flag}=${value}`]), new RegExp(`^--${flag}: "${value.replace(/[.+*/]/g, '\\$&')}" must start with a letter or digit`));
    });
  }

  it('ordinary versions and refs still pass', () => {
    const f = parseFlags(startFlags, ['--service', 'auth', '--version', 'v2.3.1+build.7', '--previous-version', '1.0.0-rc.1', '--base', 'origin/main', '--head', 'HEAD']);
    assert.equal(f.version, 'v2.3.1+build.7');
    assert.equal(f['previous-version'], '1.0.0-rc.1');
  });

  const input = { releaseId: 'r', service: 'auth', repo: '/r', base: 'a'.repeat(40), head: 'b'.repeat(40), reportsDir: '/r/out', outDir: '/r/out' };

  for (const field of ['version', 'previousVersion'] as const) {
    it(`the workflow's input schema refuses ${field} "--force" too (a client other than the CLI)`, () => {
      const r = ReleaseInputSchema.safeParse({ ...input, [field]: '--force' });
      assert.equal(r.success, false);
      assert.match(formatIssues(r.error!).join('; '), new RegExp(`${field}: must start with a letter or digit`));
    });
  }

  it("the workflow's input schema takes commit ids only for base and head, and refs starting with a letter or digit for their names", () => {
    for (const head of ['+main', '.hidden', 'main', '--upload-pack=x']) {
      const r = ReleaseInputSchema.safeParse({ ...input, head });
      assert.equal(r.success, false, head);
      assert.match(formatIssues(r.error!).join('; '), /head: must be a full commit id/);
    }
    const named = ReleaseInputSchema.safeParse({ ...input, refs: { base: 'main', head: '+main' } });
    assert.match(formatIssues(named.error!).join('; '), /refs\.head: must start with a letter or digit/);
    assert.equal(ReleaseInputSchema.safeParse({ ...input, version: 'v2', previousVersion: 'v1' }).success, true);
  });
});
