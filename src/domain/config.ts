import { z } from 'zod';
import { AnalysisConfigSchema } from './analysis';
import { durationMs } from './duration';
import { secretEnvName } from './env';
import { RISK_LEVELS } from './enums';
import { WindowsSchema } from './windows';
import { FleetSchema, hasWaves, labelPlaceholderErrors } from './waves';
import { SELECTOR_PLACEHOLDERS, templateErrors } from './promql';

/**
 * rollgate.yaml. Unknown keys are errors so that a typo never silently falls back to a default.
 * Durations are strings ("15m", "1h") that parse to milliseconds.
 */

/** argv template: placeholders {stage} {action} {weight} {version} {previousVersion} {releaseId} {idempotencyKey} {commit}. */
const command = z.array(z.string().min(1, 'an argument must not be empty')).min(1, 'needs at least the program');

const smokeUrl = () => z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const stage = z.strictObject({ smokeUrl: smokeUrl().optional() });

const weightedStep = z.strictObject({
  weight: z.number().int('must be a whole percentage').min(1).max(100),
  bake: durationMs({ allowZero: true }),
  approval: z.boolean().default(false),
});

const increasingTo100 = (steps: { weight: number }[], ctx: z.RefinementCtx) => {
  steps.forEach((s, i) => {
    const prev = steps[i - 1];
    if (prev && s.weight <= prev.weight)
      ctx.addIssue({ code: 'custom', path: [i, 'weight'], message: `weights must increase (${prev.weight} then ${s.weight})` });
  });
  const last = steps[steps.length - 1];
  if (last && last.weight !== 100) ctx.addIssue({ code: 'custom', path: [steps.length - 1, 'weight'], message: 'the last step must reach 100' });
};

const steps = z.array(weightedStep).min(1).superRefine(increasingTo100);

export const DEFAULT_CRITICAL_AREAS = [
  '**/auth/**',
  '**/authentication/**',
  '**/payment/**',
  '**/payments/**',
  '**/billing/**',
];
/**
 * Changes to these are changes to the release itself (its policy, its deploy scripts, its CI):
 * CRITICAL by default, whatever else they touch. A floor: a repository may add, never remove.
 */
export const DEFAULT_POLICY_AREAS = [
  'rollgate.yaml',
  'rollgate.yml',
  '**/rollgate.yaml',
  '**/rollgate.yml',
  '**/deploy.sh',
  '**/deploy.mjs',
  '**/deploy/**',
  '.github/workflows/**',
  '.github/actions/**',
  '.gitmodules',
  'Makefile',
  '**/Makefile',
  '.gitlab-ci.yml',
  '.circleci/**',
  'Jenkinsfile',
  '.buildkite/**',
];
export const DEFAULT_MIGRATION_GLOBS = ['**/migrations/**', '**/migrate/**', '**/*.sql'];

/** Names of the worker's environment variables holding the webhook URLs and the signing secret: never the secrets. */
export const NotifyTargetsSchema = z.strictObject({
  slackWebhookUrlEnv: secretEnvName('ROLLGATE_SLACK_').default('ROLLGATE_SLACK_WEBHOOK_URL'),
  webhookUrlEnv: secretEnvName('ROLLGATE_WEBHOOK_').default('ROLLGATE_WEBHOOK_URL'),
  webhookSecretEnv: secretEnvName('ROLLGATE_WEBHOOK_').default('ROLLGATE_WEBHOOK_SECRET'),
  /** PagerDuty Events API v2: the on-call engineer is paged on a failed rollback and whenever a human is needed. */
  pagerDutyRoutingKeyEnv: secretEnvName('ROLLGATE_PAGERDUTY_').default('ROLLGATE_PAGERDUTY_ROUTING_KEY'),
});

const NotifySchema = NotifyTargetsSchema.extend({
  channel: z.string().min(1).optional(),
  onCall: z.string().min(1).optional(),
});

