/**
 * The quarantine table `<table>__quarantine`, beside its table: rows that violated the schema contract
 * or a `quarantine` expectation, kept for inspection and replay.
 *
 * Columns: the row's columns as text (a value that failed its cast is kept exactly as the SQL produced
 * it; PII columns protected as in the table), then `_failed_expectations` (the rules it violated),
 * `_source_table`, `_source_version` (the source version whose rows produced it), `_source_file` (the
 * source data file, when the SQL is row-level) and `_quarantined_at`. Storing the row as text keeps
 * every value whatever the table's types become; a row column named like one of those five is stored as
 * `_row_<name>`. New row columns are added to the table as they appear.
 *
 * The quarantine commit carries the same `txn` as the table's update, and is written first: a retried
 * refresh finds it applied and does not quarantine the rows twice.
 *
 * A keyed table's quarantine is keyed like the table, so a file delivered again (a new ETag, ingested
 * again) does not multiply its failing rows:
 * - one row per key, the latest wins as in the table: the greatest `sequenceBy`, then the latest
 *   arrival (a row quarantined again replaces the one quarantined before unless that one is later by
 *   `sequenceBy`). Rows with a null key are not keyed and are all kept.
 * - a row the table already holds with exactly the same values (e.g. moved there by `quarantine replay`
 *   after a fix the running definition does not have yet) is not quarantined again: it is counted as a
 *   duplicate of the stored row, as the upsert counts unchanged rows (`releaseStoredRows`). A row whose
 *   value could not be cast to its column never counts as the same: its value is not comparable.
 */
import { activeFiles, type DeltaField, type DeltaStruct, type Snapshot } from '../delta';
import type { AddFile } from '../delta/actions';
import { writeDataFiles } from '../delta/writer';
import { duckType, quoteIdent, quoteLiteral, queryBatches, registerView, stageFiles, type SqlEngine } from '../sql';
import { FILE_ID_COLUMN, ROW_COLUMN } from '../sql/source';
import type { ObjectStore } from '../storage/types';
import { ACTION, BATCH, CONTRACT_RULE, FAILED } from './batch';
import type { BatchOutcome } from './types';
import { alreadyApplied, commitUpdate, openOrCreate } from './commit';
import { BUCKETS_PROPERTY, HIDDEN_COLUMNS, KEY_BUCKET, KEY_HASH, type Contract } from './contract';
import { fileBucket, filesHoldingKeys, keyHashSql, keysMatchSql } from './key-index';
import { piiActionOf, piiExpression, protectedColumn } from './pii';
import { QUARANTINE_SUFFIX, type PiiAction, type TableDefinition } from '../pipeline';

// Named in the pipeline folder, which the catalog reads too.
export { QUARANTINE_SUFFIX };

const META_FIELDS: DeltaField[] = [
  { name: '_failed_expectations', type: { type: 'array', elementType: 'string', containsNull: true }, nullable: true, metadata: {} },
  { name: '_source_table', type: 'string', nullable: true, metadata: {} },
  { name: '_source_version', type: 'long', nullable: true, metadata: {} },
  { name: '_source_file', type: 'string', nullable: true, metadata: {} },
  { name: '_quarantined_at', type: 'timestamp', nullable: true, metadata: {} },
];

/**
 * The quarantine column for a row column.
 *
 * @param column the row's column name
 * @returns the name it is stored under
 */
export function quarantineColumnName(column: string): string {
  return META_FIELDS.some((f) => f.name === column) ? `_row_${column}` : column;
}

/** Where the quarantined rows come from. */
export interface QuarantineSource {
  /** Source (definition name) recorded in `_source_table`. */
  table: string;
  /** Version recorded when a row's file is unknown. */
  version: number;
  /** Side table of file ids → path, version (rows with provenance). */
  filesTable?: string;
}

/**
 * Write the batch's quarantined rows, with the update's txns.
 *
 * @param engine the engine holding `__batch`
 * @param store store rooted at the quarantine table
 * @param contract the table's columns
 * @param outcome the batch counts (for the raw-text columns)
 * @param pii the table's PII tags
 * @param source lineage of the rows
 * @param txns appId → source version, as committed to the table
 * @param now the quarantine time
 * @param keyed the table's keys and `sequenceBy`, when it has keys: the quarantine then keeps one row per key
 * @returns version written (null when nothing was quarantined or it was already written)
 */
