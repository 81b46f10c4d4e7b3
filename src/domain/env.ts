import { z } from 'zod';

/** The name of an environment variable of the worker: config names where a secret lives, never the secret. */
export const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name');

/**
 * The name of a secret's variable for one purpose: it must carry that purpose's prefix, so that a
 * config cannot send one secret where another belongs (the Temporal API key to a metric source).
 */
export const secretEnvName = (prefix: string) => envName.refine((n) => n.startsWith(prefix), `must start with ${prefix}: a variable meant for this purpose`);
