import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { z } from 'zod';
import type { ReleaseInput } from '../../domain/release';
import { serviceName, versionText } from '../../domain/release';
import { InputError } from '../../domain/errors';
import { fingerprint } from '../../domain/fingerprint';
import { connectClient, stateAttributeRegistered } from '../../connection/client';
import { RELEASE_STATE_ATTRIBUTE, RELEASE_WORKFLOW, statusQuery } from '../../workflows/messages';
import { ExitCode } from '../exit-code';
import { type FlagSpec, type Out, parseFlags, quoted } from '../flags';
import { evidenceFlags, evidenceOptions, releaseIdFor, resolveInputs } from '../inputs';
import { uiLink } from '../temporal';
import { follow, waitTimeout } from '../follow';

const StartFlagsSchema = z.strictObject({
  ...evidenceFlags,
  service: quoted(serviceName).optional(),
  version: quoted(versionText).optional(),
  'previous-version': quoted(versionText).optional(),
  wait: z.boolean().default(false),
  'wait-timeout': quoted(waitTimeout).optional(),
});

export const startFlags = {
  command: 'start',
  options: {
    ...evidenceOptions,
    service: { type: 'string' },
    version: { type: 'string' },
    'previous-version': { type: 'string' },
    wait: { type: 'boolean' },
    'wait-timeout': { type: 'string' },
  },
  schema: StartFlagsSchema,
} satisfies FlagSpec<typeof StartFlagsSchema>;

/** `rollgate start`: starts the release workflow (or attaches to the running one) and, with --wait, follows it to its end. */
export async function startCommand(args: string[], out: Out): Promise<number> {
  const flags = parseFlags(startFlags, args);
  const inputs = await resolveInputs(flags);
  // The service may come from rollgate.yaml, whose schema checks its spelling.
  const service = flags.service ?? inputs.config.service;
  if (!service) throw new InputError('--service: required (or set service in rollgate.yaml)');
  const releaseId = releaseIdFor(service, inputs.headSha);
  // The worker reads the policy at the base itself: the input says where, never what.
  const source = inputs.configSource;
  if (source.kind === 'file')
    throw new InputError(`--config: ${source.file} lies outside the repository: the worker reads the release policy from the repository at the base commit; commit it there, or put what the worker must own in its ROLLGATE_POLICY`);
  const input: ReleaseInput = {
    releaseId,
    service,
    repo: inputs.repo,
    base: inputs.base,
    head: inputs.head,
    refs: { base: flags.base, head: flags.head },
    reportsDir: inputs.reportsDir,
    junit: inputs.junit,
    outDir: inputs.outDir,
    ...(inputs.usersAffected !== undefined ? { usersAffected: inputs.usersAffected } : {}),
    version: flags.version ?? inputs.headSha.slice(0, 12),
    ...(flags['previous-version'] ? { previousVersion: flags['previous-version'] } : {}),
    ...(source.kind === 'commit' && !source.missing ? { policyFile: source.path } : {}),
  };
  const { client, settings, close } = await connectClient();
  try {
    // Both lookups at once: they sit between CI and the decision.
    const [running, withState] = await Promise.all([
      client.workflow
        .getHandle(releaseId)
        .describe()
        .then((d) => d.status.name === 'RUNNING', () => false), // not started yet
      stateAttributeRegistered(client),
    ]);
    let attached = running;
    try {
      await client.workflow.start(RELEASE_WORKFLOW, {
        taskQueue: settings.taskQueue,
        workflowId: releaseId,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        // Lets visibility count releases by state; only where the namespace knows the attribute.
        ...(withState ? { typedSearchAttributes: [{ key: RELEASE_STATE_ATTRIBUTE, value: 'deciding' }] } : {}),
      });
    } catch (e) {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
      attached = true;
    }
    // Attaching is for a re-run of the same CI job: another input under the same ID is someone else's release.
    if (attached) {
      const theirs = (await client.workflow.getHandle(releaseId).query(statusQuery).catch(() => undefined))?.inputFingerprint;
      if (theirs !== undefined && theirs !== fingerprint(input))
        throw new InputError(`release ${releaseId} is already running with a different input (other flags, reports or policy file for the same commit); wait for it, or abort it first: rollgate abort ${releaseId} --reason ...`);
    }
    const started = { releaseId, attached, ui: uiLink(settings.namespace, releaseId) };
    if (flags.json && !flags.wait) out.log(JSON.stringify(started));
    else {
      // With --json, stdout holds one JSON document; the start goes to stderr for the CI log.
      const say = flags.json ? out.err : out.log;
      say(`${attached ? 'attached to running' : 'started'} release ${releaseId}`);
      say(`Temporal UI: ${started.ui}`);
    }
    if (!flags.wait) return ExitCode.OK;
    return await follow(client, started, flags['wait-timeout'], out, flags.json, input.service);
  } finally {
    await close();
  }
}
