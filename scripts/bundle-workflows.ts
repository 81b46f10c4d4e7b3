/**
 * Builds the workflow bundle ahead of time for production workers:
 *   npm run build:workflows   → dist/workflow-bundle.js; run workers with ROLLGATE_WORKFLOW_BUNDLE=dist/workflow-bundle.js
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowsPath } from '../src/worker/worker';

export async function buildWorkflowBundle(out: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, code);
  return out;
}

if (require.main === module) {
  const out = resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
  buildWorkflowBundle(out).then(
    (path) => process.stdout.write(`workflow bundle: ${path}\n`),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
