import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ExitCode } from '../exit-code';
import { type FlagSpec, type Out, parseFlags } from '../flags';
import { writeNew } from '../files';
import { configJsonSchema } from './schema';

const InitFlagsSchema = z.strictObject({ dir: z.string().default('.'), force: z.boolean().default(false) });

export const initFlags = {
  command: 'init',
  options: { dir: { type: 'string' }, force: { type: 'boolean' } },
  schema: InitFlagsSchema,
} satisfies FlagSpec<typeof InitFlagsSchema>;

const SCHEMA_FILE = 'rollgate.schema.json';

/**
 * A starting rollgate.yaml. Each `<…>` is a placeholder that fails validation, naming its field,
 * until it is filled in; filled in, the file passes the spec's gates (a concrete rollback plan, a
 * check that acts on production).
 */
export const INIT_TEMPLATE = `# yaml-language-server: $schema=./${SCHEMA_FILE}
# rollgate's release policy for this repository. It is read at the base commit of each release
# (reviewed code): a change to it takes effect once merged. Fill in every <…>; \`rollgate decide\`
# names any left. The full reference: \`rollgate schema\`, and the README's configuration section.

service: <service-name>                 # letters, digits, . _ -

reports: reports                        # where CI puts qa-report-*.md and security-report-*.md
out: out                                # decision records, charts, the ledger, NOTES.md

deploy:
  # Called once per step with {stage} {action} {weight} {version} {previousVersion} {idempotencyKey} {commit};
  # the same values are in ROLLGATE_* variables. Put -- before placeholders if your command takes options.
  command: ["./deploy.sh", "{stage}", "--", "{version}"]
  # A rollback returns to the previous version: --previous-version, else the base commit.
  rollback: ["./deploy.sh", "{stage}", "--", "{previousVersion}"]
  timeout: 15m
  merge: false                          # true: the first step merges {commit} to main (action merge, stage main)

stages:
  staging: { smokeUrl: "<https://staging.example.com/health>" }
  production: { smokeUrl: "<https://example.com/health>" }   # also verifies a rollback

analysis:
  prometheus:
    address: "<http://prometheus:9090>"
  interval: 1m
  selectors:                            # how the canary's series differ from the stable ones
    stable: { track: stable }
    canary: { track: canary }
  metrics:                              # checks that act: a failure rolls back by itself
    - name: error-rate
      query: 'sum(rate(http_requests_total{code=~"5..",{{canarySelector}}}[5m])) / sum(rate(http_requests_total{{{canarySelector}}}[5m]))'
      failureCondition: result > 0.05
      successCondition: result <= 0.01
    - name: latency-p99
      query: 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{{canarySelector}}}[5m])))'
      failureCondition: result > 0.5
    - name: errors-judge                # the sequential judge: counts, canary against stable, while both take traffic
      query: 'sum(increase(http_requests_total{code=~"5..",{{selector}}}[{{sincePhase}}]))'
      judge:
        trials: 'sum(increase(http_requests_total{{{selector}}}[{{sincePhase}}]))'
        minEffect: 0.1                  # the smallest rise worth a rollback: 10% more errors than stable (1% → 2% is +100%)

approval:
  requiredFor: [CRITICAL]               # risk levels that need a sign-off before anything is deployed
  approvers: ["<your-name>"]            # who may sign off; the change's authors never may for CRITICAL
  timeout: 24h

notify:
  channel: "#releases"                  # for the record's communication plan; Slack via the worker's ROLLGATE_SLACK_WEBHOOK_URL
  onCall: "SRE on-call"                 # paged through PagerDuty where the worker has ROLLGATE_PAGERDUTY_ROUTING_KEY

# When a phase may start (none: any time). Outside, a release waits at the phase boundary, its live
# phase watched; \`rollgate override ID --reason …\` breaks a window, \`rollgate freeze\` adds freezes.
# windows:
#   timeZone: Europe/Berlin
#   allow:
#     - { rrule: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9", duration: 8h }   # office hours, Monday to Thursday
#   deny:
#     - { cron: "0 0 24 12 *", duration: 8d }                               # 24 to 31 December
`;

/** `rollgate init`: a commented rollgate.yaml and the JSON Schema editors check it against. */
export async function initCommand(args: string[], out: Out): Promise<number> {
  const flags = parseFlags(initFlags, args);
  const dir = resolve(flags.dir);
  const config = join(dir, 'rollgate.yaml');
  await writeNew(config, INIT_TEMPLATE, { force: flags.force, hint: 'rollgate init leaves it as it is (--force overwrites it)' });
  await writeNew(join(dir, SCHEMA_FILE), `${JSON.stringify(configJsonSchema(), null, 2)}\n`, { force: flags.force, hint: 'rollgate init leaves it as it is (--force overwrites it)' });
  out.log(`wrote ${config} and ${SCHEMA_FILE}: fill in every <…>, then check it with rollgate decide; commit it, and it applies from the next release`);
  return ExitCode.OK;
}
