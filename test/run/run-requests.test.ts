/**
 * Storage requests per landing file stay where issue 18 brought them: the POS example on Azurite,
 * landing files through the ingest stage and the refresh activities (bench/requests.ts), every Blob
 * and Table Storage request counted by the wrappers `instrumentLake` puts around what the app opens.
 * Before the requests were cut, the same measurement counted 191 per file (20 files after 20 of history,
 * bench/results/requests-baseline.json); the limits below are this test's own measurement after the
 * cut (3 files after 3 of history: 88.7 per file, 19 of them Table Storage), rounded up, so a change
 * that adds requests fails here.
 */
import { describe, expect, it } from 'vitest';
import { measureRequests } from '../../bench/requests';
import { connectionString, uniqueName } from '../support/run-lake';

/** Requests per landing file, drop to gold, measured after the cut; a regression raises it. */
const MAX_PER_FILE = 90;
/** Of which Table Storage (ledger, event log, catalog). */
const MAX_BOOKKEEPING = 19;

describe('storage requests per landing file (POS pipeline on Azurite)', () => {
  it('stay at or below the figure reached by issue 18, and every stage is counted', async () => {
    const result = await measureRequests({ connectionString: connectionString(), files: 3, history: 3, rows: 20, label: uniqueName('req') });
    const detail = JSON.stringify(result.detail.slice(0, 15));
    // The wrappers saw the pipeline work: every stage sent requests, and the counts add up.
    for (const stage of ['bronze ingest', 'silver refresh', 'gold refresh', 'bookkeeping']) expect(result.byStage[stage], stage).toBeGreaterThan(0);
    expect(result.perFileSeries).toHaveLength(3);
    expect(result.perFileSeries.reduce((a, b) => a + b, 0) / 3).toBeCloseTo(result.perFile, 1);
    expect(result.byKind['blob create'], 'one bronze, silver and two gold commits per file at least').toBeGreaterThanOrEqual(4);
    expect(result.perFile, detail).toBeLessThanOrEqual(MAX_PER_FILE);
    expect(result.byStage.bookkeeping, detail).toBeLessThanOrEqual(MAX_BOOKKEEPING);
  });
});
