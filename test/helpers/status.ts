import type { WorkflowHandle } from '@temporalio/client';
import type { ReleaseStatus } from '../../src/domain/release';
import { statusQuery } from '../../src/workflows/messages';

/** Polls the status query (without unlocking time skipping) until it matches. */
export async function waitForStatus(handle: WorkflowHandle, pred: (s: ReleaseStatus) => boolean): Promise<ReleaseStatus> {
  let last: unknown;
  for (let i = 0; i < 200; i++) {
    const s = await handle.query(statusQuery).catch((e: Error) => ((last = e.message), undefined));
    if (s && pred(s)) return s;
    if (s) last = { state: s.state, step: s.currentStep };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`status never matched; last: ${JSON.stringify(last)}`);
}
