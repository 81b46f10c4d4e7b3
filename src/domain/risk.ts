import {
  type ChangeSet,
  isConfigOnlyFile,
  isFeatureCommit,
  isNewSourceModule,
  isNumericTuning,
  isTestPath,
  irreversibleMigration,
} from './changeset';
import { RiskLevel, riskRank, Strategy } from './enums';
import { globToRegExp } from './glob';

/** Thresholds of the spec's risk matrix. */
export const RISK_THRESHOLDS = {
  /** Fewer files than this is LOW. */
  mediumFiles: 5,
  /** More files than this is HIGH. */
  highFilesAbove: 20,
  /** This many users affected, or more, is HIGH. */
  highUsers: 10_000,
  /** This many new source modules, or more, counts as a new feature. */
  newModulesForFeature: 3,
} as const;

export interface RiskOptions {
  criticalAreas: readonly string[];
  /** The release's own policy, deploy scripts and CI: a change to them is CRITICAL, configuration or not. */
  policyAreas?: readonly string[];
  migrations: readonly string[];
  /** glob → component name; empty: top-level folders are the components. */
  components: Readonly<Record<string, string>>;
  usersAffected?: number;
  /** From the tests gate; false or unknown never lowers the level. */
  testsAllPass?: boolean;
}

export interface RiskSignal {
  level: RiskLevel;
  reason: string;
}

export interface ChangeSummary {
  files: number;
  insertions: number;
  deletions: number;
  configOnly: boolean;
  /** Test files: shown, never counted toward the level or the blast radius. */
  tests: string[];
  criticalAreas: string[];
  newFeature: boolean;
  migrations: string[];
}

export interface BlastRadius {
  size: 'SMALL' | 'MEDIUM' | 'LARGE';
  affected: string[];
  notAffected: string[];
}

export interface Alternative {
  strategy: Strategy;
  whenToUse: string;
  whyNot: string;
}

export interface RiskAssessment {
  level: RiskLevel;
  /** Set when a human must take over: the spec's "risk unclear" and "no rollback plan possible". */
  escalation?: string;
  /** A destructive migration with no way down (`path: statement`): a rollback restores the code, not its data. */
  irreversibleMigration?: string;
  /** One line per signal that set the level. */
  reasons: string[];
  signals: RiskSignal[];
  change: ChangeSummary;
  blastRadius: BlastRadius;
  strategy: Strategy;
  alternatives: Alternative[];
}

export const STRATEGY_FOR: Record<RiskLevel, Strategy> = {
  LOW: Strategy.IMMEDIATE,
  MEDIUM: Strategy.CANARY,
  HIGH: Strategy.FEATURE_FLAG,
  CRITICAL: Strategy.BLUE_GREEN,
};

const WHEN_TO_USE: Record<Strategy, string> = {
  immediate: 'Low-risk changes: fewer than 5 files, configuration only, all tests passing',
  canary: 'Medium-risk changes: 5 to 20 files or logic changes, fewer than 10,000 users affected',
  'feature-flag': 'High-risk changes: more than 20 files, new features, 10,000 users affected or more',
  'blue-green': 'Critical changes: auth, payment or data-migration code; zero-downtime switch with human supervision',
};

const levelOf = (s: Strategy): RiskLevel =>
  (Object.keys(STRATEGY_FOR) as RiskLevel[]).find((l) => STRATEGY_FOR[l] === s) ?? RiskLevel.LOW;

const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

