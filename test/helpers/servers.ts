import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';

const TOOLS = resolve(__dirname, '../../.tools/bin');

function tool(name: string): string {
  const path = join(TOOLS, name);
  if (!existsSync(path)) throw new Error(`${name} is not provisioned: run npm run setup`);
  return path;
}

/** The Java time-skipping test server, from Maven Central. */
export const timeSkippingEnv = () =>
  TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: tool('temporal-test-server') } } });

/** The Temporal CLI dev server, built from the Go module proxy. */
export const devServerEnv = (opts: { dbFilename?: string } = {}) =>
  TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: tool('temporal') }, ...(opts.dbFilename ? { dbFilename: opts.dbFilename } : {}) },
  });

export const temporalCli = () => tool('temporal');

// Worker logs at WARN so that test output stays readable.
import { DefaultLogger, Runtime } from '@temporalio/worker';
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  /* already installed by another test file in this process */
}
