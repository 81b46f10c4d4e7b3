import { StringDecoder } from 'node:string_decoder';
import type { Redactor } from '../domain/redact';
import type { MetricProvider } from './prometheus';

/**
 * Redacts an error in place (message, stack, and its causes), keeping its class and fields, so that
 * Temporal's failure type and retry decision are unchanged: the failure's message and stack trace
 * go into history as they are, and the stack repeats the message.
 */
export function redactError<T>(e: T, redactor: Redactor, depth = 0): T {
  if (!(e instanceof Error) || depth > 5) return e;
  const clean = redactor.redact(e.message);
  if (clean !== e.message) {
    const stack = e.stack;
    Object.defineProperty(e, 'message', { value: clean, writable: true, configurable: true, enumerable: false });
    if (stack !== undefined) Object.defineProperty(e, 'stack', { value: redactor.redact(stack), writable: true, configurable: true, enumerable: false });
  } else if (e.stack) {
    const stack = redactor.redact(e.stack);
    if (stack !== e.stack) Object.defineProperty(e, 'stack', { value: stack, writable: true, configurable: true, enumerable: false });
  }
  if (e.cause !== undefined) redactError(e.cause, redactor, depth + 1);
  return e;
}

/**
 * A metric provider whose errors carry no secret: their messages become measurement messages,
 * which go into heartbeats, the monitor's result (history), the measurements file and the record.
 */
export function redactingProvider(provider: MetricProvider, redactor: Redactor): MetricProvider {
  const guard = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (e) {
        throw redactError(e, redactor);
      }
    };
  return {
    query: guard(provider.query.bind(provider)),
    reachable: guard(provider.reachable.bind(provider)),
    ...(provider.scrapeInterval ? { scrapeInterval: guard(provider.scrapeInterval.bind(provider)) } : {}),
  };
}

/** Redacts whole lines of a stream of output (a secret split across two chunks is still found), for log files. */
export function lineRedactor(redactor: Redactor, write: (text: string) => void): { write: (chunk: Buffer) => void; end: () => void } {
  let pending = '';
  // A character split between two chunks is joined before it is decoded.
  const decoder = new StringDecoder('utf8');
  return {
    write(chunk) {
      pending += decoder.write(chunk);
      const cut = pending.lastIndexOf('\n');
      if (cut < 0) {
        // A very long line without a newline is flushed in pieces rather than held.
        if (pending.length > 64 * 1024) {
          write(redactor.redact(pending));
          pending = '';
        }
        return;
      }
      write(redactor.redact(pending.slice(0, cut + 1)));
      pending = pending.slice(cut + 1);
    },
    end() {
      pending += decoder.end();
      if (pending) write(redactor.redact(pending));
      pending = '';
    },
  };
}
