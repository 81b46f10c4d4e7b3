import type { UpdateDefinition } from '@temporalio/common';
import { setHandler } from '@temporalio/workflow';
import type { Approval } from '../domain/release';
import { parseSteeringArgs, Steer, type SteeringArgs, type SteeringInput, steeringRefusal } from '../domain/steering';
import { abortUpdate, approveUpdate, pauseUpdate, promoteUpdate, rejectUpdate, resolveUpdate, resumeUpdate, statusQuery } from './messages';
import { now, type ReleaseRun } from './run-state';

type Handler<K extends Steer> = { update: UpdateDefinition<unknown, [SteeringInput[K]]>; apply: (run: ReleaseRun, args: SteeringArgs[K]) => unknown };

/** What each update does once its rule (src/domain/steering) allowed it. */
const handlers: { [K in Steer]: Handler<K> } = {
  approve: {
    update: approveUpdate,
    apply: (run, a): Approval => {
      const pending = run.status.pendingApproval!;
      const approval: Approval = {
        kind: pending.kind,
        target: pending.target,
        ...(pending.phase ? { phase: pending.phase } : {}),
        by: a.by,
        at: now(),
        ...(a.reason ? { reason: a.reason } : {}),
      };
      run.status.approvals.push(approval);
      return approval;
    },
  },
  reject: {
    update: rejectUpdate,
    apply: (run, a) => {
      run.rejection = { by: a.by, reason: a.reason };
      return { rejected: true as const };
    },
  },
  abort: {
    update: abortUpdate,
    apply: (run, a) => {
      run.abortRequest = { reason: a.reason, ...(a.by ? { by: a.by } : {}) };
      return { aborting: true as const };
    },
  },
  pause: {
    update: pauseUpdate,
    apply: (run, a) => {
      run.status.paused = { by: a.by, at: now(), ...(a.reason ? { reason: a.reason } : {}) };
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
    apply: (run, a) => {
      run.promoteRequest = { by: a.by, full: a.full };
      if (a.full) run.fullPromotion = true;
      return { promoting: a.full ? 'to 100%, skipping the remaining steps and bakes' : `ending ${run.status.currentStep ?? 'the current bake'} now` };
    },
  },
  resolve: {
    update: resolveUpdate,
    apply: (run, a) => {
      run.resolution = { by: a.by, action: a.action, reason: a.reason };
      return { resolving: a.action };
    },
  },
};

/** The status query and every steering update, each validated by its rule before it is accepted into history. */
export function installSteering(run: ReleaseRun): void {
  setHandler(statusQuery, () => run.status);
  for (const kind of Object.values(Steer)) {
    const { update, apply } = handlers[kind] as Handler<typeof kind>;
    setHandler(update as UpdateDefinition<unknown, [unknown]>, (args) => apply(run, parseSteeringArgs(kind, args)), {
      validator: (args) => {
        const refusal = steeringRefusal(kind, parseSteeringArgs(kind, args), run.steeringView());
        if (refusal) throw new Error(refusal);
      },
    });
  }
}
