import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface Notification {
  releaseId: string;
  /** Stable event name: rollback, rollback-failed, needs-human, ... */
  event: string;
  urgent: boolean;
  text: string;
  /** Dedupe key: one notification per release run and event. */
  key: string;
}

export interface Notifier {
  send(n: Notification): Promise<void>;
}

/** Appends notifications to a JSON-lines file in the output folder; chat and webhook adapters plug in here. */
export class FileNotifier implements Notifier {
  constructor(private readonly file: string) {}
  /** A retried activity sends nothing twice: the key is looked up first. */
  async send(n: Notification): Promise<void> {
    const sent = await readFile(this.file, 'utf8').catch(() => '');
    if (sent.split('\n').some((l) => l && (JSON.parse(l) as { key?: string }).key === n.key)) return;
    await mkdir(dirname(this.file), { recursive: true });
    await appendFile(this.file, `${JSON.stringify({ at: new Date().toISOString(), ...n })}\n`);
  }
}
