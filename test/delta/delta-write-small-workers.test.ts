/**
 * Small data files (below the 1 MiB a worker is otherwise used from) written several at once with
 * `smallFilesInWorkers`, as event batches of several partitions are: each is written by parquet-wasm
 * (not DuckDB, which encoding workers use for flat schemas) and holds the same rows with the same
 * statistics as when every file is encoded on the calling thread.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import * as arrow from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTable } from '../../shared/delta';
import { decodeParquet, readParquetMetadata } from '../../shared/delta/parquet';
import type { DeltaStruct, DeltaType } from '../../shared/delta/schema';
import { parseStats } from '../../shared/delta/stats';
import { buildVector, readValues } from '../../shared/delta/values';
import { writeDataFiles } from '../../shared/delta/writer';
import { LocalStore } from '../../shared/storage';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-small-workers-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SCHEMA: DeltaStruct = {
  type: 'struct',
  fields: (
    [
      ['id', 'long'],
      ['device', 'string'],
      ['temperature', 'double'],
      ['ok', 'boolean'],
      ['at', 'timestamp'],
    ] as [string, DeltaType][]
  ).map(([name, type]) => ({ name, type, nullable: true, metadata: {} })),
};

function batchOf(from: number, rows: number): arrow.RecordBatch {
  const ids = Array.from({ length: rows }, (_, k) => from + k);
  return new arrow.Table({
    id: buildVector(
      'long',
      ids.map((i) => BigInt(i)),
    ),
    device: buildVector(
      'string',
      ids.map((i) => (i % 9 === 0 ? null : `dev-${i % 50}`)),
    ),
    temperature: buildVector(
      'double',
      ids.map((i) => (i % 11 === 0 ? null : 18 + (i % 1500) / 100)),
    ),
    ok: buildVector(
      'boolean',
      ids.map((i) => i % 3 !== 0),
    ),
    at: buildVector(
      'timestamp',
      ids.map((i) => 1_769_860_800_000_000n + BigInt(i) * 10_000n),
    ),
  }).batches[0];
}

async function writeAll(label: string, smallFilesInWorkers: boolean, dictionary?: boolean) {
  const store = new LocalStore(await mkdtemp(nodePath.join(dir, `${label}-`)));
  await createTable(store, { schema: SCHEMA });
  // Six files at once, as the batches of several partitions arrive together.
  const files = await Promise.all(
    Array.from({ length: 6 }, async (_, f) => {
      const options = { smallFilesInWorkers, ...(dictionary === undefined ? {} : { dictionary }) };
      const [add] = await writeDataFiles({ store, schema: SCHEMA, partitionColumns: [] }, [batchOf(f * 1000, 1000)], options);
      const bytes = await store.read(decodeURIComponent(add.path));
      const decoded = await decodeParquet(bytes);
      const metadata = await readParquetMetadata(bytes);
      return {
        stats: parseStats(add.stats),
        createdBy: metadata.created_by ?? '',
        dictionaries: metadata.row_groups.flatMap((g) => g.columns).filter((c) => c.meta_data?.dictionary_page_offset !== undefined).length,
        values: Object.fromEntries(SCHEMA.fields.map((field) => [field.name, readValues(decoded.getChild(field.name)!, field.type)])),
      };
    }),
  );
  return files;
}

describe('small data files in encoding workers', () => {
  it('are written by parquet-wasm with the same rows and statistics as on the calling thread', async () => {
    expect(batchOf(0, 1000).data.byteLength).toBeLessThan(1024 * 1024);
    const inWorkers = await writeAll('workers', true);
    const onThisThread = await writeAll('main', false);
    for (const file of inWorkers) expect(file.createdBy).toMatch(/parquet-wasm/);
    expect(inWorkers).toEqual(onThisThread);
    expect(inWorkers[0].dictionaries).toBeGreaterThan(0);
    expect(inWorkers.map((f) => f.stats?.numRecords)).toEqual([1000, 1000, 1000, 1000, 1000, 1000]);
  });

  it('without dictionaries hold the same rows and statistics, and no dictionary page', async () => {
    const plain = await writeAll('plain', true, false);
    const dictionary = await writeAll('dictionary', true);
    expect(plain.map((f) => f.dictionaries)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(plain.map((f) => ({ ...f, dictionaries: 0 }))).toEqual(dictionary.map((f) => ({ ...f, dictionaries: 0 })));
  });
});
