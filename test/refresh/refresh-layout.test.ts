/**
 * Upsert cost follows the changed keys: on a silver table of random (UUID) keys spread over hundreds
 * of files, an update of a few keys rewrites only the files holding them. Also: `orderBy` decides the
 * winning version, stale versions are merged away, `pii: hash` stores the keyed HMAC, a table without
 * keys is appended to, and nothing is lost or duplicated along the way.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { activeFiles, loadSnapshot, writeTable, type DeltaStruct } from '../../shared/delta';
import { parsePipelineDefinition } from '../../shared/pipeline';
import { piiHash, refreshTable, type TableUpdateMetrics } from '../../shared/refresh';
import { byKey, deltaBatch, localLake, rowsOf } from '../support/refresh-helpers';

const KEY = 'a-test-key-of-32-characters-long';

const EVENTS: DeltaStruct = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'string', nullable: true, metadata: {} },
    { name: 'n', type: 'long', nullable: true, metadata: {} },
    { name: 'secret', type: 'string', nullable: true, metadata: {} },
  ],
};

const PIPELINE = parsePipelineDefinition(`
sources:
  events: { landing: events/ }
tables:
  silver.events:
    from: events
    sql: SELECT id, n, secret FROM source
    keys: [id]
    orderBy: n DESC
    buckets: 32
    pii: { secret: hash }
  silver.log:
    from: events
    sql: SELECT id, n FROM events WHERE n >= 0
  silver.by_day:
    from: events
    sql: SELECT id, n, CAST(to_timestamp(n) AS DATE) AS day FROM source
    keys: [id]
    sequenceBy: n
    partitionBy: [day]
    buckets: 4
  silver.hooked:
    from: events
    sql: SELECT id, n FROM source
    hook: test/support/refresh-hook.ts
    expectations:
      labelled: { check: "label LIKE id || '#%'", onViolation: fail }
`);

function accounted(m: TableUpdateMetrics): void {
  expect(m.rowsRead).toBe(m.rowsOut + m.filteredBySql);
  expect(m.rowsOut).toBe(m.inserted + m.updated + m.duplicates + m.dropped + m.quarantined);
}

describe('silver layout by key hash', () => {
  it('rewrites only the files holding changed keys', async () => {
    const { lake } = localLake('layout');
    const refresh = (table: string) => refreshTable({ definition: PIPELINE, table, lake, piiKey: KEY, sql: { memoryLimit: '256MB', threads: 2 } });
    const bronze = lake('bronze/events');
    const ids: string[] = [];
    for (let batch = 0; batch < 8; batch++) {
      const rows = Array.from({ length: 1500 }, (_, i) => {
        const id = randomUUID();
        ids.push(id);
        return [id, BigInt(batch * 10_000 + i), `secret-${id}`];
      });
      await writeTable(bronze, [deltaBatch(EVENTS, rows)]);
      const m = await refresh('silver.events');
      expect(m).toMatchObject({ status: 'updated', inserted: 1500, updated: 0, filesRewritten: 0 });
      accounted(m);
    }
    const table = lake('silver/events');
    const before = await loadSnapshot(table);
    expect(activeFiles(before).length).toBeGreaterThan(200);

    // Three keys get a newer version, one gets an older one (orderBy n DESC keeps the stored one), two are new.
    const changed = [ids[10], ids[5000], ids[11_999]];
    const stale = ids[7000];
    const fresh = [randomUUID(), randomUUID()];
    await writeTable(bronze, [
      deltaBatch(EVENTS, [...changed.map((id) => [id, 1_000_000n, 'changed']), [stale, -1n, 'stale'], ...fresh.map((id) => [id, 5n, 'new'])]),
    ]);
    const m = await refresh('silver.events');
    accounted(m);
    expect({ inserted: m.inserted, updated: m.updated, duplicates: m.duplicates }).toEqual({ inserted: 2, updated: 3, duplicates: 1 });
    expect(m.filesRewritten).toBeLessThanOrEqual(3);
    expect(m.filesRewritten).toBeGreaterThanOrEqual(1);
    expect(m.filesRemoved).toBe(m.filesRewritten);
    expect(m.filesAdded).toBeLessThanOrEqual(5); // one per touched bucket

    const after = await loadSnapshot(table);
    const kept = new Set(activeFiles(after).map((f) => f.path));
    const untouched = activeFiles(before).filter((f) => kept.has(f.path));
    expect(untouched.length).toBe(activeFiles(before).length - m.filesRewritten);

    const rows = byKey(await rowsOf(table), 'id');
    expect(rows.size).toBe(ids.length + 2);
    for (const id of changed) expect(rows.get(id)).toMatchObject({ n: 1_000_000n, secret: piiHash(KEY, 'changed') });
    expect(rows.get(stale)!.secret).toBe(piiHash(KEY, `secret-${stale}`));
    expect(rows.get(fresh[0])!.secret).toBe(piiHash(KEY, 'new'));
  });

  it('appends to a table without keys and refuses hash tags without a key setting', async () => {
    const { lake } = localLake('append');
    await writeTable(lake('bronze/events'), [
      deltaBatch(EVENTS, [
        ['a', 1n, 's'],
        ['a', 2n, 's'],
        ['b', -1n, 's'],
      ]),
    ]);
    const m = await refreshTable({ definition: PIPELINE, table: 'silver.log', lake });
    expect(m).toMatchObject({ rowsRead: 3, rowsOut: 2, filteredBySql: 1, inserted: 2, filesRewritten: 0 });
    accounted(m);
    expect((await rowsOf(lake('silver/log'))).map((r) => [r.id, r.n])).toEqual([
      ['a', 1n],
      ['a', 2n],
    ]);
    await expect(refreshTable({ definition: PIPELINE, table: 'silver.events', lake })).rejects.toThrow(/SLUICE_PII_KEY/);
  });

  it('moves a key between partitions of a partitioned upserted table', async () => {
    const { lake } = localLake('by-day');
    const day = 86_400n;
    await writeTable(lake('bronze/events'), [
      deltaBatch(
        EVENTS,
        Array.from({ length: 40 }, (_, i) => [`k${i}`, BigInt(i % 4) * day, 's']),
      ),
    ]);
    const first = await refreshTable({ definition: PIPELINE, table: 'silver.by_day', lake });
    expect(first).toMatchObject({ inserted: 40 });
    const files = activeFiles(await loadSnapshot(lake('silver/by_day')));
    expect(new Set(files.map((f) => f.partitionValues.day))).toEqual(new Set(['1970-01-01', '1970-01-02', '1970-01-03', '1970-01-04']));
    // k1 moves from day 2 to day 10; k2 gets an older version (ignored).
    await writeTable(lake('bronze/events'), [
      deltaBatch(EVENTS, [
        ['k1', 9n * day, 's'],
        ['k2', -1n, 's'],
      ]),
    ]);
    const m = await refreshTable({ definition: PIPELINE, table: 'silver.by_day', lake });
    expect({ updated: m.updated, duplicates: m.duplicates, rewritten: m.filesRewritten }).toEqual({ updated: 1, duplicates: 1, rewritten: 1 });
    const rows = byKey(await rowsOf(lake('silver/by_day')), 'id');
    expect(rows.size).toBe(40);
    expect(rows.get('k1')).toMatchObject({ day: '1970-01-10', n: 9n * day });
    expect(rows.get('k2')).toMatchObject({ day: '1970-01-03' });
  });

  it('runs a TypeScript hook over the SQL output, before the contract and expectations', async () => {
    const { lake } = localLake('hook');
    await writeTable(lake('bronze/events'), [
      deltaBatch(EVENTS, [
        ['a', 1n, 's'],
        ['b', -1n, 's'],
        ['c', 3n, 's'],
      ]),
    ]);
    const m = await refreshTable({ definition: PIPELINE, table: 'silver.hooked', lake });
    expect(m).toMatchObject({ rowsRead: 3, rowsOut: 2, filteredBySql: 1, inserted: 2, expectations: [{ name: 'labelled', failed: 0, passed: 2 }] });
    expect((await rowsOf(lake('silver/hooked'))).map((r) => r.label).sort()).toEqual(['a#1@silver.hooked', 'c#3@silver.hooked']);
  });
});
