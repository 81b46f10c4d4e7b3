import { z } from 'zod';
import { InputError } from '../../domain/errors';
import { ExitCode } from '../exit-code';
import { type FlagSpec, type Out, parseFlags, releaseId } from '../flags';
import { queryStatus } from '../temporal';

const ReportFlagsSchema = z.strictObject({ id: releaseId('report') });

export const reportFlags = { command: 'report', options: {}, positionals: ['id'], schema: ReportFlagsSchema } satisfies FlagSpec<typeof ReportFlagsSchema>;

/** `rollgate report`: the path of a release's decision record. */
export async function reportCommand(args: string[], out: Out): Promise<number> {
  const { id } = parseFlags(reportFlags, args);
  const status = await queryStatus(id);
  if (!status.recordPath) throw new InputError(`${id}: no decision record yet (state: ${status.state})`);
  out.log(status.recordPath);
  return ExitCode.OK;
}
