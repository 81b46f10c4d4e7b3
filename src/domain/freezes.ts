import { z } from 'zod';
import { serviceName } from './release';
import { SignedSchema } from './signed-request';
import { hasControlCharacters } from './steering';

/**
 * Freezes (issue 16): a human says "no new phase for these services until then", for a reason.
 * Kept by one registry workflow per namespace, which pushes each subscribed release the freezes
 * that hold its service. Pure: the schemas and which freezes hold a service at an instant.
 */

/** Every service: `rollgate freeze --all`. */
export const ALL_SERVICES = '*';
/** Bounds that keep the registry's state, its pushes and its next run's input small. */
export const MAX_SERVICES = 100;
export const MAX_FREEZES = 200;

const NO_CONTROL = 'must not contain control characters (newlines, carriage returns, other C0/C1 or U+2028/U+2029)';
const text = (max: number) =>
  z
    .string()
    .refine((s) => !hasControlCharacters(s), NO_CONTROL)
    .trim()
    .min(1, 'must be given')
    .max(max);

export const FreezeArgsSchema = z.strictObject({
  services: z
    .array(z.union([z.literal(ALL_SERVICES), serviceName]))
    .min(1, 'name at least one service (or all)')
    .max(MAX_SERVICES, `name at most ${MAX_SERVICES} services (or all)`),
  reason: text(2000),
  by: text(200),
  /** ISO 8601 instant with its offset; the registry refuses one already past. */
  until: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 instant such as 2026-12-27T08:00:00Z' }),
});
export type FreezeArgs = z.input<typeof FreezeArgsSchema>;

export const UnfreezeArgsSchema = z
  .strictObject({
    /** The freeze to end, as `rollgate freezes` lists it. */
    id: z.string().regex(/^F\d+$/, 'must be a freeze ID such as F3').optional(),
    /** Or every freeze that names one of these services. */
    services: z
      .array(z.union([z.literal(ALL_SERVICES), serviceName]))
      .min(1)
      .max(MAX_SERVICES, `name at most ${MAX_SERVICES} services (or all)`)
      .optional(),
    /** Who unfreezes; a signed request may leave it to the key. */
    by: text(200).optional(),
    reason: text(2000).optional(),
    /** The request signed with an SSH key (`rollgate unfreeze --key`): a worker with allowed signers takes no other. */
    signed: SignedSchema.optional(),
  })
  .refine((a) => (a.id === undefined) !== (a.services === undefined), { path: ['id'], message: 'give a freeze ID or services, one of them' })
  .refine((a) => a.by !== undefined || a.signed !== undefined, { path: ['by'], message: 'who unfreezes must be given (or sign with --key)' });
export type UnfreezeArgs = z.input<typeof UnfreezeArgsSchema>;

/** The action a signed unfreeze is signed for. */
export const UNFREEZE = 'unfreeze';
/**
 * A signed unfreeze's `head`: the registry judges no commit, so the payload names the registry
 * there; its workflow ID and run stand where a release's would.
 */
export const REGISTRY_HEAD = 'freeze-registry';

/** What an unfreeze ends, as its signature names it: the freeze ID, or the services (lower case, sorted; `*` for all). */
export function unfreezeTarget(a: { id?: string | undefined; services?: readonly string[] | undefined }): string {
  return a.id ?? `services ${[...new Set(a.services?.map((s) => s.toLowerCase()))].sort().join(',')}`;
}

export interface Freeze {
  id: string;
  services: string[];
  reason: string;
  by: string;
  at: string;
  until: string;
}

/** Whether a freeze names `service` (or every service). */
export const names = (f: Pick<Freeze, 'services'>, service: string): boolean => f.services.includes(ALL_SERVICES) || f.services.some((s) => s.toLowerCase() === service.toLowerCase());

/** The freezes that hold `service` at `now`: naming it, and not yet past their `until`. */
export const freezesHolding = (freezes: readonly Freeze[], service: string, now: number): Freeze[] => freezes.filter((f) => names(f, service) && Date.parse(f.until) > now);

/**
 * What an unfreeze leaves: by ID the freeze ends; by services each is taken out of the freezes
 * naming it, and a freeze left with none ends (`*` ends them all; a freeze of every service is
 * ended only by its ID or by `*`).
 */
export function unfreeze(freezes: readonly Freeze[], a: z.output<typeof UnfreezeArgsSchema>): { kept: Freeze[]; ended: Freeze[]; narrowed: Freeze[] } {
  const out = { kept: [] as Freeze[], ended: [] as Freeze[], narrowed: [] as Freeze[] };
  const named = new Set(a.services?.map((s) => s.toLowerCase()));
  for (const f of freezes) {
    const left = a.id !== undefined ? (f.id === a.id ? [] : f.services) : named.has(ALL_SERVICES) ? [] : f.services.filter((s) => !named.has(s.toLowerCase()));
    if (left.length === 0) out.ended.push(f);
    else if (left.length < f.services.length) out.narrowed.push({ ...f, services: left });
    else out.kept.push(f);
  }
  out.kept.push(...out.narrowed);
  return out;
}

/** A freeze as an override remembers it: its ID and when it was set, so that a later freeze reusing the ID is not covered. */
export const freezeKey = (f: Pick<Freeze, 'id' | 'at'>): string => `${f.id}@${f.at}`;

/** One line for people: `F3 (checkout, payments) by alice until 2026-12-27T08:00:00Z: year-end freeze`. */
export const describeFreeze = (f: Freeze): string => `${f.id} (${f.services.includes(ALL_SERVICES) ? 'every service' : f.services.join(', ')}) by ${f.by} until ${f.until}: ${f.reason}`;
