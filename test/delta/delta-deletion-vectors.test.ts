/**
 * Deletion vectors: public Delta test tables with DVs (test/fixtures/delta-dv, from delta-io/delta, delta-rs and
 * delta-io/delta-kernel-rs) read with the rows their own suites expect, through the library and the
 * CLI, on disk and on Azurite; DVs inline, relative (`u`) and by absolute path (`p`); DVs that cannot
 * be read refused naming the file and the DV; and optimize, vacuum and checkpoint on DV tables keeping
 * exactly the rows Spark returns.
 */
import * as arrow from 'apache-arrow';
import { mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import { checkpointTable, loadSnapshot, optimizeTable, vacuumTable, writeTable } from '../../shared/delta';
import { decodeDeletionBitmap, deletionVectorLocation, z85Decode } from '../../shared/delta/deletion-vectors';
import { batchToRows, stringifyJson } from '../../shared/delta/rows';
import { scanTable } from '../../shared/delta/scan';
import { readCheckpoint } from '../../shared/delta/checkpoint';
import { checkpointPath } from '../../shared/delta/log';
import { LocalStore } from '../../shared/storage/local';
import { openStore } from '../../shared/storage/location';
import type { ObjectStore } from '../../shared/storage/types';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { activeFiles } from '../../shared/delta/snapshot';
import { stageFiles, withSqlEngine } from '../../shared/sql';
import * as nodePath from 'node:path';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const FIXTURES = join(TEST_DIR, 'fixtures', 'delta-dv');
const CONFORMANCE = join(TEST_DIR, 'fixtures', 'delta-conformance');
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const DAY = 86_400_000;

/** Each table with the rows the suite it comes from expects (ids; or whole rows), per version. */
const TABLES: { name: string; dir?: string; versions: { version?: number; rows: Record<string, unknown>[] }[] }[] = [
  // delta kernel-defaults DeletionVectorSuite: (2 until 10)
  { name: 'basic-dv-no-checkpoint', versions: [{ rows: range(2, 10).map((id) => ({ id })) }] },
  // DeletionVectorSuite: (0 until 500).filter(_ % 11 != 0); DVs in checkpoints 10, 20, 30, 40
  {
    name: 'basic-dv-with-checkpoint',
    versions: [
      {
        rows: range(0, 500)
          .filter((x) => x % 11 !== 0)
          .map((id) => ({ id })),
      },
    ],
  },
  // DeletionVectorSuite "partitioned dv table with checkpoint": (x % 10, x, foo{x % 5}) without even x < 30
  {
    name: 'dv-partitioned-with-checkpoint',
    versions: [
      {
        rows: range(0, 50)
          .filter((x) => !(x % 2 === 0 && x < 30))
          .map((x) => ({ part: x % 10, col1: x, col2: `foo${x % 5}` })),
      },
    ],
  },
  // golden table: DELETE id = 0, then 7, then 14, each replacing the file's DV
  {
    name: 'log-replay-dv-key-cases',
    versions: [
      {
        rows: range(0, 50)
          .filter((x) => ![0, 7, 14].includes(x))
          .map((id) => ({ id })),
      },
      { version: 1, rows: range(1, 50).map((id) => ({ id })) },
      {
        version: 2,
        rows: range(1, 50)
          .filter((x) => x !== 7)
          .map((id) => ({ id })),
      },
    ],
  },
  // delta-kernel-rs ffi expected-data/with-short-dv.expected: ids 3..9 (one file with a DV, one without)
  { name: 'with-short-dv', versions: [{ rows: range(3, 10).map((id) => ({ id })) }] },
  // delta-rs (Databricks 12.2): ids 10..109 written, then DELETE id = 12 and id = 89 (the other DELETE and
  // the UPDATEs of its log match no row); protocol upgraded 1 → 3 on the way, checkpoints at 10 and 20
  {
    name: 'table_with_deletion_logs',
    versions: [
      {
        rows: range(10, 110)
          .filter((x) => x !== 12 && x !== 89)
          .map((id) => ({ id })),
      },
    ],
  },
  // the conformance copy of delta-rs' table: values 0..9, rows 0 and 9 deleted
  { name: 'table-with-dv-small', dir: CONFORMANCE, versions: [{ rows: range(1, 9).map((value) => ({ value })) }] },
];

function walk(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((e) => (statSync(join(dir, e)).isDirectory() ? walk(join(dir, e), `${prefix}${e}/`) : [`${prefix}${e}`]));
}

type Backend = { name: string; open: (label: string) => ObjectStore };
const BACKENDS: Backend[] = [
  { name: 'local', open: (label) => new LocalStore(mkdtempSync(join(tmpdir(), `sluice-dv-${label}-`))) },
  {
    name: 'azurite',
    open: (label) =>
      openStore(
        azuriteUri(
          uniqueContainer(
            `dv-${label}`
              .slice(0, 20)
              .toLowerCase()
              .replace(/[^a-z0-9]+/g, '-')
              .replace(/-$/, ''),
          ),
          label,
        ),
      ),
  },
];

/** Copy a fixture table into a store, byte for byte, with an optional edit of each file's bytes. */
async function copyTable(name: string, store: ObjectStore, dir = FIXTURES, edit?: (path: string, bytes: Buffer) => Buffer | null): Promise<void> {
  for (const rel of walk(join(dir, name))) {
    const bytes = edit ? edit(rel, readFileSync(join(dir, name, rel))) : readFileSync(join(dir, name, rel));
    if (bytes) await store.write(rel, bytes);
  }
}

/** An edit for `copyTable` that gives the adds of commit 1 another deletion vector. */
function replaceDeletionVector(dv: object): (path: string, bytes: Buffer) => Buffer | null {
  return (path, bytes) => {
    if (!path.endsWith('1.json')) return bytes;
    const lines = bytes
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    for (const l of lines) if (l.add) l.add.deletionVector = dv;
    return Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  };
}

async function rows(store: ObjectStore, version?: number): Promise<Record<string, unknown>[]> {
  const snapshot = await loadSnapshot(store, version === undefined ? {} : { version });
  const out: Record<string, unknown>[] = [];
  for await (const batch of scanTable(snapshot)) for (const row of batchToRows(batch, snapshot.schema)) out.push(JSON.parse(stringifyJson(row)));
  return out;
}

/** Compare as multisets, on the columns the expectation names. */
function expectRows(actual: Record<string, unknown>[], wanted: Record<string, unknown>[]): void {
  const keys = Object.keys(wanted[0] ?? {});
  const text = (r: Record<string, unknown>) => JSON.stringify(keys.map((k) => r[k]));
  expect(actual.map(text).sort()).toEqual(wanted.map(text).sort());
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

/** Rows the log says a version has, computed here from the log alone: stats.numRecords less DV cardinalities. */
async function rowsFromLog(store: ObjectStore): Promise<number> {
  const snapshot = await loadSnapshot(store);
  let total = 0;
  for (const add of snapshot.state.files.values()) total += JSON.parse(add.stats!).numRecords - (add.deletionVector?.cardinality ?? 0);
  return total;
}

// ---- independent encoders, written here for the tests (Z85 and RoaringBitmap, from their specs) ----

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
function z85Encode(bytes: Uint8Array): string {
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  let out = '';
  for (let i = 0; i < padded.length; i += 4) {
    let value = ((padded[i] << 24) | (padded[i + 1] << 16) | (padded[i + 2] << 8) | padded[i + 3]) >>> 0;
    const chunk: string[] = [];
    for (let j = 0; j < 5; j++) {
      chunk.unshift(Z85[value % 85]);
      value = Math.floor(value / 85);
    }
    out += chunk.join('');
  }
  return out;
}

/** A portable 64-bit RoaringBitmap with Delta's magic: bucket 0 with an array and a bitmap container, bucket 1 with a run container. */
function craftedBitmap(): { bytes: Uint8Array; values: number[] } {
  const parts: number[] = [];
  const u16 = (v: number) => parts.push(v & 0xff, v >>> 8);
  const u32 = (v: number) => parts.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
  u32(1681511377);
  u32(2); // numBuckets, 64-bit little endian
  u32(0);
  // bucket 0: no run containers (cookie 12346), containers key 0 (array) and key 1 (bitmap)
  u32(0);
  u32(12346);
  u32(2);
  const array = [1, 2, 10];
  const dense = range(0, 5000).map((i) => 2 * i);
  u16(0);
  u16(array.length - 1);
  u16(1);
  u16(dense.length - 1);
  u32(0);
  u32(0); // offset header (not used by readers that read sequentially)
  for (const v of array) u16(v);
  const words = new Uint8Array(8192);
  for (const v of dense) words[v >> 3] |= 1 << (v & 7);
  parts.push(...words);
  // bucket 1: with runs (cookie 12347, one container), one run 100..199
  u32(1);
  u32(12347 | (0 << 16));
  parts.push(0b1);
  u16(0);
  u16(99);
  u16(1);
  u16(100);
  u16(99);
  const values = [...array, ...dense.map((v) => 65536 + v), ...range(100, 200).map((v) => 2 ** 32 + v)];
  return { bytes: Uint8Array.from(parts), values };
}

describe('deletion vector encodings', () => {
  it('refuses, naming the magic number, the inline example of the Delta protocol (an older big-endian layout no writer uses)', () => {
    // 64 39 d3 d0: magic 1681511376 big endian, then a bitmap count and size; the portable format is what
    // Spark, Databricks and delta-kernel write, and the only one delta-kernel-rs reads.
    const bytes = z85Decode('wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L');
    expect(Buffer.from(bytes.subarray(0, 4)).toString('hex')).toBe('6439d3d0');
    expect(() => decodeDeletionBitmap(bytes.subarray(0, 40))).toThrow(/magic number 3503503716, not 1681511377/);
  });

  it('decodes a portable bitmap from a real DV file to the rows Spark deleted', () => {
    // table-with-dv-small: DELETE WHERE value IN (0, 9) over values 0..9 in file order
    const file = readFileSync(join(CONFORMANCE, 'table-with-dv-small', 'deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin'));
    expect([...decodeDeletionBitmap(file.subarray(5, 5 + file.readUInt32BE(1)))]).toEqual([0, 9]);
  });

  it('decodes array, bitmap and run containers in two 32-bit buckets', () => {
    const { bytes, values } = craftedBitmap();
    expect([...decodeDeletionBitmap(bytes)]).toEqual(values);
    expect(() => decodeDeletionBitmap(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
    const wrongMagic = bytes.slice();
    wrongMagic[0] ^= 1;
    expect(() => decodeDeletionBitmap(wrongMagic)).toThrow(/magic number/);
  });

  it('derives the file of a relative DV from its prefix and Z85 UUID, as the protocol example does', () => {
    const dv = { storageType: 'u', pathOrInlineDv: 'ab^-aqEH.-t@S}K{vb[*k^', offset: 4, sizeInBytes: 40, cardinality: 6 };
    expect(deletionVectorLocation(dv, 'file:///t')).toEqual({ kind: 'table', path: 'ab/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin' });
    expect(deletionVectorLocation({ ...dv, pathOrInlineDv: 'vBn[lx{q8@P<9BNH/isA' }, 'file:///t')).toEqual({
      kind: 'table',
      path: 'deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin',
    });
    expect(deletionVectorLocation({ ...dv, storageType: 'p', pathOrInlineDv: 'file:/t/x%25y/d.bin' }, 'file:///t')).toEqual({
      kind: 'table',
      path: 'x%y/d.bin',
    });
    expect(deletionVectorLocation({ ...dv, storageType: 'p', pathOrInlineDv: 'file:/elsewhere/d.bin' }, 'file:///t')).toEqual({
      kind: 'external',
      url: 'file:///elsewhere/d.bin',
    });
  });
});

for (const backend of BACKENDS) {
  describe(`public tables with deletion vectors (${backend.name})`, () => {
    for (const table of TABLES) {
      it(`${table.name}: library and CLI return the rows without those the DVs mark`, async () => {
        const store = backend.open(table.name);
        await copyTable(table.name, store, table.dir);
        for (const { version, rows: wanted } of table.versions) {
          expectRows(await rows(store, version), wanted);
          const { code, out, err } = await cli(['read', store.url, ...(version === undefined ? [] : ['--version', String(version)])]);
          expect(err).toBe('');
          expect(code).toBe(0);
          expectRows(
            out
              .trim()
              .split('\n')
              .map((l) => JSON.parse(l)),
            wanted,
          );
        }
        const latest = table.versions[0].rows.length;
        const described = await cli(['describe', store.url, '--json']);
        expect(described.code).toBe(0);
        const d = JSON.parse(described.out);
        expect(d.numRecords).toBe(latest);
        expect(d.numRecords).toBe(await rowsFromLog(store));
        const withDv = d.files.filter((f: { deletionVector: unknown }) => f.deletionVector);
        expect(withDv.length).toBeGreaterThan(0);
        expect(d.numDeletionVectors).toBe(withDv.length);
        for (const f of withDv) {
          expect(f.deletionVector.storageType).toBe('u');
          expect(f.deletionVector.file).toMatch(/^deletion_vector_[0-9a-f-]{36}\.bin$/);
          await expect(store.properties(f.deletionVector.file)).resolves.toBeTruthy();
        }
      });
    }

    it('reads a DV stored by absolute path (p), with percent-encoded special characters', async () => {
      const store = backend.open('dv-abs-path');
      const folder = `${store.url}/folder&with%25special%20char`;
      await copyTable('table-with-dv-special-char', store, FIXTURES, (path, bytes) =>
        path.endsWith('.json') ? Buffer.from(bytes.toString('utf8').replace('file:{{FOLDER_WITH_SPECIAL_CHAR}}', folder)) : bytes,
      );
      // Spark's suite: range(0, 10) with the even numbers deleted
      expectRows(
        await rows(store),
        [1, 3, 5, 7, 9].map((id) => ({ id })),
      );
      const d = JSON.parse((await cli(['describe', store.url, '--json'])).out);
      expect(d.numRecords).toBe(5);
      expect(d.files[0].deletionVector).toMatchObject({
        storageType: 'p',
        cardinality: 5,
        file: 'folder&with%special char/test%dv%prefix-deletion_vector_67bc892e-2979-4760-a78c-856aba806564.bin',
      });
    });

    it('reads a DV stored inline (i) in the log', async () => {
      const store = backend.open('dv-inline');
      const dvFile = readFileSync(join(CONFORMANCE, 'table-with-dv-small', 'deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin'));
      const size = dvFile.readUInt32BE(1);
      const inline = { storageType: 'i', pathOrInlineDv: z85Encode(dvFile.subarray(5, 5 + size)), sizeInBytes: size, cardinality: 2 };
      const edit = replaceDeletionVector(inline);
      // the inline DV needs no file
      await copyTable('table-with-dv-small', store, CONFORMANCE, (path, bytes) => (path.endsWith('.bin') ? null : edit(path, bytes)));
      expectRows(
        await rows(store),
        range(1, 9).map((value) => ({ value })),
      );
      const d = JSON.parse((await cli(['describe', store.url, '--json'])).out);
      expect(d.numRecords).toBe(8);
      expect(d.files[0].deletionVector).toMatchObject({ storageType: 'i', file: null });
    });
  });
}

/** Delta's DV file format, written here from the protocol: version 1, then per DV its size (BE), bitmap, CRC-32 (BE). */
function dvFile(bitmaps: Uint8Array[]): { bytes: Buffer; offsets: number[] } {
  const parts: Buffer[] = [Buffer.from([1])];
  const offsets: number[] = [];
  let at = 1;
  for (const bitmap of bitmaps) {
    const size = Buffer.alloc(4);
    size.writeUInt32BE(bitmap.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlibCrc32(bitmap));
    parts.push(size, Buffer.from(bitmap), crc);
    offsets.push(at);
    at += 8 + bitmap.length;
  }
  return { bytes: Buffer.concat(parts), offsets };
}

/**
 * Mark rows of a table's files as deleted the way Spark's DELETE does: one DV file holding a DV per
 * data file, and a commit (upgrading the protocol to deletion vectors) replacing each logical file.
 */
async function deleteRows(store: ObjectStore, rowsByFile: Map<string, number[]>): Promise<void> {
  const snapshot = await loadSnapshot(store);
  const uuid = Buffer.from(range(0, 16).map((i) => (i * 37 + snapshot.version * 11) & 0xff));
  const hex = uuid.toString('hex');
  const bitmaps = [...rowsByFile.values()].map(portableBitmap);
  const { bytes, offsets } = dvFile(bitmaps);
  await store.write(`deletion_vector_${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}.bin`, bytes);
  const actions: object[] = [
    { protocol: { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['deletionVectors'], writerFeatures: ['deletionVectors'] } },
  ];
  [...rowsByFile].forEach(([path, deleted], i) => {
    const file = activeFiles(snapshot).find((f) => f.path === path)!;
    const deletionVector = {
      storageType: 'u',
      pathOrInlineDv: z85Encode(uuid),
      offset: offsets[i],
      sizeInBytes: bitmaps[i].length,
      cardinality: deleted.length,
    };
    actions.push({ remove: { path, deletionTimestamp: Date.now(), dataChange: true } }, { add: { ...file, deletionVector } });
  });
  await store.createIfAbsent(`_delta_log/${String(snapshot.version + 1).padStart(20, '0')}.json`, actions.map((a) => JSON.stringify(a)).join('\n') + '\n');
}

/** Delta's portable bitmap of row indexes below 2^32 with array or bitmap containers (no runs). */
function portableBitmap(sorted: number[]): Uint8Array {
  const containers = new Map<number, number[]>();
  for (const v of sorted) {
    const key = Math.floor(v / 65536);
    if (!containers.has(key)) containers.set(key, []);
    containers.get(key)!.push(v % 65536);
  }
  const parts: Buffer[] = [];
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    parts.push(b);
  };
  const u16s = (vs: number[]) => {
    const b = Buffer.alloc(2 * vs.length);
    vs.forEach((v, i) => b.writeUInt16LE(v, 2 * i));
    parts.push(b);
  };
  u32(1681511377);
  u32(1);
  u32(0);
  u32(0); // one bucket, key 0
  u32(12346);
  u32(containers.size);
  for (const [key, values] of containers) u16s([key, values.length - 1]);
  for (let i = 0; i < containers.size; i++) u32(0);
  for (const values of containers.values()) {
    if (values.length <= 4096) u16s(values);
    else {
      const words = Buffer.alloc(8192);
      for (const v of values) words[v >> 3] |= 1 << (v & 7);
      parts.push(words);
    }
  }
  return Buffer.concat(parts);
}

describe('a large deletion vector', () => {
  it('200,000 rows with every third deleted (bitmap containers): the right rows, in a few seconds', async () => {
    const store = BACKENDS[0].open('dv-large');
    const N = 200_000;
    await writeTable(store, [arrow.tableFromArrays({ id: BigInt64Array.from({ length: N }, (_, i) => BigInt(i)) }).batches[0]]);
    const [file] = activeFiles(await loadSnapshot(store));
    const deleted = range(0, N).filter((i) => i % 3 === 0);
    await deleteRows(store, new Map([[file.path, deleted]]));
    const started = Date.now();
    let count = 0;
    let sum = 0n;
    let deletedSeen = 0;
    const snapshot = await loadSnapshot(store);
    for await (const batch of scanTable(snapshot)) {
      const ids = batch.getChild('id')!.toArray() as BigInt64Array;
      for (const id of ids) {
        count++;
        sum += id;
        if (id % 3n === 0n) deletedSeen++;
      }
    }
    const seconds = (Date.now() - started) / 1000;
    expect(deletedSeen).toBe(0);
    expect(count).toBe(N - deleted.length);
    expect(sum).toBe(BigInt((N * (N - 1)) / 2) - 3n * BigInt(((deleted.length - 1) * deleted.length) / 2));
    expect(seconds).toBeLessThan(20);
    expect(JSON.parse((await cli(['describe', store.url, '--json'])).out).numRecords).toBe(N - deleted.length);
  });
});

describe('one DV file holding the DVs of several data files', () => {
  it('each file reads with its own DV at its offset; optimize and vacuum then leave only the live rows', async () => {
    const store = BACKENDS[1].open('dv-shared-file');
    const ids = (from: number) => arrow.tableFromArrays({ id: BigInt64Array.from(range(from, from + 10), BigInt) }).batches[0];
    await writeTable(store, [ids(0)]);
    await writeTable(store, [ids(100)]);
    const files = activeFiles(await loadSnapshot(store)).sort((a, b) => (a.path < b.path ? -1 : 1));
    // each file holds ten consecutive ids in write order: the id at a row position is its minimum + the position
    const firstIds = files.map((f) => Number(JSON.parse(f.stats!).minValues.id));
    await deleteRows(
      store,
      new Map([
        [files[0].path, [1, 2]],
        [files[1].path, [0, 9]],
      ]),
    );
    const gone = [...[1, 2].map((r) => firstIds[0] + r), ...[0, 9].map((r) => firstIds[1] + r)];
    const wanted = [...range(0, 10), ...range(100, 110)].filter((id) => !gone.includes(id)).map((id) => ({ id }));
    expectRows(await rows(store), wanted);
    const described = JSON.parse((await cli(['describe', store.url, '--json'])).out);
    expect(described.files.map((f: { deletionVector: { offset: number } }) => f.deletionVector.offset).sort((a: number, b: number) => a - b)).toEqual([
      1,
      1 + 8 + portableBitmap([1, 2]).length,
    ]);
    expect(described.numRecords).toBe(16);

    await optimizeTable(store);
    expectRows(await rows(store), wanted);
    await vacuumTable(store, { now: Date.now() + 2 * DAY, retentionHours: 0, force: true });
    expectRows(await rows(store), wanted);
  });
});

describe('a deletion vector that cannot be read is an error naming the data file and the DV, never rows', () => {
  const DV = 'deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin';
  const cases: { what: string; edit: (path: string, bytes: Buffer) => Buffer | null; message: RegExp }[] = [
    {
      what: 'a bad checksum',
      edit: (path, bytes) => {
        if (path !== DV) return bytes;
        const copy = Buffer.from(bytes);
        copy[copy.length - 6] ^= 0x40; // inside the bitmap, before the CRC
        return copy;
      },
      message: /checksum mismatch in DV file .*deletion_vector_61d16c75.*\.bin/,
    },
    { what: 'a missing DV file', edit: (path, bytes) => (path === DV ? null : bytes), message: /DV file .*deletion_vector_61d16c75.*\.bin is missing/ },
    {
      what: 'an unknown storage type',
      edit: (path, bytes) => (path.endsWith('1.json') ? Buffer.from(bytes.toString('utf8').replace('"storageType":"u"', '"storageType":"x"')) : bytes),
      message: /unknown DV storage type "x"/,
    },
    {
      what: 'a cardinality the bitmap does not have',
      edit: (path, bytes) => (path.endsWith('1.json') ? Buffer.from(bytes.toString('utf8').replace('"cardinality":2', '"cardinality":3')) : bytes),
      message: /marks 2 rows but the log says cardinality 3/,
    },
  ];
  for (const c of cases) {
    it(c.what, async () => {
      const store = BACKENDS[0].open('dv-bad');
      await copyTable('table-with-dv-small', store, CONFORMANCE, c.edit);
      await expect(rows(store)).rejects.toThrow(c.message);
      const { code, out, err } = await cli(['read', store.url]);
      expect(code).toBe(1);
      expect(out).toBe('');
      expect(err).toMatch(c.message);
      expect(err).toContain('part-00000-fae5310a-a37d-4e51-827b-c3d5516560ca-c000.snappy.parquet');
      expect(err).toContain('vBn[lx{q8@P<9BNH/isA');
    });
  }
});

describe('a deletion vector that marks a row its data file does not have', () => {
  it('is refused, naming the row and the file size', async () => {
    const store = BACKENDS[0].open('dv-beyond');
    const bitmap = portableBitmap([0, 12]);
    const inline = { storageType: 'i', pathOrInlineDv: z85Encode(bitmap), sizeInBytes: bitmap.length, cardinality: 2 };
    await copyTable('table-with-dv-small', store, CONFORMANCE, replaceDeletionVector(inline));
    await expect(rows(store)).rejects.toThrow(/deletion vector i:.* of data file .*part-00000-fae5310a.*\.parquet marks row 12, but the file has 10 rows/);
  });
});

describe('maintenance of tables with deletion vectors', () => {
  it('appends stay refused, naming the feature', async () => {
    const store = BACKENDS[0].open('dv-append');
    await copyTable('basic-dv-no-checkpoint', store);
    const batch = arrow.tableFromArrays({ id: BigInt64Array.from([10n]) }).batches[0];
    await expect(writeTable(store, [batch])).rejects.toThrow(/deletionVectors.*does not write new data/);
    await expect(store.properties('_delta_log/00000000000000000002.json')).rejects.toThrow(/not found/);
  });

  it('pipeline runs refuse to stage a file with a DV (DuckDB would read its deleted rows), pointing at optimize', async () => {
    const store = BACKENDS[0].open('dv-stage');
    await copyTable('table-with-dv-small', store, CONFORMANCE);
    const files = activeFiles(await loadSnapshot(store));
    await expect(withSqlEngine({ threads: 1 }, (engine) => stageFiles(engine, store, files, 'table silver.x'))).rejects.toThrow(
      /table silver.x: data file part-00000-fae5310a.*\.parquet has a deletion vector.*sluice optimize/,
    );
    await optimizeTable(store);
    const staged = await withSqlEngine(
      { threads: 1 },
      async (engine) => (await stageFiles(engine, store, activeFiles(await loadSnapshot(store)), 'table silver.x')).length,
    );
    expect(staged).toBe(1);
  });

  it('optimize of a file whose DV deletes every row removes it and adds nothing', async () => {
    const store = BACKENDS[0].open('dv-all-gone');
    const bitmap = portableBitmap(range(0, 10));
    await copyTable(
      'table-with-dv-small',
      store,
      CONFORMANCE,
      replaceDeletionVector({ storageType: 'i', pathOrInlineDv: z85Encode(bitmap), sizeInBytes: bitmap.length, cardinality: 10 }),
    );
    expect(await rows(store)).toEqual([]);
    const result = await optimizeTable(store);
    expect(result).toMatchObject({ version: 2, filesRemoved: 1, filesAdded: 0 });
    expect(activeFiles(await loadSnapshot(store))).toEqual([]);
    expect(await rows(store)).toEqual([]);
  });

  it('a checkpoint carries the DVs: a reader starting from it still drops the marked rows', async () => {
    const store = BACKENDS[1].open('dv-checkpoint');
    await copyTable('basic-dv-no-checkpoint', store);
    const { version, created } = await checkpointTable(store);
    expect(created).toBe(true);
    const actions = await readCheckpoint(store, [checkpointPath(version)]);
    const dvs = actions.flatMap((a) => ('add' in a && a.add.deletionVector ? [a.add.deletionVector] : []));
    expect(dvs).toEqual([{ storageType: 'u', pathOrInlineDv: 'IjB3V2d3#qUP%s94R0WF', offset: 1, sizeInBytes: 36, cardinality: 2 }]);
    const snapshot = await loadSnapshot(store);
    expect(snapshot.checkpointVersion).toBe(version);
    expectRows(
      await rows(store),
      range(2, 10).map((id) => ({ id })),
    );
  });

  it('vacuum keeps every DV file a live file uses, whatever its age, and deletes replaced DVs once their tombstones expire', async () => {
    const store = BACKENDS[0].open('dv-vacuum');
    await copyTable('log-replay-dv-key-cases', store);
    const live: string = JSON.parse((await cli(['describe', store.url, '--json'])).out).files[0].deletionVector.file;
    const dvFiles = walk(join(FIXTURES, 'log-replay-dv-key-cases')).filter((f) => f.endsWith('.bin'));
    expect(dvFiles).toContain(live);
    // Eight days on, with the table's own 7-day retention: every file copied here is old enough to be an
    // orphan, and the DVs replaced in 2023 are long expired.
    const result = await vacuumTable(store, { now: Date.now() + 8 * DAY });
    expect(result.files.sort()).toEqual(dvFiles.filter((f) => f !== live).sort());
    await expect(store.properties(live)).resolves.toBeTruthy();
    expectRows(
      await rows(store),
      range(0, 50)
        .filter((x) => ![0, 7, 14].includes(x))
        .map((id) => ({ id })),
    );
  });

  it('vacuum keeps a DV file named by an absolute URL that spells the table another way (here through a symlink)', async () => {
    const real = mkdtempSync(join(tmpdir(), 'sluice-dv-real-'));
    const linked = `${real}-link`;
    symlinkSync(real, linked);
    await copyTable('table-with-dv-special-char', new LocalStore(real), FIXTURES, (path, bytes) =>
      path.endsWith('.json') ? Buffer.from(bytes.toString('utf8').replace('{{FOLDER_WITH_SPECIAL_CHAR}}', `${real}/folder&with%25special%20char`)) : bytes,
    );
    const store = new LocalStore(linked);
    expectRows(
      await rows(store),
      [1, 3, 5, 7, 9].map((id) => ({ id })),
    );
    const result = await vacuumTable(store, { now: Date.now() + 8 * DAY });
    expect(result.files).toEqual([]);
    expectRows(
      await rows(store),
      [1, 3, 5, 7, 9].map((id) => ({ id })),
    );
  });

  for (const backend of BACKENDS) {
    for (const [name, wanted] of [
      [
        'log-replay-dv-key-cases',
        range(0, 50)
          .filter((x) => ![0, 7, 14].includes(x))
          .map((id) => ({ id })),
      ],
      [
        'dv-partitioned-with-checkpoint',
        range(0, 50)
          .filter((x) => !(x % 2 === 0 && x < 30))
          .map((x) => ({ part: x % 10, col1: x, col2: `foo${x % 5}` })),
      ],
    ] as const) {
      it(`${name} (${backend.name}): optimized and vacuumed, it keeps exactly the rows Spark returns`, async () => {
        const store = backend.open(`dv-opt-${name.slice(0, 8)}`);
        await copyTable(name, store);
        const before = await loadSnapshot(store);
        const dvFiles = [...before.state.files.values()].filter((f) => f.deletionVector);
        const result = await optimizeTable(store, { targetFileBytes: 1024 * 1024 });
        expect(result.version).toBe(before.version + 1);
        // Each removed logical file is named with its DV, so it matches the add it replaces.
        const commit = Buffer.from(await store.read(`_delta_log/${String(result.version).padStart(20, '0')}.json`)).toString('utf8');
        const removes = commit
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
          .filter((a) => a.remove)
          .map((a) => a.remove);
        for (const file of dvFiles) expect(removes.find((r) => r.path === file.path)?.deletionVector).toEqual(file.deletionVector);
        const after = await loadSnapshot(store);
        expect([...after.state.files.values()].filter((f) => f.deletionVector)).toEqual([]);
        expectRows(await rows(store), wanted);

        const vacuumed = await vacuumTable(store, { now: Date.now() + 2 * DAY, retentionHours: 0, force: true });
        expect(vacuumed.files.some((f) => /deletion_vector_.*\.bin$/.test(f))).toBe(true);
        // What is left besides the log is exactly the live files, which have no DV any more.
        const stored: string[] = [];
        for await (const info of store.list('')) if (!info.path.startsWith('_')) stored.push(info.path);
        const liveFiles = [...(await loadSnapshot(store)).state.files.values()].map((f) => decodeURIComponent(f.path));
        expect(stored.sort()).toEqual(liveFiles.sort());
        expectRows(await rows(store), wanted);
        const { code, out } = await cli(['read', store.url]);
        expect(code).toBe(0);
        expectRows(
          out
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l)),
          wanted,
        );
      });
    }
  }
});
