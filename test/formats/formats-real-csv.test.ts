/**
 * Five real CSV files (test/fixtures/real-csv, plotly/datasets, MIT): each ingests with sensible types,
 * as many rows as DuckDB counts records, and no value altered: every cell is compared with DuckDB's
 * all-varchar read of the same file. A typed value must format back to the original text up to exact
 * typed conversions (`6.0` → 6, `01/02/1965` → the same day, `True` → true); a value that did not fit
 * its column must be null with its original text in `_rescued_data`.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESCUED_COLUMN } from '../../shared/formats';
import { readAll } from '../support/formats-harness';
import { alteredCells, duckdbCells, REAL_CSV_TYPES, suiteDuckdb } from '../support/ingest-values';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const DIR = nodePath.join(TEST_DIR, 'fixtures', 'real-csv');

const duck = suiteDuckdb();

describe('real CSV files', () => {
  for (const file of Object.keys(REAL_CSV_TYPES)) {
    it(file, async () => {
      const path = nodePath.join(DIR, file);
      const expected = await duckdbCells(duck(), path);
      const { result, rows } = await readAll(readFileSync(path), file);
      expect(result.fatal).toBeUndefined();
      expect(result.badRecords).toEqual([]);
      expect(result.stats.rowsRead).toBe(expected.length);
      expect(result.stats.rowsEmitted).toBe(expected.length);
      expect(rows).toHaveLength(expected.length);

      const fields = result.schema.fields.filter((f) => f.name !== RESCUED_COLUMN);
      expect(Object.fromEntries(fields.map((f) => [f.name, f.type]))).toEqual(REAL_CSV_TYPES[file]);
      expect(alteredCells(rows, expected, fields, result.inference)).toEqual([]);
      expect(result.stats.rowsWithRescued).toBe(rows.filter((r) => r[RESCUED_COLUMN] !== null).length);
    });
  }

  it('reports the chosen date formats and the leading-zero codes', async () => {
    const amazon = await readAll(readFileSync(nodePath.join(DIR, 'amazon-purchases-sample.csv')), 'amazon-purchases-sample.csv');
    expect(amazon.result.inference.Order_Date).toBe('date M/d/yyyy');
    expect(amazon.result.inference['ASIN/ISBN_Product_Code_']).toBe('string (leading zeros)');
    expect(amazon.rows.some((r) => /^0\d+$/.test(r['ASIN/ISBN_Product_Code_'] as string))).toBe(true);
    expect(JSON.parse(amazon.result.inference['#columns'])).toEqual({
      'Order Date': 'Order_Date',
      'Purchase Price Per Unit': 'Purchase_Price_Per_Unit',
      'Shipping Address State': 'Shipping_Address_State',
      'ASIN/ISBN (Product Code)': 'ASIN/ISBN_Product_Code_',
      'Survey ResponseID': 'Survey_ResponseID',
    });
    const quakes = await readAll(readFileSync(nodePath.join(DIR, 'earthquakes-23k.csv')), 'earthquakes-23k.csv');
    expect(quakes.result.inference.Date).toBe('date M/d/yyyy');
    expect(quakes.result.stats.rowsWithRescued).toBe(3);
    expect(quakes.rows.filter((r) => r[RESCUED_COLUMN] !== null).map((r) => JSON.parse(r[RESCUED_COLUMN] as string))).toEqual([
      { Date: '1975-02-23T02:58:41.000Z' },
      { Date: '1985-04-28T02:53:41.530Z' },
      { Date: '2011-03-13T02:23:34.520Z' },
    ]);
  });
});
