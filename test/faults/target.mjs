#!/usr/bin/env node
// The fault tests' deploy target: an idempotent deploy command, as rollgate asks of one. Each
// invocation is logged; a key already applied is skipped; applying takes a while (a window for the
// worker to be killed in) and records the key only once the change is complete.
// State lives in FAULT_TARGET_DIR: calls.log, applied.log, weight-<service>.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const { ROLLGATE_STAGE: stage, ROLLGATE_ACTION: action, ROLLGATE_WEIGHT: weight, ROLLGATE_IDEMPOTENCY_KEY: key, FAULT_TARGET_DIR: dir, FAULT_APPLY_MS = '800' } = process.env;
const service = process.argv[2];
if (!key || !dir || !service) {
  console.error('fault target: needs ROLLGATE_IDEMPOTENCY_KEY, FAULT_TARGET_DIR and the service');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
appendFileSync(join(dir, 'calls.log'), `${JSON.stringify({ key, action, stage, weight, pid: process.pid, at: Date.now() })}\n`);
const applied = () => (existsSync(join(dir, 'applied.log')) ? readFileSync(join(dir, 'applied.log'), 'utf8') : '').split('\n').filter(Boolean).map((l) => JSON.parse(l).key);
if (applied().includes(key)) {
  console.log(`${key}: already applied`);
  process.exit(0);
}
await new Promise((r) => setTimeout(r, Number(FAULT_APPLY_MS)));
if (stage.startsWith('production')) {
  const to = action === 'rollback' ? 0 : action === 'deploy' || action === 'set-weight' || action === 'promote' ? Number(weight) : undefined;
  if (to !== undefined) writeFileSync(join(dir, `weight-${service}`), String(to));
}
appendFileSync(join(dir, 'applied.log'), `${JSON.stringify({ key, action, stage, weight, pid: process.pid, at: Date.now() })}\n`);
console.log(`${key}: applied ${action} ${stage} ${weight}%`);
