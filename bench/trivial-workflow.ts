import { proxyActivities } from '@temporalio/workflow';

/** The decision benchmark's baseline: a workflow that runs one activity, which writes a file. */
const { touch } = proxyActivities<{ touch(path: string): Promise<void> }>({ startToCloseTimeout: '1 minute' });

export async function trivialWorkflow(path: string): Promise<void> {
  await touch(path);
}
