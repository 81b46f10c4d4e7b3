/**
 * npm run demo: a sample repository released by the immediate plan on a local Temporal dev server,
 * with a worker process and the rollgate CLI as a CI job would call it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';

const ROOT = resolve(__dirname, '..');
const BIN = join(ROOT, 'bin', 'rollgate.js');

function sampleRepo(): string {
  const repo = mkdtempSync(join(tmpdir(), 'rollgate-demo-'));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env: { ...process.env, GIT_AUTHOR_NAME: 'Demo', GIT_AUTHOR_EMAIL: 'demo@example.com', GIT_COMMITTER_NAME: 'Demo', GIT_COMMITTER_EMAIL: 'demo@example.com' } });
  const write = (path: string, text: string) => {
    mkdirSync(join(repo, path, '..'), { recursive: true });
    writeFileSync(join(repo, path), text);
  };
  git('init', '-q', '-b', 'main');
  write('auth/redis_pool.py', 'import redis\n\nPOOL = redis.ConnectionPool(max_connections=10)\n');
  write('frontend/app.js', 'console.log("hello")\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'initial');
  git('checkout', '-q', '-b', 'fix/auth-pool');
  write('auth/redis_pool.py', 'import redis\n\nPOOL = redis.ConnectionPool(max_connections=50)\n');
  git('commit', '-q', '-am', 'fix(auth): raise redis pool size');
  write('release/deploy.sh', '#!/bin/sh\necho "deploying $ROLLGATE_VERSION to $1 ($ROLLGATE_ACTION, key $ROLLGATE_IDEMPOTENCY_KEY)"\n');
  chmodSync(join(repo, 'release/deploy.sh'), 0o755);
  write('release/reports/qa-report-20260105-120000.md', '# QA Report\n\n**Status**: ✅ PASS\n\nTests: 57/57 passing\n');
  write('release/reports/security-report-20260105-120000.md', '# Security Report\n\n**Verdict**: PASS\n');
  write('release/rollgate.yaml', 'service: auth\nreports: reports\nout: out\ndeploy:\n  command: ["./deploy.sh", "{stage}"]\nbake: { staging: 3s, production: 5s }\n');
  return repo;
}

async function main() {
  console.log('Starting a Temporal dev server (UI on)…');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: join(ROOT, '.tools/bin/temporal') }, ui: true },
  });
  const port = Number(env.address.split(':').pop());
  const childEnv = { ...process.env, TEMPORAL_ADDRESS: env.address, ROLLGATE_UI_URL: `http://localhost:${port + 1000}` };
  const worker = spawn(process.execPath, [BIN, 'worker'], { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  const stop = async () => {
    worker.kill('SIGTERM');
    await env.teardown();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    await new Promise<void>((ok, fail) => {
      worker.stderr.on('data', (d: Buffer) => d.toString().includes('rollgate worker:') && ok());
      worker.once('exit', (c) => fail(new Error(`worker exited with ${c}`)));
    });
    const repo = sampleRepo();
    console.log(`Sample repository: ${repo} (branch fix/auth-pool: one-line pool size change in auth/redis_pool.py)\n`);
    const args = ['start', '--repo', repo, '--base', 'main', '--head', 'fix/auth-pool', '--config', join(repo, 'release/rollgate.yaml'), '--wait'];
    console.log(`$ rollgate ${args.join(' ')}`);
    const code = await new Promise<number>((ok) => spawn(process.execPath, [BIN, ...args], { env: childEnv, stdio: 'inherit' }).once('exit', (c) => ok(c ?? 1)));
    const out = join(repo, 'release/out');
    console.log(`\nrollgate exited with ${code}`);
    console.log(`Decision records and ledger: ${out}`);
    console.log(`Ledger:\n${readFileSync(join(out, 'ledger.jsonl'), 'utf8')}`);
    console.log(`Temporal UI: ${childEnv.ROLLGATE_UI_URL} (open while the demo runs; press Enter to stop)`);
    if (process.stdin.isTTY) await new Promise((r) => process.stdin.once('data', r));
  } finally {
    await stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
