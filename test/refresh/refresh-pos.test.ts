/**
 * The point-of-sale example end to end, without the orchestrator, on local disk: bronze tables written
 * from the example CSVs → silver (schema contract, expectations with every action, quarantine, PII
 * mask, upsert where returns update earlier sales) → gold daily revenue (recomputed by partition) and
 * stock per store and SKU (recomputed whole), each checked against an independent computation over the
 * silver rows done here in plain TypeScript. Every bronze row is accounted for; running again changes
 * nothing; a bronze delete stops the update with the full-refresh command; compaction is skipped.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { activeFiles, commitTransaction, loadSnapshot, optimizeTable, writeTable } from '../../shared/delta';
import type { JsonValue } from '../../shared/delta/rows';
import { loadPipelineDefinition, type PipelineDefinition } from '../../shared/pipeline';
import { checkPipelineSql, refreshTable, RefreshError, type TableUpdateMetrics } from '../../shared/refresh';
import { duckdbCheck, validateTable } from '../support/delta-validate';
import { appendCsv, byKey, deltaBatch, DELIVERIES_SCHEMA, localLake, POS_PIPELINE, rowsOf, SALES_SCHEMA } from '../support/refresh-helpers';

const DAY1 = Date.UTC(2026, 2, 1) / 86_400_000;
const NOW = new Date('2026-03-02T00:00:00Z');

/** rowsRead = rowsOut + filtered; rowsOut = inserted + updated + duplicates + dropped + quarantined. */
function expectAccounted(m: TableUpdateMetrics): void {
  expect(m.rowsRead, 'rows read = rows out + filtered by the SQL').toBe(m.rowsOut + m.filteredBySql);
  expect(m.rowsOut, 'every output row has one fate').toBe(m.inserted + m.updated + m.duplicates + m.dropped + m.quarantined);
}

function counts(m: TableUpdateMetrics): Record<string, number> {
  return Object.fromEntries(m.expectations.map((e) => [e.name, e.failed]));
}

/** Daily revenue and units per store and currency from silver rows, as the gold SQL defines them. */
function dailyRevenue(silver: Record<string, JsonValue>[]): Map<string, { revenue: bigint; units: bigint }> {
  const out = new Map<string, { revenue: bigint; units: bigint }>();
  for (const row of silver) {
    const key = `${row.store_id}|${String(row.event_time).slice(0, 10)}|${row.currency}`;
    const entry = out.get(key) ?? { revenue: 0n, units: 0n };
    if (row.status === 'sold') {
      entry.revenue += BigInt(row.quantity as number) * BigInt(String(row.unit_price).replace('.', ''));
      entry.units += BigInt(row.quantity as number);
    }
    out.set(key, entry);
  }
  return out;
}

function goldRevenue(gold: Record<string, JsonValue>[]): Map<string, { revenue: bigint; units: bigint }> {
  return new Map(
    gold.map((r) => [`${r.store_id}|${r.day}|${r.currency}`, { revenue: BigInt(String(r.revenue).replace('.', '')), units: BigInt(r.units as number) }]),
  );
}

/** Units in stock per store and SKU: deliveries minus units sold. */
function stock(deliveries: Record<string, JsonValue>[], sales: Record<string, JsonValue>[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of deliveries) out.set(`${d.store_id}|${d.sku}`, (out.get(`${d.store_id}|${d.sku}`) ?? 0) + (d.quantity as number));
  for (const s of sales) if (s.status === 'sold') out.set(`${s.store_id}|${s.sku}`, (out.get(`${s.store_id}|${s.sku}`) ?? 0) - (s.quantity as number));
  return out;
}

