/**
 * The fleet's own cost: SERVICES services (default 40) at RPS requests/s each (default 40) through
 * one stable and one canary instance of the demo service, scraped every second, for SECS seconds
 * (default 30). Prints the CPU seconds of the two service processes, the load generator (this
 * process, which does nothing else) and Prometheus over that window, and the rate they reached:
 * the headroom left for Temporal and the worker when a proof suite runs that many releases.
 * Writes bench/results/fleet-load.json. Run with `tsx bench/fleet-load.ts`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DemoStack } from '../demo/stack';
import { main, processUsage, round, sleep, writeResult } from './lib';

const SERVICES = Number(process.env.SERVICES ?? 40);
const RPS = Number(process.env.RPS ?? 40);
const SECS = Number(process.env.SECS ?? 30);

async function run(): Promise<void> {
  const services = Array.from({ length: SERVICES }, (_, i) => `load-${i}`);
  const stack = new DemoStack({ services, rpsPerService: RPS, scrapeInterval: '1s' });
  await stack.start();
  try {
    // Weights across the range and a fault on every fifth canary (one slow), as a proof suite would set them.
    services.forEach((s, i) => stack.traffic.setWeight([5, 10, 20, 50, 100][i % 5]!, s));
    await Promise.all(services.filter((_, i) => i % 5 === 0).map((s, i) => stack.setFault(s, i === 0 ? { latencyMs: 300 } : { errorRate: 0.3 })));
    await sleep(3000); // past the start-up and the first scrapes

    const pids = { stable: stack.stable.child!.pid!, canary: stack.canary.child!.pid!, prometheus: stack.prometheus.child!.pid! };
    const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processUsage(pid).cpuSeconds]));
    const sent = () => Object.values(stack.traffic.stats()).reduce((n, r) => n + r.sent.stable + r.sent.canary, 0);
    const [sent0, cpu0, t0] = [sent(), process.cpuUsage(), performance.now()];
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    await sleep(SECS * 1000);
    loop.disable();
    const elapsed = (performance.now() - t0) / 1000;
    const gen = process.cpuUsage(cpu0);
    const cpu = {
      ...Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processUsage(pid).cpuSeconds - before[k]!])),
      loadGenerator: (gen.user + gen.system) / 1e6,
    };
    const query = async (q: string) =>
      Number(((await fetch(`${stack.prometheus.url}/api/v1/query?query=${encodeURIComponent(q)}`).then((r) => r.json())) as { data: { result: { value: [number, string] }[] } }).data.result[0]?.value[1]);
    const window = `${Math.floor(SECS - 2)}s`;
    const lag = (ns: number) => round(Math.max(0, ns / 1e6 - 10), 2);
    const stats = Object.values(stack.traffic.stats());
    writeResult('fleet-load', {
      services: SERVICES,
      rpsPerService: RPS,
      seconds: round(elapsed),
      requestsPerSecond: {
        target: SERVICES * RPS,
        sent: round((sent() - sent0) / elapsed),
        // What the services counted, as Prometheus saw it.
        served: round(await query(`sum(rate(http_requests_total[${window}]))`)),
        dropped: stats.reduce((n, r) => n + r.dropped, 0),
      },
      cpuSeconds: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round(v, 2)])),
      // Shares of one core; the machine has as many as `machine.cpus`.
      coreShare: Object.fromEntries([...Object.entries(cpu), ['total', Object.values(cpu).reduce((a, b) => a + b, 0)]].map(([k, v]) => [k, round((v as number) / elapsed, 3)])),
      // How late the generator's event loop ran (the histogram counts the 10 ms timer itself too).
      loadGeneratorLoopLagMs: { p50: lag(loop.percentile(50)), p99: lag(loop.percentile(99)), max: lag(loop.max) },
      rssMiB: Object.fromEntries([...Object.entries(pids).map(([k, pid]) => [k, processUsage(pid).rssMiB]), ['loadGenerator', round(process.memoryUsage().rss / 2 ** 20)]]),
    });
  } finally {
    await stack.stop();
  }
}

main(run);
