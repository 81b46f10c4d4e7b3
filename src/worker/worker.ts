import { createServer } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { type CountReleases, serveMetrics, WorkerMetrics } from './metrics';
import { connectClient, connectionOptions, ensureFreezeRegistry, fleetOrders, registerStateAttribute, sharedFreezeReads, targetStates } from '../connection/client';
import { RELEASE_STATE_ATTRIBUTE, RELEASE_WORKFLOW } from '../workflows/messages';
import { createActivities, type ActivityDeps, defaultDeps } from '../activities';
import { DEFAULT_TASK_QUEUE } from '../connection/settings';
import { dataConverterFromEnv } from '../connection/codec';
import type { DataConverter } from '@temporalio/common';
import { workerPolicyFromEnv } from '../evidence/policy-file';

export const workflowsPath = require.resolve('../workflows');

/** A release worker on a connection; tests pass their own connection, activities or bundle. */
export async function createReleaseWorker(opts: {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  deps?: ActivityDeps;
  activities?: object;
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** The payload codec of ROLLGATE_CODEC_KEY(S), when set: the CLI must have the same keys. */
  dataConverter?: DataConverter;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue ?? DEFAULT_TASK_QUEUE,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath }),
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
    activities: opts.activities ?? createActivities(opts.deps ?? workerDeps()),
    // On SIGINT/SIGTERM, running activities get this long to finish or heartbeat out.
    shutdownGraceTime: '30 seconds',
    // Every monitored bake holds an activity slot for its whole length (the SDK's default is 100).
    maxConcurrentActivityTaskExecutions: positiveInt(process.env, 'ROLLGATE_MAX_CONCURRENT_ACTIVITIES', 2000),
    // Each cached release holds about 1.3 MiB of the workflow thread's heap (its own copy of the bundle's modules, zod
    // and the schemas chiefly); past the cache, a release replays its (short) history on its next task.
    maxCachedWorkflows: maxCachedWorkflows(process.env),
    // Production: a bundle built ahead (npm run build:workflows) starts faster and never bundles at run time.
    ...(opts.workflowBundle ? {} : prebuiltBundle()),
  });
}

/** The real activities' dependencies, with the worker's own release policy (ROLLGATE_POLICY): an invalid one stops the worker. */
export function workerDeps(env: NodeJS.ProcessEnv = process.env): ActivityDeps {
  const policy = workerPolicyFromEnv(env);
  return { ...defaultDeps(), ...(policy ? { policy } : {}) };
}

const maxCachedWorkflows = (env: NodeJS.ProcessEnv) => positiveInt(env, 'ROLLGATE_MAX_CACHED_WORKFLOWS', 60);

/**
 * Caps the V8 heap of the workflow thread, which the SDK starts in Worker.create: V8 reads the limit
 * when it creates a thread's isolate, so the main thread keeps its own. That thread's live heap is
 * bounded by the cache (about 1.3 MiB per cached release plus some 30 MiB: the bundle, its source
 * map, the SDK); with V8's default limit (up to 4 GiB, from the machine's memory) V8 lets
 * it grow to four times that during bursts of replays, with a smaller one it collects sooner.
 * ROLLGATE_WORKFLOW_HEAP_MIB (0 keeps V8's limit), by default 128 MiB plus 2 MiB per cached release.
 */
export function capWorkflowThreadHeap(env: NodeJS.ProcessEnv): number {
  if (env.ROLLGATE_WORKFLOW_HEAP_MIB?.trim() === '0') return 0;
  const mib = positiveInt(env, 'ROLLGATE_WORKFLOW_HEAP_MIB', 128 + 2 * maxCachedWorkflows(env));
  setFlagsFromString(`--max-old-space-size=${mib}`);
  return mib;
}

export function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 2) throw new Error(`${name}: "${raw}" is not a whole number of 2 or more`);
  return n;
}

function prebuiltBundle(): Partial<WorkerOptions> {
  const codePath = process.env.ROLLGATE_WORKFLOW_BUNDLE;
  if (!codePath) return {};
  return { workflowBundle: { codePath }, workflowsPath: undefined };
}

/** A free loopback port for the SDK's own Prometheus exporter, which rollgate's /metrics appends. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** `rollgate worker`: connects with the usual Temporal settings and runs until SIGINT or SIGTERM. */
export async function runWorker(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { settings, options } = connectionOptions(env);
  const sdkPort = await freeLoopbackPort();
  Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkPort}` } } } });
  const [host, port] = splitAddress(env.ROLLGATE_METRICS_ADDRESS ?? '0.0.0.0:9464');
  const visibility = await connectClient(env);
  const metrics = new WorkerMetrics(await releaseCounter(visibility.client));
  // Releases subscribe to the freezes from their start: the registry is there before the first freeze.
  await ensureFreezeRegistry(visibility.client, settings.taskQueue).catch((e) => console.error(`rollgate worker: cannot start the freeze registry (${(e as Error).message}); rollgate freeze fails until one does`));
  const connection = await NativeConnection.connect(options);
  try {
    capWorkflowThreadHeap(env);
    const dataConverter = dataConverterFromEnv(env);
    const worker = await createReleaseWorker({ connection, namespace: settings.namespace, taskQueue: settings.taskQueue, deps: { ...workerDeps(), telemetry: metrics, freezes: sharedFreezeReads(visibility.client), fleetOrders: (release) => fleetOrders(visibility.client, release), targetStates: (targets) => targetStates(visibility.client, targets) }, ...(dataConverter ? { dataConverter } : {}) });
    const server = await serveMetrics({ host, port, metrics, sdkMetricsUrl: `http://127.0.0.1:${sdkPort}/metrics`, healthy: () => worker.getState() === 'RUNNING' });
    const bound = (server.address() as { port: number }).port;
    console.error(`rollgate worker: ${settings.address} namespace ${settings.namespace}, task queue ${settings.taskQueue}; /healthz and /metrics on ${host}:${bound}${dataConverter ? '; payloads encrypted' : ''}`);
    try {
      await worker.run(); // the SDK's Runtime shuts the worker down gracefully on SIGINT/SIGTERM
    } finally {
      server.close();
    }
  } finally {
    await connection.close();
    await visibility.close();
  }
}

/** Counts running releases by state through visibility, once the state search attribute is registered. */
async function releaseCounter(client: Awaited<ReturnType<typeof connectClient>>['client']): Promise<CountReleases | undefined> {
  const r = await registerStateAttribute(client);
  if (!r.registered) {
    console.error(`rollgate worker: cannot register the RollgateState search attribute (${r.why}); /metrics leaves out the pending-approvals gauge. Register it: temporal operator search-attribute create --name ${RELEASE_STATE_ATTRIBUTE.name} --type Keyword`);
    return undefined;
  }
  return async (state) => {
    try {
      const { count } = await client.workflow.count(`WorkflowType = '${RELEASE_WORKFLOW}' AND ExecutionStatus = 'Running' AND ${RELEASE_STATE_ATTRIBUTE.name} = '${state}'`);
      return count;
    } catch {
      return undefined;
    }
  };
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`ROLLGATE_METRICS_ADDRESS: "${address}" is not host:port`);
  return [address.slice(0, i) || '0.0.0.0', port];
}
