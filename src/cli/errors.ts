/** Bad input: exit status 1 with one line on stderr that names the flag or file. */
export class InputError extends Error {}

export const ExitCode = {
  OK: 0,
  BAD_INPUT: 1,
  ABORTED: 2,
  NEEDS_HUMAN: 3,
  ROLLED_BACK: 4,
  STILL_RUNNING: 5,
} as const;
