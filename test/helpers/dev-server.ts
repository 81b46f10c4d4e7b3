import { type ChildProcess, spawn } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { freePort } from '../../demo/stack';
import { temporalCli } from './servers';

/**
 * The Temporal CLI dev server as a process the test owns: it can be killed and started again on
 * the same port and database file, which `TestWorkflowEnvironment` cannot do.
 */
export class DevServer {
  private child: ChildProcess | undefined;
  private ports: { grpc: number; http: number; metrics: number } | undefined;
  log = '';

  constructor(private readonly dbFile: string) {}

  get address(): string {
    if (!this.ports) throw new Error('the dev server has not started');
    return `127.0.0.1:${this.ports.grpc}`;
  }

  async start(): Promise<void> {
    this.ports ??= { grpc: await freePort(), http: await freePort(), metrics: await freePort() };
    const { grpc, http, metrics } = this.ports;
    this.child = spawn(
      temporalCli(),
      ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(grpc), '--http-port', String(http), '--metrics-port', String(metrics), '--db-filename', this.dbFile, '--log-level', 'error', '--search-attribute', 'RollgateState=Keyword'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-4000)));
    const end = Date.now() + 60_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`dev server exited: ${this.log}`);
      try {
        const c = await Connection.connect({ address: this.address, connectTimeout: '1 second' });
        await c.workflowService.getSystemInfo({});
        await c.close();
        return;
      } catch (e) {
        if (Date.now() > end) throw new Error(`dev server not ready after 60 s: ${(e as Error).message}\n${this.log}`, { cause: e });
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Kills it outright (SIGKILL): whatever is not in the database file is lost. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}
