/**
 * Helpers of the refresh tests: lakes on local disk and on Azurite, Delta batches from plain rows,
 * bronze tables from the example CSVs (typed by the source's schema hints, written with writeTable
 * the way ingestion would), and table contents as JSON rows. They gather facts; the tests assert.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import * as arrow from 'apache-arrow';
import { batchToRows, loadSnapshot, readTable, writeTable, type DeltaStruct, type WriteResult } from '../../shared/delta';
import type { JsonValue } from '../../shared/delta/rows';
import { buildVector } from '../../shared/delta/values';
import type { LakeTables } from '../../shared/refresh';
import { LocalStore, openStore, type ObjectStore } from '../../shared/storage';
import { azuriteUri, uniqueContainer } from './azurite';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

/** Repository root. */
export const ROOT = nodePath.join(TEST_DIR, '..');
/** The example data folder. */
export const POS_DATA = nodePath.join(ROOT, 'examples', 'data', 'pos');
/** The regulatory example's data folder. */
export const FIRE_DATA = nodePath.join(ROOT, 'examples', 'data', 'fire');
/** The example pipeline. */
export const POS_PIPELINE = nodePath.join(ROOT, 'examples', 'pipelines', 'pos.yaml');

/** A lake on local disk in a fresh temp folder. */
export function localLake(label: string): { root: string; lake: LakeTables } {
  const root = mkdtempSync(nodePath.join(tmpdir(), `sluice-${label}-`));
  return { root, lake: (path) => new LocalStore(nodePath.join(root, path)) };
}

/** A lake in a fresh Azurite container. */
export function azuriteLake(label: string): { root: string; lake: LakeTables } {
  const container = uniqueContainer(label);
  return { root: azuriteUri(container), lake: (path) => openStore(azuriteUri(container, path)) };
}

/**
 * One record batch of a Delta schema from rows of values in Sluice's JS forms.
 *
 * @param schema the schema
 * @param rows values by column position
 * @returns the batch
 */
export function deltaBatch(schema: DeltaStruct, rows: unknown[][]): arrow.RecordBatch {
  const columns: Record<string, arrow.Vector> = {};
  schema.fields.forEach(
    (f, i) =>
      (columns[f.name] = buildVector(
        f.type,
        rows.map((r) => r[i] ?? null),
      )),
  );
  return new arrow.Table(columns).batches[0];
}

/** Bronze schema of the example sales files (types from the source's schema hints; the rest strings). */
export const SALES_SCHEMA: DeltaStruct = {
  type: 'struct',
  fields: [
    { name: 'transaction_id', type: 'string', nullable: true, metadata: {} },
    { name: 'store_id', type: 'string', nullable: true, metadata: {} },
    { name: 'sku', type: 'string', nullable: true, metadata: {} },
    { name: 'quantity', type: 'integer', nullable: true, metadata: {} },
    { name: 'unit_price', type: 'decimal(12,2)', nullable: true, metadata: {} },
    { name: 'currency', type: 'string', nullable: true, metadata: {} },
    { name: 'event_time', type: 'string', nullable: true, metadata: {} },
    { name: 'status', type: 'string', nullable: true, metadata: {} },
    { name: 'card_number', type: 'string', nullable: true, metadata: {} },
    { name: '_source_file', type: 'string', nullable: true, metadata: {} },
    { name: '_load_date', type: 'date', nullable: true, metadata: {} },
  ],
};

/** Bronze schema of the example deliveries files. */
export const DELIVERIES_SCHEMA: DeltaStruct = {
  type: 'struct',
  fields: [
    { name: 'delivery_id', type: 'string', nullable: true, metadata: {} },
    { name: 'store_id', type: 'string', nullable: true, metadata: {} },
    { name: 'sku', type: 'string', nullable: true, metadata: {} },
    { name: 'quantity', type: 'integer', nullable: true, metadata: {} },
    { name: 'delivered_at', type: 'string', nullable: true, metadata: {} },
    { name: '_source_file', type: 'string', nullable: true, metadata: {} },
    { name: '_load_date', type: 'date', nullable: true, metadata: {} },
  ],
};

/**
 * The rows of an example CSV (no quoting in these files) typed by a bronze schema; `_source_file` and
 * `_load_date` are filled as ingestion would.
 *
 * @param file file name in examples/data/pos
 * @param schema the bronze schema
 * @param loadDay days since 1970 for `_load_date`
 * @returns rows of values by schema position
 */
export function csvRows(file: string, schema: DeltaStruct, loadDay: number, dir = POS_DATA): unknown[][] {
  const [header, ...lines] = readFileSync(nodePath.join(dir, file), 'utf8').trim().split('\n');
  const names = header.split(',');
  return lines.map((line) => {
    const cells = line.split(',');
    return schema.fields.map((f) => {
      if (f.name === '_source_file') return `pos/${file}`;
      if (f.name === '_load_date') return loadDay;
      const text = cells[names.indexOf(f.name)];
      if (text === undefined || text === '') return null;
      if (f.type === 'integer') return Number(text);
      if (f.type === 'boolean') return text === 'true';
      if (f.type === 'date') return Date.parse(`${text}T00:00:00Z`) / 86_400_000;
      const decimal = /^decimal\(\d+,(\d+)\)$/.exec(String(f.type));
      if (decimal) {
        const [whole, fraction = ''] = text.split('.');
        return BigInt(whole + fraction.padEnd(Number(decimal[1]), '0'));
      }
      return text;
    });
  });
}

/**
 * Append an example CSV to a bronze table (partitioned by `_load_date`, as ingestion creates it).
 *
 * @param store the bronze table
 * @param file file name in examples/data/pos
 * @param schema the bronze schema
 * @param loadDay days since 1970
 * @returns the write result
 */
export function appendCsv(store: ObjectStore, file: string, schema: DeltaStruct, loadDay: number): Promise<WriteResult> {
  return writeTable(store, [deltaBatch(schema, csvRows(file, schema, loadDay))], { partitionColumns: ['_load_date'] });
}

/**
 * A table's rows as JSON values (decimals as strings with their scale, timestamps ISO).
 *
 * @param store the table
 * @param version a version (default latest)
 * @returns the rows
 */
export async function rowsOf(store: ObjectStore, version?: number): Promise<Record<string, JsonValue>[]> {
  const snapshot = await loadSnapshot(store, version === undefined ? {} : { version });
  const table = await readTable(snapshot);
  return table.batches.flatMap((b) => batchToRows(b, snapshot.schema));
}

/**
 * Rows keyed by one column.
 *
 * @param rows the rows
 * @param key the key column
 * @returns key → row
 */
export function byKey(rows: Record<string, JsonValue>[], key: string): Map<string, Record<string, JsonValue>> {
  return new Map(rows.map((r) => [String(r[key]), r]));
}
