import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse } from 'yaml';

const ROOT = resolve(__dirname, '../..');
const TOOLS = join(ROOT, '.tools');
const tool = (name: string) => (existsSync(join(TOOLS, 'bin', name)) ? join(TOOLS, 'bin', name) : name);

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: { target: number; published: string }[];
  volumes?: { source?: string; target: string }[];
}

/**
 * docker-compose.yml, as `docker compose config` resolves it (the engine is not needed), checked
 * against what the code, the Dockerfile, the Prometheus config and the README say.
 */
describe('docker-compose.yml: the production-shaped stack', () => {
  let services: Record<string, Service>;
  before(() => {
    // The setup script builds the compose plugin into .tools/docker when the Docker CLI lacks it.
    const env = existsSync(join(TOOLS, 'docker/cli-plugins/docker-compose')) ? { ...process.env, DOCKER_CONFIG: join(TOOLS, 'docker') } : process.env;
    const json = execFileSync('docker', ['compose', 'config', '--format', 'json'], { cwd: ROOT, env, encoding: 'utf8' });
    services = (JSON.parse(json) as { services: Record<string, Service> }).services;
  });
  const published = (s: Service) => (s.ports ?? []).map((p) => `${p.published}:${p.target}`);

  it('has Temporal on PostgreSQL, its UI, Prometheus, the worker and the demo service', () => {
    assert.deepEqual(Object.keys(services).sort(), ['demo-canary', 'demo-stable', 'postgresql', 'prometheus', 'temporal', 'temporal-ui', 'worker']);
    assert.equal(services.temporal!.environment!.DB, 'postgres12');
    assert.equal(services.temporal!.environment!.POSTGRES_SEEDS, 'postgresql');
    assert.equal(services['temporal-ui']!.environment!.TEMPORAL_ADDRESS, 'temporal:7233');
  });

  it('pins the Temporal server and UI versions of the dev server the tests run on, and the Prometheus the tests run', () => {
    const cli = execFileSync(tool('temporal'), ['--version'], { encoding: 'utf8' });
    const [, server, ui] = /Server ([\d.]+), UI ([\d.]+)/.exec(cli)!;
    assert.equal(services.temporal!.image, `temporalio/auto-setup:${server}`);
    assert.equal(services['temporal-ui']!.image, `temporalio/ui:${ui}`);
    const prom = /prometheus, version ([\d.]+)/.exec(execFileSync(tool('prometheus'), ['--version'], { encoding: 'utf8' }))![1];
    assert.equal(services.prometheus!.image, `prom/prometheus:v${prom}`);
  });

  it('builds the worker and the demo service from the Dockerfile, which runs `rollgate worker` with the prebuilt bundle', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    for (const name of ['worker', 'demo-stable', 'demo-canary']) assert.equal(services[name]!.build?.dockerfile, 'Dockerfile', name);
    assert.match(dockerfile, /^CMD \["node", "bin\/rollgate\.js", "worker"\]$/m);
    assert.match(dockerfile, /scripts\/bundle-workflows\.ts dist\/workflow-bundle\.js/);
    assert.equal(services.worker!.environment!.ROLLGATE_WORKFLOW_BUNDLE, '/app/dist/workflow-bundle.js');
    assert.ok(existsSync(join(ROOT, 'bin/rollgate.js')) && existsSync(join(ROOT, 'demo/service.ts')));
  });

  it('publishes the ports the worker, the demo service and Prometheus listen on, and Prometheus scrapes them there', () => {
    const metricsPort = services.worker!.environment!.ROLLGATE_METRICS_ADDRESS!.split(':')[1];
    assert.deepEqual(published(services.worker!), [`${metricsPort}:${metricsPort}`]);
    for (const name of ['demo-stable', 'demo-canary']) {
      const cmd = services[name]!.command!;
      const port = cmd[cmd.indexOf('--port') + 1];
      assert.deepEqual(published(services[name]!), [`${port}:${port}`], name);
      assert.equal(cmd[cmd.indexOf('--host') + 1], '0.0.0.0', `${name} listens beyond loopback`);
    }
    const config = parse(readFileSync(join(ROOT, 'deploy/prometheus.yml'), 'utf8')) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
    const targets = config.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets)).sort();
    assert.deepEqual(targets, [`demo-canary:${services['demo-canary']!.ports![0]!.target}`, `demo-stable:${services['demo-stable']!.ports![0]!.target}`, `worker:${metricsPort}`]);
    assert.equal(services.worker!.environment!.ROLLGATE_PROMETHEUS_URL, `http://prometheus:${services.prometheus!.ports![0]!.target}`);
    assert.match(execFileSync(tool('promtool'), ['check', 'config', join(ROOT, 'deploy/prometheus.yml')], { encoding: 'utf8' }), /SUCCESS/);
  });

  it('keeps secrets out of the file: they come from the environment', () => {
    const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    assert.match(text, /ROLLGATE_SLACK_WEBHOOK_URL: \$\{ROLLGATE_SLACK_WEBHOOK_URL:-\}/);
    assert.doesNotMatch(text, /hooks\.slack\.com|TEMPORAL_API_KEY:/);
  });

  it('matches what the README says about the stack', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.match(readme, /docker compose up --build/);
    assert.ok(readme.includes(`http://localhost:${services['temporal-ui']!.ports![0]!.published}`), 'the UI address');
    assert.ok(readme.includes(`localhost:${services.temporal!.ports![0]!.published}`), 'the Temporal address');
    assert.ok(readme.includes(`http://localhost:${services.worker!.ports![0]!.published}/metrics`), 'the worker metrics');
    assert.match(readme, /--scale worker=/);
  });
});
