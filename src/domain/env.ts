import { z } from 'zod';

/** The name of an environment variable of the worker: config names where a secret lives, never the secret. */
export const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name');
