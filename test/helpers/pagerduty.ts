import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local PagerDuty Events API v2 receiver, answering as the real one documents: 202 with
 * `{status, message, dedup_key}` for a valid event; 400 `{status: "invalid event", errors}` for a
 * routing key that is not 32 characters, an unknown action, or a trigger without its payload's
 * summary, source and severity.
 */
export class PagerDutyReceiver {
  events: Record<string, unknown>[] = [];
  private server: Server | undefined;
  url = '';
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const e = JSON.parse(body) as { routing_key?: string; event_action?: string; dedup_key?: string; payload?: { summary?: string; source?: string; severity?: string } };
        const errors: string[] = [];
        if (req.url !== '/v2/enqueue' || req.headers['content-type'] !== 'application/json') errors.push('not an Events API v2 request');
        if (e.routing_key?.length !== 32) errors.push('Invalid routing key');
        if (!['trigger', 'acknowledge', 'resolve'].includes(e.event_action ?? '')) errors.push('Event action is invalid');
        if (e.event_action === 'trigger' && !(e.payload?.summary && e.payload.source && ['critical', 'error', 'warning', 'info'].includes(e.payload.severity ?? ''))) errors.push('Payload is invalid');
        if (e.event_action !== 'trigger' && !e.dedup_key) errors.push('Dedup key is required');
        if (errors.length) return void res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors }));
        this.events.push(e);
        res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: e.dedup_key }));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/v2/enqueue`;
  }
  stop = () => new Promise((r) => this.server?.close(r));
}
