import { join } from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { FailureType } from '../domain/enums';
import type { LedgerEntry } from '../domain/ledger';
import type { CommandVars } from '../domain/command';
import { type Deployer, CommandDeployer, DeployError, type DeployResult } from './deployer';
import { checkPrerequisites, type GateInput } from './gates';
import { readChangeSet } from './git';
import { smokeTest } from './smoke';
import { FileLedgerStore, type LedgerStore, writeRecord } from './store';

export interface ActivityDeps {
  deployer: Deployer;
  /** The ledger of an output folder. */
  ledger: (outDir: string) => LedgerStore;
}

export const defaultDeps = (): ActivityDeps => ({
  deployer: new CommandDeployer(),
  ledger: (outDir) => new FileLedgerStore(join(outDir, 'ledger.jsonl')),
});

export interface StepInput extends CommandVars {
  command: readonly string[];
  cwd: string;
  timeoutMs: number;
  outDir: string;
}

/** Side effects of a release. Each one that changes something takes an idempotency key (release ID + step). */
export function createActivities(deps: ActivityDeps = defaultDeps()) {
  const applyStep = async (input: StepInput, failureType: string): Promise<DeployResult> => {
    const ctx = Context.current();
    try {
      return await deps.deployer.apply(
        { ...input, logDir: join(input.outDir, 'logs'), stateDir: join(input.outDir, '.rollgate') },
        { signal: ctx.cancellationSignal, heartbeat: () => ctx.heartbeat() },
      );
    } catch (e) {
      if (e instanceof DeployError) throw ApplicationFailure.create({ message: e.message, type: failureType, nonRetryable: !e.retryable });
      throw e;
    }
  };

  return {
    async checkPrerequisites(input: GateInput) {
      return checkPrerequisites(input);
    },

    async readChangeSet(input: { repo: string; base: string; head: string; migrations: string[] }) {
      return readChangeSet(input.repo, input.base, input.head, input.migrations);
    },

    async writeDecisionRecord(input: { outDir: string; fileName: string; releaseId: string; content: string }): Promise<string> {
      return writeRecord(input.outDir, input.fileName, input.releaseId, input.content);
    },

    async deploy(input: StepInput): Promise<DeployResult> {
      return applyStep(input, FailureType.DEPLOY_FAILED);
    },

    async rollback(input: StepInput): Promise<DeployResult> {
      return applyStep(input, FailureType.ROLLBACK_FAILED);
    },

    async smokeTest(input: { url: string; timeoutMs?: number }): Promise<string> {
      const res = await smokeTest(input.url, input.timeoutMs);
      if (!res.ok) throw ApplicationFailure.create({ message: `smoke test failed: ${res.detail}`, type: FailureType.SMOKE_TEST_FAILED });
      return res.detail;
    },

    async recordLedger(input: { outDir: string; entry: LedgerEntry }): Promise<{ written: boolean }> {
      return deps.ledger(input.outDir).append(input.entry);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
