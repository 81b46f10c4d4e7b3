import { idempotencyKey } from '../domain/command';
import { StepStatus } from '../domain/release';
import { failureMessage, type ReleaseRun } from './run-state';

/** Sends one notification through every configured channel, once per key; a failure is recorded, never thrown. */
export async function notify(run: ReleaseRun, event: string, title: string, text: string, opts: { urgent?: boolean; key?: string } = {}): Promise<void> {
  const { slackWebhookUrlEnv, webhookUrlEnv, webhookSecretEnv } = run.config.notify;
  try {
    await run.acts.notify.notify({
      outDir: run.outDir,
      targets: { slackWebhookUrlEnv, webhookUrlEnv, webhookSecretEnv },
      notification: {
        releaseId: run.releaseId,
        service: run.input.service,
        event,
        urgent: opts.urgent ?? false,
        title,
        text,
        key: idempotencyKey(run.runKey, `notify-${opts.key ?? event}`),
      },
    });
  } catch (e) {
    // Outside any phase: a lost notification is no part of how long a phase took.
    run.note(`notify ${event}`, StepStatus.FAILED, failureMessage(e), { outsidePhase: true });
  }
}
