/** Bad input from a person (a flag, a file, an environment variable): one line on stderr that names it, exit status 1. */
export class InputError extends Error {}
