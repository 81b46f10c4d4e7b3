#!/usr/bin/env node
// The demo's deploy command: moves the canary's weight on the demo router (DEMO_ROUTER_URL) for
// production; staging and retiring blue only log. rollgate passes everything in ROLLGATE_* variables.
// In a fleet the service whose weight moves comes from `--service NAME` (rollgate has no placeholder
// for it, so a fleet config names it in deploy.command), else DEMO_SERVICE; none is the router's default.
import { parseArgs } from 'node:util';

const { ROLLGATE_STAGE: stage, ROLLGATE_ACTION: action, ROLLGATE_WEIGHT: weight, ROLLGATE_VERSION: version, ROLLGATE_IDEMPOTENCY_KEY: key, DEMO_ROUTER_URL: router } = process.env;
const { values: argv } = parseArgs({ options: { service: { type: 'string' } }, strict: false, allowPositionals: true });
const service = (typeof argv.service === 'string' ? argv.service : undefined) ?? (process.env.DEMO_SERVICE || undefined);
// Every line carries the time the command started: the rollback benchmark reads it.
const startedAt = new Date().toISOString();
const log = (msg) => process.stdout.write(`${startedAt} ${action} ${stage} ${version} ${weight}% [${key}] ${msg}\n`);

const target = (() => {
  if (!stage.startsWith('production')) return undefined;
  switch (action) {
    case 'deploy':
      // Green gets no traffic until the switch; a canary starts at its first weight.
      return stage === 'production-green' ? 0 : Number(weight);
    case 'set-weight':
    case 'promote':
    case 'switch':
      return Number(weight);
    case 'rollback':
      return 0;
    default:
      return undefined; // retire, enable-flag and disable-flag change no traffic here
  }
})();

if (target === undefined || !router) {
  log('nothing to route');
  process.exit(0);
}
let res;
try {
  res = await fetch(`${router}/weight`, { method: 'POST', body: JSON.stringify(service === undefined ? { weight: target } : { weight: target, service }) });
} catch (e) {
  log(`router unreachable: ${e.message}`);
  process.exit(75); // EX_TEMPFAIL: rollgate retries
}
if (!res.ok) {
  log(`router answered ${res.status}: ${await res.text().catch(() => '')}`);
  // A refused request (a bad service name) fails the same way on every retry.
  process.exit(res.status < 500 ? 1 : 75);
}
log(`canary weight${service === undefined ? '' : ` of ${service}`} now ${target}%`);
