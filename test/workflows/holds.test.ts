import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ReleaseInput, ReleaseResult, ReleaseStatus } from '../../src/domain/release';
import { abortUpdate, FREEZE_REGISTRY_ID, freezesChangedSignal, freezesQuery, freezeUpdate, overrideUpdate, pauseUpdate, promoteUpdate, resumeUpdate, statusQuery, unfreezeUpdate } from '../../src/workflows/messages';
import { freezeRegistryWorkflow, releaseWorkflow } from '../../src/workflows';
import { currentFreezes } from '../../src/connection/client';
import { timeSkippingSuite } from '../helpers/workflow-worker';
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
const ended = (s: ReleaseStatus) => s.state === 'finished';

/** Moves the server's clock until `pred` holds, `stepMs` at a time; fails past `limitMs`. */
async function reachOn(env: TestWorkflowEnvironment, handle: WorkflowHandle, pred: (s: ReleaseStatus) => boolean, stepMs: number, limitMs: number): Promise<ReleaseStatus> {
  for (let moved = 0; ; moved += stepMs) {
    const s = await handle.query(statusQuery);
    if (pred(s)) return s;
    assert.ok(moved < limitMs, `not reached within ${limitMs / HOUR} h of server time; state ${s.state}, step ${s.currentStep}`);
    await env.sleep(stepMs);
  }
}
/** The run kept as a replay fixture. */
const RECORDED = 'closes-mid-release';

