import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { ReleaseInput, ReleaseResult, ReleaseStatus } from '../../src/domain/release';
import { abortUpdate, approveUpdate, pauseUpdate, promoteUpdate, resumeUpdate, statusQuery } from '../../src/workflows/messages';
import { releaseWorkflow } from '../../src/workflows';
import { timeSkippingSuite } from '../helpers/workflow-worker';
import { waitForQuiet, waitForStatus } from '../helpers/status';
import { fakeActivities, fakeReleaseInput, highChange, mediumChange } from '../helpers/fake-activities';

const MIN = 60_000;
const HOUR = 60 * MIN;

const analysis = {
  interval: '10s',
  inconclusiveTimeout: '2h',
  verifyWindow: '5m',
  metrics: [
    { name: 'error-rate', query: 'sum(rate(http_requests_total{code=~"5..",{{selector}}}[1m])) / sum(rate(http_requests_total{{{selector}}}[1m]))', failureCondition: 'result > 0.05', successCondition: 'result <= 0.01' },
    { name: 'latency-p99', query: 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{{selector}}}[1m])))', failureCondition: 'result > 0.5' },
  ],
};

const releaseInput = (id: string, config: object = {}): ReleaseInput => fakeReleaseInput(id, 'checkout', { bake: { staging: '0s' }, analysis, ...config });

