import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FileChange } from '../../src/domain/changeset';
import { assessRisk, type RiskOptions } from '../../src/domain/risk';
import { DEFAULT_CRITICAL_AREAS, DEFAULT_MIGRATION_GLOBS } from '../../src/domain/config';
import { changeSet } from '../helpers/fake-activities';

const opts = (extra: Partial<RiskOptions> = {}): RiskOptions => ({ criticalAreas: DEFAULT_CRITICAL_AREAS, migrations: DEFAULT_MIGRATION_GLOBS, components: {}, testsAllPass: true, ...extra });
const code = (path: string, extra: Partial<FileChange> = {}): FileChange => ({ path, status: 'M', insertions: 3, deletions: 1, binary: false, ...extra });
const yaml = (path: string): FileChange => ({ path, status: 'M', insertions: 1, deletions: 1, binary: false });
const many = (n: number, make: (i: number) => FileChange) => Array.from({ length: n }, (_, i) => make(i));

describe('risk matrix', () => {
  const table: [string, FileChange[], Partial<RiskOptions>, string, string][] = [
    ['spec reference: one literal change in auth/redis_pool.py', [code('auth/redis_pool.py', { insertions: 1, deletions: 1, removed: ['POOL = Pool(max_connections=10)'], added: ['POOL = Pool(max_connections=50)'] })], {}, 'LOW', 'immediate'],
    ['4 config files', many(4, (i) => yaml(`config/app${i}.yaml`)), {}, 'LOW', 'immediate'],
    ['5 config files (boundary 4/5)', many(5, (i) => yaml(`config/app${i}.yaml`)), {}, 'MEDIUM', 'canary'],
    ['20 config files', many(20, (i) => yaml(`config/app${i}.yaml`)), {}, 'MEDIUM', 'canary'],
    ['21 config files (boundary 20/21)', many(21, (i) => yaml(`config/app${i}.yaml`)), {}, 'HIGH', 'feature-flag'],
    ['1 logic change', [code('api/handler.py')], {}, 'MEDIUM', 'canary'],
    ['9,999 users affected', [yaml('config/a.yaml')], { usersAffected: 9_999 }, 'LOW', 'immediate'],
    ['10,000 users affected (boundary)', [yaml('config/a.yaml')], { usersAffected: 10_000 }, 'HIGH', 'feature-flag'],
    ['logic change in auth', [code('auth/login.py')], {}, 'CRITICAL', 'blue-green'],
    ['payment code under a nested folder', [code('services/payment/charge.go')], {}, 'CRITICAL', 'blue-green'],
    ['a data migration, even config-like', [yaml('db/migrations/0002_add.yaml')], {}, 'CRITICAL', 'blue-green'],
    ['custom critical glob', [code('ledger/post.rs')], { criticalAreas: ['ledger/**'] }, 'CRITICAL', 'blue-green'],
    ['literal change with a changed name is logic', [code('api/x.py', { insertions: 1, deletions: 1, removed: ['a = 1'], added: ['b = 2'] })], {}, 'MEDIUM', 'canary'],
    // In a critical area only numeric tuning counts as configuration.
    ['a boolean flipped in auth code', [code('auth/jwt.py', { insertions: 1, deletions: 1, removed: ['VERIFY_SIGNATURE = True'], added: ['VERIFY_SIGNATURE = False'] })], {}, 'CRITICAL', 'blue-green'],
    ['a role string changed in auth code', [code('auth/roles.py', { insertions: 1, deletions: 1, removed: ['DEFAULT_ROLE = "viewer"'], added: ['DEFAULT_ROLE = "admin"'] })], {}, 'CRITICAL', 'blue-green'],
    ['a string changed in an auth YAML file', [code('auth/settings.yaml', { insertions: 1, deletions: 1, removed: ['level: info'], added: ['level: debug'] })], {}, 'CRITICAL', 'blue-green'],
    ['a number tuned in an auth YAML file', [code('auth/pool.yaml', { insertions: 1, deletions: 1, removed: ['max: 10'], added: ['max: 50'] })], {}, 'LOW', 'immediate'],
    ['a number and a string in one auth line', [code('auth/pool.py', { insertions: 1, deletions: 1, removed: ['POOL = Pool(10, mode="safe")'], added: ['POOL = Pool(50, mode="fast")'] })], {}, 'CRITICAL', 'blue-green'],
    ['the same boolean flipped outside the critical areas stays configuration', [code('web/flags.py', { insertions: 1, deletions: 1, removed: ['SHOW_BANNER = True'], added: ['SHOW_BANNER = False'] })], {}, 'LOW', 'immediate'],
    ['a new code file in a settings folder is judged by its content', [code('payments/settings/charge.py', { status: 'A', insertions: 30, deletions: 0 })], {}, 'CRITICAL', 'blue-green'],
    ['a new code file in a config folder outside the critical areas is logic', [code('web/config/routes.py', { status: 'A', insertions: 30, deletions: 0 })], {}, 'MEDIUM', 'canary'],
    // Tests are shown as tests and never raise the level.
    ['a LOW fix with a new test', [code('auth/redis_pool.py', { insertions: 1, deletions: 1, removed: ['POOL = Pool(max_connections=10)'], added: ['POOL = Pool(max_connections=50)'] }), code('tests/test_redis_pool.py', { status: 'A', insertions: 20, deletions: 0 })], {}, 'LOW', 'immediate'],
    ['tests only', many(8, (i) => code(`tests/test_${i}.py`)), {}, 'LOW', 'immediate'],
    ['auth tests only', [code('auth/tests/test_login.py'), code('auth/login.spec.ts')], {}, 'LOW', 'immediate'],
    ['a migration named like a test is a migration', [code('db/migrations/0005_drop_ab_test.sql', { status: 'A', insertions: 1, deletions: 0, added: ['ALTER TABLE users ADD COLUMN x int;'] })], {}, 'CRITICAL', 'blue-green'],
  ];
  for (const [name, files, extra, level, strategy] of table) {
    it(`${name} → ${level}, ${strategy}`, () => {
      const r = assessRisk(changeSet(files), opts(extra));
      assert.equal(r.level, level);
      assert.equal(r.strategy, strategy);
      assert.ok(r.reasons.length > 0);
      assert.equal(r.alternatives.length, 3);
      assert.ok(!r.alternatives.some((a) => a.strategy === strategy));
    });
  }

  it('a feat commit is a new feature → HIGH', () => {
    for (const subject of ['feat: login with passkeys', 'feat(ui): dark mode', 'feat!: drop v1 API']) {
      const r = assessRisk(changeSet([code('api/x.py')], subject), opts());
      assert.equal(r.level, 'HIGH', subject);
      assert.ok(r.change.newFeature);
    }
    assert.equal(assessRisk(changeSet([code('api/x.py')], 'fix: feature toggle typo'), opts()).level, 'MEDIUM');
  });

  it('three new source modules count as a new feature', () => {
    const files = many(3, (i) => code(`api/new${i}.ts`, { status: 'A' }));
    assert.equal(assessRisk(changeSet(files), opts()).level, 'HIGH');
    assert.equal(assessRisk(changeSet(files.slice(0, 2)), opts()).level, 'MEDIUM');
  });

  it('escalates an irreversible migration without a down migration', () => {
    const drop = code('db/migrations/0003_drop.sql', { status: 'A', added: ['ALTER TABLE users DROP COLUMN legacy;'] });
    const r = assessRisk(changeSet([drop]), opts());
    assert.equal(r.level, 'CRITICAL');
    assert.match(r.escalation ?? '', /^Irreversible migration without a down migration .*a rollback restores the code, never the data it drops/);
    assert.equal(r.irreversibleMigration, 'db/migrations/0003_drop.sql: ALTER TABLE users DROP COLUMN legacy;', 'the statement, for the record and the sign-off');
    const withDown = code('db/migrations/0003_drop.down.sql', { status: 'A', added: ['ALTER TABLE users ADD COLUMN legacy text;'] });
    assert.equal(assessRisk(changeSet([drop, withDown]), opts()).escalation, undefined);
  });

  it('an irreversible migration cannot hide: a stray "down" file, an empty down section, a statement split over lines, an ORM verb, unreadable lines', () => {
    const irreversible = (files: FileChange[]) => assessRisk(changeSet(files), opts()).irreversibleMigration;
    const drop = code('db/migrations/0042_drop_users.sql', { status: 'A', added: ['DROP TABLE users;'] });
    // Any file named "down", but not this migration's down.
    assert.match(irreversible([drop, code('web/assets/chevron-down.svg', { status: 'A', added: ['<svg/>'] })]) ?? '', /DROP TABLE users/);
    assert.match(irreversible([drop, code('db/migrations/0007_other.down.sql', { status: 'A', added: ['SELECT 1;'] })]) ?? '', /DROP TABLE users/);
    // The destructive migration named "down" itself.
    assert.match(irreversible([code('db/migrations/0042_wind_down_legacy.sql', { status: 'A', added: ['DROP TABLE legacy;'] })]) ?? '', /DROP TABLE legacy/);
    // A down marker with nothing under it, or in a comment.
    assert.match(irreversible([code('db/migrations/0042.sql', { status: 'A', added: ['-- +goose Up', 'DROP TABLE users;', '-- +goose Down'] })]) ?? '', /DROP TABLE users/);
    assert.match(irreversible([code('db/migrations/0042.sql', { status: 'A', added: ['-- def down', 'DROP TABLE users;'] })]) ?? '', /DROP TABLE users/);
    // Split over lines; ORM verbs in camelCase; DELETE with an alias.
    assert.equal(irreversible([code('db/migrations/0042.sql', { status: 'A', added: ['ALTER TABLE users', '  DROP email;'] })]), 'db/migrations/0042.sql: ALTER TABLE users DROP email;');
    assert.match(irreversible([code('db/migrations/0042_users.js', { status: 'A', added: ['exports.up = (knex) => knex.schema.dropTable("users");'] })]) ?? '', /dropTable/);
    assert.match(irreversible([code('db/migrations/0042.sql', { status: 'A', added: ['DELETE u FROM users u WHERE 1;'] })]) ?? '', /DELETE u FROM/);
    // Lines that could not be read (a binary diff) count as destructive.
    assert.equal(irreversible([code('db/migrations/0042.sql', { status: 'A', binary: true })]), 'db/migrations/0042.sql: its lines could not be read');
    // What still counts as a way down: its paired down file that does something, or a down section with statements.
    assert.equal(irreversible([drop, code('db/migrations/0042_drop_users.down.sql', { status: 'A', added: ['CREATE TABLE users (id int);'] })]), undefined);
    assert.equal(irreversible([code('db/migrations/0042/up.sql', { status: 'A', added: ['DROP TABLE users;'] }), code('db/migrations/0042/down.sql', { status: 'A', added: ['CREATE TABLE users (id int);'] })]), undefined);
    assert.equal(irreversible([code('db/migrations/0042.sql', { status: 'A', added: ['-- +goose Up', 'DROP TABLE users;', '-- +goose Down', 'CREATE TABLE users (id int);'] })]), undefined);
    assert.equal(irreversible([code('db/migrations/0042.sql', { status: 'A', added: ['-- DROP TABLE users; (a comment)', 'CREATE INDEX i ON users (id);'] })]), undefined, 'a comment is no statement');
  });

  it('escalates an empty change set: risk cannot be classified', () => {
    assert.match(assessRisk(changeSet([]), opts()).escalation ?? '', /cannot be classified/);
  });

  it('blast radius comes from the component map, or from top-level folders', () => {
    const r = assessRisk(changeSet([code('auth/redis_pool.py')]), opts());
    assert.deepEqual(r.blastRadius.affected, ['auth/']);
    assert.deepEqual(r.blastRadius.notAffected, ['db/', 'frontend/']);
    const mapped = assessRisk(changeSet([code('auth/redis_pool.py')]), opts({ components: { 'auth/**': 'Auth service', 'web/**': 'Frontend' } }));
    assert.deepEqual(mapped.blastRadius.affected, ['Auth service']);
    assert.deepEqual(mapped.blastRadius.notAffected, ['Frontend']);
  });

  it('tests are listed as tests and leave the blast radius alone; a CI workflow named like a test is still the release\'s own', () => {
    const fix = code('cart/totals.py', { insertions: 1, deletions: 1, removed: ['ROUND = 2'], added: ['ROUND = 3'] });
    const r = assessRisk({ ...changeSet([fix, code('tests/test_totals.py', { status: 'A', insertions: 20, deletions: 0 })]), topLevel: ['cart', 'tests', 'auth'] }, opts());
    assert.equal(r.level, 'LOW');
    assert.deepEqual(r.change.tests, ['tests/test_totals.py']);
    assert.deepEqual(r.blastRadius, { size: 'SMALL', affected: ['cart/'], notAffected: ['auth/', 'tests/'] });
    assert.ok(r.signals.some((s) => s.level === 'LOW' && s.reason === 'Tests changed, not counted toward the risk: `tests/test_totals.py`'));
    const ci = assessRisk(changeSet([yaml('.github/workflows/ci-test.yml')]), opts({ policyAreas: ['.github/workflows/**'] }));
    assert.equal(ci.level, 'CRITICAL');
  });
});
