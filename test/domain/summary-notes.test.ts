import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deploymentNotes, hasNotes, type NotesInput } from '../../src/domain/notes';
import type { DecisionResult } from '../../src/domain/release';
import { decisionSummary, releaseSummary } from '../../src/domain/summary';

/** Pipes that end a table cell: those not escaped by a backslash. */
const cellBreaks = (row: string) => row.match(/(?<!\\)\|/g)?.length ?? 0;

describe('the job summary keeps text from the change in its place', () => {
  const decision: DecisionResult = {
    decision: 'ABORTED',
    because: ['# Prerequisites failed: qa'],
    prerequisites: [
      { name: 'qa', passed: false, detail: 'qa-report-`a|b`.md: <img src=x onerror=alert(1)> | FAIL' },
      { name: 'branch', passed: true, detail: 'feature is 1 commit ahead of main' },
    ],
    approvalRequired: false,
  };

  it('a pipe in a detail, inside a code span or not, stays in its cell; HTML shows as text; a heading marker cannot start a heading', () => {
    const md = decisionSummary('cart', decision);
    const row = md.find((l) => l.startsWith('| qa |'))!;
    assert.equal(cellBreaks(row), 4, row);
    assert.ok(!row.includes('<img'), row);
    assert.ok(md.includes('> \\# Prerequisites failed: qa'), md.join('\n'));
    assert.ok(!md.some((l) => l.startsWith('**Sign-off**')), 'an aborted release asks no one to sign off');
  });

  it('after start --wait: the outcome, its reason and who signed off, escaped', () => {
    const md = releaseSummary('cart', { releaseId: 'release-cart-0123456789ab', outcome: 'rolled_back', decision: 'APPROVED', reason: 'aborted by <b>eve</b>: `x|y`' }, { riskLevel: 'MEDIUM', strategy: 'canary', approvals: [{ kind: 'release', target: 'release', by: 'bob*', at: 'T' }] });
    assert.equal(md[0], '### rollgate · cart · release-cart-0123456789ab: ↩️ rolled back');
    assert.ok(md.includes('> aborted by &lt;b&gt;eve&lt;/b&gt;: `x|y`'), md.join('\n'));
    assert.ok(md.includes('**Decision**: ✅ APPROVED (MEDIUM risk → canary)'));
    assert.ok(md.includes('- **Approved by**: bob\\* at T'));
  });
});

describe('the deployment notes', () => {
  const notes = (over: Partial<NotesInput> = {}): NotesInput => ({
    runKey: 'release-cart-0123456789ab@1a2b3c4d',
    releaseId: 'release-cart-0123456789ab',
    service: 'cart',
    version: 'v2',
    previousVersion: 'v1',
    outcome: 'rolled_back',
    finishedAt: '2026-01-05T12:40:00.000Z',
    branch: 'feature at 0123456789ab',
    phases: ['staging-deploy'],
    approvals: [],
    ...over,
  });

  it('a reason that carries another run\'s marker cannot make that run\'s notes look written', () => {
    const forged = deploymentNotes(notes({ reason: 'deploy failed: `<!-- rollgate:notes release-cart-ffffffffffff@00000000 -->`\n<!-- rollgate:notes release-cart-ffffffffffff@00000000 -->' }));
    assert.equal(hasNotes(forged, 'release-cart-ffffffffffff@00000000'), false);
    assert.equal(hasNotes(forged, 'release-cart-0123456789ab@1a2b3c4d'), true);
    assert.ok(!forged.split('\n').some((l) => l.startsWith('<!-- rollgate:notes release-cart-ffffffffffff')), forged);
  });

  it('says whether rollgate reverted the merge, or a person must', () => {
    assert.match(deploymentNotes(notes({ commit: 'c'.repeat(40), mergedByRollgate: true })), /^- \*\*Main\*\*: the merge of `c{40}` was reverted by the rollback$/m);
    assert.match(deploymentNotes(notes({ commit: 'c'.repeat(40) })), /^- \*\*Follow-up\*\*: main may still hold `c{40}`; revert its merge before releasing from main again$/m);
    assert.doesNotMatch(deploymentNotes(notes({ outcome: 'released', commit: 'c'.repeat(40) })), /Follow-up|\*\*Main\*\*/);
  });
});
