/**
 * The regulatory-reporting example (FIRE collateral) end to end on Azurite: the collateral file
 * ingested into bronze by the ingest stage, a `refresh` run through the orchestrator on the local
 * engine, the completeness of the mandatory fields in the run's output, custom status and event log
 * (equal to a count made here from the file), gold equal to a computation over silver; then the data
 * owners correct the quarantined records in the quarantine table, `sluice quarantine replay` moves the
 * ones that now pass into a new silver version, and the next run brings gold up to date.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import { buildVector, loadSnapshot, readTable, readValues, writeTable } from '../../shared/delta';
import type { JsonValue } from '../../shared/delta/rows';
import type { LakeTables, ReplayResult, TableUpdateMetrics } from '../../shared/refresh';
import { EngineRunClient, orchestrationRegistry, type RefreshOutput, type RefreshProgress } from '../../shared/run';
import { connectionString, EXAMPLES_DATA, exampleLake, ingestLanding, ROOT, runEngine, sortedRows, uniqueName } from '../support/run-lake';

const FIRE_PIPELINE = nodePath.join(ROOT, 'examples', 'pipelines', 'fire.yaml');
const FILE = 'fire/collateral-2026-03-31.csv';

/** The records of the example file, as text (no quoted fields in it). */
function fileRecords(): Record<string, string>[] {
  const [header, ...lines] = readFileSync(nodePath.join(EXAMPLES_DATA, FILE), 'utf8').trim().split('\n');
  const names = header.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [names[i], v])));
}

/** Completeness per reporting date as the gold SQL defines it, computed over silver rows here. */
function completenessByDate(silver: Record<string, JsonValue>[]) {
  const pct = (rows: Record<string, JsonValue>[], column: string) => Math.round((10_000 * rows.filter((r) => r[column] !== null).length) / rows.length) / 100;
  const dates = [...new Set(silver.map((r) => String(r.date)))].sort();
  return dates.map((date) => {
    const rows = silver.filter((r) => r.date === date);
    return {
      date,
      records: String(rows.length),
      type_complete_pct: pct(rows, 'type'),
      encumbrance_complete_pct: pct(rows, 'encumbrance_type'),
      loan_complete_pct: pct(rows, 'loan_id'),
    };
  });
}

/** Gold rows in comparable form (counts as text: 64-bit integers are strings in JSON rows). */
async function goldRows(lake: LakeTables) {
  return (await sortedRows(lake, 'gold/collateral_completeness')).map((r) => ({ ...r, records: String(r.records) }));
}

/**
 * A data steward's correction of a table (an UPDATE in Spark or Databricks): every row read, changed
 * in place, and the table overwritten in one commit.
 */
async function correctRows(lake: LakeTables, path: string, change: (row: Record<string, unknown>) => void): Promise<number> {
  const snapshot = await loadSnapshot(lake(path));
  const table = await readTable(snapshot);
  const columns = snapshot.schema.fields.map((f) => table.batches.flatMap((b) => readValues(b.getChild(f.name)!, f.type)));
  const rows = columns[0].map((_, i) => Object.fromEntries(snapshot.schema.fields.map((f, c) => [f.name, columns[c][i]])));
  rows.forEach(change);
  const batch = new arrow.Table(
    Object.fromEntries(
      snapshot.schema.fields.map((f) => [
        f.name,
        buildVector(
          f.type,
          rows.map((r) => r[f.name]),
        ),
      ]),
    ),
  ).batches[0];
  return (await writeTable(lake(path), [batch], { mode: 'overwrite' })).version;
}

function expectAccounted(m: TableUpdateMetrics): void {
  expect(m.inserted + m.updated + m.duplicates + m.filteredBySql + m.dropped + m.quarantined, `${m.table}: rows accounted`).toBe(m.rowsRead);
}

