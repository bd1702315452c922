/**
 * Applying an update's kept rows to its table: upsert by keys (SCD type 1) or append.
 *
 * Upsert, all inside DuckDB:
 * 1. `__incoming`: the kept rows, PII protected, with `_key_hash` and `_key_bucket`.
 * 2. The live files of the touched buckets whose `_key_hash` column holds an incoming hash are staged
 *    as `__target` (see key-index.ts); their rows for incoming keys are the old versions.
 * 3. Per key, the winner among the old version and the incoming rows: greatest `sequenceBy` (or first
 *    by `orderBy`), later arrival (source version, file, row) breaking ties; the old version counts as
 *    earliest. Incoming rows that do not win, or win with the exact values already stored, are merged
 *    away as duplicates.
 * 4. Changed keys (inserted or updated) are written as new files of their buckets together with the
 *    untouched rows of the files holding their old versions, which are removed. So an update rewrites
 *    only files that hold a changed key, and adds one file per touched bucket.
 * 5. The old and new versions of updated keys (and the inserted rows) go to a change file under
 *    `_sluice_changes/`, named in the commit, for gold to recompute the partitions of both versions.
 *
 * Without keys the kept rows are appended.
 */
import { createReadStream } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { AddFile } from '../delta/actions';
import type { DeltaStruct } from '../delta';
import { writeDataFiles } from '../delta/writer';
import type { TableDefinition } from '../pipeline';
import { quoteIdent, quoteLiteral, queryBatches, registerView, stageFiles, type SqlEngine } from '../sql';
import { FILE_ID_COLUMN, ROW_COLUMN } from '../sql/source';
import type { ObjectStore } from '../storage/types';
import { ACTION, BATCH } from './batch';
import { KEY_BUCKET, KEY_HASH } from './contract';
import { fileBucket, filesHoldingKeys, keyHashSql, keysMatchSql, rememberFileHashes } from './key-index';
import { protectedColumn } from './pii';
import { partitionRuns } from './partition-slices';

/** Folder (inside the table, ignored by Delta readers and vacuum) of change files. */
export const CHANGES_DIR = '_sluice_changes';
/** Column of a change file saying what the row is. */
export const CHANGE_TYPE = '_change_type';

/** Files and counts of an applied update (nothing committed yet). */
export interface AppliedRows {
  adds: AddFile[];
  removes: AddFile[];
  inserted: number;
  updated: number;
  /** Kept rows merged away: older than the stored version, superseded in the batch, or unchanged. */
  duplicates: number;
  /** Change file written (relative to the table), when rows were updated. */
  changeFile?: string;
  changeRows: number;
  /** Buckets the update touched (conflict scope), for upserts. */
  buckets: number[];
}

/** Where rows go: the table's partitioning and its live files (none when rebuilding). */
export interface TableLayout {
  schema: DeltaStruct;
  partitionColumns: string[];
  existing: AddFile[];
}

/**
 * Append the batch's kept rows.
 *
 * @param engine the engine holding `__batch`
 * @param store store rooted at the table
 * @param layout the table schema after the update and its partitioning
 * @param table the definition
 * @returns files written and counts
 */
export async function appendRows(engine: SqlEngine, store: ObjectStore, layout: TableLayout, table: TableDefinition): Promise<AppliedRows> {
  const { schema } = layout;
  const columns = schema.fields.map((f) => `${protectedColumn(f.name, table.pii)} AS ${quoteIdent(f.name)}`).join(', ');
  const order = [...layout.partitionColumns.map(quoteIdent), FILE_ID_COLUMN, ROW_COLUMN].join(', ');
  const sql = `SELECT ${columns} FROM ${BATCH} WHERE ${ACTION} = 'keep' ORDER BY ${order}`;
  const rows = partitionRuns(queryBatches(engine, sql, schema, `refresh ${table.name}: writing rows`), schema, layout.partitionColumns);
  const adds = await writeDataFiles({ store, schema, partitionColumns: layout.partitionColumns }, rows);
  const inserted = adds.reduce((n, f) => n + (JSON.parse(f.stats ?? '{}').numRecords ?? 0), 0);
  return { adds, removes: [], inserted, updated: 0, duplicates: 0, changeRows: 0, buckets: [] };
}

/**
 * Upsert the batch's kept rows by key.
 *
 * @param engine the engine holding `__batch`
 * @param store store rooted at the table
 * @param layout the table schema after the update (hidden columns included), partitioning (with `_key_bucket`) and live files
 * @param table the definition
 * @param buckets the table's bucket count
 * @returns files written and removed, counts
 */
