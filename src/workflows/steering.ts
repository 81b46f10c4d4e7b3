import type { UpdateDefinition } from '@temporalio/common';
import { ApplicationFailure, setHandler, workflowInfo } from '@temporalio/workflow';
import type { VerifyResult } from '../activities/verify';
import type { Approval, Override } from '../domain/release';
import { parseSignedBody, type RequestContext, SIGNATURE_REFUSED, signedRequestRefusal } from '../domain/signed-request';
import { needsSignature, parseSteeringArgs, requestTarget, Steer, type SteeringArgs, type SteeringInput, steeringRefusal } from '../domain/steering';
import { abortUpdate, approveUpdate, overrideUpdate, pauseUpdate, promoteUpdate, rejectUpdate, resolveUpdate, resumeUpdate, statusQuery } from './messages';
import { currentHold } from './holds';
import { failureMessage, now, type ReleaseRun } from './run-state';

/** Who sent an update: the verified principal of a signed request, or the name typed (unverified). */
type Sender = VerifyResult;
type Handler<K extends Steer> = { update: UpdateDefinition<unknown, [SteeringInput[K]]>; apply: (run: ReleaseRun, args: SteeringArgs[K], sender: Sender) => unknown };

/** The name an update acts under; the schemas make sure an unsigned request names one. */
const byOf = (s: Sender): string => s.by ?? 'someone unnamed';

/** What each update does once its rule (src/domain/steering) allowed it and its sender is known. */
const handlers: { [K in Steer]: Handler<K> } = {
  approve: {
    update: approveUpdate,
    apply: (run, a, sender): Approval => {
      const pending = run.status.pendingApproval!;
      const approval: Approval = {
        kind: pending.kind,
        target: pending.target,
        ...(pending.phase ? { phase: pending.phase } : {}),
        by: byOf(sender),
        verified: sender.verified,
        at: now(),
        ...(a.reason ? { reason: a.reason } : {}),
        // Only what was asked for is recorded: an acknowledgement of nothing would read as a warning given.
        ...(a.acknowledge && a.acknowledge === pending.mustAcknowledge ? { acknowledged: a.acknowledge } : {}),
      };
      run.status.approvals.push(approval);
      return approval;
    },
  },
  reject: {
    update: rejectUpdate,
    apply: (run, a, sender) => {
      run.rejection = { by: byOf(sender), reason: a.reason };
      return { rejected: true as const };
    },
  },
  abort: {
    update: abortUpdate,
    apply: (run, a, sender) => {
      run.abortRequest = { reason: a.reason, ...(sender.by ? { by: sender.by } : {}) };
      return { aborting: true as const };
    },
  },
  pause: {
    update: pauseUpdate,
    apply: (run, a, sender) => {
      run.status.paused = { by: byOf(sender), at: now(), ...(a.reason ? { reason: a.reason } : {}) };
      return { paused: true as const };
    },
  },
  resume: {
    update: resumeUpdate,
    apply: (run) => {
      delete run.status.paused;
      return { resumed: true as const };
    },
  },
  promote: {
    update: promoteUpdate,
    apply: (run, a, sender) => {
      run.promoteRequest = { by: byOf(sender), full: a.full };
      if (a.full) run.fullPromotion = true;
      return { promoting: a.full ? 'to 100%, skipping the remaining steps and bakes' : `ending ${run.status.currentStep ?? 'the current bake'} now` };
    },
  },
  override: {
    update: overrideUpdate,
    apply: (run, a, sender) => {
      // The rule allowed it against this hold; the hold is read again here, as the handler runs.
      const hold = currentHold(run);
      if (!hold) throw refused(`nothing to override: the release is ${run.status.state}, not held by a deployment window or a freeze`);
      const o: Override = { by: byOf(sender), verified: sender.verified, at: now(), reason: a.reason, ...hold, ...(run.target ? { target: run.target.name } : {}) };
      (run.status.overrides ??= []).push(o);
      run.holdsChanged++;
      return { overriding: o.broke };
    },
  },
  resolve: {
    update: resolveUpdate,
    apply: (run, a, sender) => {
      run.resolution = { by: byOf(sender), action: a.action, reason: a.reason };
      return { resolving: a.action };
    },
  },
};

/** What a signed request of this update must have been signed for: this release, run, head commit, action and target. */
export function requestContext(run: ReleaseRun, kind: Steer, args: object): RequestContext {
  return { ...signingContext(run), action: kind, target: requestTarget(kind, args as { full?: boolean; action?: string }, run.status.pendingApproval?.target, run.status.hold?.target) };
}

