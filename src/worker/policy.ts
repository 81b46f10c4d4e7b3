import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { parseWorkerPolicy, type WorkerPolicy } from '../domain/policy';

/**
 * The worker's own release policy, from the YAML file ROLLGATE_POLICY names: undefined without one.
 * A policy that cannot be read or is invalid stops the worker, naming the file and the field:
 * a worker must never run releases under a policy other than the one its operator wrote.
 */
export function workerPolicyFromEnv(env: NodeJS.ProcessEnv): WorkerPolicy | undefined {
  const file = env.ROLLGATE_POLICY;
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`ROLLGATE_POLICY: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new Error(`ROLLGATE_POLICY ${file}: ${doc.errors[0]!.message.split('\n')[0]}`);
  const parsed = parseWorkerPolicy(doc.toJS({ maxAliasCount: 50 }));
  if (!parsed.ok) throw new Error(`ROLLGATE_POLICY ${file}: ${parsed.errors.join('; ')}`);
  return parsed.policy;
}
