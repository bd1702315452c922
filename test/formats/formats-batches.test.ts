/**
 * The batches readers emit are what the ingest stage needs: exactly Sluice's in-memory Arrow types for
 * the result schema (as `buildVector` builds them), the batch size asked for, and writable as Parquet
 * with every value surviving the round trip.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { decodeParquet, encodeParquetBuffer } from '../../shared/delta/parquet';
import { deltaToArrowSchema } from '../../shared/delta/schema';
import { buildVector, isCanonicalArrowType, readValues } from '../../shared/delta/values';
import { readInput } from '../../shared/formats';
import type { ReadOptions } from '../../shared/formats';
import { chunked } from '../support/formats-harness';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const DIR = nodePath.join(TEST_DIR, 'fixtures', 'formats');

async function batchesOf(name: string, bytes: Uint8Array, options: ReadOptions = {}) {
  const result = await readInput(chunked(bytes, 4096), name, options);
  const batches: arrow.RecordBatch[] = [];
  for await (const b of result.batches) batches.push(b);
  return { result, batches };
}

const inputs: [string, () => Uint8Array, ReadOptions][] = [
  ['ledger.csv.gz', () => readFileSync(nodePath.join(DIR, 'ledger.csv.gz')), { batchRows: 700, sampleRows: 2000 }],
  ['events.ndjson', () => readFileSync(nodePath.join(DIR, 'events.ndjson')), {}],
  ['orders.json', () => readFileSync(nodePath.join(DIR, 'orders.json')), {}],
  ['pixel.png', () => readFileSync(nodePath.join(DIR, 'pixel.png')), { modificationTime: new Date(0) }],
  [
    'types.csv',
    () =>
      Buffer.from(
        'i,l,d,dec,b,day,ts,s\n1,3000000000,1.5,0.12345678901234567891,true,2024-01-02,2024-01-02T03:04:05Z,x\n,,,,,,,\n2,x,y,z,maybe,2024-02-30,soon,""\n',
      ),
    { sampleRows: 2 },
  ],
];

describe('emitted batches', () => {
  it.each(inputs)('%s: canonical Arrow types, requested sizes, Parquet round trip', async (name, load, options) => {
    const bytes = load();
    const { result, batches } = await batchesOf(name, bytes, options);
    expect(result.fatal).toBeUndefined();
    expect(batches.length).toBeGreaterThan(0);
    const schema = deltaToArrowSchema(result.schema);
    for (const batch of batches) {
      expect(batch.schema.fields.map((f) => String(f.type))).toEqual(schema.fields.map((f) => String(f.type)));
      expect(batch.numRows).toBeLessThanOrEqual(options.batchRows ?? 65536);
      result.schema.fields.forEach((f, i) => {
        const column = batch.getChildAt(i)!;
        expect(isCanonicalArrowType(column.type, f.type)).toBe(true);
        // Exactly what buildVector makes of the same values.
        const values = readValues(column, f.type);
        expect(readValues(buildVector(f.type, values), f.type)).toEqual(values);
        expect(column.nullCount).toBe(values.filter((v) => v === null).length);
      });
    }
    if (options.batchRows) expect(batches.slice(0, -1).every((b) => b.numRows === options.batchRows)).toBe(true);

    const table = new arrow.Table(batches);
    const decoded = await decodeParquet(await encodeParquetBuffer(table));
    expect(decoded.numRows).toBe(table.numRows);
    for (const f of result.schema.fields) {
      expect(readValues(decoded.getChild(f.name)!, f.type)).toEqual(readValues(table.getChild(f.name)!, f.type));
    }
  });
});