export async function writeQuarantine(
  engine: SqlEngine,
  store: ObjectStore,
  contract: Contract,
  outcome: BatchOutcome,
  pii: Record<string, PiiAction>,
  source: QuarantineSource,
  txns: Record<string, number>,
  now: Date,
  keyed?: Pick<TableDefinition, 'keys' | 'sequenceBy'>,
): Promise<number | null> {
  if (outcome.quarantined === 0) return null;
  const rowFields: DeltaField[] = contract.columns.map((f) => ({ name: quarantineColumnName(f.name), type: 'string', nullable: true, metadata: {} }));
  const wanted: DeltaStruct = { type: 'struct', fields: [...rowFields, ...META_FIELDS] };
  const snapshot = await openOrCreate(store, wanted, []);
  if (alreadyApplied(snapshot, txns)) return null;
  const known = new Set(snapshot.schema.fields.map((f) => f.name));
  const schema: DeltaStruct = { type: 'struct', fields: [...snapshot.schema.fields, ...rowFields.filter((f) => !known.has(f.name))] };

  const columns = schema.fields.map((f) => {
    const original = contract.columns.find((c) => quarantineColumnName(c.name) === f.name);
    if (original) {
      const raw = outcome.rawColumns.get(original.name);
      const value = raw ? `coalesce(${raw}, CAST(b.${quoteIdent(original.name)} AS VARCHAR))` : `b.${quoteIdent(original.name)}`;
      const action = piiActionOf(pii, original.name);
      return `${action ? piiExpression(value, action) : value} AS ${quoteIdent(f.name)}`;
    }
    switch (f.name) {
      case '_failed_expectations':
        return `b.${FAILED} AS ${quoteIdent(f.name)}`;
      case '_source_table':
        return `${quoteLiteral(source.table)} AS ${quoteIdent(f.name)}`;
      case '_source_version':
        return `${source.filesTable ? `coalesce(f.version, ${source.version})` : source.version}::BIGINT AS ${quoteIdent(f.name)}`;
      case '_source_file':
        return `${source.filesTable ? 'f.path' : 'NULL::VARCHAR'} AS ${quoteIdent(f.name)}`;
      case '_quarantined_at':
        return `make_timestamp(${BigInt(now.getTime()) * 1000n}::BIGINT) AS ${quoteIdent(f.name)}`;
    }
    return `NULL::VARCHAR AS ${quoteIdent(f.name)}`;
  });
  const from = source.filesTable ? `${BATCH} b LEFT JOIN ${quoteIdent(source.filesTable)} f ON b.${FILE_ID_COLUMN} = f.file_id` : `${BATCH} b`;
  let sql = `SELECT ${columns.join(', ')} FROM ${from} WHERE b.${ACTION} = 'quarantine' ORDER BY b.${FILE_ID_COLUMN}, b.${ROW_COLUMN}`;
  let removes: AddFile[] = [];
  if (keyed?.keys.length) {
    const replaced = await latestPerKey(
      engine,
      store,
      snapshot,
      schema,
      contract,
      keyed,
      `SELECT ${columns.join(', ')}, ${keyed.sequenceBy.map((c, i) => `b.${quoteIdent(c)} AS __seq_${i}, `).join('')}b.${FILE_ID_COLUMN} AS __arrival_file, b.${ROW_COLUMN} AS __arrival_row FROM ${from} WHERE b.${ACTION} = 'quarantine'`,
    );
    sql = replaced.sql;
    removes = replaced.removes;
  }
  const adds = await writeDataFiles(
    { store, schema, partitionColumns: snapshot.partitionColumns },
    queryBatches(engine, sql, schema, `quarantine of ${source.table} rows`),
  );
  const result = await commitUpdate(store, {
    snapshot,
    schema,
    adds,
    removes,
    txns,
    operation: 'WRITE',
    operationParameters: { mode: 'Append', quarantine: true },
    commitInfo: { sluiceQuarantine: { source: source.table, rows: outcome.quarantined } },
  });
  return result.skipped ? null : result.version;
}

/**
 * One row per key in a keyed quarantine: per key, the latest by `sequenceBy` among the update's
 * quarantined rows and the row quarantined before (its text cast back to the column's type), the
 * latest arrival breaking ties (the stored row arrived first). The quarantine files holding one of the
 * update's keys are rewritten with the winners.
 *
 * @returns the query of the rows to write (in `schema`) and the files they replace
 */
