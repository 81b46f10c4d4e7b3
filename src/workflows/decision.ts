import { Decision } from '../domain/enums';
import { evaluateRelease } from '../domain/evaluate';
import { planFacts } from '../domain/plan-gates';
import type { DecisionResult } from '../domain/release';
import { writeRecord } from './decision-record';
import { failureMessage, type ReleaseRun } from './run-state';

/**
 * The prerequisites and the change set, read side by side on this worker; the decision; the first
 * record. A change set that cannot be read escalates instead of failing the release.
 */
export async function decide(run: ReleaseRun): Promise<DecisionResult> {
  const { input, acts } = run;
  const planned = planFacts(run.config, { version: run.previousVersion, given: input.previousVersion !== undefined });
  const readGates = () =>
    run.step('prerequisites', () => acts.local.checkPrerequisites({ repo: input.repo, base: input.base, head: input.head, reportsDir: input.reportsDir, junit: input.junit, plan: planned, outDir: run.outDir, ...(input.refs ? { refs: input.refs } : {}) }), (g) =>
      g.prerequisites.map((p) => `${p.name} ${p.passed ? 'ok' : 'FAILED'}`).join(', '),
    );
  let changeSetError: string | undefined;
  const readChange = async () => {
    try {
      run.change = await run.step('change set', () => acts.local.readChangeSet({ repo: input.repo, base: input.base, head: input.head, migrations: run.config.risk.migrations }), (c) =>
        `${c.files.length} files, ${c.commits.length} commits`,
      );
    } catch (e) {
      changeSetError = failureMessage(e);
    }
  };
  // The rollback estimate only: an unreadable ledger costs the measured figure, never the release.
  const readRestores = async () => {
    run.restoreHistory = await acts.local.restoreHistory({ outDir: run.outDir, service: input.service }).catch(() => undefined);
  };
  [run.gates] = await Promise.all([readGates(), readChange(), readRestores()]);
  const decision = evaluateRelease(run.gates, run.change, run.config, input.usersAffected, changeSetError, run.approverProblem);
  const { risk, plan } = decision;
  run.decision = decision;
  run.status.decision = decision.decision;
  if (risk) {
    run.status.riskLevel = risk.level;
    run.status.strategy = risk.strategy;
  }
  const goesAhead = risk && plan && decision.decision !== Decision.ABORTED ? { strategy: risk.strategy, risk: risk.level } : undefined;
  const took = { decision: decision.decision, seconds: (Date.now() - Date.parse(run.startedAt)) / 1000 };
  await run.step('decision record', () => writeRecord(run, undefined, { ...(goesAhead ? { decided: goesAhead } : {}), decision: took }), () =>
    `${decision.decision}${risk ? `, ${risk.level} → ${risk.strategy}` : ''}`,
  );
  return decision;
}
