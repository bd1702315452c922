/**
 * Ingestion streams (issue 3, item 9): a generated file several times larger than a capped V8 heap is
 * ingested by `sluice ingest` in a child process (`--max-old-space-size=64`), every row lands, and the
 * child's peak resident set stays under 512 MiB. Holding the file whole fails this: as a string it
 * overflows the heap, as a Buffer it pushes the resident set past the bound (checked by making the
 * child read the CSV with readFile first: peak RSS 691 MiB, the test fails). The CSV goes through the
 * reader and, again, through DuckDB's copy (which holds DuckDB's memory limit besides). No timings are
 * asserted.
 *
 * Also the writer's parts that make this fast: Parquet encoded in a worker thread
 * (shared/delta/encode-worker.ts) is the same data with the same statistics as Parquet encoded on the
 * main thread, and batches split by partition without per-row work still put every row where it belongs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import * as arrow from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetFormat, writeDataset } from '../../bench/dataset';
import { createTable, loadSnapshot } from '../../shared/delta';
import { encoderPoolDisabledReason, openParquetEncoder } from '../../shared/delta/encode-worker';
import { concatBytes, decodeParquet } from '../../shared/delta/parquet';
import { parseStats } from '../../shared/delta/stats';
import { buildVector, readValues } from '../../shared/delta/values';
import { writeDataFiles } from '../../shared/delta/writer';
import { DeltaStruct } from '../../shared/delta/schema';
import { LocalStore } from '../../shared/storage';
import { ingestInChild } from '../../bench/ingest-child';

const HEAP_MB = 64;
const RSS_BOUND = 512 * 1024 * 1024;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-ingest-memory-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Rows in the table's latest version according to its log (the `add` actions' numRecords). */
async function loggedRows(table: string): Promise<number> {
  const snapshot = await loadSnapshot(new LocalStore(table));
  let rows = 0;
  for (const add of snapshot.state.files.values()) {
    const stats = parseStats(add.stats);
    if (typeof stats?.numRecords !== 'number') throw new Error(`${table}: add ${add.path} has no numRecords in its stats`);
    rows += stats.numRecords;
  }
  return rows;
}

async function expectStreamedIngest(format: DatasetFormat, rows: number, minTimesHeap: number, csvEngine?: 'reader' | 'duckdb'): Promise<void> {
  const file = await writeDataset(nodePath.join(dir, `pos.${format}`), rows, format);
  const table = nodePath.join(dir, `table-${format}-${csvEngine ?? 'auto'}`);
  const report = await ingestInChild({ file: file.path, table, ...(csvEngine ? { csvEngine } : {}) }, HEAP_MB);
  const what = `${format}, ${rows} rows, ${(file.bytes / 2 ** 20).toFixed(0)} MiB; child stderr: ${report.stderr}`;
  console.info(
    `${format}: ${rows} rows, ${(file.bytes / 2 ** 20).toFixed(0)} MiB under a ${(report.heapLimitBytes / 2 ** 20).toFixed(0)} MiB heap limit: peak RSS ${(report.maxRssBytes / 2 ** 20).toFixed(0)} MiB`,
  );

  // The cap applied, and the input is several times the heap.
  expect(report.heapLimitBytes, what).toBeLessThan(2 * HEAP_MB * 2 ** 20);
  expect(file.bytes, what).toBeGreaterThan(minTimesHeap * report.heapLimitBytes);

  expect(report.exitCode, what).toBe(0);
  expect(
    report.result?.files.map((f) => f.status),
    what,
  ).toEqual(['committed']);
  // The reader is never asked to give way; DuckDB says it did the reading.
  if (csvEngine) expect(report.result?.files[0].readBy, what).toBe(csvEngine === 'duckdb' ? 'duckdb' : undefined);
  expect(report.result?.totals, what).toMatchObject({ rowsRead: rows, rowsWritten: rows, rowsDeadLettered: 0, errors: 0, bytes: file.bytes });
  expect(await loggedRows(table), what).toBe(rows);
  expect(report.maxRssBytes, `peak RSS ${(report.maxRssBytes / 2 ** 20).toFixed(0)} MiB (${what})`).toBeLessThan(RSS_BOUND);
}

describe('ingestion streams: capped heap, bounded resident set', () => {
  it('ingests a CSV over five times the heap cap with the reader: every row, peak RSS under 512 MiB', async () => {
    // 2.8M rows ≈ 355 MB against 64 MiB of old space (a heap limit of about 112 MiB with the young
    // generation): as a string it cannot fit the heap, as a Buffer it breaks the RSS bound.
    await expectStreamedIngest('csv', 2_800_000, 3, 'reader');
  }, 300_000);

  it('copies the same CSV with DuckDB (csv-copy.ts): every row, peak RSS under 512 MiB', async () => {
    await expectStreamedIngest('csv', 2_800_000, 3, 'duckdb');
  }, 300_000);

  it('ingests an NDJSON file over five times the heap cap: every row, peak RSS under 512 MiB', async () => {
    // 1.4M rows ≈ 363 MB (NDJSON lines are twice as long as CSV rows).
    await expectStreamedIngest('ndjson', 1_400_000, 3);
  }, 300_000);
});

