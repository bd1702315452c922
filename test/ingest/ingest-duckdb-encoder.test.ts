/**
 * Parquet written by DuckDB (shared/delta/duckdb-parquet.ts, through the encoding worker) holds the
 * same rows and gives the same statistics as Parquet written by parquet-wasm, and the writer falls
 * back to parquet-wasm where DuckDB does not take the schema:
 *
 * - the scan copying Arrow batches into DuckDB's vectors, run in this thread: every column type it
 *   takes, nulls, strings either side of the 12 bytes DuckDB keeps inline, multi-byte UTF-8, batches
 *   that are not a multiple of DuckDB's 2,048-row chunks, a batch sliced mid-byte of its validity;
 * - `writeDataFiles` with both engines: same values, same `add` statistics, each file written by the
 *   engine it should have been (the footer's `created_by`), decimals and column-mapping field ids left
 *   to parquet-wasm, and an upload that fails mid-file failing the write and leaving the worker usable;
 * - a real point-of-sale CSV with rows that get rescued and records that are bad, ingested on Azurite
 *   with each engine: the same outcome, the same rows, the same rescued data, the same dead-lettered
 *   records (row numbers and byte offsets), and a sound table by the independent checks and DuckDB.
 */
import { appendFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import * as arrow from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDataset } from '../../bench/dataset';
import { createTable, loadSnapshot } from '../../shared/delta';
import { duckdbEncodable, encodeWithDuckdb } from '../../shared/delta/duckdb-parquet';
import { decodeParquet, readParquetMetadata } from '../../shared/delta/parquet';
import { COLUMN_MAPPING_ID, DeltaStruct, DeltaType, deltaToArrowSchema } from '../../shared/delta/schema';
import { parseStats } from '../../shared/delta/stats';
import { buildVector, readValues } from '../../shared/delta/values';
import { writeDataFiles } from '../../shared/delta/writer';
import type { ParquetEngine } from '../../shared/delta/encode-worker';
import { LocalStore } from '../../shared/storage';
import type { ObjectStore } from '../../shared/storage/types';
import { ingest, ingestEnv, tableProblems, tableRows } from '../support/ingest';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-duckdb-encoder-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SCHEMA: DeltaStruct = {
  type: 'struct',
  fields: (
    [
      ['id', 'long'],
      ['s', 'string'],
      ['flag', 'boolean'],
      ['b', 'byte'],
      ['sh', 'short'],
      ['i', 'integer'],
      ['f', 'float'],
      ['x', 'double'],
      ['day', 'date'],
      ['at', 'timestamp'],
      ['local', 'timestamp_ntz'],
    ] as [string, DeltaType][]
  ).map(([name, type]) => ({ name, type, nullable: name !== 'id', metadata: {} })),
};

/** Strings around DuckDB's 12-byte inline limit, multi-byte ones, empty and null. */
function text(i: number): string | null {
  switch (i % 9) {
    case 0:
      return null;
    case 1:
      return '';
    case 2:
      return 'x'.repeat(12);
    case 3:
      return 'y'.repeat(13);
    case 4:
      return `é€${i}`;
    case 5:
      return `a longer value ${i} with "quotes", commas and 𝄞`;
    case 6:
      return 'ab';
    case 7:
      return `€€€€${i % 10}`; // 13 bytes: over the limit by one multi-byte-built byte
    default:
      return `row ${i}`;
  }
}

function batchOf(from: number, rows: number): arrow.RecordBatch {
  const ids = Array.from({ length: rows }, (_, k) => from + k);
  const nth = <T>(every: number, value: (i: number) => T) => ids.map((i) => (i % every === 0 ? null : value(i)));
  return new arrow.Table({
    id: buildVector(
      'long',
      ids.map((i) => BigInt(i)),
    ),
    s: buildVector('string', ids.map(text)),
    flag: buildVector(
      'boolean',
      nth(5, (i) => i % 3 === 0),
    ),
    b: buildVector(
      'byte',
      nth(7, (i) => (i % 256) - 128),
    ),
    sh: buildVector(
      'short',
      nth(11, (i) => ((i * 37) % 65536) - 32768),
    ),
    i: buildVector(
      'integer',
      nth(13, (i) => (i * 7919) | 0),
    ),
    f: buildVector(
      'float',
      nth(17, (i) => Math.fround(i / 8)),
    ),
    x: buildVector(
      'double',
      nth(19, (i) => i / 3 - 1000),
    ),
    day: buildVector(
      'date',
      nth(23, (i) => (i % 40000) - 20000),
    ),
    at: buildVector(
      'timestamp',
      nth(29, (i) => 1_700_000_000_000_000n + BigInt(i) * 1_234_567n),
    ),
    local: buildVector(
      'timestamp_ntz',
      nth(31, (i) => -5_000_000_000n + BigInt(i) * 999n),
    ),
  }).batches[0];
}

