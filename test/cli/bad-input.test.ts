import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { main } from '../../src/cli/main';
import { referenceRepo, tempDir, writeReports } from '../helpers/fixtures';

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { log: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('bad input: a clear error naming the flag or file, and nothing started or written', () => {
  let repo: string;
  let reports: string;
  let notGit: string;
  const cfg = (name: string, text: string) => {
    const path = join(tempDir(), name);
    writeFileSync(path, text);
    return path;
  };

  before(() => {
    process.env.TEMPORAL_ADDRESS = '127.0.0.1:1'; // nothing could be started even if validation let it through
    repo = referenceRepo();
    reports = writeReports(join(tempDir(), 'reports'));
    notGit = tempDir();
    mkdirSync(join(notGit, 'x'));
  });

  const base = () => ['--repo', repo, '--base', 'main', '--head', 'feature', '--reports', reports];
  const cases: [string, () => string[], RegExp][] = [
    ['unknown command', () => ['deploy'], /unknown command "deploy"/],
    ['unknown flag', () => ['decide', ...base(), '--fast'], /Unknown option '--fast'/],
    ['flag without its value', () => ['decide', '--repo'], /--repo/],
    ['repo that does not exist', () => ['decide', '--repo', '/nonexistent/rollgate', '--base', 'main'], /--repo: .* is not a folder/],
    ['folder that is not a git repository', () => ['decide', '--repo', notGit], /--repo: .* is not a git repository/],
    ['unknown base ref', () => ['decide', ...base().slice(0, 2), '--base', 'nope', '--head', 'feature', '--reports', reports], /--base: unknown ref "nope"/],
    ['unknown head ref', () => ['decide', '--repo', repo, '--base', 'main', '--head', 'nope', '--reports', reports], /--head: unknown ref "nope"/],
    ['ref that looks like an option', () => ['decide', '--repo', repo, '--base=--upload-pack=touch /tmp/pwned', '--reports', reports], /--base: .* is not a valid git ref/],
    ['ref with shell syntax', () => ['decide', '--repo', repo, '--base', 'main', '--head', '$(touch /tmp/pwned)', '--reports', reports], /--head: .* is not a valid git ref/],
    ['reports folder missing', () => ['decide', '--repo', repo, '--base', 'main', '--head', 'feature', '--reports', '/nonexistent/reports'], /--reports: .* does not exist/],
    ['users affected not a number', () => ['decide', ...base(), '--users-affected', 'lots'], /--users-affected: "lots" is not a whole number/],
    ['users affected negative', () => ['decide', ...base(), '--users-affected', '-5'], /--users-affected/],
    ['config file missing', () => ['decide', ...base(), '--config', '/nonexistent/rollgate.yaml'], /--config: .* does not exist/],
    ['config that is not YAML', () => ['decide', ...base(), '--config', cfg('bad.yaml', 'deploy: [unclosed\n')], /bad\.yaml: line \d+/],
    ['config with an unknown key', () => ['decide', ...base(), '--config', cfg('typo.yaml', 'deploi:\n  command: [x]\n')], /typo\.yaml: .*Unrecognized key: "deploi"/],
    ['config with a zero duration', () => ['decide', ...base(), '--config', cfg('zero.yaml', 'deploy:\n  timeout: 0s\n')], /deploy\.timeout: must be longer than zero/],
    ['config with a negative duration', () => ['decide', ...base(), '--config', cfg('neg.yaml', 'bake:\n  staging: -5m\n')], /bake\.staging: "-5m" is not a duration/],
    ['canary weights that do not increase', () => ['decide', ...base(), '--config', cfg('w.yaml', 'canary:\n  steps:\n    - { weight: 50, bake: 1m }\n    - { weight: 20, bake: 1m }\n')], /canary\.steps\.1\.weight: weights must increase/],
    ['canary weight above 100', () => ['decide', ...base(), '--config', cfg('w2.yaml', 'canary:\n  steps:\n    - { weight: 150, bake: 1m }\n')], /canary\.steps\.0\.weight/],
    ['smoke URL that is not http', () => ['decide', ...base(), '--config', cfg('u.yaml', 'stages:\n  staging: { smokeUrl: "file:///etc/passwd" }\n')], /stages\.staging\.smokeUrl: must be an http\(s\) URL/],
    ['config top level that is a list', () => ['decide', ...base(), '--config', cfg('list.yaml', '- a\n- b\n')], /top level must be a mapping/],
    ['empty deploy command', () => ['decide', ...base(), '--config', cfg('cmd.yaml', 'deploy:\n  command: []\n')], /deploy\.command: needs at least the program/],
    ['analysis condition that is not an expression', () => ['decide', ...base(), '--config', cfg('c.yaml', 'analysis:\n  metrics:\n    - { name: e, query: up, failureCondition: "result > 5%" }\n')], /analysis\.metrics\.0\.failureCondition: invalid condition "result > 5%": unexpected "%"/],
    ['analysis condition with code in it', () => ['decide', ...base(), '--config', cfg('c2.yaml', 'analysis:\n  metrics:\n    - { name: e, query: up, successCondition: "require(\'fs\') > 0" }\n')], /analysis\.metrics\.0\.successCondition: invalid condition "require\('fs'\) > 0": unexpected "'"/],
    ['analysis metric without a condition', () => ['decide', ...base(), '--config', cfg('c3.yaml', 'analysis:\n  metrics:\n    - { name: e, query: up }\n')], /analysis\.metrics\.0\.successCondition: give a successCondition, a failureCondition or both/],
    ['analysis query with an unknown placeholder', () => ['decide', ...base(), '--config', cfg('c4.yaml', 'analysis:\n  metrics:\n    - { name: e, query: "up{job=\\"{{jobname}}\\"}", failureCondition: "result < 1" }\n')], /analysis\.metrics\.0\.query: unknown placeholder \{\{jobname\}\}/],
    ['unknown metric provider', () => ['decide', ...base(), '--config', cfg('c5.yaml', 'analysis:\n  provider: datadog\n')], /analysis\.provider: unknown metric provider \(known: prometheus\)/],
    ['metric names used twice', () => ['decide', ...base(), '--config', cfg('c6.yaml', 'analysis:\n  metrics:\n    - { name: e, query: up, failureCondition: "result < 1" }\n    - { name: e, query: up, failureCondition: "result < 1" }\n')], /analysis\.metrics\.1\.name: "e" is used twice/],
    ['a secret where a variable name belongs', () => ['decide', ...base(), '--config', cfg('c7.yaml', 'analysis:\n  prometheus: { bearerTokenEnv: "eyJhbGciOi.secret" }\n')], /analysis\.prometheus\.bearerTokenEnv: must be an environment variable name/],
    ['negative failure limit', () => ['decide', ...base(), '--config', cfg('c8.yaml', 'analysis:\n  metrics:\n    - { name: e, query: up, failureCondition: "result < 1", failureLimit: -1 }\n')], /analysis\.metrics\.0\.failureLimit/],
    ['unknown flag provider', () => ['decide', ...base(), '--config', cfg('f.yaml', 'featureFlag:\n  provider: launchdarkly\n')], /featureFlag\.provider: unknown flag provider \(known: command, flagd\)/],
    ['flagd provider without its file', () => ['decide', ...base(), '--config', cfg('f2.yaml', 'featureFlag:\n  provider: flagd\n  flag: x\n')], /featureFlag\.file: the flagd provider needs the definitions file/],
    ['promote --full on another command', () => ['pause', 'release-x-1', '--by', 'bob', '--full'], /--full: only promote takes it/],
    ['resolve without saying how', () => ['resolve', 'release-x-1', '--by', 'bob', '--reason', 'x'], /resolve: give exactly one of --retry .* or --restored/],
    ['resolve without a reason', () => ['resolve', 'release-x-1', '--by', 'bob', '--retry'], /--reason: a reason must be given/],
    ['pause without --by', () => ['pause', 'release-x-1'], /--by: who pauses must be given/],
    ['start without a service', () => ['start', ...base()], /--service: required/],
    ['start with a bad service name', () => ['start', ...base(), '--service', '../etc'], /--service: "\.\.\/etc" must be/],
    ['start with a bad version', () => ['start', ...base(), '--service', 'auth', '--version', 'v1; rm -rf ~'], /--version: .* must be/],
    ['start with a bad wait timeout', () => ['start', ...base(), '--service', 'auth', '--wait-timeout', 'soon'], /--wait-timeout: "soon" is not a duration/],
    ['approve without an ID', () => ['approve', '--by', 'bob'], /the release ID is required/],
    ['approve without --by', () => ['approve', 'release-x-1'], /--by: who approves/],
    ['reject without a reason', () => ['reject', 'release-x-1', '--by', 'bob'], /--reason: a reason must be given/],
    ['abort without a reason', () => ['abort', 'release-x-1'], /--reason: a reason must be given/],
    ['status with two IDs', () => ['status', 'a', 'b'], /unexpected argument "b"/],
    ['mTLS with a certificate but no key', () => ['status', 'x'], /TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY/],
  ];

  for (const [name, args, message] of cases) {
    it(name, async () => {
      const before = existsSync(join(repo, 'out')) ? readdirSync(join(repo, 'out')) : [];
      if (name.startsWith('mTLS')) process.env.TEMPORAL_TLS_CERT = '/nonexistent/cert.pem';
      try {
        const res = await cli(args());
        assert.equal(res.code, 1, `${res.stdout}\n${res.stderr}`);
        assert.match(res.stderr, message);
        assert.equal(res.stderr.trim().split('\n').length, 1, 'one line on stderr');
      } finally {
        delete process.env.TEMPORAL_TLS_CERT;
      }
      assert.deepEqual(existsSync(join(repo, 'out')) ? readdirSync(join(repo, 'out')) : [], before, 'nothing written');
      assert.equal(existsSync('/tmp/pwned'), false);
    });
  }

  // Evidence that cannot be trusted fails its prerequisite closed: ABORTED (exit 2), the file and the problem named.
  const qaFile = 'qa-report-20260105-120000.md';
  const evidence: [string, (dir: string) => string[], RegExp][] = [
    ['QA report missing', (dir) => (rmSync(join(dir, qaFile)), []), /Prerequisite qa failed: no qa-report-\*\.md in /],
    ['QA report empty', (dir) => (writeFileSync(join(dir, qaFile), ''), []), /Prerequisite qa failed: qa-report-20260105-120000\.md: empty file/],
    ['QA report binary', (dir) => (writeFileSync(join(dir, qaFile), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0, 0])), []), /Prerequisite qa failed: qa-report-20260105-120000\.md: .*binary/],
    ['QA report huge', (dir) => (writeFileSync(join(dir, qaFile), Buffer.alloc(12 * 1024 * 1024, 'a')), []), /Prerequisite qa failed: qa-report-20260105-120000\.md: too large/],
    ['security report with two verdicts', (dir) => (writeFileSync(join(dir, 'security-report-20260105-120000.md'), 'Verdict: PASS\nVerdict: FAIL\n'), []), /Prerequisite security failed: .*two different verdicts|Prerequisite security failed: .*PASS.*FAIL/],
    ['JUnit with entity expansion', (dir) => (writeFileSync(join(dir, 'junit.xml'), '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><testsuite>&lol2;</testsuite>'), ['--junit', join(dir, 'junit.xml')]), /Prerequisite tests failed: .*junit\.xml: .*document type/],
    ['JUnit with an external entity', (dir) => (writeFileSync(join(dir, 'junit.xml'), '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><testsuite>&xxe;</testsuite>'), ['--junit', join(dir, 'junit.xml')]), /Prerequisite tests failed: .*junit\.xml: .*document type/],
    ['JUnit that is not XML', (dir) => (writeFileSync(join(dir, 'junit.xml'), '{"tests": 3}'), ['--junit', join(dir, 'junit.xml')]), /Prerequisite tests failed: .*junit\.xml/],
    ['JUnit glob that matches nothing', (dir) => ['--junit', join(dir, 'nothing-*.xml')], /Prerequisite tests failed: .*nothing-\*\.xml/],
  ];
  for (const [name, arrange, message] of evidence) {
    it(`evidence: ${name}`, async () => {
      const dir = writeReports(join(tempDir(), 'reports'));
      const extra = arrange(dir);
      const res = await cli(['decide', '--repo', repo, '--base', 'main', '--head', 'feature', '--reports', dir, ...extra]);
      assert.equal(res.code, 2, `${res.stdout}\n${res.stderr}`);
      assert.match(res.stdout, /^Decision: ABORTED/);
      assert.match(res.stdout, message);
      assert.deepEqual(readdirSync(dir).filter((f) => !f.endsWith('.md') && !f.endsWith('.xml')), [], 'nothing written');
    });
  }
});
