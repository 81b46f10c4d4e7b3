import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = resolve(__dirname, '../..');
const TOOLS = join(ROOT, '.tools');

interface Port {
  host_ip?: string;
  target: number;
  published: string;
}

/** The stack as `docker compose config` resolves it, with these variables set. */
function services(vars: Record<string, string> = {}): Record<string, { ports?: Port[]; environment?: Record<string, string> }> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...vars };
  delete env.ROLLGATE_PUBLISH_ADDRESS;
  Object.assign(env, vars);
  if (existsSync(join(TOOLS, 'docker/cli-plugins/docker-compose'))) env.DOCKER_CONFIG = join(TOOLS, 'docker');
  return JSON.parse(execFileSync('docker', ['compose', 'config', '--format', 'json'], { cwd: ROOT, env, encoding: 'utf8' })).services;
}

/*
 * Issue 13 §6: the compose stack published the Temporal frontend (7233) and UI (8080) on every
 * interface, without TLS or authentication: anyone who could reach the machine could approve,
 * abort or terminate a release. By default every port is published on loopback only.
 */
describe('attack: reaching the compose stack\'s Temporal frontend and UI from another machine', () => {
  it('every published port binds to 127.0.0.1 unless ROLLGATE_PUBLISH_ADDRESS says otherwise', () => {
    const all = Object.entries(services()).flatMap(([name, s]) => (s.ports ?? []).map((p) => ({ name, ...p })));
    assert.ok(all.some((p) => p.name === 'temporal' && p.target === 7233));
    assert.ok(all.some((p) => p.name === 'temporal-ui' && p.target === 8080));
    for (const p of all) assert.equal(p.host_ip, '127.0.0.1', `${p.name}:${p.target} is published beyond loopback`);
    const wide = services({ ROLLGATE_PUBLISH_ADDRESS: '0.0.0.0' });
    assert.equal(wide.temporal!.ports![0]!.host_ip, '0.0.0.0', 'an operator may choose to publish further');
  });

  it('passes the codec key and the UI\'s codec endpoint through from the environment, empty by default', () => {
    const s = services();
    assert.equal(s.worker!.environment!.ROLLGATE_CODEC_KEY, '');
    assert.equal(s['temporal-ui']!.environment!.TEMPORAL_CODEC_ENDPOINT, '');
    const set = services({ ROLLGATE_CODEC_KEY: 'from-the-environment', TEMPORAL_CODEC_ENDPOINT: 'http://localhost:8888' });
    assert.equal(set.worker!.environment!.ROLLGATE_CODEC_KEY, 'from-the-environment');
    assert.equal(set['temporal-ui']!.environment!.TEMPORAL_CODEC_ENDPOINT, 'http://localhost:8888');
  });

  it('the README tells how to publish it safely: TLS, authentication, the codec endpoint', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Running it for real'), readme.indexOf('## The worker\'s metrics'));
    for (const needle of ['127.0.0.1', 'ROLLGATE_PUBLISH_ADDRESS', 'TLS', 'rollgate codec-server', 'TEMPORAL_CODEC_ENDPOINT']) assert.ok(section.includes(needle), needle);
  });
});