const createdBy = async (bytes: Uint8Array) => (await readParquetMetadata(bytes)).created_by ?? '';

describe('DuckDB scan of Arrow batches', () => {
  it('writes every value of every column type it takes, sliced and odd-sized batches included', async () => {
    const whole = batchOf(0, 5_000);
    // A slice starting at row 3: its validity bits start mid-byte.
    const batches = [batchOf(10_000, 2_047), whole.slice(3, 4_999), batchOf(20_000, 1)];
    expect(batches[1].getChildAt(1)!.data[0].offset).toBe(3);
    const schema = deltaToArrowSchema(SCHEMA);
    expect(duckdbEncodable(schema)).toBe(true);
    const path = nodePath.join(dir, 'scan.parquet');
    const queue = [...batches];
    await encodeWithDuckdb(() => queue.shift() ?? null, path, { rowGroupRows: 3_000, metadata: { 'sluice.schema': 'test' } });
    const bytes = new Uint8Array(await readFile(path));
    expect(await createdBy(bytes)).toMatch(/DuckDB/);
    const metadata = await readParquetMetadata(bytes);
    expect(metadata.key_value_metadata?.find((kv) => kv.key === 'sluice.schema')?.value).toBe('test');
    const decoded = await decodeParquet(bytes);
    const expected = new arrow.Table(batches);
    expect(decoded.numRows).toBe(expected.numRows);
    for (const field of SCHEMA.fields) {
      expect(readValues(decoded.getChild(field.name)!, field.type), field.name).toEqual(readValues(expected.getChild(field.name)!, field.type));
    }
  });

  it('takes flat columns only, and none with a Parquet field id', () => {
    expect(duckdbEncodable(deltaToArrowSchema({ type: 'struct', fields: [{ name: 'd', type: 'decimal(12,2)', nullable: true, metadata: {} }] }))).toBe(false);
    expect(
      duckdbEncodable(
        deltaToArrowSchema({
          type: 'struct',
          fields: [{ name: 'n', type: { type: 'array', elementType: 'long', containsNull: true }, nullable: true, metadata: {} }],
        }),
      ),
    ).toBe(false);
    expect(
      duckdbEncodable(deltaToArrowSchema({ type: 'struct', fields: [{ name: 'c', type: 'long', nullable: true, metadata: { [COLUMN_MAPPING_ID]: 4 } }] })),
    ).toBe(false);
    expect(duckdbEncodable(deltaToArrowSchema(SCHEMA))).toBe(true);
  });
});

