import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { workflowsPath } from '../../src/worker/worker';

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
