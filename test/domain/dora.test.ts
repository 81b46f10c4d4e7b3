import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { doraReport, median } from '../../src/domain/dora';
import { ledgerEntry, type LedgerEntry } from '../../src/domain/ledger';
import { main } from '../../src/cli/main';
import { tempDir } from '../helpers/fixtures';

const NOW = new Date('2026-11-28T12:00:00Z');
const H = 3_600_000;
const at = (hoursAgo: number, now = NOW) => new Date(now.getTime() - hoursAgo * H).toISOString();

/** A ledger line as the workflow writes it, `hoursAgo` before NOW. */
function line(n: number, hoursAgo: number, outcome: 'released' | 'rolled_back' | 'rollback_failed' | 'aborted', opts: { leadH?: number; restoreMin?: number; service?: string; now?: Date } = {}): LedgerEntry {
  const started = at(hoursAgo, opts.now);
  const production = at(hoursAgo - 1, opts.now);
  return ledgerEntry({
    releaseId: `release-${opts.service ?? 'auth'}-${n}`,
    run: `release-${opts.service ?? 'auth'}-${n}@abcd${n}`,
    service: opts.service ?? 'auth',
    startedAt: started,
    finishedAt: at(hoursAgo - 2, opts.now),
    decision: 'APPROVED',
    outcome,
    version: `v${n}`,
    ...(outcome === 'aborted' ? {} : { productionAt: production, commitTime: new Date(Date.parse(production) - (opts.leadH ?? 2) * H).toISOString() }),
    ...(opts.restoreMin !== undefined ? { rollbackStartedAt: production, rollbackFinishedAt: new Date(Date.parse(production) + opts.restoreMin * 60_000).toISOString() } : {}),
  });
}

describe('DORA metrics from the ledger', () => {
  it('takes the median of an odd and an even count', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([]), null);
  });

  it('computes the four metrics and their bands over a window, counting a retried line once', () => {
    const lines = [
      ...Array.from({ length: 28 }, (_, i) => line(i, 24 * i + 5, 'released', { leadH: 2 + i })),
      line(100, 30, 'rolled_back', { restoreMin: 4 }),
      line(101, 60, 'rolled_back', { restoreMin: 10 }),
      line(102, 70, 'aborted'),
      line(103, 24 * 40, 'released'), // outside the 30 days
      line(104, 10, 'released', { service: 'web' }),
    ];
    lines.push({ ...lines[0]! }); // the same run written twice
    const r = doraReport(lines, { to: NOW, days: 30 });
    assert.equal(r.releases, 32);
    assert.equal(r.deployments, 31);
    assert.equal(r.deploymentFrequency.perDay, 29 / 30);
    assert.equal(r.deploymentFrequency.band, 'high');
    assert.equal(r.leadTime.samples, 29);
    assert.equal(r.leadTime.medianSeconds, 15 * 3600);
    assert.equal(r.leadTime.band, 'elite');
    assert.equal(r.changeFailureRate.failed, 2);
    assert.equal(r.changeFailureRate.rate, 2 / 31);
    assert.equal(r.changeFailureRate.band, 'high');
    assert.equal(r.timeToRestore.medianSeconds, 7 * 60);
    assert.equal(r.timeToRestore.band, 'elite');
    const web = doraReport(lines, { to: NOW, days: 30, service: 'web' });
    assert.equal(web.deployments, 1);
    assert.equal(web.changeFailureRate.rate, 0);
    assert.equal(web.timeToRestore.band, null);
  });

  it('bands at their boundaries', () => {
    const daily = doraReport(Array.from({ length: 7 }, (_, i) => line(i, 24 * i + 1, 'released', { leadH: 23 })), { to: NOW, days: 7 });
    assert.equal(daily.deploymentFrequency.band, 'elite');
    assert.equal(daily.leadTime.band, 'elite');
    const slow = doraReport([line(1, 2, 'released', { leadH: 24 * 30 }), line(2, 3, 'rolled_back', { restoreMin: 60 * 24 * 7 })], { to: NOW, days: 90 });
    assert.equal(slow.deploymentFrequency.band, 'low');
    assert.equal(slow.leadTime.band, 'low');
    assert.equal(slow.changeFailureRate.band, 'low');
    assert.equal(slow.timeToRestore.band, 'low');
  });

  it('rollgate dora prints them from a ledger file, as JSON too, and refuses a broken ledger', async () => {
    const dir = tempDir();
    const file = join(dir, 'ledger.jsonl');
    // The CLI counts back from the real clock.
    const now = new Date();
    writeFileSync(file, [line(1, 5, 'released', { now }), line(2, 30, 'rolled_back', { restoreMin: 3, now })].map((l) => JSON.stringify(l)).join('\n') + '\n');
    const out: string[] = [];
    const err: string[] = [];
    const io = { log: (s: string) => out.push(s), err: (s: string) => err.push(s) };
    assert.equal(await main(['dora', '--ledger', file, '--since', '7d'], io), 0);
    assert.match(out.join('\n'), /change failure rate\s+50\.0% \(1 of 2\)\s+low/);
    assert.match(out.join('\n'), /time to restore\s+median 3m \(1 rollbacks\)\s+elite/);
    out.length = 0;
    assert.equal(await main(['dora', '--ledger', file, '--json'], io), 0);
    assert.equal((JSON.parse(out.join('\n')) as { deployments: number }).deployments, 2);
    writeFileSync(file, '{"not": "a ledger line"}\n');
    assert.equal(await main(['dora', '--ledger', file], io), 1);
    assert.match(err.at(-1)!, /ledger\.jsonl: line 1: not a rollgate ledger line/);
    assert.equal(await main(['dora', '--ledger', file, '--since', 'forever'], io), 1);
    assert.match(err.at(-1)!, /--since: "forever" is not a duration/);
  });
});
