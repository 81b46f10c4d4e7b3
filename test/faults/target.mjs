#!/usr/bin/env node
// The fault tests' deploy target: an idempotent deploy command, as rollgate asks of one. Each
// invocation is logged; a key already applied is skipped; applying takes a while (a window for the
// worker to be killed in) and records the key only once the change is complete.
// `target.mjs SERVICE [--hang ACTION]`: that action never ends and leaves a grandchild running.
// State lives in FAULT_TARGET_DIR: calls.log, applied.log, weight-<service>.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const { ROLLGATE_STAGE: stage, ROLLGATE_ACTION: action, ROLLGATE_WEIGHT: weight, ROLLGATE_IDEMPOTENCY_KEY: key, FAULT_TARGET_DIR: dir, FAULT_APPLY_MS = '800' } = process.env;
const [service, hangFlag, hangAction] = process.argv.slice(2);
if (!key || !dir || !service) {
  console.error('fault target: needs ROLLGATE_IDEMPOTENCY_KEY, FAULT_TARGET_DIR and the service');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
const log = (file, extra = {}) => appendFileSync(join(dir, file), `${JSON.stringify({ key, action, stage, weight, pid: process.pid, at: Date.now(), ...extra })}\n`);

if (hangFlag === '--hang' && action === hangAction) {
  const grandchild = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }).pid;
  log('calls.log', { grandchild });
  setInterval(() => {}, 1000);
} else {
  log('calls.log');
  const applied = (existsSync(join(dir, 'applied.log')) ? readFileSync(join(dir, 'applied.log'), 'utf8') : '').split('\n').filter(Boolean).map((l) => JSON.parse(l).key);
  if (applied.includes(key)) {
    console.log(`${key}: already applied`);
    process.exit(0);
  }
  await new Promise((r) => setTimeout(r, Number(FAULT_APPLY_MS)));
  if (stage.startsWith('production')) {
    const to = action === 'rollback' ? 0 : ['deploy', 'set-weight', 'promote'].includes(action) ? Number(weight) : undefined;
    if (to !== undefined) writeFileSync(join(dir, `weight-${service}`), String(to));
  }
  log('applied.log');
  console.log(`${key}: applied ${action} ${stage} ${weight}%`);
}