describe('holds: deployment windows and freezes (time-skipping server, fake activities)', () => {
  const suite = timeSkippingSuite('windows', [RECORDED]);
  const { withWorker } = suite;
  const releaseInput = (id: string, config: object): ReleaseInput => fakeReleaseInput(id, 'checkout', { bake: { staging: '0s' }, ...config });

  const reach = (handle: WorkflowHandle, pred: (s: ReleaseStatus) => boolean, stepMs: number, limitMs: number) => reachOn(suite.env, handle, pred, stepMs, limitMs);
  const result = async (handle: WorkflowHandle) => (await handle.result()) as ReleaseResult;
  const stepStart = (s: ReleaseStatus, name: string) => Date.parse(s.steps.find((x) => x.name === name)!.startedAt);

  it('a release started on a Friday at 17:00 in Berlin, under the README\'s windows, waits for Monday\'s window at 09:00', async () => {
    const { activities, calls } = fakeActivities({});
    const berlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    /** The next whole hour from `from` that is `weekday` at `hour` in Berlin. */
    const next = (from: number, weekday: string, hour: string) => {
      for (let t = Math.ceil(from / HOUR) * HOUR; ; t += HOUR) if (berlin.format(t) === `${weekday} ${hour}:00`) return t;
    };
    const friday = next(await suite.env.currentTimeMs(), 'Fri', '17');
    const monday = next(friday, 'Mon', '09');
    await suite.env.sleep(friday - (await suite.env.currentTimeMs()) + 30_000);
    const windows = { timeZone: 'Europe/Berlin', allow: [{ rrule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9', duration: '8h' }], deny: [{ cron: '0 17 * * FRI', duration: '64h' }] };
    const status = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'friday-evening', args: [releaseInput('friday-evening', { windows })] });
      const waiting = await reach(handle, (s) => s.state === 'waiting-for-window', MIN, HOUR);
      assert.equal(waiting.window!.opensAt, new Date(monday).toISOString());
      assert.equal(calls.deploys.length, 0, 'nothing deployed over the weekend');
      await reach(handle, ended, HOUR, 80 * HOUR);
      assert.equal((await result(handle)).outcome, 'released');
      return handle.query(statusQuery);
    });
    assert.ok(stepStart(status, 'staging-deploy: deploy staging') >= monday, 'staging deployed on Monday at 09:00 or later');
    assert.ok(stepStart(status, 'staging-deploy: deploy staging') < monday + HOUR, 'and not much later');
  });

  it('a release started just as a 64-hour weekend deny window begins waits before its first phase until the window ends, and says why', async () => {
    const { activities, calls } = fakeActivities({});
    const start = minute(await suite.env.currentTimeMs());
    const weekend = { timeZone: 'UTC', deny: [{ cron: cronAt(start), duration: '64h' }] };
    const status = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'weekend', args: [releaseInput('weekend', { windows: weekend })] });
      const waiting = await reach(handle, (s) => s.state === 'waiting-for-window', MIN, HOUR);
      assert.equal(waiting.window!.opensAt, new Date(start + 64 * HOUR).toISOString());
      assert.match(waiting.window!.reason, /^closed: inside deny window cron \d+ \d+ \* \* [A-Z]{3}, until \S+ \(2d1[56]h(\d+m)?(\d+s)? from now\)$/);
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
    const denyFrom = minute(await suite.env.currentTimeMs()) + 20 * MIN;
    const config = { windows: { deny: [{ cron: cronAt(denyFrom), duration: '2h' }] }, canary: { steps: [5, 50, 100].map((weight) => ({ weight, bake: '30m' })) }, analysis: { interval: '1m', metrics: [{ name: 'errors', query: 'sum(errors)', failureCondition: 'result > 0.05' }] } };
    const status = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'closes-mid-release', args: [releaseInput('closes-mid-release', config)] });
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
    const denyFrom = minute(await suite.env.currentTimeMs()) + 20 * MIN;
    const config = { windows: { deny: [{ cron: cronAt(denyFrom), duration: '12h' }] }, canary: { steps: [5, 50, 100].map((weight) => ({ weight, bake: '30m' })) } };
    const r = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'abort-in-window', args: [releaseInput('abort-in-window', config)] });
      await reach(handle, (s) => s.state === 'waiting-for-window', 5 * MIN, 2 * HOUR);
      await waitForQuiet(handle);
      await handle.executeUpdate(abortUpdate, { args: [{ reason: 'not today', by: 'sre' }] });
      return result(handle);
    });
    assert.equal(r.outcome, 'rolled_back');
    assert.match(r.reason!, /aborted by sre: not today/);
    assert.deepEqual(calls.rollbacks.map((x) => x.stage), ['production', 'staging']);
  });

  /** A deny window every day from 20 minutes from now, for 2 hours, into which the 5% bake (30 min) runs. */
  async function dailyDenyWindow() {
    const denyFrom = minute(await suite.env.currentTimeMs()) + 20 * MIN;
    const d = new Date(denyFrom);
    const config = { windows: { deny: [{ cron: `${d.getUTCMinutes()} ${d.getUTCHours()} * * *`, duration: '2h' }] }, canary: { steps: [5, 50, 100].map((weight) => ({ weight, bake: '30m' })) } };
    return { denyFrom, config };
  }

  it('a pause during a window wait holds the release past the window, and on resume the window is checked again', async () => {
    const { activities, calls } = fakeActivities({ change: mediumChange });
    const { denyFrom, config } = await dailyDenyWindow();
    const status = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'pause-in-window', args: [releaseInput('pause-in-window', config)] });
      await reach(handle, (s) => s.state === 'waiting-for-window', 5 * MIN, 2 * HOUR);
      await waitForQuiet(handle);
      await handle.executeUpdate(pauseUpdate, { args: [{ by: 'sre', reason: 'incident elsewhere' }] });
      await reach(handle, (s) => s.state === 'paused', MIN, HOUR);
      // Past this window's end and into the next day's: still paused, nothing past 5%.
      await suite.env.sleep(denyFrom + 24 * HOUR + 30 * MIN - (await suite.env.currentTimeMs()));
      assert.equal((await handle.query(statusQuery)).state, 'paused');
      assert.deepEqual(calls.deploys.map((d) => d.weight), [100, 5]);
      await waitForQuiet(handle);
      await handle.executeUpdate(resumeUpdate, { args: [{ by: 'sre' }] });
      const again = await reach(handle, (s) => s.state === 'waiting-for-window', MIN, HOUR);
      assert.equal(again.window!.opensAt, new Date(denyFrom + 26 * HOUR).toISOString(), 'resumed inside the next window: it waits for its end');
      await reach(handle, ended, HOUR, 10 * HOUR);
      return handle.query(statusQuery);
    });
    assert.equal(status.outcome, 'released');
    assert.ok(stepStart(status, 'production-canary-50: set-weight production 50%') >= denyFrom + 26 * HOUR);
  });

  it('promote --full while waiting for a window skips the intermediate phases once it opens; a plain promote is refused', async () => {
    const { activities, calls } = fakeActivities({ change: mediumChange });
    const { denyFrom, config } = await dailyDenyWindow();
    const status = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'promote-in-window', args: [releaseInput('promote-in-window', config)] });
      await reach(handle, (s) => s.state === 'waiting-for-window', 5 * MIN, 2 * HOUR);
      await waitForQuiet(handle);
      await assert.rejects(handle.executeUpdate(promoteUpdate, { args: [{ by: 'sre' }] }), (e: Error & { cause?: Error }) =>
        /nothing to promote: the release is waiting-for-window, not baking/.test(e.cause?.message ?? ''),
      );
      await handle.executeUpdate(promoteUpdate, { args: [{ by: 'sre', full: true }] });
      assert.equal((await handle.query(statusQuery)).state, 'waiting-for-window', 'the promotion waits for the window too');
      await reach(handle, ended, HOUR, 10 * HOUR);
      return handle.query(statusQuery);
    });
    assert.equal(status.outcome, 'released');
    assert.deepEqual(calls.deploys.map((d) => d.weight), [100, 5, 100], 'the 50% phase skipped');
    assert.ok(status.steps.some((s) => s.name === 'production-canary-50: skipped (promoted to 100%)'));
    assert.ok(stepStart(status, 'production-canary-100: promote production') >= denyFrom + 2 * HOUR, 'promoted once the window ended');
  });

  it('an override breaks a deployment window: the phase starts at once, and the override is kept with who and why', async () => {
    const { activities, calls } = fakeActivities({ change: mediumChange });
    const { denyFrom, config } = await dailyDenyWindow();
    const status = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'override-window', args: [releaseInput('override-window', config)] });
      await reach(handle, (s) => s.state === 'waiting-for-window', 5 * MIN, 2 * HOUR);
      await waitForQuiet(handle);
      await assert.rejects(handle.executeUpdate(overrideUpdate, { args: [{ by: 'sre' } as never] }), (e: Error & { cause?: Error }) => /reason: /.test(e.cause?.message ?? ''));
      const r = await handle.executeUpdate(overrideUpdate, { args: [{ by: 'sre', reason: 'hotfix for INC-42' }] });
      assert.match(r.overriding, /^the deployment window closed until /);
      await reach(handle, ended, 10 * MIN, 3 * HOUR);
      return handle.query(statusQuery);
    });
    assert.equal(status.outcome, 'released');
    assert.deepEqual(calls.deploys.map((d) => d.weight), [100, 5, 50, 100]);
    assert.ok(stepStart(status, 'production-canary-50: set-weight production 50%') < denyFrom + 2 * HOUR, 'deployed inside the deny window');
    assert.deepEqual(
      status.overrides?.map((o) => [o.by, o.verified, o.reason, o.windowUntil]),
      [['sre', false, 'hotfix for INC-42', new Date(denyFrom + 2 * HOUR).toISOString()]],
    );
    // The 100% phase, also inside the same closed time, goes through under the same override.
    assert.match(status.steps.find((s) => s.name === 'production-canary-100: deployment window')?.detail ?? '', /overridden by sre: hotfix for INC-42$/);
  });
});