/** Where and how each step is applied: a worker policy may own it. */
export const DeploySchema = z
  .strictObject({
    command: command.default(['./deploy.sh', '{stage}']),
    rollback: command.optional(),
    timeout: durationMs().prefault('15m'),
    cwd: z.string().min(1).optional(),
    /** Run the plan's first step, the merge to main, as the command's `merge` action (with `{commit}`, the judged head). */
    merge: z.boolean().default(false),
    /** command: run `command` for each step; webhook: POST each step to the URL in the worker's `webhook.urlEnv`. */
    provider: z.enum(['command', 'webhook'], { error: 'unknown deploy provider (known: command, webhook)' }).default('command'),
    webhook: z
      .strictObject({
        urlEnv: secretEnvName('ROLLGATE_DEPLOY_').default('ROLLGATE_DEPLOY_WEBHOOK_URL'),
        secretEnv: secretEnvName('ROLLGATE_DEPLOY_').default('ROLLGATE_DEPLOY_WEBHOOK_SECRET'),
      })
      .prefault({}),
  });

export const ConfigSchema = z.strictObject({
  service: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, 'letters, digits, . _ - (max 63)').optional(),
  reports: z.string().min(1).default('out'),
  out: z.string().min(1).default('out'),
  /** The deployment notes appended after each release or rollback: a markdown file in the out folder, or false for none. */
  notes: z
    .union([
      z.literal(false),
      z
        .string()
        .regex(/^[A-Za-z0-9][\w.-]*\.md$/, 'must be a markdown file name in the out folder (e.g. NOTES.md), or false')
        .refine((f) => !f.startsWith('release-decision-'), 'must not be a decision record\'s name'),
    ])
    .default('NOTES.md'),
  deploy: DeploySchema.prefault({}),
  /** How long a step running on a worker that died goes unnoticed before another worker retries it. */
  heartbeatTimeout: durationMs().prefault('30s'),
  stages: z
    .strictObject({ staging: stage.prefault({}), production: stage.prefault({}) })
    .prefault({}),
  bake: z
    .strictObject({
      staging: durationMs({ allowZero: true }).prefault('15m'),
      production: durationMs({ allowZero: true }).prefault('1h'),
    })
    .prefault({}),
  canary: z.strictObject({ steps: steps.optional() }).prefault({}),
  featureFlag: z
    .strictObject({
      flag: z.string().regex(/^[A-Za-z0-9._-]+$/).optional(),
      steps: steps.optional(),
      /** command: the deploy command gets action enable-flag; flagd: rollgate writes the flag to a flagd definitions file. */
      provider: z.enum(['command', 'flagd'], { error: 'unknown flag provider (known: command, flagd)' }).default('command'),
      /** The flagd definitions file, relative to the repository. */
      file: z.string().min(1).optional(),
    })
    .superRefine((f, ctx) => {
      if (f.provider === 'flagd' && !f.file) ctx.addIssue({ code: 'custom', path: ['file'], message: 'the flagd provider needs the definitions file' });
      if (f.provider === 'flagd' && !f.flag) ctx.addIssue({ code: 'custom', path: ['flag'], message: 'the flagd provider needs the flag name' });
    })
    .prefault({}),
  blueGreen: z
    .strictObject({
      rollbackWindow: durationMs({ allowZero: true }).prefault('24h'),
      /** Where green answers before it takes traffic: smoke-tested before the switch (the production URL still serves blue). */
      greenSmokeUrl: smokeUrl().optional(),
    })
    .prefault({}),
  risk: z
    .strictObject({
      criticalAreas: z.array(z.string().min(1)).default(DEFAULT_CRITICAL_AREAS),
      policyAreas: z.array(z.string().min(1)).default(DEFAULT_POLICY_AREAS),
      migrations: z.array(z.string().min(1)).default(DEFAULT_MIGRATION_GLOBS),
      components: z.record(z.string().min(1), z.string().min(1)).default({}),
      usersAffected: z.number().int().nonnegative().optional(),
    })
    .prefault({}),
  approval: z
    .strictObject({
      requiredFor: z.array(z.enum(RISK_LEVELS as [string, ...string[]])).default(['CRITICAL']),
      approvers: z.array(z.string().min(1).refine((a) => !/^<.*>$/.test(a), 'is a placeholder: name who may approve')).default([]),
      timeout: durationMs().prefault('24h'),
    })
    .prefault({}),
  monitoring: z
    .strictObject({
      metrics: z
        .array(z.strictObject({ name: z.string().min(1), query: z.string().min(1).optional(), alert: z.string().min(1) }))
        .default([]),
    })
    .prefault({}),
  analysis: AnalysisConfigSchema,
  notify: NotifySchema.prefault({}),
  /** When a phase may start: allow and deny windows (src/domain/windows). */
  windows: WindowsSchema.prefault({}),
  /** Targets (regions, clusters, cells) and the waves they go in (src/domain/waves); none: the deploy command's one target. */
  fleet: FleetSchema.prefault({}),
}).superRefine(
  (c, ctx) => {
    // Placeholders are checked here, where the targets' labels are known; also beside other errors, so all are told at once.
    const fleet = { targets: Array.isArray(c.fleet?.targets) ? c.fleet.targets.filter((t) => typeof t?.labels === 'object' && t.labels !== null) : [] };
    // Every target writes the one flagd file: a flag per target needs the command provider.
    if (hasWaves(c.fleet) && c.featureFlag?.provider === 'flagd')
      ctx.addIssue({ code: 'custom', path: ['featureFlag', 'provider'], message: 'a fleet\'s targets would share one flagd file: use the command provider, which gets each target' });
    const check = (template: unknown, path: (string | number)[], known?: readonly string[]) => {
      if (typeof template === 'string') for (const message of templateErrors(template, fleet, known)) ctx.addIssue({ code: 'custom', path, message });
    };
    (Array.isArray(c.analysis?.metrics) ? c.analysis.metrics : []).forEach((m, i) => {
      check(m?.query, ['analysis', 'metrics', i, 'query']);
      check(m?.judge?.trials, ['analysis', 'metrics', i, 'judge', 'trials']);
    });
    for (const subject of ['stable', 'canary'] as const)
      for (const [label, value] of Object.entries(c.analysis?.selectors?.[subject] ?? {})) check(value, ['analysis', 'selectors', subject, label], SELECTOR_PLACEHOLDERS);
    for (const key of ['command', 'rollback'] as const) {
      const argv: unknown = c.deploy?.[key];
      if (Array.isArray(argv)) argv.forEach((arg, i) => typeof arg === 'string' && labelPlaceholderErrors(arg, fleet).forEach((message) => ctx.addIssue({ code: 'custom', path: ['deploy', key, i], message })));
    }
  },
  { when: () => true },
);

export type RollgateConfigInput = z.input<typeof ConfigSchema>;
export type RollgateConfig = z.output<typeof ConfigSchema>;

/** Turns zod issues into one line each that names the field: `deploy.timeout: must be longer than zero`. */
export function formatIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    const where = [prefix, path].filter(Boolean).join(prefix && path ? '.' : '');
    return `${where || '(root)'}: ${issue.message}`;
  });
}

export function parseConfig(raw: unknown): { ok: true; config: RollgateConfig } | { ok: false; errors: string[] } {
  const result = ConfigSchema.safeParse(raw ?? {});
  return result.success ? { ok: true, config: result.data } : { ok: false, errors: formatIssues(result.error) };
}

/** The built-in settings: a config with nothing set. */
export function builtInConfig(): RollgateConfig {
  const parsed = parseConfig({});
  if (!parsed.ok) throw new Error(`the built-in config is invalid: ${parsed.errors.join('; ')}`);
  return parsed.config;
}
