/**
 * Tables combining deletion vectors with column mapping, liquid clustering or V2 checkpoints (the
 * cases the DV and column-mapping suites each left out): read through the library and the CLI, on
 * disk and on Azurite, checked against rows derived here from the log JSON alone; and the golden
 * DV + column-mapping table optimized and vacuumed, keeping exactly the rows Spark returns.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import { checkpointTable, loadSnapshot, optimizeTable, vacuumTable } from '../../shared/delta';
import { batchToRows, stringifyJson } from '../../shared/delta/rows';
import { scanTable } from '../../shared/delta/scan';
import { LocalStore } from '../../shared/storage/local';
import { openStore } from '../../shared/storage/location';
import type { ObjectStore } from '../../shared/storage/types';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import * as nodePath from 'node:path';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const FIXTURES = join(TEST_DIR, 'fixtures', 'delta-dv');
type Row = Record<string, unknown>;

/**
 * GoldenTables.scala "dv-with-columnmapping": (x % 10, x, foo{x % 5}) for x < 50 at version 0, then
 * version n (1..15) runs DELETE col1 = 2(n - 1).
 */
const goldenDvMappingRows = (version: number): Row[] =>
  Array.from({ length: 50 }, (_, x) => x)
    .filter((x) => !(x % 2 === 0 && x < 2 * version))
    .map((x) => ({ part: x % 10, col1: x, col2: `foo${x % 5}` }));
const GOLDEN_DV_MAPPING = goldenDvMappingRows(15);

/** The combined tables; `rows` where an upstream generator states them, otherwise derived from the log's statistics. */
const TABLES: { name: string; features: string[]; rows?: Row[] }[] = [
  { name: 'dv-with-columnmapping', features: ['deletionVectors', 'columnMapping'], rows: GOLDEN_DV_MAPPING },
  // Databricks 15.4: partition column `id` (physical name `id`) renamed to `newid` after mapping was enabled
  { name: 'table_with_partitioning_mapping', features: ['deletionVectors', 'columnMapping'] },
  { name: 'table_with_liquid_clustering', features: ['deletionVectors'] },
  { name: 'v2-json-sidecars-struct-stats-only', features: ['deletionVectors', 'v2Checkpoint'] },
];

interface LogFile {
  path: string;
  partitionValues: Record<string, string | null>;
  stats?: string;
  deletionVector?: { storageType: string; pathOrInlineDv: string; offset?: number; cardinality: number };
}
interface SchemaField {
  name: string;
  type: unknown;
  metadata?: Record<string, unknown>;
}

/**
 * An independent replay of the commit JSON files (no Sluice code): the live files, keyed by path and
 * DV as the protocol says, and the last schema.
 */
function replayLogJson(table: string): { files: LogFile[]; fields: SchemaField[]; partitionColumns: string[] } {
  const logDir = join(FIXTURES, table, '_delta_log');
  const live = new Map<string, LogFile>();
  let fields: SchemaField[] = [];
  let partitionColumns: string[] = [];
  const key = (f: LogFile) =>
    `${f.path}|${f.deletionVector ? `${f.deletionVector.storageType}${f.deletionVector.pathOrInlineDv}@${f.deletionVector.offset ?? ''}` : ''}`;
  for (const name of readdirSync(logDir)
    .filter((n) => /^\d{20}\.json$/.test(n))
    .sort()) {
    for (const line of readFileSync(join(logDir, name), 'utf8')
      .split('\n')
      .filter((l) => l.trim())) {
      const action = JSON.parse(line);
      if (action.metaData?.schemaString) fields = JSON.parse(action.metaData.schemaString).fields;
      if (action.metaData) partitionColumns = action.metaData.partitionColumns;
      if (action.remove) live.delete(key(action.remove));
      if (action.add) live.set(key(action.add), action.add);
    }
  }
  return { files: [...live.values()], fields, partitionColumns };
}

const physicalName = (f: SchemaField) => (f.metadata?.['delta.columnMapping.physicalName'] as string | undefined) ?? f.name;
const netRowCount = (files: LogFile[]) => files.reduce((n, f) => n + JSON.parse(f.stats!).numRecords - (f.deletionVector?.cardinality ?? 0), 0);

