import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import type { ReleaseInput, ReleaseResult, ReleaseStatus } from '../../src/domain/release';
import { abortUpdate, statusQuery } from '../../src/workflows/messages';
import { releaseWorkflow } from '../../src/workflows';
import { timeSkippingEnv } from '../helpers/servers';
import { bundleQuietly, workerOn } from '../helpers/workflow-worker';
import { recordHistories } from '../helpers/history';
import { waitForQuiet } from '../helpers/status';
import { fakeActivities, fakeReleaseInput, mediumChange } from '../helpers/fake-activities';

const MIN = 60_000;
const HOUR = 60 * MIN;
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** A cron expression (UTC) for the minute `ms` falls in: a window that starts then. */
const cronAt = (ms: number) => {
  const d = new Date(ms);
  return `${d.getUTCMinutes()} ${d.getUTCHours()} * * ${WEEKDAYS[d.getUTCDay()]}`;
};
const minute = (ms: number) => Math.floor(ms / MIN) * MIN;
/** The run kept as a replay fixture. */
const RECORDED = 'closes-mid-release';

describe('deployment windows (time-skipping server, fake activities)', () => {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;
  before(async () => {
    env = await timeSkippingEnv();
    bundle = await bundleQuietly();
  });
  after(async () => {
    await recordHistories(env, [RECORDED]);
    await env?.teardown();
  });
  const withWorker = workerOn(() => env, () => bundle, 'windows');
  const releaseInput = (id: string, config: object): ReleaseInput => fakeReleaseInput(id, 'checkout', { bake: { staging: '0s' }, ...config });

  /** Moves the server's clock until `pred` holds, an hour at most per step; fails past `limitMs`. */
  async function reach(handle: WorkflowHandle, pred: (s: ReleaseStatus) => boolean, stepMs: number, limitMs: number): Promise<ReleaseStatus> {
    for (let moved = 0; ; moved += stepMs) {
      const s = await handle.query(statusQuery);
      if (pred(s)) return s;
      assert.ok(moved < limitMs, `not reached within ${limitMs / HOUR} h of server time; state ${s.state}, step ${s.currentStep}`);
      await env.sleep(stepMs);
    }
  }
  const ended = (s: ReleaseStatus) => s.state === 'finished';
  const result = async (handle: WorkflowHandle) => (await handle.result()) as ReleaseResult;
  const stepStart = (s: ReleaseStatus, name: string) => Date.parse(s.steps.find((x) => x.name === name)!.startedAt);

  it('a release started just as a 64-hour weekend deny window begins waits before its first phase until the window ends, and says why', async () => {
    const { activities, calls } = fakeActivities({});
    const start = minute(await env.currentTimeMs());
    const weekend = { timeZone: 'UTC', deny: [{ cron: cronAt(start), duration: '64h' }] };
    const status = await withWorker(activities, async (taskQueue) => {
      const handle = await env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'weekend', args: [releaseInput('weekend', { windows: weekend })] });
      const waiting = await reach(handle, (s) => s.state === 'waiting-for-window', MIN, HOUR);
      assert.equal(waiting.window!.opensAt, new Date(start + 64 * HOUR).toISOString());
      assert.match(waiting.window!.reason, /^closed: inside deny window cron \d+ \d+ \* \* [A-Z]{3}, until \S+ \(2d1[56]h(\d+m)?(\d+s)? from now, UTC\)$/);
      assert.equal(calls.deploys.length, 0, 'nothing deployed in the deny window');
      const done = await reach(handle, ended, HOUR, 80 * HOUR);
      assert.equal((await result(handle)).outcome, 'released');
      return done;
    });
    const wait = status.steps.find((s) => s.name === 'staging-deploy: deployment window')!;
    assert.equal(wait.status, 'done');
    assert.match(wait.detail!, /^closed: inside deny window cron /);
    assert.ok(stepStart(status, 'staging-deploy: deploy staging') >= start + 64 * HOUR, 'staging deployed once the window ended');
  });

  it('a window that closes mid-release holds it at the next phase boundary, its live canary watched, and it goes on when the window ends', async () => {
    const { activities, calls } = fakeActivities({ change: mediumChange });
    // The 5% bake (30 min) runs into a 2-hour deny window that starts 20 minutes in.
    const denyFrom = minute(await env.currentTimeMs()) + 20 * MIN;
    const config = { windows: { deny: [{ cron: cronAt(denyFrom), duration: '2h' }] }, canary: { steps: [5, 50, 100].map((weight) => ({ weight, bake: '30m' })) }, analysis: { interval: '1m', metrics: [{ name: 'errors', query: 'sum(errors)', failureCondition: 'result > 0.05' }] } };
    const status = await withWorker(activities, async (taskQueue) => {
      const handle = await env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'closes-mid-release', args: [releaseInput('closes-mid-release', config)] });
      const held = await reach(handle, (s) => s.state === 'waiting-for-window', 5 * MIN, 2 * HOUR);
      assert.equal(held.window!.opensAt, new Date(denyFrom + 2 * HOUR).toISOString());
      assert.equal(held.watching?.reason, 'window');
      assert.equal(held.watching?.phase, 'production-canary-5 (window)', 'the 5% canary is watched while it waits');
      assert.deepEqual(calls.deploys.map((d) => d.weight), [100, 5], 'not past 5%');
      await reach(handle, ended, HOUR, 30 * HOUR);
      return handle.query(statusQuery);
    });
    const bake5 = status.steps.find((s) => s.name.startsWith('production-canary-5: bake'))!;
    assert.equal(bake5.status, 'done', 'the bake under way when the window closed ran to its end');
    assert.ok(stepStart(status, 'production-canary-50: set-weight production 50%') >= denyFrom + 2 * HOUR);
    assert.ok(calls.monitors.some((m) => m.watch && m.phase === 'production-canary-5 (window)'));
    assert.equal(status.outcome, 'released');
  });

  it('an abort while waiting for a window rolls back at once', async () => {
    const { activities, calls } = fakeActivities({ change: mediumChange });
    const denyFrom = minute(await env.currentTimeMs()) + 20 * MIN;
    const config = { windows: { deny: [{ cron: cronAt(denyFrom), duration: '12h' }] }, canary: { steps: [5, 50, 100].map((weight) => ({ weight, bake: '30m' })) } };
    const r = await withWorker(activities, async (taskQueue) => {
      const handle = await env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'abort-in-window', args: [releaseInput('abort-in-window', config)] });
      await reach(handle, (s) => s.state === 'waiting-for-window', 5 * MIN, 2 * HOUR);
      await waitForQuiet(handle);
      await handle.executeUpdate(abortUpdate, { args: [{ reason: 'not today', by: 'sre' }] });
      return result(handle);
    });
    assert.equal(r.outcome, 'rolled_back');
    assert.match(r.reason!, /aborted by sre: not today/);
    assert.deepEqual(calls.rollbacks.map((x) => x.stage), ['production', 'staging']);
  });
});
