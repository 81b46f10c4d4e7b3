import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { after, before } from 'node:test';
import { workflowsPath } from '../../src/worker/worker';
import { recordHistories } from './history';
import { timeSkippingEnv } from './servers';

/** The workflow bundle, built once per test file; the bundler says nothing but errors. */
export const bundleQuietly = (): Promise<WorkflowBundleWithSourceMap> =>
  bundleWorkflowCode({ workflowsPath, logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never });

/**
 * Runs a test's steps with a worker of the given (fake) activities on a task queue of its own
 * (`<prefix>-<n>`), on the file's server and bundle, which exist once `before` has run.
 */
export function workerOn(env: () => TestWorkflowEnvironment, bundle: () => WorkflowBundleWithSourceMap, prefix: string) {
  let n = 0;
  return async <T>(activities: object, fn: (taskQueue: string) => Promise<T>): Promise<T> => {
    const taskQueue = `${prefix}-${++n}`;
    const worker = await Worker.create({ connection: env().nativeConnection, taskQueue, workflowBundle: bundle(), activities });
    return worker.runUntil(fn(taskQueue));
  };
}

/**
 * A test file's time-skipping server and workflow bundle: started in `before`, torn down in
 * `after` once the runs named in `recorded` are written as replay fixtures (when asked to).
 * `withWorker` runs a test's steps with a worker of its (fake) activities on a task queue of its own.
 */
export function timeSkippingSuite(prefix: string, recorded: readonly string[] = []) {
  let env: TestWorkflowEnvironment | undefined;
  let bundle: WorkflowBundleWithSourceMap | undefined;
  before(async () => {
    env = await timeSkippingEnv();
    bundle = await bundleQuietly();
  });
  after(async () => {
    if (env) await recordHistories(env, recorded);
    await env?.teardown();
  });
  return {
    get env(): TestWorkflowEnvironment {
      return env!;
    },
    get bundle(): WorkflowBundleWithSourceMap {
      return bundle!;
    },
    withWorker: workerOn(() => env!, () => bundle!, prefix),
  };
}