describe('data files by DuckDB and by parquet-wasm', () => {
  const batches = [batchOf(0, 30_000), batchOf(30_000, 20_001), batchOf(50_001, 10_000)];

  async function write(schema: DeltaStruct, input: arrow.RecordBatch[], parquetEngine: ParquetEngine, label: string) {
    const store = new LocalStore(await mkdtemp(nodePath.join(dir, `${label}-${parquetEngine}-`)));
    await createTable(store, { schema });
    const adds = await writeDataFiles({ store, schema, partitionColumns: [] }, input, { parquetEngine, rowGroupRows: 25_000 });
    expect(adds).toHaveLength(1);
    const bytes = await store.read(decodeURIComponent(adds[0].path));
    return { store, add: adds[0], bytes, createdBy: await createdBy(bytes) };
  }

  it('hold the same rows with the same statistics', async () => {
    const duck = await write(SCHEMA, batches, 'auto', 'flat');
    const wasm = await write(SCHEMA, batches, 'wasm', 'flat');
    expect(duck.createdBy).toMatch(/DuckDB/);
    expect(wasm.createdBy).toMatch(/parquet-wasm/);
    expect(parseStats(duck.add.stats)).toEqual(parseStats(wasm.add.stats));
    expect(parseStats(duck.add.stats)?.numRecords).toBe(60_001);
    const fromDuck = await decodeParquet(duck.bytes);
    const fromWasm = await decodeParquet(wasm.bytes);
    for (const field of SCHEMA.fields) {
      expect(readValues(fromDuck.getChild(field.name)!, field.type), field.name).toEqual(readValues(fromWasm.getChild(field.name)!, field.type));
    }
  }, 60_000);

  it('roll to a new file at the size target while DuckDB is still writing', async () => {
    const store = new LocalStore(await mkdtemp(nodePath.join(dir, 'roll-')));
    await createTable(store, { schema: SCHEMA });
    const small = Array.from({ length: 6 }, (_, k) => batchOf(k * 25_000, 25_000));
    const adds = await writeDataFiles({ store, schema: SCHEMA, partitionColumns: [] }, small, { rowGroupRows: 5_000, targetFileBytes: 800_000 });
    expect(adds.length).toBeGreaterThan(1);
    expect(adds.reduce((n, a) => n + (parseStats(a.stats)?.numRecords ?? 0), 0)).toBe(150_000);
    for (const add of adds) expect(await createdBy(await store.read(decodeURIComponent(add.path)))).toMatch(/DuckDB/);
  }, 60_000);

  it('leave decimals and column-mapping field ids to parquet-wasm', async () => {
    const withDecimal: DeltaStruct = { type: 'struct', fields: [...SCHEMA.fields, { name: 'amount', type: 'decimal(12,2)', nullable: true, metadata: {} }] };
    const decimalBatches = batches.map(
      (b) =>
        new arrow.Table({
          ...Object.fromEntries(SCHEMA.fields.map((f) => [f.name, b.getChild(f.name)!])),
          amount: buildVector(
            'decimal(12,2)',
            Array.from({ length: b.numRows }, (_, k) => BigInt(k) * 101n - 5000n),
          ),
        }).batches[0],
    );
    expect((await write(withDecimal, decimalBatches, 'auto', 'decimal')).createdBy).toMatch(/parquet-wasm/);
    const mapped: DeltaStruct = { type: 'struct', fields: SCHEMA.fields.map((f, n) => ({ ...f, metadata: { [COLUMN_MAPPING_ID]: n + 1 } })) };
    expect((await write(mapped, batches, 'auto', 'mapped')).createdBy).toMatch(/parquet-wasm/);
  }, 60_000);

  it('fail the write when the upload fails mid-file, and the next file is encoded by DuckDB again', async () => {
    const root = await mkdtemp(nodePath.join(dir, 'failing-'));
    const local = new LocalStore(root);
    await createTable(local, { schema: SCHEMA });
    // A store whose data file upload breaks while batches are still being encoded (DuckDB's scan is
    // waiting for the next one when the encoder is told to give up).
    const failing: ObjectStore = Object.create(local, {
      write: {
        value: async (path: string, data: AsyncIterable<Uint8Array> | Uint8Array | string) => {
          if (typeof data === 'string' || data instanceof Uint8Array) return local.write(path, data);
          await new Promise((resolve) => setTimeout(resolve, 50));
          throw new Error(`upload of ${path} broke`);
        },
      },
    });
    async function* slowly() {
      for (const b of [...batches, ...batches]) {
        await new Promise((resolve) => setTimeout(resolve, 40));
        yield b;
      }
    }
    const spooled = async () => (await readdir(tmpdir())).filter((name) => name.startsWith('sluice-encode-'));
    const before = await spooled();
    await expect(writeDataFiles({ store: failing, schema: SCHEMA, partitionColumns: [] }, slowly(), { parquetEngine: 'auto' })).rejects.toThrow(
      /upload of .* broke/,
    );
    // DuckDB's local file of the abandoned data file is removed.
    await expect.poll(async () => (await spooled()).filter((name) => !before.includes(name)), { timeout: 10_000 }).toEqual([]);
    const again = await write(SCHEMA, batches, 'auto', 'after-failure');
    expect(again.createdBy).toMatch(/DuckDB/);
    expect(parseStats(again.add.stats)?.numRecords).toBe(60_001);
  }, 60_000);
});

