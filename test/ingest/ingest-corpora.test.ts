/**
 * The CSV corpora through the whole ingest stage on Azurite, each file into its own bronze table:
 * csv-spectrum (test/fixtures/csv-spectrum, BSD-2-Clause) with every column hinted `string` by its
 * name in the file, and the real files (test/fixtures/real-csv, plotly/datasets, MIT) with inferred
 * types. No row lost (the ledger counts every record, DuckDB reads them all back), no value altered
 * (each stored cell against the original text, leading zeros, M/D/YYYY dates, doubled quotes and
 * empty fields included), header names Delta cannot store sanitised with the renames recorded in the
 * commit, and every table passes the Delta checks and DuckDB's reading.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSnapshot, readCommitIfExists } from '../../shared/delta';
import { RESCUED_COLUMN } from '../../shared/formats';
import { IngestOutcome, IngestSource, isSystemColumn } from '../../shared/ingest';
import { duckdbColumn, ingest, IngestEnv, ingestEnv, ledgerEntry, tableProblems, tableRows } from '../support/ingest';
import { alteredCells, duckdbCells, REAL_CSV_TYPES, suiteDuckdb } from '../support/ingest-values';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const SPECTRUM = nodePath.join(TEST_DIR, 'fixtures', 'csv-spectrum');
const REAL = nodePath.join(TEST_DIR, 'fixtures', 'real-csv');

/** Land one corpus file and ingest it into its own table; the ledger must add up to `records`. */
async function ingested(
  label: string,
  file: string,
  bytes: Buffer,
  records: number,
  source?: IngestSource,
): Promise<{ env: IngestEnv; outcome: IngestOutcome; inference: Record<string, string> }> {
  const env = ingestEnv(label, file.replace(/\W+/g, '_'));
  const path = `corpus/${file}`;
  await env.landing.write(path, bytes);
  const outcome = await ingest(env, path, source);
  expect(outcome, outcome.reason).toMatchObject({ status: 'committed', rowsRead: records, rowsWritten: records, rowsDeadLettered: 0 });
  expect(await ledgerEntry(env, path)).toMatchObject({ status: 'committed', rowsRead: records, rowsWritten: records, rowsDeadLettered: 0 });
  // The commit keeps how the reader decided, renamed columns included.
  const commit = await readCommitIfExists(env.table, outcome.version!);
  const info = commit!.find((a) => 'commitInfo' in a) as { commitInfo: { sluiceLane: { sources: { file: string; inference: Record<string, string> }[] } } };
  const inference = info.commitInfo.sluiceLane.sources.find((s) => s.file === path)!.inference;
  expect(inference).toBeDefined();
  expect(await tableProblems(env.table)).toEqual([]);
  expect(await duckdbColumn(env.table, '_source_file')).toHaveLength(records);
  return { env, outcome, inference };
}

/** The data columns of the table, in order. */
async function dataFields(env: IngestEnv): Promise<{ name: string; type: unknown }[]> {
  return (await loadSnapshot(env.table)).schema.fields.filter((f) => !isSystemColumn(f.name));
}

describe('csv-spectrum through the ingest stage', () => {
  const cases = readdirSync(nodePath.join(SPECTRUM, 'csvs'))
    .filter((f) => f.endsWith('.csv'))
    .sort();

  it('has the 12 cases', () => {
    expect(cases).toHaveLength(12);
  });

  it.concurrent.each(cases)('%s: exactly the expected rows', async (file) => {
    const expected = JSON.parse(readFileSync(nodePath.join(SPECTRUM, 'json', file.replace(/\.csv$/, '.json')), 'utf8')) as Record<string, string>[];
    const columns = Object.keys(expected[0]);
    const schemaHints = Object.fromEntries(columns.map((c) => [c, 'string']));
    const { env, inference } = await ingested('spectrum', file, readFileSync(nodePath.join(SPECTRUM, 'csvs', file)), expected.length, { schemaHints });
    const renamed = JSON.parse(inference['#columns'] ?? '{}') as Record<string, string>;
    const stored = columns.map((c) => renamed[c] ?? c);
    expect((await dataFields(env)).map((f) => `${f.name}:${f.type}`)).toEqual(stored.map((c) => `${c}:string`));
    const rows = await tableRows(env.table);
    expect(rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[stored[i]]])))).toEqual(expected);
    expect(rows.every((r) => r[RESCUED_COLUMN] === null)).toBe(true);
  });
});

describe('real CSV files through the ingest stage', () => {
  const duck = suiteDuckdb();

  it.concurrent.each(Object.keys(REAL_CSV_TYPES))('%s: every row, sensible types, no value altered', async (file) => {
    const path = nodePath.join(REAL, file);
    const cells = await duckdbCells(duck(), path);
    const { env, inference } = await ingested('real', file, readFileSync(path), cells.length);
    const fields = await dataFields(env);
    expect(Object.fromEntries(fields.map((f) => [f.name, f.type]))).toEqual(REAL_CSV_TYPES[file]);
    // One file, written in order: the table's rows are the file's records in file order.
    const rows = await tableRows(env.table);
    expect(rows).toHaveLength(cells.length);
    expect(alteredCells(rows, cells, fields, inference)).toEqual([]);
  });

  it('keeps codes, dates, quoted text and empty fields of the purchases file as they were', async () => {
    const file = 'amazon-purchases-sample.csv';
    const path = nodePath.join(REAL, file);
    const { env, inference } = await ingested('amazon', file, readFileSync(path), (await duckdbCells(duck(), path)).length);
    expect(inference.Order_Date).toMatch(/^date M\/d\/yyyy /);
    expect(inference['ASIN/ISBN_Product_Code_']).toMatch(/^string .*leading zeros/);
    expect(JSON.parse(inference['#columns'])).toMatchObject({ 'Order Date': 'Order_Date', 'ASIN/ISBN (Product Code)': 'ASIN/ISBN_Product_Code_' });
    const rows = await tableRows(env.table);
    expect(rows[0]).toMatchObject({ Order_Date: '2018-01-18', Purchase_Price_Per_Unit: 17.16, Quantity: 1, 'ASIN/ISBN_Product_Code_': 'B005F9XFN0' });
    expect(rows[0].Title).toBe('NOW Foods, Certified Organic Better Stevia, Extract Powder, Zero-Calorie Sweetener, Certified Non-GMO, 4-Ounce');
    expect(rows.some((r) => /^0\d+$/.test(String(r['ASIN/ISBN_Product_Code_'])))).toBe(true);
    expect(rows.find((r) => String(r.Title).startsWith('Rocketbook Smart Reusable Notebook'))!.Title).toContain('Executive (6" x 8.8”)');
    expect(rows.find((r) => r['ASIN/ISBN_Product_Code_'] === 'B00F3TBBRO')).toMatchObject({ Order_Date: '2018-02-28', Title: null, Category: null });
    // A hint may name the column as the file does or as it is stored.
    const hinted = await ingested('amazon-hint', file, readFileSync(path), rows.length, { schemaHints: { 'Order Date': 'string', Quantity: 'long' } });
    expect((await dataFields(hinted.env)).slice(0, 3).map((f) => `${f.name}:${f.type}`)).toEqual([
      'Order_Date:string',
      'Purchase_Price_Per_Unit:double',
      'Quantity:long',
    ]);
    expect((await tableRows(hinted.env.table))[0]).toMatchObject({ Order_Date: '1/18/2018', Quantity: 1 });
  });
});