describe('Parquet encoding in a worker thread', () => {
  const schema: DeltaStruct = {
    type: 'struct',
    fields: [
      { name: 'id', type: 'long', nullable: false, metadata: {} },
      { name: 's', type: 'string', nullable: true, metadata: {} },
      { name: 'amount', type: 'decimal(12,2)', nullable: true, metadata: {} },
      { name: 'at', type: 'timestamp', nullable: true, metadata: {} },
      { name: 'day', type: 'date', nullable: true, metadata: {} },
      { name: 'x', type: 'double', nullable: true, metadata: {} },
    ],
  };
  const batch = (from: number, rows: number) => {
    const ids = Array.from({ length: rows }, (_, i) => BigInt(from + i));
    return new arrow.Table({
      id: buildVector('long', ids),
      s: buildVector(
        'string',
        ids.map((i) => (i % 7n === 0n ? null : `value ${i} ${'é'.repeat(Number(i % 5n))}`)),
      ),
      amount: buildVector(
        'decimal(12,2)',
        ids.map((i) => (i % 11n === 0n ? null : ((i * 1234567n) % 99999999999n) - 49999999999n)),
      ),
      at: buildVector(
        'timestamp',
        ids.map((i) => (i % 13n === 0n ? null : 1_700_000_000_000_000n + i * 1_234_567n)),
      ),
      day: buildVector(
        'date',
        ids.map((i) => (i % 17n === 0n ? null : Number(i % 40000n) - 20000)),
      ),
      x: buildVector(
        'double',
        ids.map((i) => (i % 19n === 0n ? null : Number(i) / 3)),
      ),
    }).batches[0];
  };

  it('runs in a worker when batches are big, with the same rows and statistics as on the main thread', async () => {
    // Workers run wherever there are two cores; this machine has them.
    const encoder = await openParquetEncoder({}, 'auto');
    expect(encoderPoolDisabledReason()).toBeNull();
    expect(encoder.thread).toBe(availableParallelism() > 1 ? 'worker' : 'main');
    const output = (async () => {
      const chunks: Uint8Array[] = [];
      for await (const chunk of encoder.output) chunks.push(chunk);
      return concatBytes(chunks);
    })();
    await encoder.push(batch(0, 10));
    encoder.end();
    expect(readValues((await decodeParquet(await output)).getChild('id')!, 'long')).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i)));

    const batches = [batch(0, 50_000), batch(50_000, 30_000), batch(80_000, 50_000)];
    const write = async (encodeThread: 'auto' | 'main') => {
      const store = new LocalStore(await mkdtemp(nodePath.join(dir, `enc-${encodeThread}-`)));
      await createTable(store, { schema });
      const adds = await writeDataFiles({ store, schema, partitionColumns: [] }, batches, { encodeThread, rowGroupRows: 40_000 });
      return { store, adds };
    };
    const inWorker = await write('auto');
    const onMain = await write('main');
    expect(inWorker.adds).toHaveLength(1);
    expect(parseStats(inWorker.adds[0].stats)).toEqual(parseStats(onMain.adds[0].stats));
    expect(parseStats(inWorker.adds[0].stats)?.numRecords).toBe(130_000);
    const decoded = await decodeParquet(await inWorker.store.read(inWorker.adds[0].path));
    const expected: arrow.Table = new arrow.Table(batches);
    expect(decoded.numRows).toBe(130_000);
    for (const field of schema.fields) {
      expect(readValues(decoded.getChild(field.name)!, field.type), field.name).toEqual(readValues(expected.getChild(field.name)!, field.type));
    }
  }, 120_000);
});

describe('splitting batches by partition', () => {
  it('puts every row in its partition, whether a batch has one value per partition column or many', async () => {
    const schema: DeltaStruct = {
      type: 'struct',
      fields: [
        { name: 'id', type: 'integer', nullable: false, metadata: {} },
        { name: 'day', type: 'date', nullable: true, metadata: {} },
        { name: 'code', type: 'string', nullable: true, metadata: {} },
      ],
    };
    const store = new LocalStore(await mkdtemp(nodePath.join(dir, 'parts-')));
    await createTable(store, { schema, partitionColumns: ['day', 'code'] });
    const make = (ids: number[], days: (number | null)[], codes: (string | null)[]) =>
      new arrow.Table({ id: buildVector('integer', ids), day: buildVector('date', days), code: buildVector('string', codes) }).batches[0];
    const batches = [
      // One day and one code throughout (the ingest case), then codes whose bytes look alike ("a", "aa").
      make([1, 2, 3], [19000, 19000, 19000], ['a', 'a', 'a']),
      make([4, 5, 6], [19000, 19000, 19000], ['a', 'aa', 'a']),
      make([7, 8, 9], [19001, 19000, null], [null, null, null]),
    ];
    const adds = await writeDataFiles({ store, schema, partitionColumns: ['day', 'code'] }, batches);
    const placed: string[] = [];
    for (const add of adds) {
      const decoded = await decodeParquet(await store.read(decodeURIComponent(add.path)));
      for (const id of readValues(decoded.getChild('id')!, 'integer')) placed.push(`${id}:${add.partitionValues.day}/${add.partitionValues.code}`);
    }
    expect(placed.sort((a, b) => parseInt(a) - parseInt(b))).toEqual([
      '1:2022-01-08/a',
      '2:2022-01-08/a',
      '3:2022-01-08/a',
      '4:2022-01-08/a',
      '5:2022-01-08/aa',
      '6:2022-01-08/a',
      '7:2022-01-09/null',
      '8:2022-01-08/null',
      '9:null/null',
    ]);
  });
});