describe('progressive rollouts with analysis (time-skipping server, fake activities)', () => {
  const suite = timeSkippingSuite('analysis', ['canary-healthy', 'canary-fails', 'pause-promote', 'flag-rollback', 'inconclusive-approved', 'inconclusive-then-fails']);
  const { withWorker } = suite;

  /**
   * Drives a long release to its end an hour of server time at a time, and reads its result from
   * the history: on the time-skipping server, result() on a history of thousands of events can
   * wait forever.
   */
  async function runToEnd(handle: WorkflowHandle<typeof releaseWorkflow>) {
    for (let i = 0; i < 500; i++) {
      if ((await handle.describe()).status.name !== 'RUNNING') {
        const history = await handle.fetchHistory();
        const payload = history.events!.at(-1)!.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
        assert.ok(payload, 'the release completed with a result');
        return defaultPayloadConverter.fromPayload<ReleaseResult>(payload as Payload);
      }
      await suite.env.sleep(HOUR);
    }
    throw new Error('the release did not end within 500 hours');
  }


  it('takes a healthy canary 5% → 50% → 100% over the spec\'s 30 min, 1 h and 24 h, analysing each phase, with a bounded history', async (t) => {
    const { activities, calls } = fakeActivities({ change: mediumChange });
    const { result, status } = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'canary-healthy', args: [releaseInput('canary-healthy')] });
      // Queried while the worker still runs: a finished workflow answers queries by replay.
      return { result: await runToEnd(handle), status: await handle.query(statusQuery) };
    });
    assert.equal(result.outcome, 'released');
    assert.deepEqual(calls.deploys.map((d) => `${d.action} ${d.weight}`), ['deploy 100', 'deploy 5', 'set-weight 50', 'promote 100']);
    const phases = [...new Set(calls.monitors.map((m) => m.phase))];
    assert.deepEqual(phases, ['production-canary-5', 'production-canary-50', 'production-canary-100']);
    assert.ok(calls.monitors.every((m) => m.subject === 'canary' && m.runForMs <= 5 * MIN));

    const history = await suite.env.client.workflow.getHandle('canary-healthy').fetchHistory();
    const events = history.events!.length;
    // The server's clock jumps once the workflow is done, so the time is read from the history.
    const elapsed = (Number(history.events!.at(-1)!.eventTime!.seconds) - Number(history.events![0]!.eventTime!.seconds)) * 1000;
    assert.ok(elapsed >= 25.5 * HOUR && elapsed < 26 * HOUR, `took ${elapsed / HOUR} h`);
    const perHour = events / 25.5;
    t.diagnostic(`history: ${events} events over 25.5 monitored hours = ${perHour.toFixed(0)} events per monitored hour (target ≤ 200)`);
    assert.ok(perHour <= 200, `${perHour} events per monitored hour`);
    assert.deepEqual(status.analysed.map((a) => `${a.phase} ${a.verdict}`), ['production-canary-5 passed', 'production-canary-50 passed', 'production-canary-100 passed']);
    assert.ok(status.analysed[2]!.metrics[0]!.measured > 250, 'one measurement per report in the fake');
  });

  it('rolls back by itself when a metric fails, verifies the rollback on the stable version, and records both ends of it', async () => {
    const { activities, calls } = fakeActivities({ change: mediumChange, measurements: { 'production-canary-50': ['successful', 'failed'] } });
    const result = await withWorker(activities, (taskQueue) =>
      suite.env.client.workflow.execute(releaseWorkflow, { taskQueue, workflowId: 'canary-fails', args: [releaseInput('canary-fails')] }),
    );
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason!, /^analysis failed: error-rate failed: failed reading/);
    assert.equal(result.stopKind, 'analysis-failed');
    assert.deepEqual(calls.deploys.map((d) => d.weight), [100, 5, 50]);
    assert.deepEqual(calls.rollbacks.map((r) => `${r.stage} ${r.weight} ${r.version}`), ['production 0 v1', 'staging 0 v1']);
    const verification = calls.monitors.at(-1)!;
    assert.equal(verification.subject, 'stable');
    assert.deepEqual(verification.analysis.metrics.map((m) => m.name), ['error-rate', 'latency-p99']);
    assert.equal(verification.runForMs, 5 * MIN);
    const entry = calls.ledger[0]!;
    assert.equal(entry.outcome, 'rolled_back');
    assert.equal(entry.reason_kind, 'analysis-failed');
    assert.ok(entry.rollback_started_at && entry.rollback_finished_at && entry.rollback_started_at <= entry.rollback_finished_at);
  });

  it('a judge measures only the phases where canary and stable both take traffic, bakes and waits alike; the thresholds measure every phase', async () => {
    const { activities, calls } = fakeActivities({ change: mediumChange });
    const judge = { name: 'errors-judge', query: 'sum(increase(errors{{{selector}}}[{{sincePhase}}]))', judge: { trials: 'sum(increase(requests{{{selector}}}[{{sincePhase}}]))' } };
    const canary = { steps: [{ weight: 5, bake: '30m' }, { weight: 50, bake: '30m' }, { weight: 100, bake: '30m', approval: true }] };
    const config = { analysis: { ...analysis, metrics: [analysis.metrics[0]!, judge] }, canary };
    const result = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'judge-phases', args: [releaseInput('judge-phases', config)] });
      // The server's clock moves only when the test moves it.
      const reach = async (pred: (s: ReleaseStatus) => boolean) => {
        for (let i = 0; !pred(await handle.query(statusQuery)); i++) {
          assert.ok(i < 180, 'reached within three hours of server time');
          await suite.env.sleep(MIN);
        }
      };
      await reach((s) => s.pendingApproval?.phase === 'production-canary-100' && (s.watching?.readings ?? 0) > 0);
      await waitForQuiet(handle);
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'sre' }] });
      await reach((s) => s.state === 'baking' && s.currentStep?.startsWith('production-canary-100:') === true);
      await waitForQuiet(handle);
      await handle.executeUpdate(pauseUpdate, { args: [{ by: 'sre' }] });
      await suite.env.sleep(2 * MIN);
      await waitForQuiet(handle);
      await handle.executeUpdate(resumeUpdate, { args: [{ by: 'sre' }] });
      return runToEnd(handle);
    });
    assert.equal(result.outcome, 'released');
    const measured = (phase: string, watch = false) => [...new Set(calls.monitors.filter((m) => m.phase === phase && (m.watch === true) === watch).flatMap((m) => m.analysis.metrics.map((x) => x.name)))];
    assert.deepEqual(measured('production-canary-5'), ['error-rate', 'errors-judge']);
    assert.deepEqual(measured('production-canary-50'), ['error-rate', 'errors-judge']);
    assert.deepEqual(measured('production-canary-50 (approval)', true), ['error-rate', 'errors-judge'], 'the wait for 100% watches the 50% canary');
    assert.deepEqual(measured('production-canary-100'), ['error-rate'], 'no stable traffic to compare with at 100%');
    assert.deepEqual(measured('production-canary-100', true), ['error-rate'], 'nor during a pause at 100%');
  });

  it('rolls back on provider errors past the limit without claiming the metrics are verified', async () => {
    const errors = Array(5).fill('error');
    const { activities, calls } = fakeActivities({ change: mediumChange, measurements: { 'production-canary-5': errors } });
    const result = await withWorker(activities, (taskQueue) =>
      suite.env.client.workflow.execute(releaseWorkflow, { taskQueue, workflowId: 'canary-errors', args: [releaseInput('canary-errors')] }),
    );
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason!, /analysis error: error-rate: 5 consecutive provider errors/);
    assert.equal(result.stopKind, 'analysis-error');
    assert.ok(calls.monitors.every((m) => m.subject === 'canary'), 'no metric verification after provider errors');
    assert.deepEqual(calls.deploys.map((d) => d.weight), [100, 5]);
  });

  it('pauses on an inconclusive reading and goes on when a human approves', async () => {
    const { activities, calls } = fakeActivities({ change: mediumChange, measurements: { 'production-canary-5': ['inconclusive'] } });
    const result = await withWorker(activities, async (taskQueue) => {
      // Half-hour bakes keep its replay fixture small.
      const canary = { steps: [5, 50, 100].map((weight) => ({ weight, bake: '30m' })) };
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'inconclusive-approved', args: [releaseInput('inconclusive-approved', { canary })] });
      const waiting = await waitForStatus(handle, (s) => s.pendingApproval?.kind === 'analysis');
      assert.match(waiting.pendingApproval!.reason, /analysis inconclusive: error-rate inconclusive/);
      assert.equal(Date.parse(waiting.pendingApproval!.deadline) - Date.parse(waiting.pendingApproval!.requestedAt), 2 * HOUR);
      await waitForQuiet(handle);
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'sre', reason: 'latency blip from a cache warm-up' }] });
      return runToEnd(handle);
    });
    assert.equal(result.outcome, 'released');
    assert.equal(calls.rollbacks.length, 0);
  });

  it('an inconclusive reading that nobody may answer (no approvers, no allowed signers) rolls back at once instead of waiting for anyone', async () => {
    const { activities, calls } = fakeActivities({ change: mediumChange, measurements: { 'production-canary-5': ['inconclusive'] } });
    const result = await withWorker(activities, async (taskQueue) => {
      const canary = { steps: [5, 50, 100].map((weight) => ({ weight, bake: '30m' })) };
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'inconclusive-no-approver', args: [releaseInput('inconclusive-no-approver', { canary, approval: { approvers: [] } })] });
      return runToEnd(handle);
    });
    assert.equal(result.outcome, 'rolled_back');
    assert.equal(result.stopKind, 'no-approver');
    assert.match(result.reason ?? '', /analysis inconclusive: .*, but no one may answer: approval\.approvers is empty/);
    assert.deepEqual(calls.rollbacks.map((r) => r.stage), ['production', 'staging']);
  });

  it('keeps measuring while a human is asked about an inconclusive reading, and rolls back within one interval when a check fails meanwhile', async () => {
    const { activities, calls } = fakeActivities({
      change: mediumChange,
      measurements: { 'production-canary-5': ['inconclusive'] },
      whileWaiting: { 'production-canary-5': ['successful', 'failed'] },
    });
    const { result, status } = await withWorker(activities, async (taskQueue) => {
      const canary = { steps: [5, 50, 100].map((weight) => ({ weight, bake: '30m' })) };
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'inconclusive-then-fails', args: [releaseInput('inconclusive-then-fails', { canary })] });
      return { result: await runToEnd(handle), status: await handle.query(statusQuery) };
    });
    assert.equal(result.outcome, 'rolled_back');
    assert.equal(result.stopKind, 'analysis-failed');
    assert.match(result.reason!, /^analysis failed: error-rate failed: failed reading/);
    assert.deepEqual(calls.deploys.map((d) => d.weight), [100, 5], 'never past 5%');
    const watches = calls.monitors.filter((m) => m.watch);
    assert.deepEqual(watches.map((m) => `${m.phase} ${m.subject}`), ['production-canary-5 canary', 'production-canary-5 canary']);
    const approval = status.steps.find((s) => s.name === 'approval: production-canary-5: analysis')!;
    assert.equal(approval.approval?.outcome, 'analysis_failed');
    const rollback = status.steps.find((s) => s.name === 'rollback production')!;
    const waited = Date.parse(approval.endedAt!) - Date.parse(approval.startedAt);
    // Two watch rounds (30 s each, with the 10 s interval), not the two-hour timeout.
    assert.ok(waited <= 61_000, `waited ${waited} ms for the human`);
    assert.ok(Date.parse(rollback.startedAt) - Date.parse(approval.endedAt!) < 10_000, 'the rollback starts within one interval of the failing reading');
    const filed = status.analysed.find((a) => a.phase === 'production-canary-5')!;
    assert.equal(filed.verdict, 'broken');
    assert.equal(filed.metrics[0]!.measured, 3, 'the readings of the wait are filed with the phase');
  });

  it('rolls back when a check fails during a manual pause, or, configured to only notify, tells people and rolls back on resume', async () => {
    for (const onFailureWhilePaused of ['rollback', 'notify'] as const) {
      const { activities, calls } = fakeActivities({ change: mediumChange, whileWaiting: { 'production-canary-5': ['successful', 'failed'] } });
      const result = await withWorker(activities, async (taskQueue) => {
        const workflowId = `paused-fails-${onFailureWhilePaused}`;
        const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId, args: [releaseInput(workflowId, { analysis: { ...analysis, onFailureWhilePaused } })] });
        await waitForStatus(handle, (s) => s.state === 'baking' && s.currentStep?.startsWith('production-canary-5:') === true);
        await waitForQuiet(handle);
        await handle.executeUpdate(pauseUpdate, { args: [{ by: 'sre', reason: 'looking at logs' }] });
        if (onFailureWhilePaused === 'rollback') return handle.result();
        await suite.env.sleep(2 * MIN); // two watch rounds, the second failing
        const told = await waitForStatus(handle, (s) => s.watching !== undefined && s.watching.readings >= 2);
        assert.ok(calls.notifications.some((n) => n.startsWith('analysis-failed-while-paused: While paused: analysis failed')), calls.notifications.join('\n'));
        assert.equal(told.state, 'paused');
        assert.equal(told.watching!.reason, 'pause');
        assert.equal(calls.rollbacks.length, 0, 'nothing rolled back while paused');
        await waitForQuiet(handle);
        await handle.executeUpdate(resumeUpdate, { args: [{ by: 'sre' }] });
        return handle.result();
      });
      assert.equal(result.outcome, 'rolled_back', onFailureWhilePaused);
      assert.match(result.reason!, /error-rate failed: failed reading/);
      assert.deepEqual(calls.deploys.map((d) => d.weight), [100, 5]);
    }
  });

  it('watches the live canary while a phase waits for its sign-off', async () => {
    const { activities, calls } = fakeActivities({ change: mediumChange, whileWaiting: { 'production-canary-5 (approval)': ['successful', 'failed'] } });
    const canary = { steps: [{ weight: 5, bake: '10m' }, { weight: 50, bake: '10m', approval: true }, { weight: 100, bake: '10m' }] };
    const { result, status } = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'phase-approval-watched', args: [releaseInput('phase-approval-watched', { canary })] });
      return { result: await runToEnd(handle), status: await handle.query(statusQuery) };
    });
    assert.equal(status.steps.find((s) => s.name === 'approval: production-canary-50')?.approval?.outcome, 'analysis_failed');
    assert.deepEqual(
      calls.monitors.filter((m) => m.watch).map((m) => m.phase),
      ['production-canary-5 (approval)', 'production-canary-5 (approval)'],
    );
    assert.ok(calls.monitors.filter((m) => m.watch).every((m) => m.vars.phase === 'production-canary-5'), 'the queries see the live phase');
    assert.deepEqual(
      status.analysed.map((a) => `${a.phase} ${a.verdict}`),
      ['production-canary-5 passed', 'production-canary-5 (approval) broken', 'rollback-verification passed'],
      'the wait is filed on its own; the bake it followed still passed',
    );
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason!, /error-rate failed: failed reading/);
    assert.deepEqual(calls.deploys.map((d) => d.weight), [100, 5], 'the 50% step never ran');
  });

  it('rolls back when nobody decides on an inconclusive analysis before its deadline', async () => {
    const { activities, calls } = fakeActivities({ change: mediumChange, measurements: { 'production-canary-5': ['no-data'] } });
    const result = await withWorker(activities, (taskQueue) =>
      suite.env.client.workflow.execute(releaseWorkflow, { taskQueue, workflowId: 'inconclusive-timeout', args: [releaseInput('inconclusive-timeout')] }),
    );
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason!, /no approval within 2h/);
    assert.deepEqual(calls.rollbacks.map((r) => r.stage), ['production', 'staging']);
  });

  it('stops the clock while paused, ends a bake on promote, and skips to 100% on promote --full', async () => {
    const { activities, calls } = fakeActivities({ change: mediumChange });
    const { result, status } = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'pause-promote', args: [releaseInput('pause-promote')] });
      await waitForStatus(handle, (s) => s.state === 'baking' && s.currentStep?.startsWith('production-canary-5:') === true);
      await waitForQuiet(handle);
      await handle.executeUpdate(pauseUpdate, { args: [{ by: 'sre', reason: 'checking a dashboard' }] });
      const paused = await waitForStatus(handle, (s) => s.state === 'paused');
      await suite.env.sleep(20 * MIN);
      const still = await handle.query(statusQuery);
      assert.equal(still.state, 'paused');
      assert.equal(still.bakeRemainingMs, paused.bakeRemainingMs, 'the clock stood still');
      await assert.rejects(handle.executeUpdate(pauseUpdate, { args: [{ by: 'sre' }] }), (e: Error) => /already paused by sre/.test(String(e.cause)));
      await waitForQuiet(handle);
      await handle.executeUpdate(resumeUpdate, { args: [{ by: 'sre' }] });
      await waitForStatus(handle, (s) => s.state === 'baking');
      await waitForQuiet(handle);
      await handle.executeUpdate(promoteUpdate, { args: [{ by: 'lead' }] });
      await waitForStatus(handle, (s) => s.state === 'baking' && s.currentStep?.startsWith('production-canary-50:') === true);
      await waitForQuiet(handle);
      await handle.executeUpdate(promoteUpdate, { args: [{ by: 'lead', full: true }] });
      return { result: await runToEnd(handle), status: await handle.query(statusQuery) };
    });
    assert.equal(result.outcome, 'released');
    assert.deepEqual(calls.deploys.map((d) => `${d.action} ${d.weight}`), ['deploy 100', 'deploy 5', 'set-weight 50', 'promote 100']);
    assert.ok(status.steps.some((s) => s.name.startsWith('production-canary-5: bake') && s.detail === 'promoted by lead'));
    assert.ok(!status.steps.some((s) => s.name.startsWith('production-canary-100: bake')), 'promote --full skips the 24 h watch');
  });

  it('promote --full skips a phase but not its sign-off: the next phase asks for it', async () => {
    const { activities, calls } = fakeActivities({ change: mediumChange });
    const canary = { steps: [{ weight: 5, bake: '30m' }, { weight: 50, bake: '30m', approval: true }, { weight: 100, bake: '30m' }] };
    const { result, waiting } = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'full-promote-signoff', args: [releaseInput('full-promote-signoff', { canary })] });
      await waitForStatus(handle, (s) => s.state === 'baking' && s.currentStep?.startsWith('production-canary-5:') === true);
      await waitForQuiet(handle);
      await handle.executeUpdate(promoteUpdate, { args: [{ by: 'lead', full: true }] });
      const waiting = await waitForStatus(handle, (s) => s.pendingApproval !== undefined);
      assert.deepEqual(calls.deploys.map((d) => d.weight), [100, 5], 'nothing promoted before the sign-off');
      await waitForQuiet(handle);
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'sre' }] });
      return { result: await runToEnd(handle), waiting };
    });
    assert.equal(waiting.pendingApproval!.phase, 'production-canary-100');
    assert.equal(waiting.pendingApproval!.reason, "Canary: all traffic needs the sign-off of Canary: 50% of traffic, skipped by promote --full");
    assert.equal(result.outcome, 'released');
    assert.deepEqual(calls.deploys.map((d) => `${d.action} ${d.weight}`), ['deploy 100', 'deploy 5', 'promote 100']);
  });

  it('rolls a flag out through flagd in cohorts and turns it off, without a redeploy, when a metric fails', async () => {
    const { activities, calls } = fakeActivities({ change: highChange, measurements: { 'production-flag-25': ['failed'] } });
    const config = { featureFlag: { flag: 'one-click', provider: 'flagd', file: 'flags/flags.json' } };
    const result = await withWorker(activities, (taskQueue) =>
      suite.env.client.workflow.execute(releaseWorkflow, { taskQueue, workflowId: 'flag-rollback', args: [releaseInput('flag-rollback', config)] }),
    );
    assert.equal(result.outcome, 'rolled_back');
    assert.deepEqual(calls.deploys.map((d) => `${d.stage} ${d.action} ${d.weight}`), ['staging deploy 100', 'production deploy 0']);
    assert.deepEqual(calls.flags.map((f) => f.percentage), [5, 25, 0]);
    assert.equal(calls.rollbacks.length, 0, 'the flag goes off; nothing is redeployed');
  });

  it('aborts a running analysis at once and rolls back', async () => {
    const { activities, calls } = fakeActivities({ change: mediumChange });
    const result = await withWorker(activities, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(releaseWorkflow, { taskQueue, workflowId: 'abort-analysis', args: [releaseInput('abort-analysis')] });
      await waitForStatus(handle, (s) => s.state === 'baking' && s.currentStep?.startsWith('production-canary-5:') === true);
      await waitForQuiet(handle);
      await handle.executeUpdate(abortUpdate, { args: [{ reason: 'customer reports', by: 'support' }] });
      return handle.result();
    });
    assert.equal(result.outcome, 'rolled_back');
    assert.match(result.reason!, /aborted by support/);
    assert.equal(calls.deploys.length, 2);
  });
});
