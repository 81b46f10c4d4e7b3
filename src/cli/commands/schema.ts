import { z } from 'zod';
import { ConfigSchema } from '../../domain/config';
import { ExitCode } from '../exit-code';
import { type FlagSpec, type Out, parseFlags } from '../flags';

const NoFlagsSchema = z.strictObject({});

export const schemaFlags = { command: 'schema', options: {}, schema: NoFlagsSchema } satisfies FlagSpec<typeof NoFlagsSchema>;

/** The JSON Schema of rollgate.yaml as people write it. */
export const configJsonSchema = () => z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' });

/** `rollgate schema`: the JSON Schema of rollgate.yaml, for editors. */
export async function schemaCommand(args: string[], out: Out): Promise<number> {
  parseFlags(schemaFlags, args);
  out.log(JSON.stringify(configJsonSchema(), null, 2));
  return ExitCode.OK;
}
