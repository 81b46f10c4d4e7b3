/**
 * A preload for a worker under measurement (NODE_OPTIONS="--require bench/heap-probe.cjs"). It
 * runs in the main thread and in every worker thread (the SDK runs workflows in one), because Node
 * applies --require to both.
 *
 * - Every ROLLGATE_HEAP_PROBE_EVERY_MS (default 5000) each thread appends one line to
 *   $ROLLGATE_HEAP_PROBE_DIR/memory.jsonl: its V8 heap figures; the main thread adds the process's
 *   RSS and its split (anonymous, file-backed) from /proc.
 * - On SIGUSR2 every thread writes a heap snapshot, main-<pid>-<n>.heapsnapshot and
 *   thread-<id>-<n>.heapsnapshot, then a line {"snapshot": n, "files": [...]} to memory.jsonl.
 *   Analyse them with bench/heap-summary.ts.
 */
/* global require, process, setInterval, setTimeout */
/* eslint-disable @typescript-eslint/no-require-imports -- a plain CommonJS preload, loaded before tsx */
'use strict';
const { existsSync, mkdirSync, appendFileSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const v8 = require('node:v8');
const { BroadcastChannel, isMainThread, threadId } = require('node:worker_threads');

const dir = process.env.ROLLGATE_HEAP_PROBE_DIR;
if (dir) {
  mkdirSync(dir, { recursive: true });
  const every = Number(process.env.ROLLGATE_HEAP_PROBE_EVERY_MS ?? 5000);
  const out = join(dir, 'memory.jsonl');
  const MiB = 2 ** 20;
  const round = (bytes) => Math.round((bytes / MiB) * 10) / 10;
  const who = isMainThread ? 'main' : `thread-${threadId}`;

  const procStatus = () => {
    const text = readFileSync('/proc/self/status', 'utf8');
    const field = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    const mib = (key) => Math.round(field(key) / 102.4) / 10;
    return { rssMiB: mib('VmRSS'), peakRssMiB: mib('VmHWM'), anonMiB: mib('RssAnon'), fileMiB: mib('RssFile'), threads: field('Threads') };
  };
  const sample = () => {
    const h = v8.getHeapStatistics();
    const line = {
      at: new Date().toISOString(),
      who,
      heapUsedMiB: round(h.used_heap_size),
      heapTotalMiB: round(h.total_heap_size),
      heapLimitMiB: round(h.heap_size_limit),
      mallocedMiB: round(h.malloced_memory),
      externalMiB: round(h.external_memory),
      nativeContexts: h.number_of_native_contexts,
      detachedContexts: h.number_of_detached_contexts,
      ...(isMainThread ? { process: procStatus(), arrayBuffersMiB: round(process.memoryUsage().arrayBuffers) } : {}),
    };
    appendFileSync(out, `${JSON.stringify(line)}\n`);
  };
  setInterval(sample, every).unref();

  let n = 0;
  const channel = new BroadcastChannel('rollgate-heap-probe');
  channel.unref();
  const snapshot = (k) => {
    const file = join(dir, isMainThread ? `main-${process.pid}-${k}.heapsnapshot` : `thread-${threadId}-${k}.heapsnapshot`);
    if (!existsSync(file)) v8.writeHeapSnapshot(file);
    sample();
    appendFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), who, snapshot: k, file })}\n`);
  };
  channel.onmessage = (event) => {
    if (event.data && typeof event.data.snapshot === 'number') snapshot(event.data.snapshot);
  };
  if (isMainThread) {
    process.on('SIGUSR2', () => {
      n += 1;
      // The threads first: the main thread's own snapshot blocks its event loop for a while.
      channel.postMessage({ snapshot: n });
      setTimeout(() => snapshot(n), 100);
    });
  }
}
