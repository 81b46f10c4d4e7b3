import { idempotencyKey } from '../domain/command';
import { StepStatus } from '../domain/release';
import { failureMessage, type ReleaseRun } from './run-state';

/** Sends one notification through every configured channel, once per key; a failure is recorded, never thrown. */
export async function notify(
  run: ReleaseRun,
  event: string,
  title: string,
  text: string,
  opts: { urgent?: boolean; key?: string; page?: { action: 'trigger' | 'resolve'; incident: string; severity?: 'critical' | 'warning' } } = {},
): Promise<void> {
  const { slackWebhookUrlEnv, webhookUrlEnv, webhookSecretEnv, pagerDutyRoutingKeyEnv } = run.config.notify;
  try {
    await run.acts.notify.notify({
      outDir: run.outDir,
      targets: { slackWebhookUrlEnv, webhookUrlEnv, webhookSecretEnv, pagerDutyRoutingKeyEnv },
      notification: {
        releaseId: run.releaseId,
        service: run.input.service,
        event,
        urgent: opts.urgent ?? false,
        title,
        text,
        key: idempotencyKey(run.runKey, `notify-${opts.key ?? event}`),
        // One incident per release run and cause: a retried trigger, and its resolve, find the same page.
        ...(opts.page ? { page: { ...opts.page, incident: idempotencyKey(run.runKey, opts.page.incident) } } : {}),
      },
    });
  } catch (e) {
    // Outside any phase: a lost notification is no part of how long a phase took.
    run.note(`notify ${event}`, StepStatus.FAILED, failureMessage(e), { outsidePhase: true });
  }
}
