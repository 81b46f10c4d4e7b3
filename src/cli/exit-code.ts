export const ExitCode = {
  OK: 0,
  BAD_INPUT: 1,
  ABORTED: 2,
  NEEDS_HUMAN: 3,
  ROLLED_BACK: 4,
  STILL_RUNNING: 5,
} as const;