/** The spec's risk matrix: the level is the highest that any signal reaches. */
export function assessRisk(change: ChangeSet, opts: RiskOptions): RiskAssessment {
  const signals: RiskSignal[] = [];
  const add = (level: RiskLevel, reason: string) => signals.push({ level, reason });

  // The release's own files and migrations count whatever they look like (a CI workflow named `…-test.yml`).
  const policyRes = (opts.policyAreas ?? []).map(globToRegExp);
  const isPolicy = (path: string) => policyRes.some((re) => re.test(path));
  const migrationRes = opts.migrations.map(globToRegExp);
  const isMigration = (path: string) => migrationRes.some((re) => re.test(path));
  // A migration is one wherever it lies (`0005_drop_ab_test.sql`).
  const tests = change.files.filter((f) => isTestPath(f.path) && !isPolicy(f.path) && !isMigration(f.path));
  const files = change.files.filter((f) => !tests.includes(f));

  const n = files.length;
  if (n === 0 && tests.length > 0) add('LOW', `Tests only: ${listPaths(tests.map((f) => f.path))}`);
  else if (n < RISK_THRESHOLDS.mediumFiles) add('LOW', `${plural(n, 'file')} changed (fewer than ${RISK_THRESHOLDS.mediumFiles})`);
  else if (n <= RISK_THRESHOLDS.highFilesAbove) add('MEDIUM', `${plural(n, 'file')} changed (5 to 20)`);
  else add('HIGH', `${plural(n, 'file')} changed (more than 20)`);

  const logicFiles = files.filter((f) => !isConfigOnlyFile(f));
  const configOnly = n > 0 && logicFiles.length === 0;
  if (configOnly) add('LOW', 'Configuration change only (no logic changes)');
  else if (n > 0) add('MEDIUM', `Logic changes in ${plural(logicFiles.length, 'file')}: ${listPaths(logicFiles.map((f) => f.path))}`);

  if (tests.length > 0 && n > 0) add('LOW', `Tests changed, not counted toward the risk: ${listPaths(tests.map((f) => f.path))}`);
  if (opts.testsAllPass === true) add('LOW', 'All tests passing');

  const featureCommits = change.commits.filter((c) => isFeatureCommit(c.subject));
  const newModules = files.filter(isNewSourceModule);
  const newFeature = featureCommits.length > 0 || newModules.length >= RISK_THRESHOLDS.newModulesForFeature;
  if (featureCommits.length > 0) add('HIGH', `New feature: ${featureCommits.map((c) => `"${c.subject}"`).slice(0, 3).join(', ')}`);
  if (newModules.length >= RISK_THRESHOLDS.newModulesForFeature)
    add('HIGH', `New feature: ${plural(newModules.length, 'new source module')} (${listPaths(newModules.map((f) => f.path))})`);

  if (opts.usersAffected !== undefined) {
    if (opts.usersAffected >= RISK_THRESHOLDS.highUsers) add('HIGH', `${plural(opts.usersAffected, 'user')} affected (10,000 or more)`);
    else add('LOW', `${plural(opts.usersAffected, 'user')} affected (fewer than 10,000)`);
  }

  const migrations = files.filter((f) => isMigration(f.path));
  if (migrations.length > 0) add('CRITICAL', `Data migration: ${listPaths(migrations.map((f) => f.path))}`);

  const criticalRes = opts.criticalAreas.map((g) => ({ g, re: globToRegExp(g) }));
  const criticalTouched = files.filter((f) => criticalRes.some(({ re }) => re.test(f.path)));
  // In a critical area only numeric tuning counts as configuration: a flipped boolean or a changed string there is not.
  const criticalLogic = criticalTouched.filter((f) => !isNumericTuning(f) && !migrations.includes(f));
  const criticalAreas = [...new Set(criticalTouched.map((f) => criticalRes.find(({ re }) => re.test(f.path))!.g))];
  if (criticalLogic.length > 0) add('CRITICAL', `Critical area changed beyond numeric tuning: ${listPaths(criticalLogic.map((f) => f.path))}`);
  else if (criticalTouched.length > 0 && migrations.length === 0)
    add('LOW', `Critical area touched by numeric tuning only (${listPaths(criticalTouched.map((f) => f.path))}): no escalation`);

  const policyTouched = files.filter((f) => isPolicy(f.path));
  if (policyTouched.length > 0) add('CRITICAL', `The release's own policy, deploy scripts or CI changed: ${listPaths(policyTouched.map((f) => f.path))}`);

  let escalation: string | undefined;
  if (change.files.length === 0) escalation = 'Risk cannot be classified: the change set between base and head has no files';
  const irreversible = irreversibleMigration(migrations);
  if (irreversible) escalation = `Irreversible migration without a down migration (${irreversible}): a rollback restores the code, never the data it drops, so a human must sign off knowing it`;

  const level = signals.reduce<RiskLevel>((max, s) => (riskRank(s.level) > riskRank(max) ? s.level : max), 'LOW');
  const reasons = signals.filter((s) => s.level === level).map((s) => s.reason);
  const strategy = STRATEGY_FOR[level];
  const blastRadius = blastRadiusOf({ ...change, files }, opts.components);

  return {
    level,
    ...(escalation ? { escalation } : {}),
    ...(irreversible ? { irreversibleMigration: irreversible } : {}),
    reasons,
    signals,
    change: {
      files: change.files.length,
      insertions: sum(change.files.map((f) => f.insertions)),
      deletions: sum(change.files.map((f) => f.deletions)),
      configOnly,
      tests: tests.map((f) => f.path),
      criticalAreas,
      newFeature,
      migrations: migrations.map((f) => f.path),
    },
    blastRadius,
    strategy,
    alternatives: alternativesFor(strategy, level, { configOnly, newFeature, migrations: migrations.length > 0 }),
  };
}

function alternativesFor(chosen: Strategy, level: RiskLevel, facts: { configOnly: boolean; newFeature: boolean; migrations: boolean }): Alternative[] {
  return (Object.values(Strategy) as Strategy[])
    .filter((s) => s !== chosen)
    .map((s) => {
      const needs = levelOf(s);
      let whyNot: string;
      if (riskRank(needs) > riskRank(level)) {
        whyNot = `Not needed here: ${level} risk does not justify it`;
        if (s === 'feature-flag' && !facts.newFeature) whyNot += ' (no new feature to put behind a flag)';
        if (s === 'blue-green' && !facts.migrations) whyNot += ' (no schema or data migration)';
      } else whyNot = `Not safe enough here: ${level} risk needs at least ${STRATEGY_FOR[level]}`;
      return { strategy: s, whenToUse: WHEN_TO_USE[s], whyNot };
    });
}

function blastRadiusOf(change: ChangeSet, components: Readonly<Record<string, string>>): BlastRadius {
  const mapped = Object.entries(components).map(([glob, name]) => ({ re: globToRegExp(glob), name }));
  const componentOf = (path: string): string => {
    const hit = mapped.find((m) => m.re.test(path));
    if (hit) return hit.name;
    const slash = path.indexOf('/');
    return slash > 0 ? `${path.slice(0, slash)}/` : '(repository root)';
  };
  const affected = [...new Set(change.files.map((f) => componentOf(f.path)))].sort();
  const universe = mapped.length > 0 ? [...new Set(mapped.map((m) => m.name))] : change.topLevel.map((d) => `${d}/`);
  const notAffected = universe.filter((c) => !affected.includes(c)).sort();
  const size = affected.length <= 1 && change.files.length < RISK_THRESHOLDS.mediumFiles ? 'SMALL' : affected.length <= 3 ? 'MEDIUM' : 'LARGE';
  return { size, affected, notAffected };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
function listPaths(paths: string[], max = 5): string {
  const shown = paths.slice(0, max).map((p) => `\`${p}\``).join(', ');
  return paths.length > max ? `${shown} and ${paths.length - max} more` : shown;
}