describe('POS pipeline refresh (local disk)', () => {
  const { lake } = localLake('pos');
  let definition: PipelineDefinition;
  const refresh = (table: string, extra: { fullRefresh?: boolean } = {}) =>
    refreshTable({ definition, table, lake, now: () => NOW, sql: { memoryLimit: '256MB', threads: 2 }, ...extra });

  beforeAll(async () => {
    definition = await loadPipelineDefinition(POS_PIPELINE);
    await appendCsv(lake('bronze/pos_sales'), 'sales-2026-03-01.csv', SALES_SCHEMA, DAY1);
    await appendCsv(lake('bronze/pos_deliveries'), 'deliveries-2026-03-01.csv', DELIVERIES_SCHEMA, DAY1);
  });

  it('builds silver from the first bronze version: contract, expectations, quarantine, dedupe, PII', async () => {
    // With the bronze tables in the lake, every SQL binds against their real columns.
    expect(await checkPipelineSql(definition, { lake })).toMatchObject({ notes: [] });
    const m = await refresh('silver.sales');
    expect(m).toMatchObject({ status: 'updated', full: true, sources: [{ name: 'pos_sales', fromVersion: -1, toVersion: 0 }], rowsRead: 11, rowsOut: 11 });
    expect({
      inserted: m.inserted,
      updated: m.updated,
      duplicates: m.duplicates,
      dropped: m.dropped,
      quarantined: m.quarantined,
      warned: m.warned,
      contract: m.contractViolations,
    }).toEqual({
      inserted: 7,
      updated: 0,
      duplicates: 1,
      dropped: 1,
      quarantined: 2,
      warned: 1,
      contract: 1,
    });
    expect(counts(m)).toEqual({ valid_quantity: 1, known_currency: 1, positive_price: 1 });
    expectAccounted(m);

    const silver = byKey(await rowsOf(lake('silver/sales')), 'transaction_id');
    expect([...silver.keys()].sort()).toEqual(['T-1001', 'T-1002', 'T-1003', 'T-1004', 'T-1008', 'T-1009', 'T-1010']);
    expect(silver.get('T-1009')).toMatchObject({ quantity: 5, event_time: '2026-03-01T14:06:30.000000Z', status: 'sold' });
    expect(silver.get('T-1001')).toMatchObject({ unit_price: '19.99', card_number: '************1111' });
    expect(silver.get('T-1008')!.card_number).toBeNull();
    // The hidden layout columns are there, and each row sits in its key's bucket.
    for (const row of silver.values()) expect(Number(row._key_bucket)).toBe(Number(BigInt(String(row._key_hash)) % 16n));

    const quarantine = byKey(await rowsOf(lake('silver/sales__quarantine')), 'transaction_id');
    const bronzeFile = activeFiles(await loadSnapshot(lake('bronze/pos_sales')))[0].path;
    expect(quarantine.get('T-1005')).toMatchObject({
      quantity: '0',
      _failed_expectations: ['valid_quantity'],
      _source_table: 'pos_sales',
      _source_version: 0n,
      _source_file: bronzeFile,
      card_number: '************1111',
    });
    expect(quarantine.get('T-1007')).toMatchObject({
      event_time: 'not recorded',
      _failed_expectations: ['contract:event_time'],
      _quarantined_at: '2026-03-02T00:00:00.000000Z',
    });
    expect(quarantine.size).toBe(2);
  });

  it('builds deliveries and the gold tables, equal to an independent computation', async () => {
    const d = await refresh('silver.deliveries');
    expect({ inserted: d.inserted, quarantined: d.quarantined }).toEqual({ inserted: 8, quarantined: 1 });
    expectAccounted(d);
    const g = await refresh('gold.daily_store_sales');
    expect(g).toMatchObject({ status: 'updated', full: true, partitionsRecomputed: null });
    const s = await refresh('gold.store_stock');
    expect(s.sources.map((x) => x.name)).toEqual(['silver.deliveries', 'silver.sales']);

    const sales = await rowsOf(lake('silver/sales'));
    expect(goldRevenue(await rowsOf(lake('gold/daily_store_sales')))).toEqual(dailyRevenue(sales));
    const stocked = new Map((await rowsOf(lake('gold/store_stock'))).map((r) => [`${r.store_id}|${r.sku}`, Number(r.units_in_stock)]));
    expect(stocked).toEqual(stock(await rowsOf(lake('silver/deliveries')), sales));
  });

  it('applies returns as updates of earlier sales and recomputes the gold days of both versions', async () => {
    await appendCsv(lake('bronze/pos_sales'), 'sales-2026-03-02.csv', SALES_SCHEMA, DAY1 + 1);
    const m = await refresh('silver.sales');
    expect(m).toMatchObject({ status: 'updated', full: false, sources: [{ fromVersion: 0, toVersion: 1 }], rowsRead: 6 });
    // T-1002 and T-1009 returned (updates); T-1003 arrived with an older event_time (merged away).
    expect({ inserted: m.inserted, updated: m.updated, duplicates: m.duplicates }).toEqual({ inserted: 3, updated: 2, duplicates: 1 });
    expect(m.filesRewritten).toBeGreaterThanOrEqual(1);
    expect(m.filesRewritten).toBeLessThanOrEqual(2);
    expect(m.changeRecords).toBe(7); // 3 inserts, 2 old and 2 new versions
    expectAccounted(m);
    const silver = byKey(await rowsOf(lake('silver/sales')), 'transaction_id');
    expect(silver.size).toBe(10);
    expect(silver.get('T-1002')).toMatchObject({ status: 'returned', quantity: 0, event_time: '2026-03-02T10:00:00.000000Z' });
    expect(silver.get('T-1003')).toMatchObject({ event_time: '2026-03-01T10:02:17.000000Z' });

    const before = await rowsOf(lake('gold/daily_store_sales'));
    const g = await refresh('gold.daily_store_sales');
    expect(g).toMatchObject({ status: 'updated', full: false, partitionsRecomputed: 2 });
    const gold = await rowsOf(lake('gold/daily_store_sales'));
    expect(goldRevenue(gold)).toEqual(dailyRevenue([...silver.values()]));
    // 2026-03-01 lost the returned sale's revenue: S01 had T-1001 + T-1002 in USD and T-1010 in KRW,
    // each currency on its own row.
    const s01 = (rows: Record<string, JsonValue>[]) =>
      rows
        .filter((r) => r.store_id === 'S01' && r.day === '2026-03-01')
        .map((r) => [r.currency, r.revenue, r.units])
        .sort();
    expect(s01(before)).toEqual([
      ['KRW', '15.00', 1n],
      ['USD', '64.48', 3n],
    ]);
    expect(s01(gold)).toEqual([
      ['KRW', '15.00', 1n],
      ['USD', '39.98', 2n],
    ]);

    await refresh('gold.store_stock');
    const stocked = new Map((await rowsOf(lake('gold/store_stock'))).map((r) => [`${r.store_id}|${r.sku}`, Number(r.units_in_stock)]));
    expect(stocked).toEqual(stock(await rowsOf(lake('silver/deliveries')), [...silver.values()]));

    // Every table written is valid Delta, by the independent checker and DuckDB.
    for (const path of ['silver/sales', 'silver/sales__quarantine', 'silver/deliveries', 'gold/daily_store_sales', 'gold/store_stock']) {
      expect((await validateTable(lake(path), { requireStats: true })).problems, path).toEqual([]);
      expect((await duckdbCheck(lake(path), await loadSnapshot(lake(path)))).problems, path).toEqual([]);
    }
  });

  it('applies nothing twice', async () => {
    const versions = await Promise.all(
      ['silver/sales', 'silver/sales__quarantine', 'gold/daily_store_sales', 'gold/store_stock'].map(async (t) => (await loadSnapshot(lake(t))).version),
    );
    for (const table of ['silver.sales', 'silver.deliveries', 'gold.daily_store_sales', 'gold.store_stock']) {
      const m = await refresh(table);
      expect(m.status, table).toBe('unchanged');
    }
    const after = await Promise.all(
      ['silver/sales', 'silver/sales__quarantine', 'gold/daily_store_sales', 'gold/store_stock'].map(async (t) => (await loadSnapshot(lake(t))).version),
    );
    expect(after).toEqual(versions);
  });

  it('skips compaction of bronze and stops at a bronze delete with the full-refresh command', async () => {
    const bronze = lake('bronze/pos_sales');
    // A second small file on the second day, then compaction of that day's two files.
    const late = await writeTable(bronze, [
      deltaBatch(SALES_SCHEMA, [['T-1014', 'S01', 'SKU-RED-M', 1, 1999n, 'USD', '2026-03-02 18:00:00', null, null, 'pos/late.csv', DAY1 + 1]]),
    ]);
    const optimized = await optimizeTable(bronze);
    expect(optimized.version).toBe(late.version + 1);
    const m = await refresh('silver.sales');
    expect(m).toMatchObject({
      status: 'updated',
      rowsRead: 1,
      inserted: 1,
      sources: [{ fromVersion: 1, toVersion: optimized.version, skippedVersions: [optimized.version] }],
    });
    expect((await refresh('silver.sales')).status).toBe('unchanged');

    // A user deletes the first day's rows.
    const snapshot = await loadSnapshot(bronze);
    const victim = activeFiles(snapshot).find((f) => f.partitionValues._load_date === '2026-03-01')!;
    const deleted = await commitTransaction(bronze, snapshot, {
      actions: [{ remove: { path: victim.path, dataChange: true, deletionTimestamp: Date.now(), partitionValues: victim.partitionValues, size: victim.size } }],
      operation: 'DELETE',
    });
    const error = await refresh('silver.sales').then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RefreshError);
    expect((error as RefreshError).code).toBe('source-changed');
    expect((error as Error).message).toContain(`version ${deleted.version} of source pos_sales`);
    expect((error as Error).message).toContain('DELETE');
    expect((error as Error).message).toContain(`sluice pipeline run ${POS_PIPELINE} --full-refresh silver.sales`);

    // The full refresh rebuilds silver from what bronze holds now (the second day only).
    const rebuilt = await refresh('silver.sales', { fullRefresh: true });
    expect(rebuilt).toMatchObject({ status: 'updated', full: true, sources: [{ fromVersion: -1, toVersion: deleted.version }] });
    expectAccounted(rebuilt);
    const silver = await rowsOf(lake('silver/sales'));
    expect(silver.map((r) => r.transaction_id).sort()).toEqual(['T-1002', 'T-1003', 'T-1009', 'T-1011', 'T-1012', 'T-1013', 'T-1014']);
    // Gold cannot know which rows a rebuild changed: it recomputes everything, still correct.
    const g = await refresh('gold.daily_store_sales');
    expect(g).toMatchObject({ status: 'updated', full: true });
    expect(goldRevenue(await rowsOf(lake('gold/daily_store_sales')))).toEqual(dailyRevenue(silver));
  });
});
