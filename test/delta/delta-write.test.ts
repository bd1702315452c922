/**
 * Tables Sluice writes stay valid Delta tables, readable by an independent engine: every case runs on a
 * local directory and on Azurite, and is checked with the independent log validator and with DuckDB
 * (test/support/delta-validate.ts).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import * as arrow from 'apache-arrow';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalStore, ObjectStore, openStore } from '../../shared/storage';
import type { AddFile } from '../../shared/delta/actions';
import { createTable, tableHistory, writeTable } from '../../shared/delta/table';
import { loadSnapshot, Snapshot } from '../../shared/delta/snapshot';
import { readTable } from '../../shared/delta/scan';
import { buildVector, readValues } from '../../shared/delta/values';
import { deltaToArrowSchema, DeltaStruct, DeltaType } from '../../shared/delta/schema';
import { writeCheckpoint } from '../../shared/delta/checkpoint';
import { encodeParquetBuffer } from '../../shared/delta/parquet';
import { CorruptLogError, DataFileError, UnsupportedProtocolError, WriteRejectedError } from '../../shared/delta/errors';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { canonicalJson, duckdbCheck, expectedHiveDirectory, validateTable } from '../support/delta-validate';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const FIXTURES = nodePath.join(TEST_DIR, 'fixtures', 'delta-conformance');

// ---------------------------------------------------------------------------------------------------
// Backends and helpers
// ---------------------------------------------------------------------------------------------------

interface Backend {
  name: string;
  open(): Promise<ObjectStore>;
}

const tempDirs: string[] = [];
afterAll(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

const backends: Backend[] = [
  {
    name: 'local directory',
    open: async () => {
      const dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-delta-write-'));
      tempDirs.push(dir);
      return new LocalStore(nodePath.join(dir, 'tbl'));
    },
  },
  { name: 'Azurite', open: async () => openStore(azuriteUri(uniqueContainer('dwrite'), 'tbl')) },
];

const field = (name: string, type: DeltaType, nullable = true) => ({ name, type, nullable, metadata: {} });
const struct = (...fields: ReturnType<typeof field>[]): DeltaStruct => ({ type: 'struct', fields });

type Row = Record<string, unknown>;

/** A record batch in a table schema from rows of JS values (values.ts forms). */
function makeBatch(schema: DeltaStruct, rows: Row[]): arrow.RecordBatch {
  const arrowSchema = deltaToArrowSchema(schema);
  const children = schema.fields.map(
    (f) =>
      buildVector(
        f.type,
        rows.map((r) => r[f.name] ?? null),
      ).data[0],
  );
  return new arrow.RecordBatch(arrowSchema, arrow.makeData({ type: new arrow.Struct(arrowSchema.fields), length: rows.length, nullCount: 0, children }));
}

/** All rows of a table as JS values. */
async function readRows(snapshot: Snapshot, files?: AddFile[]): Promise<Row[]> {
  const table = await readTable(snapshot, files ? { files } : {});
  const columns = snapshot.schema.fields.map((f) => [f.name, table.getChild(f.name) ? readValues(table.getChild(f.name)!, f.type) : []] as const);
  return Array.from({ length: table.numRows }, (_, i) => Object.fromEntries(columns.map(([name, values]) => [name, values[i]])));
}

/** Rows as a sorted list of canonical strings, for exact multiset comparison. */
const bag = (rows: Row[]) => rows.map((r) => canonicalJson(r)).sort();

/** Copy a directory tree (a fixture) into a store; fixtures are never modified in place. */
async function copyFixture(name: string, store: ObjectStore): Promise<void> {
  const root = nodePath.join(FIXTURES, name);
  const walk = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = nodePath.join(dir, entry.name);
      if (entry.isDirectory()) out.push(...(await walk(full)));
      else out.push(full);
    }
    return out;
  };
  const files = await walk(root);
  for (let i = 0; i < files.length; i += 8) {
    await Promise.all(
      files.slice(i, i + 8).map(async (f) => store.write(nodePath.relative(root, f).split(nodePath.sep).join('/'), new Uint8Array(await readFile(f)))),
    );
  }
}

async function expectValid(store: ObjectStore, options: { requireStats?: boolean } = { requireStats: true }) {
  const report = await validateTable(store, options);
  expect(report.problems).toEqual([]);
  return report;
}

