import { appendFile, mkdir } from 'node:fs/promises';
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
  async send(n: Notification): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    await appendFile(this.file, `${JSON.stringify({ at: new Date().toISOString(), ...n })}\n`);
  }
}