describe('a real CSV ingested with each engine', () => {
  it('gives the same outcome, rows, rescued data and dead-lettered records', async () => {
    const rows = 30_000;
    const file = await writeDataset(nodePath.join(dir, 'pos.csv'), rows, 'csv');
    // Damage after the sample inference reads: a quantity that is not a number (rescued), a record with
    // a field too many and one with text after a closing quote (bad records).
    await appendFile(
      file.path,
      [
        'r-1,12,SKU-1,many,1.50,EUR,2024-02-01T10:00:00Z,web,,plain note',
        'r-2,13,SKU-2,3,2.50,EUR,2024-02-01T10:00:01Z,web,,note,extra field',
        'r-3,14,SKU-3,4,3.50,EUR,2024-02-01T10:00:02Z,web,,"quoted" junk',
        'r-4,15,SKU-4,5,4.50,EUR,2024-02-01T10:00:03Z,store,a@example.com,after the damage',
        '',
      ].join('\n'),
    );
    const body = await readFile(file.path);
    const runs = [];
    for (const engine of ['auto', 'wasm'] as const) {
      const env = ingestEnv(`duckenc-${engine}`, 'pos');
      await env.landing.write('in/pos.csv', body);
      const outcome = await ingest(env, 'in/pos.csv', { schemaEvolution: 'addNewColumns' }, { files: { parquetEngine: engine } });
      const snapshot = await loadSnapshot(env.table);
      const files = [...snapshot.state.files.values()];
      const written = await Promise.all(files.map(async (f) => createdBy(await env.table.read(decodeURIComponent(f.path)))));
      const deadLetter = outcome.deadLetter ? JSON.parse(new TextDecoder().decode(await env.deadLetter.store.read(outcome.deadLetter))) : null;
      runs.push({ env, outcome, files, written, deadLetter, rows: await tableRows(env.table), problems: await tableProblems(env.table) });
    }
    const [duck, wasm] = runs;
    expect(duck.written.every((w) => /DuckDB/.test(w))).toBe(true);
    expect(wasm.written.every((w) => /parquet-wasm/.test(w))).toBe(true);
    expect(duck.problems).toEqual([]);
    expect(wasm.problems).toEqual([]);

    const counts = (o: typeof duck.outcome) => ({
      status: o.status,
      rowsRead: o.rowsRead,
      rowsWritten: o.rowsWritten,
      rowsRescued: o.rowsRescued,
      rowsDeadLettered: o.rowsDeadLettered,
    });
    expect(counts(duck.outcome)).toEqual(counts(wasm.outcome));
    expect(counts(duck.outcome)).toEqual({ status: 'committed', rowsRead: rows + 4, rowsWritten: rows + 2, rowsRescued: 1, rowsDeadLettered: 2 });

    const records = (d: { records: { row?: number; byteOffset?: number; reason: string }[] }) => d.records.map((r) => [r.row, r.byteOffset, r.reason]);
    expect(records(duck.deadLetter)).toEqual(records(wasm.deadLetter));
    expect(records(duck.deadLetter).map((r) => r[0])).toEqual([rows + 2, rows + 3]);

    // Same rows in the same order; the per-attempt metadata columns differ by design.
    const data = (r: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(r).filter(([k]) => !['_ingested_at', '_source_etag', '_load_date'].includes(k)));
    expect(duck.rows.map(data)).toEqual(wasm.rows.map(data));
    expect(duck.rows.find((r) => r.transaction_id === 'r-1')?._rescued_data).toBe(wasm.rows.find((r) => r.transaction_id === 'r-1')?._rescued_data);
    expect(String(duck.rows.find((r) => r.transaction_id === 'r-1')?._rescued_data)).toContain('many');

    const stats = (f: typeof duck.files) =>
      f.map((a) => {
        const s = parseStats(a.stats)!;
        for (const bound of [s.minValues, s.maxValues] as Record<string, unknown>[]) {
          delete bound?._ingested_at;
          delete bound?._source_etag;
        }
        return s;
      });
    expect(stats(duck.files)).toEqual(stats(wasm.files));
  }, 120_000);
});
