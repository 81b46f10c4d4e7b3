import { it } from 'node:test';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { releaseWorkflow } from '../src/workflows';
import { workflowsPath } from '../src/worker/worker';
import { timeSkippingEnv } from './helpers/servers';
import { fakeActivities, mediumChange } from './helpers/fake-activities';

const analysis = {
  interval: '10s', inconclusiveTimeout: '2h', verifyWindow: '5m',
  metrics: [ { name: 'error-rate', query: 'x', failureCondition: 'result > 0.05', successCondition: 'result <= 0.01' } ],
};
it('dbg', async () => {
  const env = await timeSkippingEnv();
  const bundle = await bundleWorkflowCode({ workflowsPath, logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never });
  const { activities } = fakeActivities({ change: mediumChange });
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: 'q', workflowBundle: bundle, activities });
  await worker.runUntil(async () => {
    const h = await env.client.workflow.start(releaseWorkflow, { taskQueue: 'q', workflowId: 'x', args: [{ releaseId: 'x', service: 'checkout', repo: '/repo', base: 'main', head: 'feature', reportsDir: '/r', outDir: '/r', version: 'v2', previousVersion: 'v1', config: { bake: { staging: '0s' }, analysis } }] });
    const p = h.result();
    await Promise.race([p, new Promise((r) => setTimeout(r, 15000))]);
    const hist = await h.fetchHistory();
    console.log('DBG', new Date(await env.currentTimeMs()).toISOString(), hist.events!.length, hist.events!.slice(-12).map((e) => `${e.eventType}@${e.eventTime?.seconds}`).join(','));
  });
  await env.teardown();
});
