import { dirname } from 'node:path';
import { appendLine, readLines } from './out-files';
import { signature } from './signature';

export interface Notification {
  releaseId: string;
  service: string;
  /** Stable event name: deploy-starting, approval-needed, phase-done, rollback, released, rollback-failed. */
  event: string;
  urgent: boolean;
  title: string;
  text: string;
  /** Dedupe key: one notification per release run and event. */
  key: string;
  /** Where a person can look: the Temporal UI link. */
  link?: string;
  /** Pages the on-call engineer (PagerDuty): a human is needed, or no longer. A resolve is for the pager only (and the file trail). */
  page?: Page;
}

/** A page: opened when a human is needed, resolved once one has acted. `incident` is the dedup key both share. */
export interface Page {
  action: 'trigger' | 'resolve';
  incident: string;
  severity?: 'critical' | 'error' | 'warning' | 'info';
}

export interface Notifier {
  readonly name: string;
  send(n: Notification): Promise<void>;
}

export class NotifyError extends Error {}

/** Appends notifications to a JSON-lines file in the output folder (`root`): the local trail, always on. */
export class FileNotifier implements Notifier {
  readonly name = 'file';
  constructor(
    private readonly file: string,
    private readonly root: string = dirname(file),
  ) {}
  async send(n: Notification): Promise<void> {
    await appendLine(this.file, JSON.stringify({ at: new Date().toISOString(), ...n }), { root: this.root });
  }
}

async function post(url: string, body: string, headers: Record<string, string>, what: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    // The URL is a secret: the message names the adapter, never the address.
    throw new NotifyError(`${what}: ${(e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).name}`);
  }
  if (!res.ok) throw new NotifyError(`${what}: HTTP ${res.status}`);
}

/**
 * Text for Slack's mrkdwn as data, the way Slack documents it: `&`, `<` and `>` as entities, so a
 * commit subject or SQL line cannot carry a mention (`<!channel>`, `<!here>`, `<@U…>`) or a link
 * whose label hides its address. Bare addresses stay visible as they are.
 */
export const slackText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Cut at `max` without splitting an entity (a `&lt;` cut to `&l` would show as such). */
const cut = (s: string, max: number): string => (s.length <= max ? s : s.slice(0, max).replace(/&[a-z]{0,3}$/, ''));

/** Slack incoming webhook with a Block Kit message. */
export class SlackNotifier implements Notifier {
  readonly name = 'slack';
  constructor(private readonly url: string) {}

  static message(n: Notification) {
    return {
      text: `${n.urgent ? ':rotating_light: ' : ''}${slackText(n.title)}`,
      // Our messages have no links of their own to preview; a change's address gets no card.
      unfurl_links: false,
      unfurl_media: false,
      blocks: [
        // plain_text is never parsed for mentions or links.
        { type: 'header', text: { type: 'plain_text', text: `${n.urgent ? '🚨 ' : ''}${n.title}`.slice(0, 150) } },
        { type: 'section', text: { type: 'mrkdwn', text: cut(slackText(n.text), 3000) } },
        {
          type: 'context',
          elements: [{ type: 'mrkdwn', text: `*${slackText(n.service)}* · \`${slackText(n.releaseId)}\` · ${slackText(n.event)}${n.link ? ` · <${n.link}|Temporal UI>` : ''}` }],
        },
      ],
    };
  }

  send(n: Notification): Promise<void> {
    if (n.page?.action === 'resolve') return Promise.resolve();
    return post(this.url, JSON.stringify(SlackNotifier.message(n)), {}, 'slack webhook');
  }
}

/** PagerDuty's Events API v2 endpoint (the EU service region has its own: set ROLLGATE_PAGERDUTY_EVENTS_URL). */
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

/**
 * PagerDuty Events API v2: pages the on-call engineer for the notifications that carry a page, and
 * resolves the page with the same dedup key once a human has acted. Every other notification is
 * for people reading a channel, not for a pager: it passes by.
 */
export class PagerDutyNotifier implements Notifier {
  readonly name = 'pagerduty';
  constructor(
    private readonly routingKey: string,
    private readonly url: string = PAGERDUTY_EVENTS_URL,
  ) {}

