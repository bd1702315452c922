/**
 * A keyed table's quarantine keyed like the table, on Azurite, with the POS example: the day's sales
 * file dropped in the landing container three times (each upload a new ETag, so ingested again, as
 * documented) and silver.sales refreshed after each. The quarantine must hold one row per key however
 * often the file comes, and a row `quarantine replay` moved into the table (after a fix the running
 * definition does not have) must not be quarantined again: it counts as a duplicate of the stored row.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingestFile, TableLedger } from '../../shared/ingest';
import { parsePipelineDefinition } from '../../shared/pipeline';
import { refreshTable, replayQuarantine, type TableUpdateMetrics } from '../../shared/refresh';
import { ingestSourceOf } from '../../shared/host';
import { openStore } from '../../shared/storage/location';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { connectionString, EXAMPLES_DATA, POS_PIPELINE, posLake, sortedRows, uniqueName } from '../support/run-lake';

const SQL = { memoryLimit: '256MB', threads: 1 };
const RULE = `valid_quantity: { check: "quantity <> 0 OR status = 'returned'", onViolation: quarantine }`;
const FIXED_RULE = `valid_quantity: { check: "quantity >= 0 OR status = 'returned'", onViolation: quarantine }`;

const ids = (rows: Record<string, unknown>[]) => rows.map((r) => String(r.transaction_id)).sort();
const accounted = (m: TableUpdateMetrics) => m.inserted + m.updated + m.duplicates + m.filteredBySql + m.dropped + m.quarantined;

describe('quarantine keyed like its table', () => {
  it('one row per key across re-deliveries; a row replayed into the table is not quarantined again', async () => {
    const run = await posLake('quarantine-keyed');
    const landing = openStore(azuriteUri(uniqueContainer('qk-landing')));
    const ledger = TableLedger.fromConnectionString(connectionString(), uniqueName('Ledger'));
    const source = run.definition.sources.pos_sales;
    const day = readFileSync(nodePath.join(EXAMPLES_DATA, 'pos', 'sales-2026-03-01.csv'));
    const deliver = async (path = 'pos/sales/day1.csv', content: Buffer | string = day, rows = 11) => {
      // Each upload gets a new ETag: the same rows land in bronze again.
      await landing.write(path, content);
      const landed = await ingestFile({
        landing,
        path,
        table: run.lake(source.table),
        source: ingestSourceOf(source),
        ledger,
        deadLetter: { store: run.lake('_sluice/dead-letter'), prefix: `${source.table}/` },
      });
      expect(landed).toMatchObject({ status: 'committed', rowsWritten: rows });
    };
    const refresh = async (definition = run.definition) => {
      const m = await refreshTable({ definition, table: 'silver.sales', lake: run.lake, sql: SQL });
      expect(accounted(m)).toBe(m.rowsRead);
      return m;
    };
    const quarantine = async () => ids(await sortedRows(run.lake, 'silver/sales__quarantine'));

    await deliver();
    expect(await refresh()).toMatchObject({ rowsRead: 11, quarantined: 2 });
    expect(await quarantine()).toEqual(['T-1005', 'T-1007']);

    // The same file again: its two failing rows replace the ones quarantined before.
    await deliver();
    expect(await refresh()).toMatchObject({ rowsRead: 11, quarantined: 2 });
    expect(await quarantine()).toEqual(['T-1005', 'T-1007']);

    // An older version of T-1005 (by event_time) arriving later does not replace the later one.
    const header = day.toString('utf8').split('\n')[0];
    await deliver('pos/sales/late.csv', `${header}\nT-1005,S01,SKU-RED-M,0,19.99,USD,2026-03-01 08:00:00,,4111111111111111\n`, 1);
    expect(await refresh()).toMatchObject({ rowsRead: 1, quarantined: 1 });
    const kept = (await sortedRows(run.lake, 'silver/sales__quarantine')).filter((r) => r.transaction_id === 'T-1005');
    expect(kept.map((r) => String(r.event_time))).toEqual([expect.stringContaining('2026-03-01 11:30:00')]);

    // A fixed rule, replayed: T-1005 moves to the table; the running definition still has the old rule.
    const text = readFileSync(POS_PIPELINE, 'utf8');
    expect(text).toContain(RULE);
    const fixed = parsePipelineDefinition(text.replace(RULE, FIXED_RULE), POS_PIPELINE);
    expect(await replayQuarantine({ definition: fixed, table: 'silver.sales', lake: run.lake, sql: SQL })).toMatchObject({
      rowsRead: 2,
      replayed: 1,
      inserted: 1,
    });
    expect(await quarantine()).toEqual(['T-1007']);
    const stored = (await sortedRows(run.lake, 'silver/sales')).filter((r) => r.transaction_id === 'T-1005');
    expect(stored).toHaveLength(1);

    // The file a third time, refreshed with the old rule: T-1005 is in the table as it is, so it is a
    // duplicate, not quarantined again; T-1007 still is, once.
    await deliver();
    const third = await refresh();
    expect(third).toMatchObject({ rowsRead: 11, quarantined: 1, inserted: 0, updated: 0 });
    expect(await quarantine()).toEqual(['T-1007']);
    expect((await sortedRows(run.lake, 'silver/sales')).filter((r) => r.transaction_id === 'T-1005')).toEqual(stored);
  });
});
