import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Freeze, FreezeArgsSchema, freezesHolding, unfreeze, UnfreezeArgsSchema, unfreezeTarget } from '../../src/domain/freezes';

const freeze = (id: string, services: string[], until = '2026-12-27T08:00:00.000Z'): Freeze => ({ id, services, reason: 'year end', by: 'cab', at: '2026-12-18T17:00:00.000Z', until });
const problems = (schema: typeof FreezeArgsSchema | typeof UnfreezeArgsSchema, input: unknown) => schema.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);

describe('freezes', () => {
  it('hold the services they name, or every service, until they end', () => {
    const all = [freeze('F1', ['checkout']), freeze('F2', ['*'], '2026-12-20T00:00:00.000Z'), freeze('F3', ['payments'])];
    const at = Date.parse('2026-12-19T12:00:00Z');
    assert.deepEqual(freezesHolding(all, 'checkout', at).map((f) => f.id), ['F1', 'F2']);
    assert.deepEqual(freezesHolding(all, 'search', at).map((f) => f.id), ['F2']);
    assert.deepEqual(freezesHolding(all, 'search', Date.parse('2026-12-20T00:00:00Z')).map((f) => f.id), [], 'a freeze ends at its until');
    assert.deepEqual(freezesHolding([freeze('F4', ['Checkout'])], 'checkout', at).map((f) => f.id), ['F4'], 'service names without regard to case');
  });

  it('unfreeze by ID ends that freeze; by service takes the service out, ending a freeze left with none', () => {
    const all = [freeze('F1', ['checkout', 'payments']), freeze('F2', ['*']), freeze('F3', ['checkout'])];
    const byId = unfreeze(all, UnfreezeArgsSchema.parse({ id: 'F2', by: 'cab' }));
    assert.deepEqual([byId.ended.map((f) => f.id), byId.kept.map((f) => f.id)], [['F2'], ['F1', 'F3']]);
    const byService = unfreeze(all, UnfreezeArgsSchema.parse({ services: ['checkout'], by: 'cab' }));
    assert.deepEqual(byService.ended.map((f) => f.id), ['F3']);
    assert.deepEqual(byService.narrowed, [{ ...all[0], services: ['payments'] }]);
    assert.deepEqual(byService.kept.map((f) => f.id), ['F2', 'F1'], 'a freeze of every service stays: only its ID or --all ends it');
    assert.deepEqual(unfreeze(all, UnfreezeArgsSchema.parse({ services: ['*'], by: 'cab' })).ended.length, 3);
  });

  it('a signed unfreeze names what it ends the same way however the services are written', () => {
    assert.equal(unfreezeTarget({ id: 'F3' }), 'F3');
    assert.equal(unfreezeTarget({ services: ['Search', 'checkout', 'search'] }), 'services checkout,search');
    assert.equal(unfreezeTarget({ services: ['*'] }), 'services *');
  });

  it('refuse bad input naming the field', () => {
    assert.deepEqual(problems(FreezeArgsSchema, { services: [], reason: 'x', by: 'cab', until: '2026-12-27T08:00:00Z' }), ['services: name at least one service (or all)']);
    assert.deepEqual(problems(FreezeArgsSchema, { services: ['check out'], reason: 'x', by: 'cab', until: '2026-12-27T08:00:00Z' })?.[0]?.startsWith('services.0: '), true);
    assert.deepEqual(problems(FreezeArgsSchema, { services: ['checkout'], reason: ' ', by: 'cab', until: '27 Dec' }), ['reason: must be given', 'until: must be an ISO 8601 instant such as 2026-12-27T08:00:00Z']);
    assert.deepEqual(problems(FreezeArgsSchema, { services: ['checkout'], reason: 'a\nforged line', by: 'cab', until: '2026-12-27T08:00:00Z' }), [
      'reason: must not contain control characters (newlines, carriage returns, other C0/C1 or U+2028/U+2029)',
    ]);
    assert.deepEqual(problems(FreezeArgsSchema, { services: Array.from({ length: 101 }, (_, i) => `s${i}`), reason: 'x', by: 'cab', until: '2026-12-27T08:00:00Z' }), ['services: name at most 100 services (or all)']);
    assert.deepEqual(problems(UnfreezeArgsSchema, { id: 'F1', services: ['checkout'], by: 'cab' }), ['id: give a freeze ID or services, one of them']);
    assert.deepEqual(problems(UnfreezeArgsSchema, { id: 'one', by: 'cab' }), ['id: must be a freeze ID such as F3']);
    assert.deepEqual(problems(UnfreezeArgsSchema, { id: 'F1' }), ['by: who unfreezes must be given (or sign with --key)']);
    // An unsigned unfreeze reaches the registry's history before the worker refuses it: its size is bounded, as a freeze's is.
    assert.deepEqual(problems(UnfreezeArgsSchema, { services: Array.from({ length: 101 }, (_, i) => `s${i}`), by: 'cab' }), ['services: name at most 100 services (or all)']);
  });
});
