/**
 * The POS example end to end through the `refresh` orchestration on the local engine, on Azurite:
 * example files ingested into bronze by the ingest stage, a run through the real orchestrator
 * generator and activities, per-table metrics that account for every bronze row (in the status output
 * and in the event log, with lineage back to the landing files), gold equal to an independent
 * computation over silver, a second run that changes nothing, and the next day's files applied as
 * updates. Then the catch-up rule: a trigger while the run is pending or running raises its catchUp event: one more run
 * of the same single instance.
 */
import { describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../shared/delta';
import type { JsonValue } from '../../shared/delta/rows';
import type { TableUpdateMetrics } from '../../shared/refresh';
import { EngineRunClient, orchestrationRegistry, runInstanceId, type RefreshOutput, type RefreshProgress } from '../../shared/run';
import { ingestExamples, posLake, runEngine, sortedRows, uniqueName } from '../support/run-lake';

/** Every row read has one fate (incremental tables); the fates are visible counts. */
function expectAccounted(m: TableUpdateMetrics): void {
  expect(m.inserted + m.updated + m.duplicates + m.filteredBySql + m.dropped + m.quarantined, `${m.table}: rows accounted`).toBe(m.rowsRead);
}

/** Daily revenue per store and currency, as the gold SQL defines it, in cents. */
function dailyRevenue(silver: Record<string, JsonValue>[]): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const row of silver) {
    const key = `${row.store_id}|${String(row.event_time).slice(0, 10)}|${row.currency}`;
    const cents = row.status === 'sold' ? BigInt(row.quantity as number) * BigInt(String(row.unit_price).replace('.', '')) : 0n;
    out.set(key, (out.get(key) ?? 0n) + cents);
  }
  return out;
}

async function versions(lake: (p: string) => import('../../shared/storage').ObjectStore, paths: string[]): Promise<number[]> {
  return Promise.all(paths.map(async (p) => (await loadSnapshot(lake(p))).version));
}

