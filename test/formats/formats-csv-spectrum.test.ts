/**
 * csv-spectrum (test/fixtures/csv-spectrum, BSD-2-Clause): every CSV, read with all columns hinted
 * `string` (by their names in the file), gives exactly the rows in its JSON twin, whatever the chunk
 * boundaries. Header names Delta cannot store ("Contact Phone Number") come out sanitised, with the
 * rename recorded in the inference.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { COLUMNS_INFERENCE_KEY, isStorableName, RESCUED_COLUMN } from '../../shared/formats';
import { readAll } from '../support/formats-harness';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const DIR = nodePath.join(TEST_DIR, 'fixtures', 'csv-spectrum');
const cases = readdirSync(nodePath.join(DIR, 'csvs'))
  .filter((f) => f.endsWith('.csv'))
  .sort();

describe('csv-spectrum', () => {
  it('has the 12 cases', () => {
    expect(cases).toHaveLength(12);
  });

  for (const file of cases) {
    const base = file.replace(/\.csv$/, '');
    it.each([1, 2, 7, 65536])(`${base} (chunks of %i bytes)`, async (chunkSize) => {
      const bytes = readFileSync(nodePath.join(DIR, 'csvs', file));
      const expected = JSON.parse(readFileSync(nodePath.join(DIR, 'json', `${base}.json`), 'utf8')) as Record<string, string>[];
      const columns = Object.keys(expected[0]);
      const schemaHints = Object.fromEntries(columns.map((c) => [c, 'string']));
      const { result, rows } = await readAll(bytes, file, { schemaHints }, chunkSize);
      expect(result.fatal).toBeUndefined();
      expect(result.badRecords).toEqual([]);
      const renamed = JSON.parse(result.inference[COLUMNS_INFERENCE_KEY] ?? '{}') as Record<string, string>;
      const stored = columns.map((c) => renamed[c] ?? c);
      expect(stored.every(isStorableName)).toBe(true);
      expect(result.schema.fields.map((f) => f.name)).toEqual([...stored, RESCUED_COLUMN]);
      expect(result.schema.fields.every((f) => f.type === 'string')).toBe(true);
      expect(rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[stored[i]]])))).toEqual(expected);
      expect(rows.every((r) => r[RESCUED_COLUMN] === null)).toBe(true);
      expect(result.stats).toMatchObject({ rowsRead: expected.length, rowsEmitted: expected.length, rowsWithRescued: 0, bytesRead: bytes.length });
    });
  }

  it('infers types when not hinted, keeping the zip code with its leading zero', async () => {
    const bytes = readFileSync(nodePath.join(DIR, 'csvs', 'comma_in_quotes.csv'));
    const { result, rows } = await readAll(bytes, 'comma_in_quotes.csv');
    expect(result.inference.zip).toBe('string (leading zeros)');
    expect(rows[0].zip).toBe('08123');
    const empty = await readAll(readFileSync(nodePath.join(DIR, 'csvs', 'empty.csv')), 'empty.csv');
    expect(empty.result.schema.fields.map((f) => f.type)).toEqual(['integer', 'integer', 'integer', 'string']);
    // Quoted empty strings are null in typed columns.
    expect(empty.rows.map((r) => [r.a, r.b, r.c])).toEqual([
      [1, null, null],
      [2, 3, 4],
    ]);
  });

  it('records the renamed headers and takes hints by either name', async () => {
    const bytes = readFileSync(nodePath.join(DIR, 'csvs', 'location_coordinates.csv'));
    const { result, rows } = await readAll(bytes, 'location_coordinates.csv', {
      schemaHints: { 'Contact Phone Number': 'string', Location_Coordinates: 'string' },
    });
    expect(JSON.parse(result.inference[COLUMNS_INFERENCE_KEY])).toEqual({
      'Contact Phone Number': 'Contact_Phone_Number',
      'Location Coordinates': 'Location_Coordinates',
    });
    expect(result.inference.Contact_Phone_Number).toMatch(/^string \(hint; /);
    expect(result.inference.Location_Coordinates).toMatch(/^string \(hint; /);
    expect(rows[0].Contact_Phone_Number).toBe('2095257564');
    const unhinted = await readAll(bytes, 'location_coordinates.csv');
    expect(unhinted.result.inference.Contact_Phone_Number).toBe('integer');
  });
});
