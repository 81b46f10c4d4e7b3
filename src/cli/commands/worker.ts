import { z } from 'zod';
import type * as WorkerModule from '../../worker/worker';
import { ExitCode } from '../exit-code';
import { type FlagSpec, type Out, parseFlags } from '../flags';

const NoFlagsSchema = z.strictObject({});

/** The worker reads its settings from the environment, never from flags. */
export const workerFlags = { command: 'worker', options: {}, schema: NoFlagsSchema } satisfies FlagSpec<typeof NoFlagsSchema>;

/** `rollgate worker`: runs a release worker until SIGINT or SIGTERM. */
export async function workerCommand(args: string[], _out: Out): Promise<number> {
  parseFlags(workerFlags, args);
  // Loaded on demand: the worker package is heavy, and only this command needs it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runWorker } = require('../../worker/worker') as typeof WorkerModule;
  await runWorker();
  return ExitCode.OK;
}