/** Where every live file holds one row and no DV, that row is its partition values plus its min statistics. */
function rowsFromSingleRowFiles(files: LogFile[], fields: SchemaField[]): Row[] {
  return files.map((file) => {
    const stats = JSON.parse(file.stats!);
    expect(stats.numRecords).toBe(1);
    expect(file.deletionVector).toBeUndefined();
    const row: Row = {};
    for (const field of fields) {
      const physical = physicalName(field);
      if (physical in file.partitionValues) {
        const raw = file.partitionValues[physical];
        row[field.name] = raw === null ? null : field.type === 'string' ? raw : Number(raw);
      } else {
        expect(stats.maxValues[physical]).toEqual(stats.minValues[physical]);
        row[field.name] = stats.minValues[physical];
      }
    }
    return row;
  });
}

const sortedText = (rows: Row[]) =>
  rows
    .map((r) =>
      JSON.stringify(
        Object.keys(r)
          .sort()
          .map((k) => [k, r[k]]),
      ),
    )
    .sort();

async function libraryRows(store: ObjectStore, version?: number): Promise<Row[]> {
  const snapshot = await loadSnapshot(store, version === undefined ? {} : { version });
  const out: Row[] = [];
  for await (const batch of scanTable(snapshot)) for (const row of batchToRows(batch, snapshot.schema)) out.push(JSON.parse(stringifyJson(row)));
  return out;
}

async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

async function cliRows(store: ObjectStore): Promise<Row[]> {
  const { code, out, err } = await runCli(['read', store.url]);
  expect(err).toBe('');
  expect(code).toBe(0);
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((e) => (statSync(join(dir, e)).isDirectory() ? filesUnder(join(dir, e), `${prefix}${e}/`) : [`${prefix}${e}`]));
}

async function copyFixture(name: string, store: ObjectStore): Promise<void> {
  for (const rel of filesUnder(join(FIXTURES, name))) await store.write(rel, readFileSync(join(FIXTURES, name, rel)));
}