async function expectDuckdbAgrees(store: ObjectStore, snapshot: Snapshot) {
  const report = await duckdbCheck(store, snapshot);
  expect(report.problems).toEqual([]);
  return report;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

const utf8Compare = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** A number inside the flat `minValues` / `maxValues` object of a stats string, as its exact text. */
function rawStat(stats: string, section: 'minValues' | 'maxValues' | 'nullCount', column: string): string | undefined {
  const body = new RegExp(`"${section}":\\{([^{}]*)\\}`).exec(stats)?.[1] ?? '';
  return new RegExp(`"${column}":(-?[0-9.eE+-]+)`).exec(body)?.[1];
}

// ---------------------------------------------------------------------------------------------------
// Schemas and data
// ---------------------------------------------------------------------------------------------------

const WIDE = struct(
  field('id', 'long', false),
  field('big', 'long'),
  field('name', 'string'),
  field('amount', 'decimal(12,2)'),
  field('price', 'double'),
  field('qty', 'integer'),
  field('flag', 'boolean'),
  field('day', 'date'),
  field('ts', 'timestamp'),
  field('small', 'short'),
  field('tiny', 'byte'),
  field('ratio', 'float'),
  field('bin', 'binary'),
  field('tags', { type: 'array', elementType: 'string', containsNull: true }),
  field('info', struct(field('a', 'integer'), field('b', 'string'))),
);

function wideRow(i: number): Row {
  return {
    id: BigInt(i),
    big: i % 9 === 8 ? null : BigInt(i) * 1_000_000_000_007n - 4_611_686_018_427_387_904n,
    name: i % 5 === 0 ? null : `name-${i}-ü`,
    amount: BigInt(i * 137 - 500),
    price: i * 1.25,
    qty: i % 7 === 0 ? null : i * 3,
    flag: i % 2 === 0,
    day: 19000 + i - 20000 * (i % 2),
    ts: 1_700_000_000_000_000n + BigInt(i) * 1_000_001n - (i % 3 === 0 ? 3_400_000_000_000_000n : 0n),
    small: i - 50,
    tiny: (i % 200) - 100,
    ratio: i / 4,
    bin: Uint8Array.of(i & 255, 0, 255),
    tags: i % 3 === 0 ? null : ['a', `t${i}`],
    info: i % 4 === 0 ? null : { a: i, b: `b${i}` },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

const PARTITIONED = struct(
  field('id', 'long'),
  field('v', 'double'),
  field('sp', 'string'),
  field('ip', 'integer'),
  field('lp', 'long'),
  field('dp', 'date'),
  field('tp', 'timestamp'),
  field('bp', 'boolean'),
  field('decp', 'decimal(12,2)'),
);
const PARTITION_COLUMNS = ['sp', 'ip', 'lp', 'dp', 'tp', 'bp', 'decp'];
const SPECIAL_STRINGS = ['a/b', 'B B', '%', '=', ':', 'ü', 'null', '', null, 'x%41y', 'a=b/c:d e?#'];

function partitionedRows(): Row[] {
  const rows: Row[] = SPECIAL_STRINGS.map((sp, i) => ({
    id: BigInt(i),
    v: i + 0.5,
    sp,
    ip: i % 4 === 3 ? null : i - 3,
    lp: i % 5 === 4 ? null : 9_007_199_254_740_993n * (i % 2 ? 1n : -1n),
    dp: i % 6 === 5 ? null : -1 + i * 4000,
    tp: i % 7 === 6 ? null : (i % 2 ? 1_700_000_000_123_456n : -1_000_001n) + BigInt(i),
    bp: i % 3 === 2 ? null : i % 2 === 0,
    decp: i % 4 === 1 ? null : BigInt(i * 12345 - 60000),
  }));
  // A second row in the first partition: one file per partition, not per row.
  rows.push({ ...rows[0], id: 100n, v: -7.25 });
  return rows;
}

/** Parse a serialised partition value independently of Sluice (protocol §4). */
function parsePartitionIndependently(text: string | null, type: string): unknown {
  if (text === null || text === '') return null;
  if (type === 'string') return text;
  if (type === 'integer') return Number(text);
  if (type === 'long') return BigInt(text);
  if (type === 'boolean') return text === 'true' ? true : text === 'false' ? false : `bad boolean ${text}`;
  if (type === 'date') {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)!;
    return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 86_400_000;
  }
  if (type === 'timestamp') {
    // Sluice writes ISO-8601 UTC with microseconds, as the notes recommend for writers.
    const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})(\d{3})Z$/.exec(text);
    if (!m) return `bad timestamp ${text}`;
    return BigInt(Date.parse(`${m[1]}Z`)) * 1000n + BigInt(m[2]);
  }
  const dec = /^decimal\(\d+,(\d+)\)$/.exec(type);
  if (dec) {
    const m = /^(-?)(\d+)\.(\d+)$/.exec(text);
    if (!m || m[3].length !== Number(dec[1])) return `bad decimal ${text}`;
    return BigInt(m[1] + m[2] + m[3]);
  }
  return `unhandled ${type}`;
}

// ---------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------

/** Data files in storage that no live or removed file action refers to. */
async function orphanDataFiles(store: ObjectStore): Promise<string[]> {
  const snapshot = await loadSnapshot(store);
  const known = new Set([...snapshot.state.files.values(), ...snapshot.state.tombstones.values()].map((f) => decodeURIComponent(f.path)));
  const out: string[] = [];
  for await (const info of store.list('')) if (!info.path.startsWith('_') && info.path.endsWith('.parquet') && !known.has(info.path)) out.push(info.path);
  return out;
}

