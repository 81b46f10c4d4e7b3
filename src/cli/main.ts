import { InputError } from '../domain/errors';
import { codecServerCommand } from './commands/codec-server';
import { decideCommand } from './commands/decide';
import { freezeCommand, freezesCommand, unfreezeCommand } from './commands/freeze';
import { initCommand } from './commands/init';
import { doraCommand } from './commands/dora';
import { reportCommand } from './commands/report';
import { schemaCommand } from './commands/schema';
import { STEER_COMMANDS, steerCommand } from './commands/steer';
import { startCommand } from './commands/start';
import { statusCommand } from './commands/status';
import { workerCommand } from './commands/worker';
import { ExitCode } from './exit-code';
import type { Out } from './flags';

const USAGE = `rollgate: release decisions and rollouts on Temporal

  rollgate decide  --repo DIR --base REF --head REF --reports DIR [--junit FILE_OR_GLOB]... [--users-affected N] [--config FILE] [--out DIR] [--json]
  rollgate start   (the same) --service NAME [--version V] [--previous-version V] [--out DIR] [--wait] [--wait-timeout DURATION] [--json]
  rollgate approve ID (--key SSH_KEY [--by PRINCIPAL] | --by NAME) [--reason TEXT]
  rollgate reject  ID (--key SSH_KEY | --by NAME) --reason TEXT
  rollgate abort   ID --reason TEXT [--key SSH_KEY] [--by NAME]
  rollgate pause   ID (--key SSH_KEY | --by NAME) [--reason TEXT]     stops the bake clock and the analysis
  rollgate resume  ID (--key SSH_KEY | --by NAME)
  rollgate promote ID (--key SSH_KEY | --by NAME) [--full]            ends the current bake now; --full skips to 100%
  rollgate resolve ID (--key SSH_KEY | --by NAME) --reason TEXT (--retry | --restored)   after a failed rollback
  rollgate override ID (--key SSH_KEY | --by NAME) --reason TEXT     breaks the deployment window or freeze it waits for
  (--key signs the request with ssh-keygen; a worker with ROLLGATE_ALLOWED_SIGNERS refuses unsigned approve, reject, resume, promote, resolve, override, unfreeze)
  rollgate freeze  (--service NAME... | --all) --until (INSTANT | DURATION) --reason TEXT --by NAME   no new phase for these services until then
  rollgate unfreeze (FREEZE_ID | --service NAME... | --all) (--key SSH_KEY | --by NAME) [--reason TEXT]
  rollgate freezes [--json]                         the freezes in force
  rollgate status  ID [--json]
  rollgate report  ID                               the path of the release's decision record (with its results and charts)
  rollgate dora    [--since 30d] [--service NAME] [--ledger FILE | --config FILE | --repo DIR] [--json]
  rollgate init    [--dir DIR] [--force]        a commented rollgate.yaml to fill in, and its JSON Schema for editors
  rollgate schema          JSON Schema of rollgate.yaml
  rollgate worker          run a worker (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS and API key from the environment)
  rollgate codec-server [--listen 127.0.0.1:8888] [--origin URL]...   decrypts payloads for the Temporal UI (ROLLGATE_CODEC_KEY[S])

Exit status: 0 released/approved, 1 bad input or error, 2 aborted, 3 waiting for a human, 4 rolled back, 5 still running at --wait-timeout.`;

const stdio: Out = { log: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) };

type Command = (args: string[], out: Out) => Promise<number>;

const COMMANDS = new Map<string, Command>([
  ['decide', decideCommand],
  ['start', startCommand],
  ...STEER_COMMANDS.map((name): [string, Command] => [name, (args, out) => steerCommand(name, args, out)]),
  ['freeze', freezeCommand],
  ['unfreeze', unfreezeCommand],
  ['freezes', freezesCommand],
  ['status', statusCommand],
  ['report', reportCommand],
  ['dora', doraCommand],
  ['init', initCommand],
  ['schema', schemaCommand],
  ['worker', workerCommand],
  ['codec-server', codecServerCommand],
]);

/** `rollgate COMMAND ...`: runs the command and returns its exit status; any error is one line on stderr and status 1. */
export async function main(argv: string[], out: Out = stdio): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      out.log(USAGE);
      return command === undefined ? ExitCode.BAD_INPUT : ExitCode.OK;
    }
    const run = COMMANDS.get(command);
    if (!run) throw new InputError(`unknown command "${command}" (try rollgate help)`);
    return await run(rest, out);
  } catch (e) {
    out.err(`rollgate: ${(e as Error).message}`);
    return ExitCode.BAD_INPUT;
  }
}
