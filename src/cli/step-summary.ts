import { appendFile } from 'node:fs/promises';
import type { Out } from './flags';

/**
 * Appends markdown to the job summary GitHub Actions shows on the run page, where the runner names
 * one (`GITHUB_STEP_SUMMARY`). Elsewhere nothing happens; a summary that cannot be written is a
 * warning, never the command's failure.
 */
export async function appendStepSummary(lines: string[], out: Out, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const file = env.GITHUB_STEP_SUMMARY;
  if (!file) return;
  try {
    await appendFile(file, `${lines.join('\n').replace(/\n+$/, '')}\n\n`);
  } catch (e) {
    out.err(`warning: GITHUB_STEP_SUMMARY: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