describe.each(backends)('delta write on $name', (backend) => {
  it('creates a table, appends several batches, reads every value back exactly; valid and DuckDB-readable', async () => {
    const store = await backend.open();
    await createTable(store, { schema: WIDE });
    const all = range(0, 35).map(wideRow);
    const r1 = await writeTable(store, [makeBatch(WIDE, all.slice(0, 10))]);
    const r2 = await writeTable(store, [makeBatch(WIDE, all.slice(10, 20)), makeBatch(WIDE, all.slice(20, 30))]);
    const r3 = await writeTable(
      store,
      (async function* () {
        yield makeBatch(WIDE, all.slice(30, 35));
      })(),
    );
    expect([r1.version, r2.version, r3.version]).toEqual([1, 2, 3]);
    expect([r1.rows, r2.rows, r3.rows]).toEqual([10, 20, 5]);

    const snapshot = await loadSnapshot(store);
    expect(snapshot.version).toBe(3);
    expect(bag(await readRows(snapshot))).toEqual(bag(all));

    const report = await expectValid(store);
    expect(report).toMatchObject({ latestVersion: 3, versions: 4, rows: 35, files: 3 });
    const duck = await expectDuckdbAgrees(store, snapshot);
    expect(duck.rows).toBe(35);
    expect(duck.sums).toBeGreaterThanOrEqual(3 * 8);

    const history = await tableHistory(store);
    expect(history.map((h) => h.version)).toEqual([3, 2, 1, 0]);
    expect(history.map((h) => h.metrics.numOutputRows)).toEqual([5, 20, 10, 0]);
  });

  it('writes partitions of many types, with special characters and nulls, under Hive-style directories', async () => {
    const store = await backend.open();
    await createTable(store, { schema: PARTITIONED, partitionColumns: PARTITION_COLUMNS });
    const rows = partitionedRows();
    const result = await writeTable(store, [makeBatch(PARTITIONED, rows)]);
    expect(result.files.length).toBe(SPECIAL_STRINGS.length);

    const snapshot = await loadSnapshot(store);
    // Empty string partition values read back as null (protocol §4); everything else exactly.
    const expected = rows.map((r) => ({ ...r, sp: r.sp === '' ? null : r.sp }));
    expect(bag(await readRows(snapshot))).toEqual(bag(expected));

    for (const add of snapshot.state.files.values()) {
      const decoded = decodeURIComponent(add.path);
      const name = decoded.slice(decoded.lastIndexOf('/') + 1);
      expect(decoded).toBe(`${expectedHiveDirectory(PARTITION_COLUMNS, add.partitionValues)}/${name}`);
      expect(name).toMatch(/^part-[^/]+\.parquet$/);
      // Serialised partition values mean the right thing to a reader that is not Sluice.
      const fileRows = await readRows(snapshot, [add]);
      for (const column of PARTITION_COLUMNS) {
        const type = PARTITIONED.fields.find((f) => f.name === column)!.type as string;
        expect(parsePartitionIndependently(add.partitionValues[column] ?? null, type), `${column} of ${add.path}`).toEqual(fileRows[0][column]);
      }
    }
    // The special strings end up with the Hive escapes other engines expect.
    const dirs = [...snapshot.state.files.values()].map((a) => decodeURIComponent(a.path).split('/')[0]).sort();
    expect(dirs).toEqual(
      expect.arrayContaining([
        'sp=a%2Fb',
        'sp=B B',
        'sp=%25',
        'sp=%3D',
        'sp=%3A',
        'sp=ü',
        'sp=null',
        'sp=__HIVE_DEFAULT_PARTITION__',
        'sp=x%2541y',
        'sp=a%3Db%2Fc%3Ad e%3F%23',
      ]),
    );

    const report = await expectValid(store);
    expect(report.rows).toBe(rows.length);
    expect(report.files).toBe(SPECIAL_STRINGS.length);
    await expectDuckdbAgrees(store, snapshot);
  });

  it('overwrites the whole table and selected partitions; time travel still returns the old rows', async () => {
    const store = await backend.open();
    const plain = struct(field('id', 'long'), field('s', 'string'));
    const a = [
      { id: 1n, s: 'a' },
      { id: 2n, s: 'b' },
    ];
    const b = [{ id: 10n, s: 'x' }];
    // The first write creates the table with its rows (CREATE TABLE AS SELECT, version 0).
    const created = await writeTable(store, [makeBatch(plain, a)]);
    expect(created).toMatchObject({ version: 0, rows: 2 });
    const over = await writeTable(store, [makeBatch(plain, b)], { mode: 'overwrite' });
    expect(over.version).toBe(1);
    expect(bag(await readRows(await loadSnapshot(store)))).toEqual(bag(b));
    expect(bag(await readRows(await loadSnapshot(store, { version: 0 })))).toEqual(bag(a));
    await expectValid(store);

    const parts = await backend.open();
    const schema = struct(field('id', 'long'), field('p', 'string'));
    await createTable(parts, { schema, partitionColumns: ['p'] });
    const before = ['a', 'a', 'b', 'b', 'c', 'c'].map((p, i) => ({ id: BigInt(i), p }));
    await writeTable(parts, [makeBatch(schema, before)]);
    const v1 = await loadSnapshot(parts);
    const untouched = [...v1.state.files.values()]
      .filter((f) => f.partitionValues.p !== 'b')
      .map((f) => f.path)
      .sort();

    const replacement = [
      { id: 100n, p: 'b' },
      { id: 101n, p: 'b' },
      { id: 102n, p: 'b' },
    ];
    const r = await writeTable(parts, [makeBatch(schema, replacement)], { mode: 'overwrite', replacePartitions: [{ p: 'b' }] });
    expect(r.version).toBe(2);
    const v2 = await loadSnapshot(parts);
    expect(bag(await readRows(v2))).toEqual(bag([...before.filter((x) => x.p !== 'b'), ...replacement]));
    expect(
      [...v2.state.files.values()]
        .filter((f) => f.partitionValues.p !== 'b')
        .map((f) => f.path)
        .sort(),
    ).toEqual(untouched);
    expect(bag(await readRows(await loadSnapshot(parts, { version: 1 })))).toEqual(bag(before));

    // Rows outside the chosen partitions: refused, naming the partition, and nothing committed.
    const err = await rejection(
      writeTable(
        parts,
        [
          makeBatch(schema, [
            { id: 200n, p: 'b' },
            { id: 201n, p: 'c' },
          ]),
        ],
        { mode: 'overwrite', replacePartitions: [{ p: 'b' }] },
      ),
    );
    expect(err).toBeInstanceOf(WriteRejectedError);
    expect(err.message).toContain('"p":"c"');
    expect((await loadSnapshot(parts)).version).toBe(2);
    expect(bag(await readRows(await loadSnapshot(parts)))).toEqual(bag(await readRows(v2)));
    expect(await orphanDataFiles(parts)).toEqual([]);

    await expectValid(parts);
    await expectDuckdbAgrees(parts, v2);
  });

  it('skips a batch an idempotent writer already committed (txn), and lands a newer one', async () => {
    const store = await backend.open();
    const schema = struct(field('id', 'long'));
    await createTable(store, { schema });
    const first = await writeTable(store, [makeBatch(schema, [{ id: 1n }, { id: 2n }])], { txn: { appId: 'job-1', version: 5 } });
    expect(first).toMatchObject({ version: 1, skipped: false, rows: 2 });
    const again = await writeTable(store, [makeBatch(schema, [{ id: 1n }, { id: 2n }])], { txn: { appId: 'job-1', version: 5 } });
    expect(again).toMatchObject({ version: 1, skipped: true, rows: 0, files: [] });
    const older = await writeTable(store, [makeBatch(schema, [{ id: 3n }])], { txn: { appId: 'job-1', version: 4 } });
    expect(older).toMatchObject({ version: 1, skipped: true });
    expect((await readRows(await loadSnapshot(store))).length).toBe(2);

    const other = await writeTable(store, [makeBatch(schema, [{ id: 9n }])], { txn: { appId: 'job-2', version: 0 } });
    expect(other).toMatchObject({ version: 2, skipped: false });
    const newer = await writeTable(store, [makeBatch(schema, [{ id: 4n }])], { txn: { appId: 'job-1', version: 6 } });
    expect(newer).toMatchObject({ version: 3, skipped: false, rows: 1 });

    const snapshot = await loadSnapshot(store);
    expect(snapshot.state.txns.get('job-1')?.version).toBe(6);
    expect(snapshot.state.txns.get('job-2')?.version).toBe(0);
    expect(bag(await readRows(snapshot))).toEqual(bag([{ id: 1n }, { id: 2n }, { id: 9n }, { id: 4n }]));
    await expectValid(store);
  });

  it('checkpoints every 10 commits; readers start from the newest one, with or without a usable _last_checkpoint', async () => {
    const store = await backend.open();
    const schema = struct(field('id', 'long'), field('s', 'string'));
    await createTable(store, { schema });
    for (let i = 1; i <= 25; i++) {
      const r = await writeTable(store, [makeBatch(schema, [{ id: BigInt(i), s: `row ${i}` }])], { txn: { appId: 'loader', version: i } });
      expect(r.version).toBe(i);
    }
    for (const v of [10, 20])
      await expect(store.properties(`_delta_log/000000000000000000${v}.checkpoint.parquet`)).resolves.toMatchObject({ size: expect.any(Number) });
    await expect(store.properties('_delta_log/00000000000000000015.checkpoint.parquet')).rejects.toThrow(/not found/);
    const hint = JSON.parse(new TextDecoder().decode(await store.read('_delta_log/_last_checkpoint')));
    expect(hint.version).toBe(20);

    const latest = await loadSnapshot(store);
    expect(latest).toMatchObject({ version: 25, checkpointVersion: 20 });
    expect(latest.state.txns.get('loader')?.version).toBe(25);
    expect((await readRows(latest)).length).toBe(25);
    expect((await loadSnapshot(store, { version: 15 })).checkpointVersion).toBe(10);
    expect((await readRows(await loadSnapshot(store, { version: 15 }))).length).toBe(15);

    const report = await expectValid(store);
    expect(report).toMatchObject({ checkpoints: [10, 20], lastCheckpoint: 20, files: 25, rows: 25 });

    // Without _last_checkpoint the checkpoint is found by listing.
    await store.delete('_delta_log/_last_checkpoint');
    const listed = await loadSnapshot(store);
    expect(listed).toMatchObject({ version: 25, checkpointVersion: 20 });
    expect((await readRows(listed)).length).toBe(25);

    // A corrupt hint is ignored.
    await store.write('_delta_log/_last_checkpoint', '{"version": 2\u0000garbage');
    const corrupt = await loadSnapshot(store);
    expect(corrupt).toMatchObject({ version: 25, checkpointVersion: 20 });
    expect(bag(await readRows(corrupt))).toEqual(bag(await readRows(latest)));

    // The next checkpoint repairs the hint.
    for (let i = 26; i <= 30; i++) await writeTable(store, [makeBatch(schema, [{ id: BigInt(i), s: `row ${i}` }])]);
    expect(JSON.parse(new TextDecoder().decode(await store.read('_delta_log/_last_checkpoint'))).version).toBe(30);
    expect(await expectValid(store)).toMatchObject({ checkpoints: [10, 20, 30], lastCheckpoint: 30, rows: 30 });
  });

  it('writes stats: exact numRecords and nullCount, valid min/max bounds (truncated strings, ms timestamps)', async () => {
    const store = await backend.open();
    const schema = struct(
      field('id', 'long'),
      field('s', 'string'),
      field('ls', 'string'),
      field('u', 'string'),
      field('d', 'date'),
      field('ts', 'timestamp'),
      field('amt', 'decimal(12,2)'),
      field('n', 'integer'),
    );
    const rows: Row[] = [
      { id: -9_007_199_254_740_993n, s: 'banana', ls: 'b'.repeat(40), u: '\uFF01', d: 19000, ts: 1_700_000_000_123_456n, amt: 12345n, n: null },
      { id: 5n, s: 'apple', ls: 'c'.repeat(33) + 'x', u: '😀', d: -1, ts: -1_000_001n, amt: -99999n, n: null },
      { id: 9_007_199_254_740_993n, s: null, ls: 'b'.repeat(32) + 'azzz', u: 'a', d: 20000, ts: 1_700_000_000_123_000n, amt: 999_999_999_999n, n: 3 },
      { id: 0n, s: 'zebra', ls: null, u: null, d: null, ts: null, amt: null, n: 4 },
      { id: 42n, s: 'mango', ls: 'c'.repeat(32) + 'üüüüü', u: null, d: 0, ts: 0n, amt: 0n, n: null },
    ];
    await createTable(store, { schema });
    const result = await writeTable(store, [makeBatch(schema, rows)]);
    expect(result.files).toHaveLength(1);
    const text = result.files[0].stats!;
    const stats = JSON.parse(text);
    expect(stats.numRecords).toBe(5);
    expect(stats.nullCount).toEqual({ id: 0, s: 1, ls: 1, u: 2, d: 1, ts: 1, amt: 1, n: 3 });

    // long: exact beyond 2^53 (checked on the JSON text, which JSON.parse would round).
    expect(rawStat(text, 'minValues', 'id')).toBe('-9007199254740993');
    expect(rawStat(text, 'maxValues', 'id')).toBe('9007199254740993');
    expect([stats.minValues.n, stats.maxValues.n]).toEqual([3, 4]);
    // decimal: exact text at the column's scale.
    expect(rawStat(text, 'minValues', 'amt')).toBe('-999.99');
    expect(rawStat(text, 'maxValues', 'amt')).toBe('9999999999.99');
    expect([stats.minValues.s, stats.maxValues.s]).toEqual(['apple', 'zebra']);
    expect([stats.minValues.d, stats.maxValues.d]).toEqual(['1969-12-31', '2024-10-04']);

    // timestamps: millisecond bounds that still enclose every microsecond value.
    const tsValues = rows.map((r) => r.ts).filter((v): v is bigint => v !== null);
    const micros = (iso: string) => BigInt(Date.parse(iso)) * 1000n;
    expect(stats.minValues.ts).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(micros(stats.minValues.ts) <= tsValues.reduce((a, b) => (a < b ? a : b))).toBe(true);
    expect(micros(stats.maxValues.ts) >= tsValues.reduce((a, b) => (a > b ? a : b))).toBe(true);
    expect(stats.minValues.ts).toBe('1969-12-31T23:59:58.999Z');
    expect(stats.maxValues.ts).toBe('2023-11-14T22:13:20.124Z');

    // Long strings: a 32-character prefix as min, a max that stays an upper bound (U+10FFFF appended).
    const ls = rows.map((r) => r.ls).filter((v): v is string => v !== null);
    expect(stats.minValues.ls).toBe('b'.repeat(32));
    expect([...stats.maxValues.ls]).toHaveLength(33);
    expect(stats.maxValues.ls).toBe('c'.repeat(32) + '\u{10FFFF}');
    // Bounds hold in the order Delta readers compare strings (UTF-8 bytes, as Spark's UTF8String and delta-rs).
    for (const value of ls) {
      expect(utf8Compare(stats.minValues.ls, value)).toBeLessThanOrEqual(0);
      expect(utf8Compare(stats.maxValues.ls, value)).toBeGreaterThanOrEqual(0);
    }
    const u = rows.map((r) => r.u).filter((v): v is string => v !== null);
    for (const value of u) {
      expect(utf8Compare(stats.minValues.u, value), `min ${JSON.stringify(stats.minValues.u)} vs ${JSON.stringify(value)}`).toBeLessThanOrEqual(0);
      expect(utf8Compare(stats.maxValues.u, value), `max ${JSON.stringify(stats.maxValues.u)} vs ${JSON.stringify(value)}`).toBeGreaterThanOrEqual(0);
    }

    await expectValid(store);
    await expectDuckdbAgrees(store, await loadSnapshot(store));
  });

  it('rejects a null in a NOT NULL column and commits nothing', async () => {
    const store = await backend.open();
    const schema = struct(field('id', 'long', false), field('s', 'string'));
    await createTable(store, { schema });
    await writeTable(store, [makeBatch(schema, [{ id: 1n, s: 'ok' }])]);
    const err = await rejection(
      writeTable(store, [
        makeBatch(schema, [
          { id: 2n, s: 'fine' },
          { id: null, s: 'bad' },
        ]),
      ]),
    );
    expect(err).toBeInstanceOf(WriteRejectedError);
    expect(err.message).toContain('"id"');
    // Also when the null only comes in a later batch of the same write.
    const late = await rejection(writeTable(store, [makeBatch(schema, [{ id: 3n, s: 'x' }]), makeBatch(schema, [{ id: null, s: 'y' }])]));
    expect(late).toBeInstanceOf(WriteRejectedError);
    const snapshot = await loadSnapshot(store);
    expect(snapshot.version).toBe(1);
    expect(await readRows(snapshot)).toEqual([{ id: 1n, s: 'ok' }]);
    await expect(store.properties('_delta_log/00000000000000000002.json')).rejects.toThrow(/not found/);
    // The files written before the null was seen are removed again, not left for vacuum.
    expect(await orphanDataFiles(store)).toEqual([]);
    await expectValid(store);
  });

  it('refuses to overwrite an append-only table', async () => {
    const store = await backend.open();
    const schema = struct(field('id', 'long'));
    await createTable(store, { schema, configuration: { 'delta.appendOnly': 'true' } });
    await writeTable(store, [makeBatch(schema, [{ id: 1n }])]);
    await writeTable(store, [makeBatch(schema, [{ id: 2n }])]);
    const err = await rejection(writeTable(store, [makeBatch(schema, [{ id: 3n }])], { mode: 'overwrite' }));
    expect(err).toBeInstanceOf(WriteRejectedError);
    expect(err.message).toMatch(/append-only|appendOnly/);
    const snapshot = await loadSnapshot(store);
    expect(snapshot.version).toBe(2);
    expect(bag(await readRows(snapshot))).toEqual(bag([{ id: 1n }, { id: 2n }]));
    await expectValid(store);
  });

  it('refuses to write tables whose protocol it does not implement, naming the feature or version', async () => {
    const dv = await backend.open();
    await copyFixture('table-with-dv-small', dv);
    const err = await rejection(writeTable(dv, [makeBatch(struct(field('value', 'integer')), [{ value: 1 }])]));
    expect(err).toBeInstanceOf(UnsupportedProtocolError);
    expect(err.message).toContain('deletionVectors');
    await expect(dv.properties('_delta_log/00000000000000000002.json')).rejects.toThrow(/not found/);

    const bad = await backend.open();
    await copyFixture('deltalog-invalid-protocol-version', bad);
    const err2 = await rejection(writeTable(bad, [makeBatch(struct(field('id', 'integer')), [{ id: 1 }])]));
    expect(err2).toBeInstanceOf(UnsupportedProtocolError);
    expect(err2.message).toMatch(/minReaderVersion=99|version 99/);
    await expect(bad.properties('_delta_log/00000000000000000001.json')).rejects.toThrow(/not found/);
  });

  describe('appends to tables written by others', () => {
    const cases: { name: string; rows: Row[] }[] = [
      { name: 'simple_table', rows: [{ id: 100n }, { id: 101n }, { id: -5n }] },
      {
        name: 'delta-0.8.0-partitioned',
        rows: [
          { value: 'new-1', year: '2020', month: '1', day: '1' },
          { value: 'new-2', year: '2022', month: '11', day: '30' },
          { value: null, year: null, month: '1', day: '' },
        ],
      },
      {
        name: 'data-reader-partition-values',
        rows: [
          {
            as_int: 2,
            as_long: 2n,
            as_byte: 2,
            as_short: 2,
            as_boolean: false,
            as_float: 2.5,
            as_double: 2.25,
            as_string: 'x/y z%',
            as_string_lit_null: 'null',
            as_date: 19000,
            as_timestamp: 1_631_099_471_123_456n,
            as_big_decimal: 2n,
            as_list_of_records: [{ val: 7 }, { val: null }],
            as_nested_struct: { aa: 'p', ab: null, ac: { aca: 1, acb: 2n } },
            value: 'new-1',
          },
          {
            as_int: null,
            as_long: null,
            as_byte: null,
            as_short: null,
            as_boolean: null,
            as_float: null,
            as_double: null,
            as_string: null,
            as_string_lit_null: null,
            as_date: null,
            as_timestamp: null,
            as_big_decimal: null,
            as_list_of_records: null,
            as_nested_struct: null,
            value: 'new-2',
          },
        ],
      },
    ];
    it.each(cases)('$name: the new version reads old and new rows, stays valid, and checkpoints', async ({ name, rows }) => {
      const store = await backend.open();
      await copyFixture(name, store);
      const before = await loadSnapshot(store);
      const oldRows = await readRows(before);
      expect(oldRows.length).toBeGreaterThan(0);

      const result = await writeTable(store, [makeBatch(before.schema, rows)]);
      expect(result.version).toBe(before.version + 1);
      const after = await loadSnapshot(store);
      const normalise = (r: Row) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === '' && before.partitionColumns.includes(k) ? null : v]));
      expect(bag(await readRows(after))).toEqual(bag([...oldRows, ...rows.map(normalise)]));
      // Old Spark files carry no stats: only the files Sluice added must have them.
      for (const add of result.files) expect(JSON.parse(add.stats!).numRecords).toBeGreaterThan(0);
      await expectValid(store, { requireStats: false });
      await expectDuckdbAgrees(store, after);

      // A checkpoint of the new state loads back to the same state.
      expect(await writeCheckpoint(store, after.state)).toBe(true);
      const fromCheckpoint = await loadSnapshot(store);
      expect(fromCheckpoint.checkpointVersion).toBe(after.version);
      expect(fromCheckpoint.version).toBe(after.version);
      const view = (s: Snapshot) => ({
        // Absent and null feature lists mean the same (protocol §2).
        protocol: { ...s.protocol, readerFeatures: s.protocol.readerFeatures ?? null, writerFeatures: s.protocol.writerFeatures ?? null },
        metadata: {
          id: s.metadata.id,
          schemaString: s.metadata.schemaString,
          partitionColumns: s.metadata.partitionColumns,
          configuration: s.metadata.configuration,
        },
        files: [...s.state.files.values()].map((f) => ({
          path: f.path,
          size: f.size,
          partitionValues: f.partitionValues,
          modificationTime: f.modificationTime,
          stats: f.stats ?? null,
        })),
        tombstones: [...s.state.tombstones.keys()].sort(),
        txns: [...s.state.txns.values()].map((t) => [t.appId, t.version]),
      });
      const sortFiles = (v: ReturnType<typeof view>) => ({ ...v, files: v.files.sort((a, b) => (a.path < b.path ? -1 : 1)) });
      expect(canonicalJson(sortFiles(view(fromCheckpoint)))).toBe(canonicalJson(sortFiles(view(after))));
      expect(bag(await readRows(fromCheckpoint))).toEqual(bag(await readRows(after)));
      expect(await expectValid(store, { requireStats: false })).toMatchObject({ checkpoints: [after.version], lastCheckpoint: after.version });
    });
  });

  describe('damaged tables on read', () => {
    async function fourVersions(store: ObjectStore, options: { checkpointInterval?: number } = {}) {
      const schema = struct(field('id', 'long'));
      await createTable(store, { schema });
      for (let i = 1; i <= 3; i++) await writeTable(store, [makeBatch(schema, [{ id: BigInt(i) }])], options);
    }

    it('a truncated commit file: CorruptLogError naming the file', async () => {
      const store = await backend.open();
      await fourVersions(store);
      const path = '_delta_log/00000000000000000003.json';
      const lines = new TextDecoder()
        .decode(await store.read(path))
        .trimEnd()
        .split('\n');
      const last = lines.pop()!;
      await store.write(path, [...lines, last.slice(0, Math.floor(last.length / 2))].join('\n'));
      const err = await rejection(loadSnapshot(store));
      expect(err).toBeInstanceOf(CorruptLogError);
      expect(err.message).toContain('00000000000000000003.json');
      await expect(loadSnapshot(store, { version: 2 })).resolves.toMatchObject({ version: 2 });
      expect((await validateTable(store)).problems.join('\n')).toMatch(/00000000000000000003\.json line \d+: not valid JSON/);
    });

    it('a gap in the log: an error naming the missing version', async () => {
      const store = await backend.open();
      await fourVersions(store);
      await store.delete('_delta_log/00000000000000000002.json');
      const err = await rejection(loadSnapshot(store));
      expect(err).toBeInstanceOf(CorruptLogError);
      expect(err.message).toMatch(/version 2\b/);
      expect(err.message).toContain('00000000000000000002.json');
      expect((await validateTable(store)).problems.join('\n')).toMatch(/00000000000000000002\.json \(version 2\) is missing/);
    });

    it('a deleted data file: DataFileError naming it on scan', async () => {
      const store = await backend.open();
      await fourVersions(store);
      const snapshot = await loadSnapshot(store);
      const victim = [...snapshot.state.files.values()][1];
      await store.delete(decodeURIComponent(victim.path));
      const err = await rejection(readTable(await loadSnapshot(store)));
      expect(err).toBeInstanceOf(DataFileError);
      expect((err as DataFileError).path).toBe(victim.path);
      expect(err.message).toContain(decodeURIComponent(victim.path));
      expect((await validateTable(store)).problems.join('\n')).toContain(`"${decodeURIComponent(victim.path)}" does not exist in storage`);
    });

    it('a broken checkpoint file: CorruptLogError naming the checkpoint', async () => {
      const store = await backend.open();
      await fourVersions(store, { checkpointInterval: 2 });
      const path = '_delta_log/00000000000000000002.checkpoint.parquet';
      await expect(store.properties(path)).resolves.toBeTruthy();
      expect((await loadSnapshot(store)).checkpointVersion).toBe(2);
      await store.write(
        path,
        Uint8Array.from({ length: 300 }, (_, i) => (i * 97 + 13) & 255),
      );
      const err = await rejection(loadSnapshot(store));
      expect(err).toBeInstanceOf(CorruptLogError);
      expect(err.message).toContain('00000000000000000002.checkpoint.parquet');
      expect((await validateTable(store)).problems.join('\n')).toMatch(/checkpoint _delta_log\/00000000000000000002\.checkpoint\.parquet cannot be read/);
    });
  });
});