describe('refresh orchestration: POS example on Azurite', () => {
  it('ingests, refreshes silver then gold, accounts for every row in status and event log, and is idempotent', async () => {
    const run = await posLake('run-pos');
    const ledger = uniqueName('Ledger');
    const ingested = await ingestExamples(
      run,
      [
        ['pos_sales', 'sales-2026-03-01.csv'],
        ['pos_deliveries', 'deliveries-2026-03-01.csv'],
      ],
      ledger,
    );
    expect(ingested.map((o) => o.status)).toEqual(['committed', 'committed']);

    const engine = runEngine(orchestrationRegistry(run.services));
    const runs = new EngineRunClient(engine);
    const started = await runs.startRun({ pipeline: 'pos', reason: 'test' });
    expect(started).toMatchObject({ instanceId: 'refresh-pos', created: true, queued: false });
    engine.start();
    let status;
    try {
      status = await engine.waitForCompletion(started.instanceId, 90_000);
    } finally {
      await engine.stop();
    }
    expect(status?.runtimeStatus, JSON.stringify(status?.output)).toBe('Completed');
    const output = status!.output as RefreshOutput;
    const progress = status!.customStatus as RefreshProgress;
    expect(progress).toMatchObject({ stage: 'completed', total: 4, done: 4, failed: 0, running: 0, levels: 2 });
    // Silver first (level 1, in parallel), gold after (level 2).
    expect(output.tables.map((m) => m.table)).toEqual(['silver.sales', 'silver.deliveries', 'gold.daily_store_sales', 'gold.store_stock']);
    const [sales, deliveries, daily, stock] = output.tables;
    expect(sales).toMatchObject({ status: 'updated', rowsRead: 11, inserted: 7, duplicates: 1, dropped: 1, quarantined: 2, warned: 1 });
    expect(deliveries).toMatchObject({ status: 'updated', inserted: 8, quarantined: 1 });
    for (const m of [sales, deliveries]) expectAccounted(m);
    expect(daily.status).toBe('updated');
    expect(stock.sources.map((s) => s.name)).toEqual(['silver.deliveries', 'silver.sales']);
    expect(output.totals).toMatchObject({ tables: 4, tablesUpdated: 4, rowsRead: output.tables.reduce((n, m) => n + m.rowsRead, 0), quarantined: 3 });
    expect(progress.tables['silver.sales']).toMatchObject({ state: 'updated', rowsRead: 11, inserted: 7, quarantined: 2 });

    // Gold equals an independent computation over the silver rows.
    const silver = await sortedRows(run.lake, 'silver/sales');
    const gold = await sortedRows(run.lake, 'gold/daily_store_sales');
    expect(new Map(gold.map((r) => [`${r.store_id}|${r.day}|${r.currency}`, BigInt(String(r.revenue).replace('.', ''))]))).toEqual(dailyRevenue(silver));

    // The event log: the run's updates with the same counts, and lineage back to the landing files.
    const events = await run.events.runEvents(output.runId);
    expect(events.map((e) => e.table).sort()).toEqual(['gold.daily_store_sales', 'gold.store_stock', 'silver.deliveries', 'silver.sales']);
    const salesEvent = events.find((e) => e.table === 'silver.sales')!;
    expect(salesEvent.metrics).toEqual(sales);
    expect(salesEvent.metrics!.expectations.map((e) => [e.name, e.passed, e.failed])).toEqual([
      ['valid_quantity', 10, 1],
      ['known_currency', 10, 1],
      ['positive_price', 10, 1],
    ]);
    expect(salesEvent.lineage?.sources[0]).toMatchObject({
      name: 'pos_sales',
      kind: 'bronze',
      fromVersion: -1,
      toVersion: ingested[0].version,
      inputs: [{ version: ingested[0].version, file: 'pos/sales-2026-03-01.csv', rowsWritten: 11 }],
    });
    const dailyEvent = events.find((e) => e.table === 'gold.daily_store_sales')!;
    expect(dailyEvent.lineage?.sources).toEqual([
      { name: 'silver.sales', kind: 'table', path: 'silver/sales', fromVersion: -1, toVersion: sales.targetVersion },
    ]);
    expect((await run.events.tableUpdates('pos', 'silver.sales')).map((e) => e.runId)).toEqual([output.runId]);

    // Running the same bronze versions again changes nothing.
    const paths = ['silver/sales', 'silver/deliveries', 'gold/daily_store_sales', 'gold/store_stock'];
    const before = await versions(run.lake, paths);
    const engine2 = runEngine(orchestrationRegistry(run.services));
    const again = await new EngineRunClient(engine2).startRun({ pipeline: 'pos' });
    await engine2.runPending();
    const second = (await engine2.getStatus(again.instanceId))!;
    expect(second.runtimeStatus).toBe('Completed');
    expect((second.output as RefreshOutput).tables.map((m) => m.status)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
    expect((second.output as RefreshOutput).totals.rowsRead).toBe(0);
    expect(await versions(run.lake, paths)).toEqual(before);

    // The next day's sales: returns update earlier sales, gold recomputes both days.
    const [day2] = await ingestExamples(run, [['pos_sales', 'sales-2026-03-02.csv']], ledger);
    expect(day2.status).toBe('committed');
    const engine3 = runEngine(orchestrationRegistry(run.services));
    const third = await new EngineRunClient(engine3).startRun({ pipeline: 'pos' });
    await engine3.runPending();
    const out3 = (await engine3.getStatus(third.instanceId))!.output as RefreshOutput;
    const sales3 = out3.tables[0];
    expect(sales3).toMatchObject({
      status: 'updated',
      rowsRead: 6,
      inserted: 3,
      updated: 2,
      duplicates: 1,
      sources: [{ fromVersion: ingested[0].version, toVersion: day2.version }],
    });
    expectAccounted(sales3);
    expect(out3.tables[1].status).toBe('unchanged');
    const silver3 = await sortedRows(run.lake, 'silver/sales');
    expect(silver3).toHaveLength(10);
    const gold3 = await sortedRows(run.lake, 'gold/daily_store_sales');
    expect(new Map(gold3.map((r) => [`${r.store_id}|${r.day}|${r.currency}`, BigInt(String(r.revenue).replace('.', ''))]))).toEqual(dailyRevenue(silver3));
  });

  it('a trigger while the run is pending or running makes it catch up: one more run of the same instance', async () => {
    const run = await posLake('run-catchup');
    const ledger = uniqueName('Ledger');
    await ingestExamples(
      run,
      [
        ['pos_sales', 'sales-2026-03-01.csv'],
        ['pos_deliveries', 'deliveries-2026-03-01.csv'],
      ],
      ledger,
    );
    const engine = runEngine(orchestrationRegistry(run.services));
    const runs = new EngineRunClient(engine);
    const first = await runs.startRun({ pipeline: 'pos', reason: 'first' });
    // Day 2 lands while the first run is still pending: its trigger must not start a second instance.
    await ingestExamples(run, [['pos_sales', 'sales-2026-03-02.csv']], ledger);
    const second = await runs.startRun({ pipeline: 'pos', reason: 'bronze pos_sales version 1' });
    const third = await runs.startRun({ pipeline: 'pos', reason: 'bronze pos_sales version 1 (again)' });
    expect(first).toMatchObject({ instanceId: runInstanceId('pos'), created: true });
    expect(second).toMatchObject({ instanceId: runInstanceId('pos'), created: false, queued: true });
    expect(third).toMatchObject({ created: false, queued: true });

    await engine.runPending();
    const instances = await engine.listInstances();
    expect(instances.map((i) => i.instanceId)).toEqual(['refresh-pos']);
    const final = (await engine.getStatus('refresh-pos'))!;
    expect(final.runtimeStatus).toBe('Completed');
    // The catch-up events merged into one run carrying both reasons; it applied what the first did not see.
    expect(final.input).toMatchObject({ reason: 'bronze pos_sales version 1; bronze pos_sales version 1 (again)', fullRefresh: false });
    const updates = await run.events.tableUpdates('pos', 'silver.sales');
    expect(updates).toHaveLength(2);
    const rowsRead = updates.map((u) => u.metrics!.rowsRead).sort((a, b) => a - b);
    // The first run may or may not have seen day 2 (it was ingested before the run started); together they read each row once.
    expect(rowsRead.reduce((a, b) => a + b, 0)).toBe(17);
    expect(await sortedRows(run.lake, 'silver/sales')).toHaveLength(10);
  });
});