export async function upsertRows(engine: SqlEngine, store: ObjectStore, layout: TableLayout, table: TableDefinition, buckets: number): Promise<AppliedRows> {
  const { schema } = layout;
  const data = schema.fields.filter((f) => f.name !== KEY_HASH && f.name !== KEY_BUCKET).map((f) => f.name);
  const cols = (alias: string) => data.map((c) => `${alias}.${quoteIdent(c)}`).join(', ');
  const context = `refresh ${table.name}: upsert`;
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE __incoming AS
     SELECT *, ${keyHashSql(table.keys)} AS ${KEY_HASH}, CAST(${keyHashSql(table.keys)} % ${buckets} AS INTEGER) AS ${KEY_BUCKET}
     FROM (SELECT ${data.map((c) => `${protectedColumn(c, table.pii)} AS ${quoteIdent(c)}`).join(', ')}, coalesce(${FILE_ID_COLUMN}, 0) AS ${FILE_ID_COLUMN}, coalesce(${ROW_COLUMN}, 0) AS ${ROW_COLUMN}
           FROM ${BATCH} WHERE ${ACTION} = 'keep')`,
    context,
  );
  const touched = (await engine.rows(`SELECT DISTINCT ${KEY_BUCKET} AS b FROM __incoming ORDER BY 1`, context)).map((r) => Number(r.b));
  const bucketSet = new Set(touched);
  const candidates = layout.existing.filter((f) => bucketSet.has(fileBucket(f) ?? -1));
  const holding = await filesHoldingKeys(engine, store, candidates, '__incoming');
  const staged = await stageFiles(engine, store, holding, `table ${table.name}`);
  await registerView(engine, '__target', { schema, partitionColumns: layout.partitionColumns, files: staged, provenance: true });

  const ordering = [
    ...table.sequenceBy.map((c) => `${quoteIdent(c)} DESC NULLS LAST`),
    ...(table.orderBy ? [table.orderBy] : []),
    '__arrival_file DESC',
    '__arrival_row DESC',
  ].join(', ');
  const partitionBy = [KEY_HASH, ...table.keys.map(quoteIdent)].join(', ');
  const changedFilter = data.map((c) => `w.${quoteIdent(c)} IS DISTINCT FROM o.${quoteIdent(c)}`).join(' OR ') || 'false';
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE __old AS SELECT t.* FROM __target t SEMI JOIN __incoming i ON ${keysMatchSql(table.keys, 't', 'i')};
     CREATE OR REPLACE TEMP TABLE __winners AS
       SELECT * EXCLUDE (__rn) FROM (
         SELECT *, row_number() OVER (PARTITION BY ${partitionBy} ORDER BY ${ordering}) AS __rn FROM (
           SELECT ${cols('o')}, o.${KEY_HASH}, o.${KEY_BUCKET}, -1 AS __arrival_file, -1 AS __arrival_row, true AS __is_old FROM __old o
           UNION ALL
           SELECT ${cols('i')}, i.${KEY_HASH}, i.${KEY_BUCKET}, i.${FILE_ID_COLUMN}, i.${ROW_COLUMN}, false FROM __incoming i))
       WHERE __rn = 1 AND NOT __is_old;
     CREATE OR REPLACE TEMP TABLE __changed AS
       SELECT w.*, o.${FILE_ID_COLUMN} AS __old_file FROM __winners w LEFT JOIN __old o ON ${keysMatchSql(table.keys, 'w', 'o')}
       WHERE o.${KEY_HASH} IS NULL OR ${changedFilter};`,
    context,
  );
  const [counts] = await engine.rows(
    `SELECT (SELECT count(*) FROM __incoming) AS kept, count(*) FILTER (WHERE __old_file IS NULL) AS inserted, count(*) FILTER (WHERE __old_file IS NOT NULL) AS updated FROM __changed`,
    context,
  );
  const rewriteIds = (await engine.rows(`SELECT DISTINCT __old_file AS id FROM __changed WHERE __old_file IS NOT NULL ORDER BY 1`, context)).map((r) =>
    Number(r.id),
  );
  const removes = rewriteIds.map((id) => holding[id]);
  const inserted = Number(counts.inserted);
  const updated = Number(counts.updated);
  const result: AppliedRows = { adds: [], removes, inserted, updated, duplicates: Number(counts.kept) - inserted - updated, changeRows: 0, buckets: touched };
  if (inserted + updated === 0) return result;

  const rewritten = rewriteIds.length
    ? `SELECT ${cols('t')}, t.${KEY_HASH}, t.${KEY_BUCKET} FROM __target t WHERE t.${FILE_ID_COLUMN} IN (${rewriteIds.join(', ')}) AND NOT EXISTS (SELECT 1 FROM __changed c WHERE ${keysMatchSql(table.keys, 'c', 't')}) UNION ALL `
    : '';
  const order = [...layout.partitionColumns.map(quoteIdent), KEY_HASH].join(', ');
  const sql = `${rewritten}SELECT ${cols('c')}, c.${KEY_HASH}, c.${KEY_BUCKET} FROM __changed c ORDER BY ${order}`;
  const rows = partitionRuns(queryBatches(engine, sql, schema, `${context}: writing files`), schema, layout.partitionColumns);
  result.adds = await writeDataFiles({ store, schema, partitionColumns: layout.partitionColumns }, rows);
  await rememberWrittenHashes(engine, store, sql, result.adds, layout.partitionColumns, context);
  if (updated > 0) {
    const change = await writeChangeFile(engine, store, data, table);
    result.changeFile = change.path;
    result.changeRows = change.rows;
  }
  return result;
}