/** The part of a request's context that status shows, so that the CLI can sign for it: with the record's digest once it is written. */
export function signingContext(run: ReleaseRun): { releaseId: string; runId: string; head: string; record?: string } {
  const record = run.status.recordSha256;
  return { releaseId: run.releaseId, runId: workflowInfo().runId, head: run.change?.headSha ?? run.input.head, ...(record ? { record } : {}) };
}

/** What a fleet's target takes only from its release. */
const RELEASE_WIDE: readonly Steer[] = [Steer.PAUSE, Steer.RESUME, Steer.PROMOTE];

const refused = (message: string, type = 'SteeringRefused') => ApplicationFailure.create({ message, type, nonRetryable: true });

/**
 * The status query and every steering update, each validated by its rule before it is accepted
 * into history. A signed request, and an unsigned one that may need a signature, is verified by
 * the worker (a local activity: the allowed-signers file is the worker's) before it applies; the
 * rules then judge it again, with the verified principal, as the state may have moved meanwhile.
 */
export function installSteering(run: ReleaseRun): void {
  /** Nonces of the signed requests accepted: each is good once. Rebuilt by replay, as the handlers run again. */
  const used = new Set<string>();
  setHandler(statusQuery, () => ({ ...run.status, signing: signingContext(run) }));
  for (const kind of Object.values(Steer)) {
    const { update, apply } = handlers[kind] as Handler<typeof kind>;
    setHandler(
      update as UpdateDefinition<unknown, [unknown]>,
      async (raw) => {
        const args = parseSteeringArgs(kind, raw);
        const sender = await verify(run, kind, args);
        // Spent once verified, even when refused below: a verified request in history is never good twice.
        if (sender.nonce) {
          if (used.has(sender.nonce)) throw refused('this signed request was already used: sign a new one', SIGNATURE_REFUSED);
          used.add(sender.nonce);
        }
        const refusal = steeringRefusal(kind, { ...args, ...(sender.by ? { by: sender.by } : {}) }, run.steeringView());
        if (refusal) throw refused(refusal);
        return apply(run, args, sender);
      },
      {
        validator: (raw) => {
          // A fleet's target moves with its release: pause, resume and promote go to the release.
          if (run.target && RELEASE_WIDE.includes(kind)) throw new Error(`${kind} acts on the whole release: rollgate ${kind} ${run.releaseId}`);
          const args = parseSteeringArgs(kind, raw);
          const refusal = steeringRefusal(kind, args, run.steeringView()) ?? signedRefusal(run, kind, args, used);
          if (refusal) throw new Error(refusal);
        },
      },
    );
  }
}

/** A signed request made for something else, expired or used before: refused before it reaches history (the workflow's clock). */
function signedRefusal<K extends Steer>(run: ReleaseRun, kind: K, args: SteeringArgs[K], used: ReadonlySet<string>): string | undefined {
  // An abort is never refused for its signature: it only decides whose name the abort carries.
  if (!args.signed || kind === Steer.ABORT) return undefined;
  const body = parseSignedBody(args.signed.payload);
  if (used.has(body.nonce)) return 'this signed request was already used: sign a new one';
  return signedRequestRefusal(body, requestContext(run, kind, args), Date.now());
}

/** Asks the worker who sent the update; an unsigned abort or pause needs no one's word (stopping must stay easy). */
async function verify<K extends Steer>(run: ReleaseRun, kind: K, args: SteeringArgs[K]): Promise<Sender> {
  const { by, signed } = args;
  if (!signed && !needsSignature(kind)) return { ...(by ? { by } : {}), verified: false };
  const reason = 'reason' in args ? args.reason : undefined;
  const acknowledge = 'acknowledge' in args ? args.acknowledge : undefined;
  try {
    return await run.acts.signatures.verifySteeringRequest({
      update: kind,
      ...(by ? { by } : {}),
      ...(reason !== undefined ? { reason } : {}),
      ...(acknowledge !== undefined ? { acknowledge } : {}),
      ...(signed ? { signed } : {}),
      expect: requestContext(run, kind, args),
    });
  } catch (e) {
    // Stopping must always be easy: an abort whose signature fails still stops, under the name it typed (if any), unverified.
    if (kind === Steer.ABORT) return { ...(by ? { by } : {}), verified: false };
    throw refused(failureMessage(e), SIGNATURE_REFUSED);
  }
}
