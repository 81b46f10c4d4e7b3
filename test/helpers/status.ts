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

const BUSY = new Set([EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED]);

/**
 * Waits until nothing of the release is in flight: no activity runs and the workflow has taken in
 * every event. A test on the time-skipping server steers a release only then. A cancel that races
 * an activity's completion (pause, promote or abort while a monitor call returns) makes the Java
 * test server refuse the workflow task with ACTIVITY_UNKNOWN, and the release hangs; the real
 * server takes it. Queries, describe and history reads do not move that server's clock, so
 * nothing new starts until the test moves it or steers.
 */
export async function waitForQuiet(handle: WorkflowHandle, opts: WaitOptions = {}): Promise<void> {
  const { timeoutMs = 15_000, intervalMs = 50 } = opts;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const { raw } = await handle.describe();
    const last = (await handle.fetchHistory()).events?.at(-1)?.eventType;
    if ((raw.pendingActivities ?? []).length === 0 && last != null && !BUSY.has(last)) return;
    if (Date.now() > end) throw new Error(`${handle.workflowId}: still busy after ${timeoutMs} ms: ${raw.pendingActivities?.map((a) => a.activityType?.name).join(', ') || `last event ${last}`}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