/** Most rows whose key hashes are remembered after an update (beyond, the next update reads them). */
const REMEMBERED_ROWS = 100_000;

/**
 * Tell the key index the hashes of the files just written, when each touched bucket got one file (the
 * table partitioned by bucket alone): the next update of those buckets then reads none of them.
 */
async function rememberWrittenHashes(
  engine: SqlEngine,
  store: ObjectStore,
  sql: string,
  adds: AddFile[],
  partitionColumns: string[],
  context: string,
): Promise<void> {
  if (partitionColumns.length !== 1 || partitionColumns[0] !== KEY_BUCKET) return;
  const rows = (file: AddFile) => JSON.parse(file.stats ?? '{}').numRecords as number | undefined;
  if (adds.some((f) => typeof rows(f) !== 'number') || adds.reduce((n, f) => n + rows(f)!, 0) > REMEMBERED_ROWS) return;
  const byBucket = new Map<string, AddFile[]>();
  for (const f of adds) byBucket.set(String(f.partitionValues?.[KEY_BUCKET]), [...(byBucket.get(String(f.partitionValues?.[KEY_BUCKET])) ?? []), f]);
  const hashes = new Map<string, bigint[]>();
  for (const r of await engine.rows(`SELECT CAST(${KEY_BUCKET} AS VARCHAR) AS b, ${KEY_HASH} AS h FROM (${sql})`, `${context}: key hashes written`)) {
    const list = hashes.get(String(r.b)) ?? [];
    list.push(BigInt(r.h as bigint | number));
    hashes.set(String(r.b), list);
  }
  for (const [bucket, files] of byBucket) {
    const written = hashes.get(bucket) ?? [];
    if (files.length === 1 && written.length === rows(files[0])) rememberFileHashes(store, files[0], BigInt64Array.from(written));
  }
}

async function writeChangeFile(engine: SqlEngine, store: ObjectStore, data: string[], table: TableDefinition): Promise<{ path: string; rows: number }> {
  const cols = (alias: string) => data.map((c) => `${alias}.${quoteIdent(c)}`).join(', ');
  const local = engine.path(`changes-${randomUUID()}.parquet`);
  const sql = `SELECT ${cols('o')}, o.${KEY_HASH}, 'update_preimage' AS ${CHANGE_TYPE} FROM __old o SEMI JOIN (SELECT * FROM __changed WHERE __old_file IS NOT NULL) c ON ${keysMatchSql(table.keys, 'o', 'c')}
    UNION ALL SELECT ${cols('c')}, c.${KEY_HASH}, CASE WHEN c.__old_file IS NULL THEN 'insert' ELSE 'update_postimage' END FROM __changed c`;
  await engine.run(`COPY (${sql}) TO ${quoteLiteral(local)} (FORMAT parquet, COMPRESSION zstd)`, `refresh ${table.name}: writing change records`);
  const [{ n }] = await engine.rows(`SELECT count(*) AS n FROM read_parquet(${quoteLiteral(local)})`, `refresh ${table.name}: counting change records`);
  const path = `${CHANGES_DIR}/${randomUUID()}.zstd.parquet`;
  await store.write(path, createReadStream(local) as AsyncIterable<Uint8Array>, { contentType: 'application/vnd.apache.parquet' });
  return { path, rows: Number(n) };
}
