import { z } from 'zod';
import { PrometheusSourceSchema } from './analysis';
import { DEFAULT_CRITICAL_AREAS, DEFAULT_MIGRATION_GLOBS, DeploySchema, DEFAULT_POLICY_AREAS, formatIssues, NotifyTargetsSchema, type RollgateConfig } from './config';
import { RISK_LEVELS } from './enums';
import { RecurringWindowSchema, TimeZoneSchema } from './windows';
import { FleetSchema } from './waves';

/**
 * The release policy, and who may set what. The repository's rollgate.yaml is read from the base
 * commit (reviewed code), never from the change. The worker's own policy (ROLLGATE_POLICY) owns
 * what must never come from a repository (the deploy target, the metric source and the names of
 * secret variables, where releases write, who may approve) and sets the floors a repository may
 * only raise: critical areas and the risk levels that need a sign-off.
 */


const level = z.enum(RISK_LEVELS as [string, ...string[]]);

export const WorkerPolicySchema = z
  .strictObject({
  deploy: DeploySchema.optional(),
  /** The targets and their waves, owned with the deploy target: a repository's are replaced. */
  fleet: FleetSchema.optional(),
  analysis: z.strictObject({ prometheus: PrometheusSourceSchema.optional() }).optional(),
  notify: NotifyTargetsSchema.optional(),
  /** The folder every release writes to (its own subfolder per service); else the repository's `out`, kept inside the repository. */
  out: z.string().regex(/^\//, 'must be an absolute path').optional(),
  /** The flagd definitions file the worker writes; else the repository's, kept inside the repository. */
  featureFlag: z.strictObject({ file: z.string().regex(/^\//, 'must be an absolute path') }).optional(),
  approval: z
    .strictObject({
      /** Who may approve; a repository's list cannot widen it. */
      approvers: z.array(z.string().min(1)).optional(),
      /** Risk levels that always need a sign-off; a repository may add levels. */
      requiredFor: z.array(level).optional(),
    })
    .optional(),
  /** Deny windows every release keeps (a weekend, a holiday), added to a repository's; each in its own zone or the section's. */
  windows: z.strictObject({ timeZone: TimeZoneSchema.default('UTC'), deny: z.array(RecurringWindowSchema).default([]) }).optional(),
  risk: z
    .strictObject({
      /** The floor of critical areas (default: the built-in ones); a repository may add areas. */
      criticalAreas: z.array(z.string().min(1)).optional(),
      /** More of the release's own files, added to the built-in ones (rollgate.yaml, deploy scripts, CI workflows), which always count; a repository may add. */
      policyAreas: z.array(z.string().min(1)).optional(),
      /** The floor of where migrations live (default: the built-in globs); a repository may add. */
      migrations: z.array(z.string().min(1)).optional(),
    })
    .optional(),
  })
  .superRefine((p, ctx) => {
    // Relative to what? A worker's deploy folder is its own, named in full.
    if (p.deploy?.cwd !== undefined && !p.deploy.cwd.startsWith('/')) ctx.addIssue({ code: 'custom', path: ['deploy', 'cwd'], message: 'must be an absolute path' });
  });
export type WorkerPolicyInput = z.input<typeof WorkerPolicySchema>;
export type WorkerPolicy = z.output<typeof WorkerPolicySchema>;

/** What the worker resolves for a release: the effective policy, where it came from, and whether it verifies who steers (an allowed-signers file). */
export interface ReleaseTerms {
  config: RollgateConfig;
  provenance: PolicyProvenance;
  allowedSigners: boolean;
  /** The worker policy's folder for every release's output, when it has one. */
  workerOut?: string;
  /** Why the repository's policy could not be read: the release stops at its gates (the config is then the built-in one under the worker's). */
  problem?: string;
}

export function parseWorkerPolicy(raw: unknown): { ok: true; policy: WorkerPolicy } | { ok: false; errors: string[] } {
  const result = WorkerPolicySchema.safeParse(raw ?? {});
  return result.success ? { ok: true, policy: result.data } : { ok: false, errors: formatIssues(result.error) };
}

/** Where a setting of the effective policy came from, for the record. */
export interface PolicyProvenance {
  /** "repository rollgate.yaml at <commit>", "the CLI's --config file", or "defaults". */
  repository: string;
  /** "worker policy", or "none (the repository's file decides what a worker policy would own)". */
  worker: string;
  /** Repository settings the worker policy overrode. */
  overridden: string[];
  /** Floors that raised the repository's settings. */
  raised: string[];
}

const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])];

/**
 * The effective policy: the repository's config, with what the worker owns taken from the worker
 * policy, and the floors applied (without a worker policy, the defaults are the floors). The
 * repository may tighten, never loosen. Pure, so the workflow applies it to what history holds.
 */
export function applyPolicy(config: RollgateConfig, worker: WorkerPolicy | undefined, repository: string, repo?: string): { config: RollgateConfig; provenance: PolicyProvenance } {
  const overridden: string[] = [];
  const raised: string[] = [];
  // JSON-able, and the workflow sandbox has no structuredClone.
  const out = JSON.parse(JSON.stringify(config)) as RollgateConfig;
  if (worker?.deploy) {
    overridden.push('deploy');
    out.deploy = worker.deploy;
  }
  if (worker?.fleet) {
    overridden.push('fleet');
    out.fleet = worker.fleet;
  } else if (worker?.deploy && config.fleet.waves.length > 0) {
    // The worker's deploy command is the worker's: a repository does not pick the targets and labels it runs with.
    overridden.push('fleet (the worker policy owns deploy, and names no targets: one target)');
    out.fleet = { targets: [], waves: [], onWaveFailure: 'rollback' };
  }
  if (worker?.analysis?.prometheus) {
    overridden.push('analysis.prometheus');
    out.analysis.prometheus = worker.analysis.prometheus;
  }
  if (worker?.notify) {
    overridden.push('notify (variables)');
    out.notify = { ...out.notify, ...worker.notify };
  }
  if (worker?.featureFlag) {
    overridden.push('featureFlag.file');
    out.featureFlag.file = worker.featureFlag.file;
  }
  if (worker?.out) {
    overridden.push('out');
    out.out = worker.out;
  }
  if (worker?.approval?.approvers) {
    const allowed = worker.approval.approvers;
    // A repository may name fewer approvers, never others.
    const narrowed = config.approval.approvers.filter((a) => allowed.includes(a));
    out.approval.approvers = narrowed.length > 0 ? narrowed : allowed;
    if (config.approval.approvers.some((a) => !allowed.includes(a))) overridden.push('approval.approvers (only the worker policy\'s approvers may approve)');
  }
  const floors = {
    criticalAreas: worker?.risk?.criticalAreas ?? DEFAULT_CRITICAL_AREAS,
    // The gate's own files are never left out: a worker's list adds to them.
    policyAreas: union(DEFAULT_POLICY_AREAS, worker?.risk?.policyAreas ?? []),
    migrations: worker?.risk?.migrations ?? DEFAULT_MIGRATION_GLOBS,
  };
  for (const key of ['criticalAreas', 'policyAreas', 'migrations'] as const) {
    const floor = floors[key];
    const missing = floor.filter((a) => !config.risk[key].includes(a));
    if (missing.length > 0) raised.push(`risk.${key}: + ${missing.join(', ')}`);
    out.risk[key] = union(config.risk[key], floor);
  }
  // The programs the effective deploy section runs from the repository are the release's own files too.
  if (repo) out.risk.policyAreas = union(out.risk.policyAreas, deployProgramAreas(out.deploy, repo));
  const denied = worker?.windows?.deny ?? [];
  if (denied.length > 0) {
    raised.push(`windows.deny: + ${denied.length} from the worker policy`);
    out.windows.deny = [...out.windows.deny, ...denied.map((w) => ({ ...w, timeZone: w.timeZone ?? worker!.windows!.timeZone }))];
  }
  const levels = worker?.approval?.requiredFor ?? ['CRITICAL'];
  const missingLevels = levels.filter((l) => !config.approval.requiredFor.includes(l));
  if (missingLevels.length > 0) raised.push(`approval.requiredFor: + ${missingLevels.join(', ')}`);
  out.approval.requiredFor = union(config.approval.requiredFor, levels);
  return {
    config: out,
    provenance: { repository, worker: worker ? 'worker policy (ROLLGATE_POLICY)' : 'none: the repository\'s file decides what a worker policy would own', overridden, raised },
  };
}

/** Joins and normalizes POSIX paths without node:path (workflow code may not import it). */
function resolvePosix(base: string, path: string): string {
  const parts: string[] = [];
  for (const seg of (path.startsWith('/') ? path : `${base}/${path}`).split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join('/')}`;
}

const SCRIPT = /\.(sh|bash|mjs|cjs|js|ts|py|rb|pl|ps1)$/i;

/**
 * The repository's files that the deploy and rollback commands run (`./deploy.sh`, `scripts/release.py`
 * as an argument to an interpreter): the worker runs them from the change's checkout, so a change to
 * them is a change to the release itself, as CRITICAL as one to the policy.
 */
export function deployProgramAreas(deploy: Pick<RollgateConfig['deploy'], 'command' | 'rollback' | 'cwd'>, repo: string): string[] {
  const root = repo.replace(/\/+$/, '');
  const cwd = deploy.cwd ?? root;
  const args = [...deploy.command, ...(deploy.rollback ?? [])].filter((a) => !a.includes('{') && (a.includes('/') || SCRIPT.test(a)) && !a.startsWith('-'));
  const inRepo = args.map((a) => resolvePosix(cwd, a)).filter((p) => p.startsWith(`${root}/`));
  return [...new Set(inRepo.map((p) => p.slice(root.length + 1)))];
}
