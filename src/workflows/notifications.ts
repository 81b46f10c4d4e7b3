import { idempotencyKey } from '../domain/command';
import { StepStatus } from '../domain/release';
import { failureMessage, type ReleaseRun } from './run-state';

/** Sends one notification through every configured channel, once per key; a failure is recorded, never thrown. */
/** Resolves every page still open: once a release has ended, or stopped waiting, no one is needed for it. */
export async function resolvePages(run: ReleaseRun): Promise<void> {
  for (const incident of [...run.openPages])
    await notify(run, 'page-resolved', `Resolved: ${run.input.service} ${run.version}`, `${incident}: no longer needs a human.`, { key: `resolved-${incident}`, page: { action: 'resolve', incident } });
}

export async function notify(
  run: ReleaseRun,
  event: string,
  title: string,
  text: string,
  opts: { urgent?: boolean; key?: string; page?: { action: 'trigger' | 'resolve'; incident: string; severity?: 'critical' | 'warning' } } = {},
): Promise<void> {
  const { slackWebhookUrlEnv, webhookUrlEnv, webhookSecretEnv, pagerDutyRoutingKeyEnv } = run.config.notify;
  if (opts.page?.action === 'trigger') run.openPages.add(opts.page.incident);
  if (opts.page?.action === 'resolve') run.openPages.delete(opts.page.incident);
  try {
    await run.acts.notify.notify({
      outDir: run.outDir,
      targets: { slackWebhookUrlEnv, webhookUrlEnv, webhookSecretEnv, pagerDutyRoutingKeyEnv },
      notification: {
        releaseId: run.releaseId,
        service: run.input.service,
        event,
        urgent: opts.urgent ?? false,
        // A fleet's target says which it is.
        title: run.target ? `[${run.target.name}] ${title}` : title,
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
