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
 */
import type { DeltaField, DeltaStruct } from '../delta';
import { writeDataFiles } from '../delta/writer';
import { quoteIdent, quoteLiteral, queryBatches, type SqlEngine } from '../sql';
import { FILE_ID_COLUMN } from '../sql/source';
import type { ObjectStore } from '../storage/types';
import { ACTION, BATCH, FAILED, type BatchOutcome } from './batch';
import { alreadyApplied, commitUpdate, openOrCreate } from './commit';
import type { Contract } from './contract';
import { piiActionOf, piiExpression } from './pii';
import type { PiiAction } from '../pipeline/definition';

/** Suffix of a table's quarantine table path. */
export const QUARANTINE_SUFFIX = '__quarantine';

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
      case '_failed_expectations': return `b.${FAILED} AS ${quoteIdent(f.name)}`;
      case '_source_table': return `${quoteLiteral(source.table)} AS ${quoteIdent(f.name)}`;
      case '_source_version': return `${source.filesTable ? `coalesce(f.version, ${source.version})` : source.version}::BIGINT AS ${quoteIdent(f.name)}`;
      case '_source_file': return `${source.filesTable ? 'f.path' : 'NULL::VARCHAR'} AS ${quoteIdent(f.name)}`;
      case '_quarantined_at': return `make_timestamp(${BigInt(now.getTime()) * 1000n}::BIGINT) AS ${quoteIdent(f.name)}`;
    }
    return `NULL::VARCHAR AS ${quoteIdent(f.name)}`;
  });
  const from = source.filesTable ? `${BATCH} b LEFT JOIN ${quoteIdent(source.filesTable)} f ON b.${FILE_ID_COLUMN} = f.file_id` : `${BATCH} b`;
  const sql = `SELECT ${columns.join(', ')} FROM ${from} WHERE b.${ACTION} = 'quarantine' ORDER BY b.${FILE_ID_COLUMN}, b._sluice_row`;
  const adds = await writeDataFiles({ store, schema, partitionColumns: snapshot.partitionColumns }, queryBatches(engine, sql, schema, `quarantine of ${source.table} rows`));
  const result = await commitUpdate(store, {
    snapshot,
    schema,
    adds,
    removes: [],
    txns,
    operation: 'WRITE',
    operationParameters: { mode: 'Append', quarantine: true },
    commitInfo: { sluiceQuarantine: { source: source.table, rows: outcome.quarantined } },
  });
  return result.skipped ? null : result.version;
}

