/**
 * History budget: events per monitored hour of a canary analysed every INTERVAL (default 10 s), on
 * the time-skipping server with the workflow's real code and fake activities (the monitor reports
 * at once; the workflow's own timers carry the bake's HOURS, default 6). Target: at most 200.
 * Writes bench/results/history.json.
 */
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { releaseWorkflow } from '../src/workflows';
import { workflowsPath } from '../src/worker/worker';
import { fakeActivities, fakeReleaseInput, mediumChange } from '../test/helpers/fake-activities';
import { timeSkippingEnv } from '../test/helpers/servers';
import { main, round, writeResult } from './lib';

const HOURS = Number(process.env.HOURS ?? 6);
const INTERVAL = process.env.INTERVAL ?? '10s';
const TARGET = 200;

main(async () => {
  const env = await timeSkippingEnv();
  const bundle = await bundleWorkflowCode({ workflowsPath, logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never });
  const { activities } = fakeActivities({ change: mediumChange });
  const input = fakeReleaseInput('history-budget', 'checkout', {
    bake: { staging: '0s' },
    canary: { steps: [{ weight: 5, bake: `${HOURS}h` }, { weight: 100, bake: '0s' }] },
    analysis: { prometheus: { address: 'http://prometheus.test' }, interval: INTERVAL, metrics: [{ name: 'errors', query: 'sum(up)', failureCondition: 'result < 1' }] },
  });
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: 'history', workflowBundle: bundle, activities });
  const events = await worker.runUntil(async () => {
    const handle = await env.client.workflow.start(releaseWorkflow, { taskQueue: 'history', workflowId: 'history-budget', args: [input] });
    // Time moves an hour at a time; the result is read from the history (see the analysis tests).
    for (let h = 0; h <= HOURS; h++) await env.sleep('1 hour');
    const history = await handle.fetchHistory();
    const last = history.events!.at(-1)!;
    if (!last.workflowExecutionCompletedEventAttributes) throw new Error(`the release did not finish: last event ${last.eventType}`);
    return history.events!.length;
  });
  await env.teardown();
  const perHour = events / HOURS;
  writeResult('history', {
    parameters: { monitoredHours: HOURS, interval: INTERVAL, server: 'Java time-skipping test server', activities: 'fake (the workflow code is real)' },
    events,
    eventsPerMonitoredHour: round(perHour),
    targetPerHour: TARGET,
    meetsTarget: perHour <= TARGET,
  });
});
