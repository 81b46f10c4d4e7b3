import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps, defaultDeps } from '../activities';
import { readFileSync } from 'node:fs';
import { connectionSettings, DEFAULT_TASK_QUEUE, tlsOptions } from '../domain/connection';

export const workflowsPath = require.resolve('../workflows');

/** A release worker on a connection; tests pass their own connection, activities or bundle. */
export async function createReleaseWorker(opts: {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  deps?: ActivityDeps;
  activities?: object;
  workflowBundle?: WorkerOptions['workflowBundle'];
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue ?? DEFAULT_TASK_QUEUE,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath }),
    activities: opts.activities ?? createActivities(opts.deps ?? defaultDeps()),
  });
}

/** `rollgate worker`: connects with the usual Temporal settings and runs until SIGINT or SIGTERM. */
export async function runWorker(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const settings = connectionSettings(env);
  const tls = tlsOptions(settings, (path) => readFileSync(path));
  const connection = await NativeConnection.connect({
    address: settings.address,
    ...(tls ? { tls } : {}),
    ...(settings.apiKeyVar ? { apiKey: env[settings.apiKeyVar] as string } : {}),
  });
  try {
    const worker = await createReleaseWorker({ connection, namespace: settings.namespace, taskQueue: settings.taskQueue });
    console.error(`rollgate worker: ${settings.address} namespace ${settings.namespace}, task queue ${settings.taskQueue}`);
    await worker.run(); // the SDK's Runtime shuts the worker down gracefully on SIGINT/SIGTERM
  } finally {
    await connection.close();
  }
}
