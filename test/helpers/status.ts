import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { ReleaseStatus } from '../../src/domain/release';
import { statusQuery } from '../../src/workflows/messages';

const { EventType } = temporal.api.enums.v1;

export interface WaitOptions {
  /** Give up after this long; the error names the last status seen. */
  timeoutMs?: number;
  /** Between two queries. */
  intervalMs?: number;
}

/**
 * Polls a release's status query until it matches. A query that fails (no worker answers yet, or
 * one is restarting) is polled again. Queries do not unlock time skipping, so the time-skipping
 * server's clock stays where the test put it.
 */
export async function waitForStatus(handle: WorkflowHandle, pred: (s: ReleaseStatus) => boolean, opts: WaitOptions = {}): Promise<ReleaseStatus> {
  const { timeoutMs = 15_000, intervalMs = 50 } = opts;
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const s = await handle.query(statusQuery).catch((e: Error) => ((last = e.message), undefined));
    if (s && pred(s)) return s;
    if (s) last = { state: s.state, step: s.currentStep };
    if (Date.now() > end) throw new Error(`${handle.workflowId}: status never matched within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Waits until nothing of the release is in flight: no activity is scheduled without its end in
 * history, and no workflow task is pending. A test on the time-skipping server steers a release
 * only then. A cancel that races an activity's completion (pause, promote or abort while a monitor
 * call returns) makes the Java test server refuse the workflow task with ACTIVITY_UNKNOWN, and the
 * release hangs; the real server takes it. Reads one history, so the answer is one moment's.
 * Queries and history reads do not move that server's clock: nothing new starts until the test
 * moves it or steers.
 */
export async function waitForQuiet(handle: WorkflowHandle, opts: WaitOptions = {}): Promise<void> {
  const { timeoutMs = 15_000, intervalMs = 50 } = opts;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const events = (await handle.fetchHistory()).events ?? [];
    const running = new Set<string>();
    for (const e of events) {
      if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) running.add(String(e.eventId));
      const ended = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
      if (ended) running.delete(String(ended.scheduledEventId));
    }
    const last = events.at(-1)?.eventType;
    const taskPending = last === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED || last === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED;
    if (running.size === 0 && !taskPending && last != null) return;
    if (Date.now() > end) throw new Error(`${handle.workflowId}: still busy after ${timeoutMs} ms: ${running.size} activities running${taskPending ? ', a workflow task pending' : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