  static event(routingKey: string, n: Notification & { page: Page }) {
    const { action, incident, severity = 'critical' } = n.page;
    // PagerDuty keeps 255 characters of a dedup key: a trigger and its resolve cut it alike.
    if (action === 'resolve') return { routing_key: routingKey, event_action: action, dedup_key: incident.slice(0, 255) };
    return {
      routing_key: routingKey,
      event_action: action,
      dedup_key: incident.slice(0, 255),
      payload: {
        summary: n.title.slice(0, 1024),
        source: `rollgate/${n.service}`,
        severity,
        component: n.service,
        group: n.releaseId,
        class: n.event,
        custom_details: { text: n.text, release: n.releaseId, service: n.service, event: n.event },
      },
      client: 'rollgate',
      ...(n.link ? { client_url: n.link, links: [{ href: n.link, text: 'Temporal UI' }] } : {}),
    };
  }

  async send(n: Notification): Promise<void> {
    if (!n.page) return;
    // Any failure (400 for a bad routing key or event, 429, 5xx) is retried a few times by the activity, then recorded.
    await post(this.url, JSON.stringify(PagerDutyNotifier.event(this.routingKey, { ...n, page: n.page })), {}, 'pagerduty events');
  }
}

/** A generic JSON webhook, signed: `X-Rollgate-Signature: sha256=<HMAC-SHA256 of the body>`. */
export class WebhookNotifier implements Notifier {
  readonly name = 'webhook';
  constructor(
    private readonly url: string,
    private readonly secret: string | undefined,
  ) {}

  send(n: Notification): Promise<void> {
    if (n.page?.action === 'resolve') return Promise.resolve();
    const body = JSON.stringify({ ...n, sentAt: new Date().toISOString() });
    const headers: Record<string, string> = { 'x-rollgate-event': n.event, 'idempotency-key': n.key };
    if (this.secret) headers['x-rollgate-signature'] = signature(this.secret, body);
    return post(this.url, body, headers, 'webhook');
  }
}

/** The notifiers a release asks for, from the worker's environment variables its config names. */
export function notifiersFromEnv(
  file: string,
  names: { slackWebhookUrlEnv: string; webhookUrlEnv: string; webhookSecretEnv: string; pagerDutyRoutingKeyEnv?: string },
  env: NodeJS.ProcessEnv = process.env,
  root = dirname(file),
): Notifier[] {
  const list: Notifier[] = [new FileNotifier(file, root)];
  const slack = env[names.slackWebhookUrlEnv];
  if (slack) list.push(new SlackNotifier(slack));
  const hook = env[names.webhookUrlEnv];
  if (hook) list.push(new WebhookNotifier(hook, env[names.webhookSecretEnv]));
  const routingKey = env[names.pagerDutyRoutingKeyEnv ?? 'ROLLGATE_PAGERDUTY_ROUTING_KEY'];
  if (routingKey) list.push(new PagerDutyNotifier(routingKey, env.ROLLGATE_PAGERDUTY_EVENTS_URL || PAGERDUTY_EVENTS_URL));
  return list;
}

/**
 * Sends to every notifier once per key: a journal of (key, notifier) pairs already delivered
 * means a retried activity re-sends only where it failed. A journal line torn by a crash is passed
 * over and counted (its notifier is sent to again). `root`: the output folder that holds the journal.
 */
export async function deliver(journal: string, notifiers: Notifier[], n: Notification, root = dirname(journal)): Promise<{ sent: string[]; failed: string[]; skippedLines?: number }> {
  const { lines, skippedLines } = await readLines<{ key?: unknown; to?: unknown }>(journal, { root });
  const done = new Set(lines.filter((l) => l.key === n.key).map((l) => l.to));
  const sent: string[] = [];
  const failed: string[] = [];
  for (const notifier of notifiers) {
    if (done.has(notifier.name)) continue;
    try {
      await notifier.send(n);
      await appendLine(journal, JSON.stringify({ key: n.key, to: notifier.name }), { root });
      sent.push(notifier.name);
    } catch (e) {
      failed.push(`${notifier.name}: ${(e as Error).message}`);
    }
  }
  return { sent, failed, ...(skippedLines ? { skippedLines } : {}) };
}
