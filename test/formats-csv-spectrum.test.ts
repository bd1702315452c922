/**
 * csv-spectrum (test/fixtures/csv-spectrum, BSD-2-Clause): every CSV, read with all columns hinted
 * `string`, gives exactly the rows in its JSON twin, whatever the chunk boundaries.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESCUED_COLUMN } from '../shared/formats';
import { readAll } from './fixtures/formats/harness';

const DIR = nodePath.join(__dirname, 'fixtures', 'csv-spectrum');
const cases = readdirSync(nodePath.join(DIR, 'csvs')).filter((f) => f.endsWith('.csv')).sort();

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
      expect(result.schema.fields.map((f) => f.name)).toEqual([...columns, RESCUED_COLUMN]);
      expect(result.schema.fields.every((f) => f.type === 'string')).toBe(true);
      expect(rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c]])))).toEqual(expected);
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
    expect(empty.rows.map((r) => [r.a, r.b, r.c])).toEqual([[1, null, null], [2, 3, 4]]);
  });
});