describe('FIRE collateral through the refresh orchestration', () => {
  it('reports completeness in the run, then a corrected quarantine replays into a new table version', async () => {
    const run = await exampleLake('run-fire', FIRE_PIPELINE);
    const [ingested] = await ingestLanding(run, [['collateral', FILE]], uniqueName('Ledger'));
    expect(ingested).toMatchObject({ status: 'committed', rowsRead: 10, rowsWritten: 10 });

    const engine = runEngine(orchestrationRegistry(run.services));
    const runs = new EngineRunClient(engine);
    await runs.startRun({ pipeline: 'fire', reason: 'month-end report' });
    await engine.runPending();
    const status = (await engine.getStatus('refresh-fire'))!;
    expect(status.runtimeStatus, JSON.stringify(status.output)).toBe('Completed');
    const output = status.output as RefreshOutput;
    const [silver, gold] = output.tables;
    expect(output.tables.map((m) => [m.table, m.status])).toEqual([
      ['silver.collateral', 'updated'],
      ['gold.collateral_completeness', 'updated'],
    ]);
    expect(silver).toMatchObject({ rowsRead: 10, inserted: 6, quarantined: 4, warned: 1, contractViolations: 2 });
    expectAccounted(silver);

    // Completeness: records with an id, a date and a currency, counted from the file itself.
    const records = fileRecords();
    const complete = records.filter((r) => r.id !== '' && r.date !== '' && r.currency_code !== '').length;
    expect(complete).toBe(7);
    expect(silver.completeness).toEqual({
      rules: ['not_null:id', 'not_null:date', 'id_present', 'date_present', 'currency_present'],
      complete,
      checked: records.length,
      pct: 70,
    });
    expect(gold.completeness).toBeUndefined();
    expect((status.customStatus as RefreshProgress).tables['silver.collateral']).toMatchObject({ state: 'updated', quarantined: 4, completenessPct: 70 });
    const events = await run.events.runEvents(output.runId);
    const silverEvent = events.find((e) => e.table === 'silver.collateral')!;
    expect(silverEvent.metrics).toEqual(silver);
    expect(silverEvent.lineage?.sources[0].inputs).toMatchObject([{ file: FILE, rowsWritten: 10 }]);
    const entity = await run.events.client.getEntity<{ completenessPct: number }>(`run|${output.runId}`, 'silver.collateral');
    expect(entity.completenessPct).toBe(70);

    // Gold reports the optional fields' completeness over what silver holds.
    const silverRows = await sortedRows(run.lake, 'silver/collateral');
    expect(silverRows.map((r) => r.id)).toEqual(['COL-0001', 'COL-0002', 'COL-0003', 'COL-0004', 'COL-0009', 'COL-0010']);
    expect(await goldRows(run.lake)).toEqual(completenessByDate(silverRows));

    // The data owners correct three quarantined records; the one without an id cannot be identified.
    const corrections: Record<string, Record<string, string>> = {
      'COL-0005': { currency_code: 'EUR' },
      'COL-0006': { currency_code: 'GBP' },
      'COL-0007': { date: '2026-03-31' },
    };
    const silverBefore = (await loadSnapshot(run.lake('silver/collateral'))).version;
    await correctRows(run.lake, 'silver/collateral__quarantine', (row) => Object.assign(row, corrections[String(row.id)] ?? {}));

    Object.assign(process.env, {
      SLUICE_LAKE: connectionString(),
      SLUICE_LAKE_CONTAINER: run.container,
      SLUICE_SQL_MEMORY_LIMIT: '256MB',
      SLUICE_SQL_THREADS: '1',
    });
    let out = '';
    let err = '';
    const code = await main(['quarantine', 'replay', 'silver.collateral', '--pipeline', FIRE_PIPELINE, '--json'], {
      out: (t) => (out += t),
      err: (t) => (err += t),
    });
    expect(code, err).toBe(0);
    const replayed = JSON.parse(out) as ReplayResult;
    expect(replayed).toMatchObject({
      table: 'silver.collateral',
      rowsRead: 4,
      replayed: 3,
      remaining: 1,
      inserted: 3,
      updated: 0,
      targetVersion: silverBefore + 1,
      resumed: false,
    });
    // A scheduled pipeline takes the replayed rows in at its next run, not at once.
    expect((replayed as ReplayResult & { refresh: unknown }).refresh).toBeNull();
    const afterReplay = await sortedRows(run.lake, 'silver/collateral');
    expect(afterReplay.map((r) => r.id)).toEqual(['COL-0001', 'COL-0002', 'COL-0003', 'COL-0004', 'COL-0005', 'COL-0006', 'COL-0007', 'COL-0009', 'COL-0010']);
    expect(afterReplay.find((r) => r.id === 'COL-0005')).toMatchObject({ currency_code: 'EUR', value: '15000.00', date: '2026-03-31' });
    expect(afterReplay.find((r) => r.id === 'COL-0007')).toMatchObject({ date: '2026-03-31', currency_code: 'EUR' });
    const quarantine = await sortedRows(run.lake, 'silver/collateral__quarantine');
    expect(quarantine.map((r) => [r.id, r._failed_expectations])).toEqual([[null, ['not_null:id', 'id_present']]]);

    // The next run: silver has no new bronze rows, gold follows the replayed records.
    await runs.startRun({ pipeline: 'fire', reason: 'after the corrections' });
    await engine.runPending();
    const next = (await engine.getStatus('refresh-fire'))!;
    expect(next.runtimeStatus).toBe('Completed');
    const nextOutput = next.output as RefreshOutput;
    expect(nextOutput.tables.map((m) => [m.table, m.status])).toEqual([
      ['silver.collateral', 'unchanged'],
      ['gold.collateral_completeness', 'updated'],
    ]);
    expect(nextOutput.tables[1].sources).toMatchObject([{ name: 'silver.collateral', toVersion: silverBefore + 1 }]);
    const gold2 = await goldRows(run.lake);
    expect(gold2).toEqual(completenessByDate(afterReplay));
    expect(gold2[0].records).toBe('9');
  });
  it('sluice pipeline run prints the completeness of the mandatory fields', async () => {
    const run = await exampleLake('run-fire-cli', FIRE_PIPELINE);
    await ingestLanding(run, [['collateral', FILE]], uniqueName('Ledger'));
    Object.assign(process.env, {
      SLUICE_LAKE: connectionString(),
      SLUICE_LAKE_CONTAINER: run.container,
      SLUICE_SQL_MEMORY_LIMIT: '256MB',
      SLUICE_SQL_THREADS: '1',
    });
    let out = '';
    let err = '';
    const code = await main(['pipeline', 'run', FIRE_PIPELINE], { out: (t) => (out += t), err: (t) => (err += t) });
    expect(code, err).toBe(0);
    expect(out).toMatch(/silver\.collateral\s+updated[\s\S]*\n {4}complete: 7 of 10 rows \(70%\) have every mandatory field \(/);
  });
});
