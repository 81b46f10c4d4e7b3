import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { sha256Hex } from '../../src/domain/sha256';

describe('sha256Hex (workflow-safe)', () => {
  it('matches node:crypto on the block boundaries, multi-byte text and lone surrogates', () => {
    const texts = ['', 'abc', 'a'.repeat(55), 'a'.repeat(56), 'a'.repeat(63), 'a'.repeat(64), 'a'.repeat(65), 'x'.repeat(100_000), 'ünïcödé ✓ 🚀 \u2028', 'lone \ud800 surrogate \udc00'];
    for (const t of texts) assert.equal(sha256Hex(t), createHash('sha256').update(t, 'utf8').digest('hex'), JSON.stringify(t.slice(0, 20)));
  });
  it('the known answer for "abc"', () => {
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