describe('freezes (time-skipping server, the registry workflow, fake activities)', () => {
  const suite = timeSkippingSuite('freezes', ['frozen-mid-release', FREEZE_REGISTRY_ID]);
  const { withWorker } = suite;
  const reach = (handle: WorkflowHandle, pred: (s: ReleaseStatus) => boolean, stepMs: number, limitMs: number) => reachOn(suite.env, handle, pred, stepMs, limitMs);
  const canary = { canary: { steps: [5, 50, 100].map((weight) => ({ weight, bake: '30m' })) } };
  const registry = () => suite.env.client.workflow.getHandle(FREEZE_REGISTRY_ID);
  /** The fake activities read the freezes as the real worker does: the registry's query on this server. */
  const withFreezes = (opts: Parameters<typeof fakeActivities>[0] = {}) => fakeActivities({ ...opts, freezes: () => currentFreezes(suite.env.client) });
  /**
   * A test's steps with a worker and a registry of its own on its task queue. The registry ends
   * with the test: one left on a queue no worker polls would keep a workflow task pending, and the
   * test server skips no time while one is.
   */
  const withRegistry = <T>(activities: object, fn: (taskQueue: string) => Promise<T>): Promise<T> =>
    withWorker(activities, async (taskQueue) => {
      await suite.env.client.workflow.start(freezeRegistryWorkflow, { taskQueue, workflowId: FREEZE_REGISTRY_ID, args: [] });
      try {
        return await fn(taskQueue);
      } finally {
        // A registry that moved to a new run as the test ended answers "completed": nothing is left running either way.
        await registry()
          .terminate('the test is over')
          .catch((e: Error) => {
            if (e.name !== 'WorkflowNotFoundError') throw e;
          });
      }
    });

  it('a freeze set mid-release holds it at the next phase boundary; unfreeze lets it go on at once; a freeze ends by itself at its until', async () => {
    const { activities, calls } = withFreezes({ change: mediumChange });
    const status = await withRegistry(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'frozen-mid-release', args: [fakeReleaseInput('frozen-mid-release', 'checkout', { bake: { staging: '0s' }, ...canary })] });
      await reach(handle, (s) => s.state === 'baking' && s.currentStep?.startsWith('production-canary-5: bake') === true, MIN, HOUR);
      const now = await suite.env.currentTimeMs();
      // Bad input is refused naming the field; a freeze of another service does not hold this one.
      await assert.rejects(registry().executeUpdate(freezeUpdate, { args: [{ services: ['checkout'], reason: 'x', by: 'cab', until: new Date(now - MIN).toISOString() }] }), (e: Error & { cause?: Error }) => /^until: .* has passed$/.test(e.cause?.message ?? ''));
      await registry().executeUpdate(freezeUpdate, { args: [{ services: ['payments'], reason: 'other team', by: 'cab', until: new Date(now + 48 * HOUR).toISOString() }] });
      const f = await registry().executeUpdate(freezeUpdate, { args: [{ services: ['checkout'], reason: 'year-end freeze', by: 'cab', until: new Date(now + 24 * HOUR).toISOString() }] });
      assert.equal(f.id, 'F2');
      const frozen = await reach(handle, (s) => s.state === 'frozen', 5 * MIN, HOUR);
      assert.equal(frozen.watching?.reason, undefined, 'no analysis configured: nothing to watch');
      assert.deepEqual(frozen.freezes?.map((x) => x.id), ['F2']);
      assert.equal(frozen.steps.find((s) => s.name.startsWith('production-canary-5: bake'))?.status, 'done', 'the bake under way ran to its end');
      assert.deepEqual(calls.deploys.map((d) => d.weight), [100, 5]);
      // Six hours on it still holds; an unfreeze lets it go on without waiting for the freeze's end.
      await suite.env.sleep(6 * HOUR);
      assert.equal((await handle.query(statusQuery)).state, 'frozen');
      // The unfreeze runs a local activity (the signature check): like a steering update, it is sent once nothing of the registry is in flight.
      await waitForQuiet(registry());
      await registry().executeUpdate(unfreezeUpdate, { args: [{ id: 'F2', by: 'cab', reason: 'done early' }] });
      const goes = await reach(handle, (s) => s.state !== 'frozen', MIN, 10 * MIN);
      assert.notEqual(goes.state, 'frozen');
      // A second freeze that ends by itself: the 100% phase waits for its until.
      const until = (await suite.env.currentTimeMs()) + 12 * HOUR;
      await registry().executeUpdate(freezeUpdate, { args: [{ services: ['*'], reason: 'load test', by: 'cab', until: new Date(until).toISOString() }] });
      await reach(handle, ended, HOUR, 20 * HOUR);
      assert.deepEqual(await registry().query(freezesQuery).then((l) => l.map((x) => x.id)), ['F1'], 'the ended ones are gone, the other team keeps theirs');
      const s = await handle.query(statusQuery);
      assert.ok(Date.parse(s.steps.find((x) => x.name === 'production-canary-100: promote production')!.startedAt) >= until);
      return s;
    });
    assert.equal(status.outcome, 'released');
    assert.deepEqual(calls.deploys.map((d) => d.weight), [100, 5, 50, 100]);
    assert.match(status.steps.find((s) => s.name === 'production-canary-50: freeze')!.detail!, /^frozen: F2 \(checkout\) by cab until \S+: year-end freeze$/);
  });

  it('an override breaks a freeze for this release only: another release of the service stays held; a forged wake-up changes nothing', async () => {
    const { activities, calls } = withFreezes({ change: mediumChange });
    const r = await withRegistry(activities, async (taskQueue) => {
      const until = new Date((await suite.env.currentTimeMs()) + 72 * HOUR).toISOString();
      const f = await registry().executeUpdate(freezeUpdate, { args: [{ services: ['Search'], reason: 'migration weekend', by: 'cab', until }] });
      const start = (id: string) => suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: id, args: [fakeReleaseInput(id, 'search', { bake: { staging: '0s' }, ...canary })] });
      const [handle, other] = await Promise.all([start('override-freeze'), start('still-frozen')]);
      await reach(handle, (s) => s.state === 'frozen', MIN, HOUR);
      await reach(other, (s) => s.state === 'frozen', MIN, HOUR);
      assert.deepEqual(calls.deploys, [], 'held before their first phase (the freeze names the service in another case)');
      // Anyone may signal: a wake-up carries nothing, and the release reads the registry again.
      await other.signal(freezesChangedSignal);
      await waitForQuiet(handle);
      const o = await handle.executeUpdate(overrideUpdate, { args: [{ by: 'oncall', reason: 'security fix CVE-2026-1' }] });
      assert.equal(o.overriding, `freeze ${f.id}`);
      await reach(handle, ended, 10 * MIN, 4 * HOUR);
      assert.equal((await other.query(statusQuery)).state, 'frozen', 'the other release of the service is still held');
      assert.deepEqual(await registry().query(freezesQuery).then((l) => l.map((x) => x.id)), [f.id], 'the freeze stays for everyone else');
      await waitForQuiet(other);
      await other.executeUpdate(abortUpdate, { args: [{ reason: 'test over', by: 'sre' }] });
      await other.result();
      return { ...(await handle.query(statusQuery)), freeze: f.id, at: f.at };
    });
    assert.equal(r.outcome, 'released');
    assert.deepEqual(r.overrides?.map((o) => [o.by, o.reason, o.freezes]), [['oncall', 'security fix CVE-2026-1', [`${r.freeze}@${r.at}`]]]);
    const [wait, broken] = r.steps.filter((s) => s.name === 'staging-deploy: freeze').map((s) => s.detail ?? '');
    assert.match(wait!, new RegExp(`^frozen: ${r.freeze} \\(Search\\) by cab until \\S+: migration weekend$`));
    assert.equal(broken, `${r.freeze} overridden by oncall: security fix CVE-2026-1`);
    assert.deepEqual(
      calls.ledger.map((l) => [l.release_id, l.overrides.map((o) => `${o.by} ${o.verified} ${o.broke}: ${o.reason}`)]),
      [
        ['override-freeze', [`oncall false freeze ${r.freeze}: security fix CVE-2026-1`]],
        ['still-frozen', []],
      ],
      'the ledger line names the override',
    );
    assert.match(calls.records.find((x) => x.includes('Overridden by'))!, new RegExp(`^- \\*\\*Overridden by\\*\\*: oncall \\(unverified: a name as typed\\) at \\S+: broke freeze ${r.freeze} — security fix CVE-2026-1$`, 'm'));
  });

  it('a registry that cannot be read holds the release, never lets it through; an override breaks that too', async () => {
    // Not retried, so that the test does not wait out the local activity's backoff in real time.
    const { activities, calls } = fakeActivities({ change: mediumChange, freezes: () => Promise.reject(ApplicationFailure.nonRetryable('query timed out')) });
    const r = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'registry-unreadable', args: [fakeReleaseInput('registry-unreadable', 'search', { bake: { staging: '0s' }, ...canary })] });
      const held = await reach(handle, (s) => s.state === 'frozen', MIN, HOUR);
      assert.equal(held.hold?.target, 'freeze registry unreachable');
      await suite.env.sleep(2 * MIN);
      const again = await handle.query(statusQuery);
      assert.equal(again.state, 'frozen', 'asked again, still held');
      assert.ok(again.steps.filter((s) => s.name === 'staging-deploy: freeze').length >= 2, 'asked again');
      assert.deepEqual(calls.deploys, []);
      await waitForQuiet(handle);
      await handle.executeUpdate(overrideUpdate, { args: [{ by: 'oncall', reason: 'the registry is down and this is the fix' }] });
      await reach(handle, ended, 10 * MIN, 4 * HOUR);
      return handle.query(statusQuery);
    });
    assert.equal(r.outcome, 'released');
    assert.deepEqual(r.overrides?.map((o) => o.broke), ['freeze registry unreachable']);
    assert.match(r.steps.find((s) => s.name === 'staging-deploy: freeze')!.detail!, /^freeze registry unreachable: .*query timed out.*; asks again in 60 s$/);
  });
});