const BACKENDS: { name: string; open: (label: string) => ObjectStore }[] = [
  { name: 'local', open: (label) => new LocalStore(mkdtempSync(join(tmpdir(), `sluice-combo-${label}-`))) },
  {
    name: 'azurite',
    open: (label) =>
      openStore(
        azuriteUri(
          uniqueContainer(
            `combo-${label}`
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

for (const backend of BACKENDS) {
  describe(`tables combining deletion vectors with mapping, clustering or V2 checkpoints (${backend.name})`, () => {
    for (const table of TABLES) {
      it(`${table.name}: library, CLI read and describe agree with the log replayed here`, async () => {
        const { files, fields, partitionColumns } = replayLogJson(table.name);
        const wanted = table.rows ?? rowsFromSingleRowFiles(files, fields);
        expect(wanted.length).toBe(netRowCount(files));
        const store = backend.open(table.name);
        await copyFixture(table.name, store);
        expect(sortedText(await libraryRows(store))).toEqual(sortedText(wanted));
        expect(sortedText(await cliRows(store))).toEqual(sortedText(wanted));
        const described = await runCli(['describe', store.url, '--json']);
        expect(described.code).toBe(0);
        const d = JSON.parse(described.out);
        expect(d.numRecords).toBe(wanted.length);
        expect(d.protocol.readerFeatures).toEqual(expect.arrayContaining(table.features));
        expect(d.schema.map((f: { name: string }) => f.name)).toEqual(fields.map((f) => f.name));
        expect(d.partitionColumns).toEqual(partitionColumns);
        expect(d.numDeletionVectors).toBe(files.filter((f) => f.deletionVector).length);
      });
    }

    it('table_with_partitioning_mapping: a checkpoint keeps the renamed partition column readable (value keyed by physical name id)', async () => {
      const { files, fields } = replayLogJson('table_with_partitioning_mapping');
      const store = backend.open('part-mapping-ckpt');
      await copyFixture('table_with_partitioning_mapping', store);
      await checkpointTable(store);
      expect(JSON.parse(Buffer.from(await store.read('_delta_log/_last_checkpoint')).toString('utf8')).version).toBe(4);
      expect(sortedText(await cliRows(store))).toEqual(sortedText(rowsFromSingleRowFiles(files, fields)));
    });

    it('maintenance of the liquid-clustering and V2-checkpoint tables is refused, naming the writer features it would break', async () => {
      for (const [name, features] of [
        ['table_with_liquid_clustering', /domainMetadata, rowTracking, liquid/],
        ['v2-json-sidecars-struct-stats-only', /v2Checkpoint/],
      ] as const) {
        const store = backend.open(name.slice(0, 12));
        await copyFixture(name, store);
        const { code, err } = await runCli(['optimize', store.url]);
        expect(code).not.toBe(0);
        expect(err).toMatch(features);
        const { files, fields } = replayLogJson(name);
        expect(sortedText(await libraryRows(store))).toEqual(sortedText(rowsFromSingleRowFiles(files, fields)));
      }
    });

    it('dv-with-columnmapping: time travel before and after its checkpoint (version 10) drops the rows each version deleted', async () => {
      const store = backend.open('dv-cm-versions');
      await copyFixture('dv-with-columnmapping', store);
      for (const version of [0, 5, 10, 12]) {
        expect(sortedText(await libraryRows(store, version))).toEqual(sortedText(goldenDvMappingRows(version)));
      }
      const { code, out } = await runCli(['read', store.url, '--version', '3']);
      expect(code).toBe(0);
      expect(
        sortedText(
          out
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l)),
        ),
      ).toEqual(sortedText(goldenDvMappingRows(3)));
    });

    it('dv-with-columnmapping: optimized and vacuumed, it keeps exactly the rows Spark returns, under physical names', async () => {
      const store = backend.open('dv-cm-optimize');
      await copyFixture('dv-with-columnmapping', store);
      const { files, fields } = replayLogJson('dv-with-columnmapping');
      const partPhysical = physicalName(fields.find((f) => f.name === 'part')!);
      const before = await loadSnapshot(store);
      const withDv = [...before.state.files.values()].filter((f) => f.deletionVector);
      expect(withDv.length).toBe(files.filter((f) => f.deletionVector).length);
      expect(withDv.length).toBeGreaterThan(0);

      const result = await optimizeTable(store, { targetFileBytes: 1024 * 1024 });
      const commit = Buffer.from(await store.read(`_delta_log/${String(result.version).padStart(20, '0')}.json`)).toString('utf8');
      const actions = commit
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const removes = actions.filter((a) => a.remove).map((a) => a.remove);
      for (const file of withDv) expect(removes.find((r) => r.path === file.path)?.deletionVector).toEqual(file.deletionVector);
      // The rewritten files stay in the table's physical layout: partition values and statistics keyed by physical names.
      const adds = actions.filter((a) => a.add).map((a) => a.add);
      // One file per partition that had several files or a DV (0, 2 and 4 keep their one clean file).
      const byPartition = new Map<string | null, LogFile[]>();
      for (const f of files) byPartition.set(f.partitionValues[partPhysical], [...(byPartition.get(f.partitionValues[partPhysical]) ?? []), f]);
      const rewritten = [...byPartition.values()].filter((group) => group.length > 1 || group.some((f) => f.deletionVector));
      expect(adds.length).toBe(rewritten.length);
      expect(removes.length).toBe(rewritten.flat().length);
      for (const add of adds) {
        expect(Object.keys(add.partitionValues)).toEqual([partPhysical]);
        expect(add.path.startsWith(`${partPhysical}=`)).toBe(true);
        expect(Object.keys(JSON.parse(add.stats).minValues).sort()).toEqual(
          fields
            .filter((f) => f.name !== 'part')
            .map(physicalName)
            .sort(),
        );
        expect(add.deletionVector).toBeUndefined();
        // Spark reads mapped columns by physical name (mode name) or field id: the new Parquet must carry both.
        const bytes = await store.read(decodeURIComponent(add.path));
        const columns = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer).schema.slice(1);
        expect(columns.map((c) => [c.name, c.field_id])).toEqual(
          fields.filter((f) => f.name !== 'part').map((f) => [physicalName(f), f.metadata?.['delta.columnMapping.id']]),
        );
      }
      expect(adds.reduce((n, a) => n + JSON.parse(a.stats).numRecords, 0)).toBe(netRowCount(rewritten.flat()));
      expect(sortedText(await libraryRows(store))).toEqual(sortedText(GOLDEN_DV_MAPPING));

      const vacuumed = await vacuumTable(store, { now: Date.now() + 2 * 86_400_000, retentionHours: 0, force: true });
      // All 15 DV files the DELETEs wrote: the live ones lost their last reference in optimize, the others earlier.
      expect(vacuumed.files.filter((f) => /deletion_vector_.*\.bin$/.test(f)).length).toBe(15);
      const stored: string[] = [];
      for await (const info of store.list('')) if (!info.path.startsWith('_')) stored.push(info.path);
      const live = [...(await loadSnapshot(store)).state.files.values()].map((f) => decodeURIComponent(f.path));
      expect(stored.sort()).toEqual(live.sort());
      expect(sortedText(await cliRows(store))).toEqual(sortedText(GOLDEN_DV_MAPPING));

      // A checkpoint of the optimized table keeps the mapping: a reader starting from it gets the same rows.
      await checkpointTable(store);
      expect(sortedText(await libraryRows(store))).toEqual(sortedText(GOLDEN_DV_MAPPING));
    });
  });
}
