/**
 * Five real CSV files (test/fixtures/real-csv, plotly/datasets, MIT): each ingests with sensible types,
 * as many rows as DuckDB counts records, and no value altered: every cell is compared with DuckDB's
 * all-varchar read of the same file. A typed value must format back to the original text up to exact
 * typed conversions (`6.0` → 6, `01/02/1965` → the same day, `True` → true); a value that did not fit
 * its column must be null with its original text in `_rescued_data`.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { RESCUED_COLUMN } from '../shared/formats';
import { readAll } from './fixtures/formats/harness';

const DIR = nodePath.join(__dirname, 'fixtures', 'real-csv');

/** The types each file must get (sensible ones; DuckDB agrees except where noted). */
const EXPECTED_TYPES: Record<string, Record<string, string>> = {
  '2016-weather-data-seattle.csv': { Date: 'date', Max_TemperatureC: 'integer', Mean_TemperatureC: 'integer', Min_TemperatureC: 'integer' },
  'US-shooting-incidents.csv': {
    _c0: 'integer', person: 'string', dept: 'string', eow: 'string', cause: 'string', cause_short: 'string', date: 'date', year: 'integer',
    canine: 'boolean', dept_name: 'string', state: 'string', description: 'string', latitude: 'double', longitude: 'double', state_name: 'string',
  },
  // Headers with spaces and parentheses are stored sanitised (Delta refuses ` ,;{}()\n\t=` in names).
  'amazon-purchases-sample.csv': {
    Order_Date: 'date', Purchase_Price_Per_Unit: 'double', Quantity: 'integer', Shipping_Address_State: 'string', Title: 'string',
    'ASIN/ISBN_Product_Code_': 'string', Category: 'string', Survey_ResponseID: 'string',
  },
  // DuckDB leaves Date as VARCHAR (three ISO timestamps hide among the dates); Sluice types it and
  // rescues those three.
  'earthquakes-23k.csv': { Date: 'date', Latitude: 'double', Longitude: 'double', Magnitude: 'double' },
  'gapminder-unclean.csv': { country: 'string', continent: 'string', year: 'integer', lifeExp: 'double', pop: 'integer', gdpPercap: 'double', iso_alpha: 'string' },
};

/** Significant digits and exponent of a decimal literal: equal for texts denoting the same number exactly. */
function canonicalNumber(text: string): string {
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(text);
  if (!m) return `not a number: ${text}`;
  const digits = (m[2] ?? '') + (m[3] ?? '');
  const first = digits.search(/[1-9]/);
  if (first < 0) return '0';
  const exponent = Number(m[4] ?? 0) + (m[2] ?? '').length - first;
  return `${m[1]}${digits.slice(first).replace(/0+$/, '')}e${exponent}`;
}

/** Day number of a date text read independently of the reader (formats the inference names). */
function dayOf(text: string, format: string): number | null {
  let y: number;
  let mo: number;
  let d: number;
  let m: RegExpExecArray | null;
  if ((m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text))) [y, mo, d] = [+m[1], +m[2], +m[3]];
  else if (format === 'M/d/yyyy' && (m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(text))) [mo, d, y] = [+m[1], +m[2], +m[3]];
  else return null;
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return date.getTime() / 86_400_000;
}

/** Whether a typed value stands for exactly the original text. */
function sameValue(value: unknown, type: string, text: string, inference: string): boolean {
  switch (type) {
    case 'string': return value === text;
    case 'integer': return typeof value === 'number' && String(value) === text;
    case 'long': return typeof value === 'bigint' && String(value) === text;
    case 'double': return typeof value === 'number' && canonicalNumber(String(value)) === canonicalNumber(text);
    case 'boolean': return String(value) === text.toLowerCase();
    case 'date': return value === dayOf(text, inference.replace(/^date /, ''));
  }
  return false;
}

let instance: DuckDBInstance;
let duck: DuckDBConnection;

beforeAll(async () => {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
});

afterAll(() => {
  duck?.closeSync();
  instance?.closeSync();
});

describe('real CSV files', () => {
  for (const file of Object.keys(EXPECTED_TYPES)) {
    it(file, async () => {
      const path = nodePath.join(DIR, file);
      const reader = await duck.runAndReadAll(`SELECT * FROM read_csv('${path.replace(/'/g, "''")}', all_varchar = true, header = true)`);
      const expected = reader.getRows() as (string | null)[][];

      const bytes = readFileSync(path);
      const { result, rows } = await readAll(bytes, file);
      expect(result.fatal).toBeUndefined();
      expect(result.badRecords).toEqual([]);
      expect(result.stats.rowsRead).toBe(expected.length);
      expect(result.stats.rowsEmitted).toBe(expected.length);
      expect(rows).toHaveLength(expected.length);

      const fields = result.schema.fields.filter((f) => f.name !== RESCUED_COLUMN);
      expect(Object.fromEntries(fields.map((f) => [f.name, f.type]))).toEqual(EXPECTED_TYPES[file]);

      let rescuedRows = 0;
      const altered: string[] = [];
      rows.forEach((row, i) => {
        const rescued = row[RESCUED_COLUMN] === null ? {} : (JSON.parse(row[RESCUED_COLUMN] as string) as Record<string, string>);
        if (row[RESCUED_COLUMN] !== null) rescuedRows++;
        fields.forEach((f, j) => {
          const text = expected[i][j];
          const value = row[f.name];
          const ok = value === null
            ? (text === null && !(f.name in rescued)) || rescued[f.name] === text
            : text !== null && sameValue(value, f.type as string, text, result.inference[f.name]);
          if (!ok) altered.push(`row ${i + 1} ${f.name}: ${JSON.stringify(text)} became ${String(value)} (rescued ${JSON.stringify(rescued[f.name])})`);
        });
      });
      expect(altered.slice(0, 10)).toEqual([]);
      expect(result.stats.rowsWithRescued).toBe(rescuedRows);
    });
  }

  it('reports the chosen date formats and the leading-zero codes', async () => {
    const amazon = await readAll(readFileSync(nodePath.join(DIR, 'amazon-purchases-sample.csv')), 'amazon-purchases-sample.csv');
    expect(amazon.result.inference.Order_Date).toBe('date M/d/yyyy');
    expect(amazon.result.inference['ASIN/ISBN_Product_Code_']).toBe('string (leading zeros)');
    expect(amazon.rows.some((r) => /^0\d+$/.test(r['ASIN/ISBN_Product_Code_'] as string))).toBe(true);
    expect(JSON.parse(amazon.result.inference['#columns'])).toEqual({
      'Order Date': 'Order_Date', 'Purchase Price Per Unit': 'Purchase_Price_Per_Unit', 'Shipping Address State': 'Shipping_Address_State',
      'ASIN/ISBN (Product Code)': 'ASIN/ISBN_Product_Code_', 'Survey ResponseID': 'Survey_ResponseID',
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
