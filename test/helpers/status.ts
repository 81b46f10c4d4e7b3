import type { WorkflowHandle } from '@temporalio/client';
import type { ReleaseStatus } from '../../src/domain/release';
import { statusQuery } from '../../src/workflows/messages';

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
