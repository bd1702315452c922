/**
 * "No value altered" for the real CSV corpus, shared by the reader test (formats-real-csv) and the
 * whole-stage test (ingest-corpora): every cell of a file, as DuckDB reads it with all columns as
 * text, against the value Sluice stored. A typed value must stand for exactly the original text (an
 * exact typed conversion is not an alteration: `6.0` → 6, `01/02/1965` → that day, `True` → true); a
 * value that did not fit its column must be null with its original text in `_rescued_data`.
 */
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll } from 'vitest';
import { RESCUED_COLUMN } from '../../shared/formats';

/** The types each real CSV file must get (stored column names; sensible ones, DuckDB agrees except where noted). */
export const REAL_CSV_TYPES: Record<string, Record<string, string>> = {
  '2016-weather-data-seattle.csv': { Date: 'date', Max_TemperatureC: 'integer', Mean_TemperatureC: 'integer', Min_TemperatureC: 'integer' },
  'US-shooting-incidents.csv': {
    _c0: 'integer',
    person: 'string',
    dept: 'string',
    eow: 'string',
    cause: 'string',
    cause_short: 'string',
    date: 'date',
    year: 'integer',
    canine: 'boolean',
    dept_name: 'string',
    state: 'string',
    description: 'string',
    latitude: 'double',
    longitude: 'double',
    state_name: 'string',
  },
  // Headers with spaces and parentheses are stored sanitised (Delta refuses ` ,;{}()\n\t=` in names).
  'amazon-purchases-sample.csv': {
    Order_Date: 'date',
    Purchase_Price_Per_Unit: 'double',
    Quantity: 'integer',
    Shipping_Address_State: 'string',
    Title: 'string',
    'ASIN/ISBN_Product_Code_': 'string',
    Category: 'string',
    Survey_ResponseID: 'string',
  },
  // DuckDB leaves Date as VARCHAR (three ISO timestamps hide among the dates); Sluice types it and
  // rescues those three.
  'earthquakes-23k.csv': { Date: 'date', Latitude: 'double', Longitude: 'double', Magnitude: 'double' },
  'gapminder-unclean.csv': {
    country: 'string',
    continent: 'string',
    year: 'integer',
    lifeExp: 'double',
    pop: 'integer',
    gdpPercap: 'double',
    iso_alpha: 'string',
  },
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

/**
 * Whether a typed value stands for exactly the original text. Values come in the reader's forms
 * (numbers, bigint, day numbers) or as the stage's JSON rows give them (dates `YYYY-MM-DD`).
 */
function sameValue(value: unknown, type: string, text: string, inference: string): boolean {
  switch (type) {
    case 'string':
      return value === text;
    case 'integer':
      return typeof value === 'number' && String(value) === text;
    case 'long':
      return (typeof value === 'bigint' || typeof value === 'number') && String(value) === text;
    case 'double':
      return typeof value === 'number' && canonicalNumber(String(value)) === canonicalNumber(text);
    case 'boolean':
      return String(value) === text.toLowerCase();
    case 'date':
      return (typeof value === 'string' ? dayOf(value, 'yyyy-MM-dd') : value) === dayOf(text, /^date (\S+)/.exec(inference)?.[1] ?? '');
  }
  return false;
}

/**
 * An in-memory DuckDB for the tests of one suite: opened before them, closed after.
 *
 * @returns the connection, once the suite's tests run
 */
export function suiteDuckdb(): () => DuckDBConnection {
  let instance: DuckDBInstance | undefined;
  let connection: DuckDBConnection | undefined;
  beforeAll(async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    instance = await DuckDBInstance.create(':memory:');
    connection = await instance.connect();
  });
  afterAll(() => {
    connection?.closeSync();
    instance?.closeSync();
  });
  return () => connection!;
}

/**
 * A file's cells as DuckDB reads them, all as text (null for empty fields).
 *
 * @param duck a DuckDB connection
 * @param path the CSV file
 * @returns rows of cells in file order
 */
export async function duckdbCells(duck: DuckDBConnection, path: string): Promise<(string | null)[][]> {
  const reader = await duck.runAndReadAll(`SELECT * FROM read_csv('${path.replace(/'/g, "''")}', all_varchar = true, header = true)`);
  return reader.getRows() as (string | null)[][];
}

/**
 * Every cell whose stored value does not stand for its original text (at most `limit`).
 *
 * @param rows the stored rows in file order, keyed by stored column name
 * @param cells the original cells (`duckdbCells`), same order, columns in file order
 * @param fields the stored data columns in file order, with their types
 * @param inference the read's inference (for date formats: `date M/d/yyyy…`), keyed by stored name
 * @param limit how many to report
 * @returns one message per altered cell
 */
export function alteredCells(
  rows: Record<string, unknown>[],
  cells: (string | null)[][],
  fields: { name: string; type: unknown }[],
  inference: Record<string, string>,
  limit = 10,
): string[] {
  const altered: string[] = [];
  rows.forEach((row, i) => {
    const rescued = row[RESCUED_COLUMN] === null ? {} : (JSON.parse(row[RESCUED_COLUMN] as string) as Record<string, string>);
    fields.forEach((f, j) => {
      const text = cells[i][j];
      const value = row[f.name];
      const ok =
        value === null
          ? (text === null && !(f.name in rescued)) || rescued[f.name] === text
          : text !== null && sameValue(value, f.type as string, text, inference[f.name] ?? '');
      if (!ok && altered.length < limit)
        altered.push(`row ${i + 1} ${f.name}: ${JSON.stringify(text)} became ${String(value)} (rescued ${JSON.stringify(rescued[f.name])})`);
    });
  });
  return altered;
}