// ---------------------------------------------------------------------------------------------------
// The validator itself must fail on broken tables, or its passing verdicts mean nothing.
// ---------------------------------------------------------------------------------------------------

describe('the independent validator catches broken tables', () => {
  const schema = struct(field('id', 'long'), field('p', 'string'));

  async function table(): Promise<{ store: LocalStore; snapshot: Snapshot }> {
    const dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-validator-'));
    tempDirs.push(dir);
    const store = new LocalStore(dir);
    await createTable(store, { schema, partitionColumns: ['p'] });
    await writeTable(store, [
      makeBatch(schema, [
        { id: 1n, p: 'a b' },
        { id: 2n, p: 'a b' },
        { id: 3n, p: 'c' },
      ]),
    ]);
    expect((await validateTable(store)).problems).toEqual([]);
    return { store, snapshot: await loadSnapshot(store) };
  }

  /** Rewrite the actions of one commit file. */
  async function mutate(store: ObjectStore, version: number, fn: (actions: Row[]) => Row[]) {
    const path = `_delta_log/${String(version).padStart(20, '0')}.json`;
    const actions = new TextDecoder()
      .decode(await store.read(path))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    await store.write(
      path,
      fn(actions)
        .map((a) => JSON.stringify(a))
        .join('\n') + '\n',
    );
  }
  const adds = (actions: Row[]) => actions.filter((a) => 'add' in a).map((a) => a.add as Row);
  const problemsOf = async (store: ObjectStore) => (await validateTable(store)).problems.join('\n');

  // Read only: validateTable never writes. Refused tables and the log-only fixture are left out.
  it.each([
    'basic-decimal-table',
    'data-reader-partition-values',
    'data-reader-primitives',
    'delta-0.2.0',
    'delta-0.8.0',
    'delta-0.8.0-partitioned',
    'delta-0.8.0-special-partition',
    'simple_table',
    'simple_table_with_checkpoint',
    'table_with_edge_timestamps',
    'time-travel-schema-changes-b',
  ])('accepts %s, written by Spark or Databricks', async (name) => {
    const report = await validateTable(new LocalStore(nodePath.join(FIXTURES, name)));
    expect(report.problems).toEqual([]);
    expect(report.rows).toBeGreaterThan(0);
  });

  it('flags unencoded, absolute and duplicate add paths', async () => {
    const { store } = await table();
    await mutate(store, 1, (actions) => {
      const [first] = adds(actions);
      first.path = decodeURIComponent(first.path as string); // raw space
      return [...actions, { add: { ...first } }, { add: { ...adds(actions)[1], path: `file:///elsewhere/${adds(actions)[1].path}` } }];
    });
    const problems = await problemsOf(store);
    expect(problems).toContain('contains a raw space');
    expect(problems).toMatch(/2 add actions for path "p=a b\//);
    expect(problems).toContain('is an absolute URI');
  });

  it('flags missing partition values, lines with two actions, missing required fields, wrong numRecords', async () => {
    const { store, snapshot } = await table();
    await mutate(store, 1, (actions) => {
      const [first, second] = adds(actions);
      delete (first.partitionValues as Row).p;
      second.stats = (second.stats as string).replace(/"numRecords":\d+/, '"numRecords":99');
      return [...actions, { txn: { appId: 'x', version: 1 }, commitInfo: {} }];
    });
    await mutate(store, 0, (actions) => actions.map((a) => ('metaData' in a ? { metaData: { ...(a.metaData as Row), schemaString: undefined } } : a)));
    const problems = await problemsOf(store);
    expect(problems).toContain('partitionValues has no entry for partition column "p"');
    expect(problems).toMatch(/stats\.numRecords is 99 but the Parquet footer has num_rows 1/);
    expect(problems).toContain('has 2 action keys (txn, commitInfo)');
    expect(problems).toContain('metaData is missing required field "schemaString"');
    // DuckDB sees the wrong count too.
    const wrong = {
      ...snapshot,
      state: {
        ...snapshot.state,
        files: new Map([...snapshot.state.files].map(([k, f]) => [k, { ...f, stats: f.stats!.replace(/"numRecords":\d+/, '"numRecords":99') }])),
      },
    };
    expect((await duckdbCheck(store, wrong)).problems.join('\n')).toMatch(/DuckDB reads \d rows, stats.numRecords says 99/);
  });

  it('flags a data file that holds a partition column, a wrong size, and a file that does not exist', async () => {
    const { store } = await table();
    const bytes = await encodeParquetBuffer(new arrow.Table({ id: buildVector('long', [7n]), p: buildVector('string', ['z']) }));
    await store.write('p=z/part-bad.parquet', bytes);
    await mutate(store, 1, (actions) => {
      const [first, second] = adds(actions);
      first.size = (first.size as number) + 1;
      second.path = 'p=c/missing.parquet';
      return [...actions, { add: { path: 'p=z/part-bad.parquet', partitionValues: { p: 'z' }, size: bytes.length, modificationTime: 0, dataChange: true } }];
    });
    const problems = await problemsOf(store);
    expect(problems).toContain('the file contains partition column "p"');
    expect(problems).toMatch(/storage has \d+ bytes, the log says size \d+/);
    expect(problems).toContain('decoded path "p=c/missing.parquet" does not exist in storage');
  });

  it('flags a checkpoint that disagrees with the JSON commits, and a _last_checkpoint naming no checkpoint', async () => {
    const { store, snapshot } = await table();
    const state = { ...snapshot.state, files: new Map([...snapshot.state.files].slice(1)), txns: new Map([['ghost', { appId: 'ghost', version: 3 }]]) };
    await writeCheckpoint(store, state);
    await store.write('_delta_log/_last_checkpoint', JSON.stringify({ version: 7, size: 3 }));
    const problems = await problemsOf(store);
    expect(problems).toContain('live files missing compared with replaying the JSON commits');
    expect(problems).toContain('txns {"ghost":3} differ from the replayed {}');
    expect(problems).toContain('_last_checkpoint names version 7, but _delta_log/00000000000000000007.checkpoint.parquet does not exist');
  });
});
