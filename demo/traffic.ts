import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A load generator standing in for a weighted router: it sends a steady stream of requests to the
 * stable and canary instances in proportion to the canary's weight. The deploy command moves the
 * weight through its admin endpoint (POST /weight {"weight": 50}), as it would move a real router.
 */
export class Traffic {
  weight = 0;
  sent = { stable: 0, canary: 0 };
  private timer: NodeJS.Timeout | undefined;
  private admin: Server | undefined;
  private carry = 0;

  constructor(private readonly targets: { stable: string; canary: string }, private readonly rps = 40) {}

  /** Starts the requests and the admin endpoint; returns the admin URL. */
  async start(): Promise<string> {
    const tickMs = 50;
    this.timer = setInterval(() => {
      this.carry += (this.rps * tickMs) / 1000;
      for (; this.carry >= 1; this.carry--) {
        const track = Math.random() * 100 < this.weight ? 'canary' : 'stable';
        this.sent[track]++;
        fetch(this.targets[track]).then((r) => r.arrayBuffer(), () => undefined).catch(() => undefined);
      }
    }, tickMs);
    this.admin = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/weight') {
          const w = Number((JSON.parse(body || '{}') as { weight?: unknown }).weight);
          if (!Number.isFinite(w) || w < 0 || w > 100) return void res.writeHead(400).end('weight must be 0 to 100');
          this.weight = w;
          return void res.writeHead(200).end(String(w));
        }
        res.writeHead(req.method === 'GET' ? 200 : 404).end(String(this.weight));
      });
    });
    await new Promise<void>((r) => this.admin!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.admin.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await new Promise((r) => this.admin?.close(r) ?? r(undefined));
  }
}
