// Golden-file test for what Databricks and current Spark write: every table in
// test/fixtures/delta-databricks reads as its expected.json entry says, through the library and the
// CLI, on disk and on Azurite; and maintenance of column-mapped tables keeps their rows.
import { appendFileSync, copyFileSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import { loadSnapshot, Snapshot } from '../../shared/delta/snapshot';
import { scanTable } from '../../shared/delta/scan';
import { batchToRows, stringifyJson } from '../../shared/delta/rows';
import { optimizeTable } from '../../shared/delta/optimize';
import { vacuumTable } from '../../shared/delta/vacuum';
import { checkpointTable } from '../../shared/delta/describe';
import { writeTable } from '../../shared/delta/table';
import { readParquetMetadata } from '../../shared/delta/parquet';
import { decodeAddPath } from '../../shared/delta/partitions';
import { LocalStore } from '../../shared/storage/local';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { scratchCopy, uploadTable } from '../support/fixture-tables';
import * as arrow from 'apache-arrow';
import { registerView, SqlEngine } from '../../shared/sql';
import { variantToJson } from '../../shared/delta/variant';
import * as nodePath from 'node:path';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const ROOT = join(TEST_DIR, 'fixtures', 'delta-databricks');
const CONFORMANCE = join(TEST_DIR, 'fixtures', 'delta-conformance');

interface ExpectedVersion {
  version: number;
  checkpointVersion: number | null;
  protocol: Record<string, unknown>;
  schema: { name: string; type: unknown; nullable: boolean }[];
  numRows: number;
  /** Each row exactly as `sluice read` prints it (NDJSON, 64-bit integers exact). */
  rows: string[];
}
interface ExpectedTable {
  name: string;
  versions?: ExpectedVersion[];
  timestamps?: { timestamp: string; version: number }[];
  refuse?: string;
}
const expected: { tables: ExpectedTable[] } = JSON.parse(readFileSync(join(ROOT, 'expected.json'), 'utf8'));

async function readRows(snapshot: Snapshot): Promise<string[]> {
  const rows: string[] = [];
  for await (const batch of scanTable(snapshot)) for (const row of batchToRows(batch, snapshot.schema)) rows.push(stringifyJson(row));
  return rows;
}

function withoutMetadata(type: unknown): unknown {
  if (!type || typeof type !== 'object') return type;
  const t = type as Record<string, unknown>;
  if (t.type === 'struct')
    return {
      type: 'struct',
      fields: (t.fields as Record<string, unknown>[]).map((f) => ({ name: f.name, type: withoutMetadata(f.type), nullable: f.nullable })),
    };
  if (t.type === 'array') return { ...t, elementType: withoutMetadata(t.elementType) };
  return { ...t, keyType: withoutMetadata(t.keyType), valueType: withoutMetadata(t.valueType) };
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const CONTAINER = uniqueContainer('databricks');
for (const where of ['local', 'azurite'] as const) {
  for (const table of expected.tables) {
    describe(`${table.name} (${where})`, () => {
      let uri = join(ROOT, table.name);
      const store = () => (where === 'local' ? new LocalStore(uri) : undefined);
      if (where === 'azurite') {
        beforeAll(async () => {
          uri = await uploadTable(join(ROOT, table.name), azuriteUri(CONTAINER, table.name));
        });
      }
      if (table.refuse) {
        it('is refused, naming the feature, by the library and the CLI', async () => {
          const local = store();
          if (local) await expect(loadSnapshot(local)).rejects.toThrow(table.refuse);
          const { code, out, err } = await cli(['read', uri]);
          expect(code).toBe(1);
          expect(out).toBe('');
          expect(err).toContain(table.refuse);
        });
        return;
      }
      for (const want of table.versions!) {
        if (where === 'local') {
          it(`library, version ${want.version}: protocol, schema, checkpoint used, rows`, async () => {
            const snapshot = await loadSnapshot(store()!, { version: want.version });
            expect(snapshot.protocol).toEqual(want.protocol);
            expect(snapshot.checkpointVersion).toBe(want.checkpointVersion);
            expect(snapshot.schema.fields.map((f) => ({ name: f.name, type: withoutMetadata(f.type), nullable: f.nullable }))).toEqual(want.schema);
            const rows = await readRows(snapshot);
            expect(rows.length).toBe(want.numRows);
            expect(rows.sort()).toEqual([...want.rows].sort());
          });
        }
        it(`CLI read --version ${want.version} prints the expected rows`, async () => {
          const { code, out, err } = await cli(['read', uri, '--version', String(want.version)]);
          expect(code, err).toBe(0);
          expect(out.split('\n').filter(Boolean).sort()).toEqual([...want.rows].sort());
        });
      }
      it('CLI describe --json gives the schema and the row count', async () => {
        const latest = table.versions![0];
        const { code, out, err } = await cli(['describe', uri, '--json']);
        expect(code, err).toBe(0);
        const d = JSON.parse(out);
        expect(d.version).toBe(latest.version);
        expect(d.schema.map((f: { name: string }) => f.name)).toEqual(latest.schema.map((f) => f.name));
        expect(d.numRecords).toBe(latest.numRows);
      });
      if (table.timestamps) {
        it('history --json dates each commit by its in-commit timestamp', async () => {
          const { code, out, err } = await cli(['history', uri, '--json']);
          expect(code, err).toBe(0);
          const byVersion = new Map(JSON.parse(out).map((e: { version: number; timestamp: string }) => [e.version, e.timestamp]));
          for (const travel of table.timestamps!) expect(Date.parse(byVersion.get(travel.version) as string)).toBeLessThanOrEqual(Date.parse(travel.timestamp));
          expect(byVersion.get(2)).toBe('2026-07-12T16:36:52.175Z');
        });
      }
      for (const travel of table.timestamps ?? []) {
        it(`read --timestamp ${travel.timestamp} gives version ${travel.version} by the in-commit timestamps`, async () => {
          // The files' own times are those of the copy (today), so only the in-commit timestamps can find these versions.
          const want = table.versions!.find((v) => v.version === travel.version)!;
          const { code, out, err } = await cli(['read', uri, '--timestamp', travel.timestamp]);
          expect(code, err).toBe(0);
          expect(out.split('\n').filter(Boolean).sort()).toEqual([...want.rows].sort());
        });
      }
    });
  }
}

describe('column-mapped tables: maintenance and schema changes', () => {
  it('optimize writes physical names and field ids, checkpoint carries the mapping, vacuum keeps the rows; appends stay refused', async () => {
    const dir = scratchCopy(join(ROOT, 'column-mapping-id-nested'));
    const store = new LocalStore(dir);
    const before = await loadSnapshot(store);
    const rows = (await readRows(before)).sort();
    expect(before.state.files.size).toBe(2);

    const optimized = await optimizeTable(store, { targetFileBytes: 1 << 20, minFileBytes: 1 << 20 });
    expect(optimized).toMatchObject({ filesRemoved: 2, filesAdded: 1 });
    const after = await loadSnapshot(store);
    expect((await readRows(after)).sort()).toEqual(rows);
    const [add] = [...after.state.files.values()];
    // The new file is written as Spark writes such a table: physical names, field ids, stats by physical name.
    const footer = await readParquetMetadata(readFileSync(join(dir, decodeAddPath(add.path))));
    const top = before.schema.fields.find((f) => f.name === 'nested_struct')!;
    const physical = top.metadata['delta.columnMapping.physicalName'] as string;
    const element = footer.schema.find((e) => e.name === physical);
    expect(element?.field_id).toBe(top.metadata['delta.columnMapping.id']);
    expect(footer.schema.some((e) => e.name === 'nested_struct' || e.name === 'aa')).toBe(false);
    expect(Object.keys(JSON.parse(add.stats!).minValues)).toContain(physical);

    expect(await checkpointTable(store)).toMatchObject({ version: after.version, created: true });
    const fromCheckpoint = await loadSnapshot(store);
    expect(fromCheckpoint.checkpointVersion).toBe(after.version);
    expect(fromCheckpoint.schema.fields.find((f) => f.name === 'nested_struct')!.metadata).toEqual(top.metadata);
    expect((await readRows(fromCheckpoint)).sort()).toEqual(rows);

    const vacuumed = await vacuumTable(store, { retentionHours: 0, force: true, now: Date.now() + 3_600_000 });
    expect(vacuumed.files.sort()).toEqual([...before.state.files.values()].map((f) => decodeAddPath(f.path)).sort());
    expect((await readRows(await loadSnapshot(store))).sort()).toEqual(rows);

    const batch = new arrow.Table({ ByteType: arrow.vectorFromArray([1], new arrow.Int8()) }).batches[0];
    await expect(writeTable(store, [batch])).rejects.toThrow(/column mapping.*does not append/);
  });

  it('optimize of a partitioned name-mode table keys partition values by physical name', async () => {
    const dir = scratchCopy(join(CONFORMANCE, 'table_with_column_mapping'));
    const store = new LocalStore(dir);
    const v0 = await loadSnapshot(store);
    const bms = [...v0.state.files.values()].find((f) => Object.values(f.partitionValues).includes('BMS'))!;
    // A second file in partition BMS (a copy of the first), so that there is something to compact.
    copyFileSync(join(dir, bms.path), join(dir, 'BH', 'part-copy.parquet'));
    writeFileSync(
      join(dir, '_delta_log', '00000000000000000001.json'),
      JSON.stringify({ add: { ...bms, path: 'BH/part-copy.parquet', modificationTime: Date.now() } }) + '\n',
    );
    const rows = (await readRows(await loadSnapshot(store))).sort();
    expect(rows).toHaveLength(9);
    expect(await optimizeTable(store, { targetFileBytes: 1 << 20, minFileBytes: 1 << 20 })).toMatchObject({ filesRemoved: 2, filesAdded: 1 });
    const after = await loadSnapshot(store);
    expect((await readRows(after)).sort()).toEqual(rows);
    const partition = v0.schema.fields[0];
    const physical = partition.metadata['delta.columnMapping.physicalName'] as string;
    const added = [...after.state.files.values()].find((f) => f.path !== 'BH/part-copy.parquet' && !f.path.startsWith('8v/'))!;
    expect(added.partitionValues).toEqual({ [physical]: 'BMS' });
    expect(added.path.startsWith(`${physical}=BMS/`)).toBe(true);
    expect(Object.keys(JSON.parse(added.stats!).minValues)).toEqual([v0.schema.fields[1].metadata['delta.columnMapping.physicalName']]);
  });

  it('a renamed column keeps its data, a dropped one disappears, one added again under its old name reads null from old files', async () => {
    const dir = scratchCopy(join(CONFORMANCE, 'table_with_column_mapping'));
    const store = new LocalStore(dir);
    const v0 = await loadSnapshot(store);
    const names = (await readRows(v0)).map((r) => JSON.parse(r)['Super Name']).sort();
    const commit = (version: number, fields: unknown[]) => {
      const metaData = { ...v0.metadata, schemaString: JSON.stringify({ type: 'struct', fields }) };
      writeFileSync(join(dir, '_delta_log', `${String(version).padStart(20, '0')}.json`), JSON.stringify({ metaData }) + '\n');
    };
    const [company, name] = v0.schema.fields;
    // ALTER TABLE … RENAME COLUMN `Super Name` TO hero: only the logical name changes.
    commit(1, [company, { ...name, name: 'hero' }]);
    const renamed = (await readRows(await loadSnapshot(store))).map((r) => JSON.parse(r));
    expect(renamed.map((r) => r.hero).sort()).toEqual(names);
    expect(renamed.every((r) => !('Super Name' in r))).toBe(true);
    // DROP COLUMN hero, then ADD COLUMN `Super Name`: a new physical name, so the old values do not come back.
    commit(2, [company]);
    expect((await readRows(await loadSnapshot(store))).map((r) => Object.keys(JSON.parse(r)))).toEqual(new Array(5).fill(['Company Very Short']));
    commit(3, [
      company,
      { name: 'Super Name', type: 'string', nullable: true, metadata: { 'delta.columnMapping.id': 3, 'delta.columnMapping.physicalName': 'col-added-again' } },
    ]);
    const readded = (await readRows(await loadSnapshot(store))).map((r) => JSON.parse(r));
    expect(readded.map((r) => r['Super Name'])).toEqual(new Array(5).fill(null));
    // Time travel still reads the names as they were.
    expect((await readRows(await loadSnapshot(store, { version: 1 }))).map((r) => JSON.parse(r).hero).sort()).toEqual(names);
  });
});

describe('timestamp time travel with in-commit timestamps enabled at a later version', () => {
  it('dates versions before the enablement by file times, and from it on by inCommitTimestamp', async () => {
    const dir = scratchCopy(join(CONFORMANCE, 'simple_table'));
    const log = (v: number) => join(dir, '_delta_log', `${String(v).padStart(20, '0')}.json`);
    const day = (d: string) => new Date(`${d}T00:00:00Z`);
    const lines = (v: number) =>
      readFileSync(log(v), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    const metaData = lines(0).find((a) => 'metaData' in a).metaData;
    const stamps: Record<number, Date> = { 2: day('2021-01-01'), 3: day('2021-01-02'), 4: day('2021-01-03') };
    for (const v of [2, 3, 4]) {
      const actions = lines(v);
      const info = actions.find((a) => 'commitInfo' in a).commitInfo;
      // The commitInfo with the timestamp comes first, as the protocol requires.
      const rest = actions.filter((a) => !('commitInfo' in a));
      const enable =
        v === 2
          ? [
              {
                metaData: {
                  ...metaData,
                  configuration: {
                    ...metaData.configuration,
                    'delta.enableInCommitTimestamps': 'true',
                    'delta.inCommitTimestampEnablementVersion': '2',
                    'delta.inCommitTimestampEnablementTimestamp': String(stamps[2].getTime()),
                  },
                },
              },
            ]
          : [];
      writeFileSync(
        log(v),
        [{ commitInfo: { ...info, inCommitTimestamp: stamps[v].getTime() } }, ...enable, ...rest].map((a) => JSON.stringify(a)).join('\n') + '\n',
      );
    }
    // Versions 0 and 1 keep file times in 2020; 2–4 were written today, so only their in-commit timestamps date them in 2021.
    utimesSync(log(0), day('2020-01-01'), day('2020-01-01'));
    utimesSync(log(1), day('2020-01-02'), day('2020-01-02'));
    const store = new LocalStore(dir);
    const at = async (t: string) => (await loadSnapshot(store, { timestamp: new Date(t) })).version;
    expect(await at('2020-01-01T12:00:00Z')).toBe(0);
    expect(await at('2020-06-01T00:00:00Z')).toBe(1);
    expect(await at('2021-01-01T00:00:00Z')).toBe(2);
    expect(await at('2021-01-02T12:00:00Z')).toBe(3);
    expect(await at('2022-01-01T00:00:00Z')).toBe(4);
  });
});

describe('variant values as JSON text', () => {
  // Hand-encoded per the Parquet variant specification: metadata with the keys "a" and "b".
  const metadata = Uint8Array.from([0x01, 2, 0, 1, 2, 0x61, 0x62]);
  const le = (n: bigint, bytes: number) => Array.from({ length: bytes }, (_, i) => Number((BigInt.asUintN(64, n) >> BigInt(8 * i)) & 0xffn));
  const elements = [
    [0x2c, ...le(19000n, 4)], // date
    [0x20, 2, ...le(-1234n, 4)], // decimal4, scale 2
    [0x00], // null
    [0x04], // true
    [0x18, ...le(9007199254740993n, 8)], // int64 beyond 2^53
    [0x30, ...le(1_641_038_400_123_456n, 8)], // timestamp (UTC, microseconds)
  ];
  const offsets = elements.reduce((acc, e) => [...acc, acc[acc.length - 1] + e.length], [0]);
  const array = [0x03, elements.length, ...offsets, ...elements.flat()];
  const hi = [0x09, 0x68, 0x69]; // short string "hi"
  const object = Uint8Array.from([0x02, 2, 0, 1, 0, hi.length, hi.length + array.length, ...hi, ...array]);

  it('decodes objects, arrays, short strings and primitives exactly', () => {
    expect(variantToJson(metadata, object)).toBe('{"a":"hi","b":["2022-01-08",-12.34,null,true,9007199254740993,"2022-01-01T12:00:00.123456Z"]}');
  });

  it('a truncated value is an error naming the offset', () => {
    expect(() => variantToJson(metadata, object.subarray(0, object.length - 3))).toThrow(/variant: 8-byte value at offset \d+ runs past the end/);
  });
});

describe('what stays refused or corrupt', () => {
  it('a SQL refresh refuses a column-mapped source rather than read its columns as NULL', async () => {
    const engine = await SqlEngine.open({ memoryLimit: '100MB', threads: 1 });
    try {
      const snapshot = await loadSnapshot(new LocalStore(join(ROOT, 'column-mapping-name-nested')));
      await expect(registerView(engine, 'source', { schema: snapshot.schema, partitionColumns: [], files: [] })).rejects.toThrow(
        /column mapping \(column "ByteType"\)/,
      );
    } finally {
      await engine.close();
    }
  });

  function tableWith(lines: unknown[]): LocalStore {
    const dir = scratchCopy(join(ROOT, 'v2-checkpoint-json'));
    appendFileSync(join(dir, '_delta_log', '00000000000000000003.json'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    return new LocalStore(dir);
  }

  it('a V2 checkpoint whose sidecar is gone is an error naming the sidecar', async () => {
    const dir = scratchCopy(join(ROOT, 'v2-checkpoint-parquet'));
    const sidecars = join(dir, '_delta_log', '_sidecars');
    const [gone] = readdirSync(sidecars).filter((f) => f.endsWith('.parquet'));
    rmSync(join(sidecars, gone));
    await expect(loadSnapshot(new LocalStore(dir))).rejects.toThrow(new RegExp(`checkpoint file .*_sidecars/${gone.replace(/\./g, '\\.')} cannot be read`));
  });

  it('a reader feature no spec defines is refused, naming it', async () => {
    const store = tableWith([
      { protocol: { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['v2Checkpoint', 'quantumSuperposition'], writerFeatures: ['v2Checkpoint'] } },
    ]);
    await expect(loadSnapshot(store)).rejects.toThrow(/needs reader feature quantumSuperposition \(minReaderVersion=3\)/);
  });

  it('writer-only features are read, but writing to such a table stays refused, naming them', async () => {
    const store = new LocalStore(scratchCopy(join(ROOT, 'databricks-v2-checkpoint')));
    const batch = new arrow.Table({ id: arrow.vectorFromArray([1n], new arrow.Int64()) }).batches[0];
    await expect(writeTable(store, [batch])).rejects.toThrow(/needs writer features v2Checkpoint, identityColumns \(minWriterVersion=7\).*refusing to write/);
    expect((await loadSnapshot(store)).version).toBe(9);
  });

  it('an unknown column mapping mode is refused, naming it', async () => {
    const v2 = await loadSnapshot(new LocalStore(join(ROOT, 'v2-checkpoint-json')));
    const store = tableWith([{ metaData: { ...v2.metadata, configuration: { 'delta.columnMapping.mode': 'telepathy' } } }]);
    await expect(loadSnapshot(store)).rejects.toThrow(/column mapping mode "telepathy"/);
  });

  it("only a metaData's missing schemaString is forgiven: another missing field still fails with the file and line", async () => {
    const store = tableWith([
      { commitInfo: {} },
      { metaData: { format: { provider: 'parquet' }, schemaString: '{"type":"struct","fields":[]}', partitionColumns: [] } },
    ]);
    await expect(loadSnapshot(store)).rejects.toThrow(/00000000000000000003\.json line 2: metaData action is missing required field "id"/);
  });
});