async function latestPerKey(
  engine: SqlEngine,
  store: ObjectStore,
  snapshot: Snapshot,
  schema: DeltaStruct,
  contract: Contract,
  keyed: Pick<TableDefinition, 'keys' | 'sequenceBy'>,
  incoming: string,
): Promise<{ sql: string; removes: AddFile[] }> {
  const keys = keyed.keys.map((k) => quoteIdent(quarantineColumnName(k)));
  const columns = schema.fields.map((f) => quoteIdent(f.name)).join(', ');
  const context = 'quarantine: one row per key';
  await engine.run(`CREATE OR REPLACE TEMP TABLE __quarantine_new AS ${incoming}`, context);
  let candidates = 'SELECT * FROM __quarantine_new';
  let removes: AddFile[] = [];
  const files = activeFiles(snapshot);
  if (files.length) {
    // Quarantines are small next to their tables: their files are read whole, with no key index.
    const staged = await stageFiles(engine, store, files, `quarantine ${store.url}`);
    await registerView(engine, '__quarantine_old', { schema: snapshot.schema, partitionColumns: snapshot.partitionColumns, files: staged, provenance: true });
    const same = keys.map((k) => `o.${k} = n.${k}`).join(' AND ');
    const holding = (
      await engine.rows(`SELECT DISTINCT o.${FILE_ID_COLUMN} AS id FROM __quarantine_old o SEMI JOIN __quarantine_new n ON ${same} ORDER BY 1`, context)
    ).map((r) => Number(r.id));
    if (holding.length) {
      const known = new Set(snapshot.schema.fields.map((f) => f.name));
      const old = schema.fields.map((f) => (known.has(f.name) ? `o.${quoteIdent(f.name)}` : `NULL::VARCHAR AS ${quoteIdent(f.name)}`));
      const sequence = keyed.sequenceBy.map((c, i) => {
        const type = contract.columns.find((f) => f.name === c)?.type ?? 'string';
        const stored = quarantineColumnName(c);
        return `${known.has(stored) ? `TRY_CAST(o.${quoteIdent(stored)} AS ${duckType(type)})` : 'NULL'} AS __seq_${i}`;
      });
      candidates += ` UNION ALL SELECT ${[...old, ...sequence].join(', ')}, -1 AS __arrival_file, -1 AS __arrival_row FROM __quarantine_old o WHERE o.${FILE_ID_COLUMN} IN (${holding.join(', ')})`;
      removes = holding.map((id) => files[id]);
    }
  }
  const order = [...keyed.sequenceBy.map((_, i) => `__seq_${i} DESC NULLS LAST`), '__arrival_file DESC', '__arrival_row DESC'].join(', ');
  const sql = `SELECT ${columns} FROM (${candidates})
    QUALIFY row_number() OVER (PARTITION BY ${keys.join(', ')} ORDER BY ${order}) = 1 OR ${keys.map((k) => `${k} IS NULL`).join(' OR ')}`;
  return { sql, removes };
}

/**
 * Keep, rather than quarantine, the rows the table already holds with exactly the same values: they
 * were moved there (by a replay) after failing rules the definition still has. They become kept rows,
 * which the upsert then merges away as duplicates of the stored ones.
 *
 * @param engine the engine holding `__batch`
 * @param store store rooted at the table
 * @param target the table as the update read it
 * @param table the (keyed) definition
 * @param contract the table's columns
 * @param outcome the batch counts, adjusted here
 * @returns how many rows are no longer quarantined
 */
export async function releaseStoredRows(
  engine: SqlEngine,
  store: ObjectStore,
  target: Snapshot,
  table: TableDefinition,
  contract: Contract,
  outcome: BatchOutcome,
): Promise<number> {
  if (!table.keys.length || outcome.quarantined === 0) return 0;
  const stored = new Set(target.schema.fields.map((f) => f.name));
  const data = contract.columns.map((f) => f.name).filter((c) => stored.has(c) && !HIDDEN_COLUMNS.includes(c));
  const context = `refresh ${table.name}: quarantined rows already in the table`;
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE __quarantine_candidates AS
     SELECT *, ${keyHashSql(table.keys)} AS ${KEY_HASH}, CAST(${keyHashSql(table.keys)} % ${Number(target.metadata.configuration?.[BUCKETS_PROPERTY] ?? table.buckets)} AS INTEGER) AS ${KEY_BUCKET}
     FROM (SELECT ${data.map((c) => `${protectedColumn(c, table.pii)} AS ${quoteIdent(c)}`).join(', ')}, ${FILE_ID_COLUMN}, ${ROW_COLUMN}
           FROM ${BATCH} WHERE ${ACTION} = 'quarantine' AND NOT (${CONTRACT_RULE}))`,
    context,
  );
  const buckets = new Set((await engine.rows(`SELECT DISTINCT ${KEY_BUCKET} AS b FROM __quarantine_candidates`, context)).map((r) => Number(r.b)));
  const holding = await filesHoldingKeys(
    engine,
    store,
    activeFiles(target).filter((f) => buckets.has(fileBucket(f) ?? -1)),
    '__quarantine_candidates',
  );
  if (holding.length === 0) return 0;
  const staged = await stageFiles(engine, store, holding, `table ${table.name}`);
  await registerView(engine, '__quarantine_stored', { schema: target.schema, partitionColumns: target.partitionColumns, files: staged });
  const equal = data.map((c) => `c.${quoteIdent(c)} IS NOT DISTINCT FROM t.${quoteIdent(c)}`).join(' AND ');
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE __quarantine_released AS
       SELECT DISTINCT c.${FILE_ID_COLUMN} AS f, c.${ROW_COLUMN} AS r FROM __quarantine_candidates c JOIN __quarantine_stored t ON ${keysMatchSql(table.keys, 'c', 't')} AND ${equal};
     UPDATE ${BATCH} SET ${ACTION} = 'keep' FROM __quarantine_released s
       WHERE ${BATCH}.${FILE_ID_COLUMN} IS NOT DISTINCT FROM s.f AND ${BATCH}.${ROW_COLUMN} IS NOT DISTINCT FROM s.r;`,
    context,
  );
  const [{ n }] = await engine.rows('SELECT count(*) AS n FROM __quarantine_released', context);
  const released = Number(n);
  outcome.quarantined -= released;
  outcome.kept += released;
  return released;
}
