import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

/** Where the replay fixtures live. */
export const HISTORIES = join(__dirname, '../fixtures/histories');

/**
 * With ROLLGATE_RECORD_HISTORIES=1, writes the histories of these runs as replay fixtures; with a
 * comma list of workflow IDs, only those. Run in a test file's `after`, before the server goes.
 */
export async function recordHistories(env: TestWorkflowEnvironment, ids: readonly string[]): Promise<void> {
  const record = process.env.ROLLGATE_RECORD_HISTORIES;
  if (!record) return;
  for (const id of record === '1' ? ids : ids.filter((x) => record.split(',').includes(x))) {
    const history = await env.client.workflow.getHandle(id).fetchHistory();
    // Stack traces would carry this machine's paths; replay does not need them.
    // A target's workflow ID has slashes (`<release>/<target>`): `~` in the file's name.
    writeFileSync(join(HISTORIES, `${id.replace(/\//g, '~')}.json`), historyToJSON(history).replace(/"stackTrace": "(?:[^"\\]|\\.)*"/g, '"stackTrace": ""'));
  }
}

/** Every file under a folder, as text. */
export const allText = (dir: string): string =>
  readdirSync(dir)
    .map((f) => join(dir, f))
    .map((p) => (statSync(p).isDirectory() ? allText(p) : readFileSync(p, 'utf8')))
    .join('\n');

/** The history as text with every payload decoded: payloads are base64 in the JSON form. */
export function readableHistory(json: string): string {
  const decode = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(decode);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.data === 'string' && o.metadata) return Buffer.from(o.data, 'base64').toString('utf8');
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decode(x)]));
    }
    return v;
  };
  return JSON.stringify(decode(JSON.parse(json)));
}
