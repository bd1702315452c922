/**
 * The schema contract of a silver/gold table: the columns (and Delta types) every stored row has.
 *
 * A new table takes its columns from the SQL's output (PII-tagged columns are strings). An existing
 * table's columns and types are the contract; output values are cast to them with TRY_CAST, and a value
 * that does not fit is a contract violation (the row is quarantined), never a failed run. Columns the
 * SQL newly produces are added to the table (nullable), columns it no longer produces read as NULL —
 * additive schema evolution, as for streaming tables. Changing a column's type, the partitioning or
 * the keys needs a full refresh.
 *
 * Upserted tables carry two hidden layout columns (see upsert.ts): `_key_hash` and the partition
 * column `_key_bucket`; downstream SQL never sees them.
 */
import type { DeltaField, Snapshot } from '../delta';
import { formatDeltaType } from '../delta';
import type { TableDefinition } from '../pipeline';
import { deltaTypeOf, type SqlColumn } from '../sql';
import { fullRefreshCommand, RefreshError } from './errors';
import { piiActionOf } from './pii';

/** Hidden column: 63-bit hash of the key values. */
export const KEY_HASH = '_key_hash';
/** Hidden partition column: `_key_hash` modulo the table's bucket count. */
export const KEY_BUCKET = '_key_bucket';
/** Columns of an upserted table that downstream SQL does not see. */
export const HIDDEN_COLUMNS: readonly string[] = [KEY_HASH, KEY_BUCKET];
/** Table property holding the key columns (JSON list). */
export const KEYS_PROPERTY = 'sluice.keys';
/** Table property holding the bucket count. */
export const BUCKETS_PROPERTY = 'sluice.keyBuckets';

/** The columns stored rows have. */
export interface Contract {
  /** Data columns in table order (hidden layout columns excluded). */
  columns: DeltaField[];
  /** Columns the table does not have yet (empty for a new table). */
  added: DeltaField[];
  /** Contract columns the SQL does not produce (they are stored as NULL). */
  missing: string[];
}

/**
 * Work out the contract from the SQL output and the target (if it exists).
 *
 * @param table the table definition
 * @param output the SQL's output columns (provenance columns excluded)
 * @param target the target's snapshot, or null when it does not exist
 * @param definitionFile pipeline file, for the full-refresh command in messages
 * @returns the contract
 */
export function deriveContract(table: TableDefinition, output: SqlColumn[], target: Snapshot | null, definitionFile?: string): Contract {
  const fail = (code: 'definition' | 'target-mismatch', message: string): never => {
    throw new RefreshError(code, table.name, `refresh ${table.name}: ${message}`);
  };
  const names = new Set<string>();
  for (const column of output) {
    const lower = column.name.toLowerCase();
    if (names.has(lower)) fail('definition', `the SQL produces column "${column.name}" twice; give the columns distinct names`);
    names.add(lower);
    if (lower.startsWith('__') || lower.startsWith('_sluice_') || (HIDDEN_COLUMNS.includes(lower) && table.keys.length)) {
      fail('definition', `the SQL produces column "${column.name}", a name Sluice reserves (_sluice_*, __*, ${HIDDEN_COLUMNS.join(', ')}); rename it`);
    }
  }
  const has = (c: string) => output.some((o) => o.name === c);
  for (const [what, columns] of [
    ['keys', table.keys],
    ['sequenceBy', table.sequenceBy],
    ['partitionBy', table.partitionBy],
    ['pii', Object.keys(table.pii)],
  ] as const) {
    for (const c of columns)
      if (!has(c)) fail('definition', `${what} names column "${c}", which the SQL does not produce (it produces ${output.map((o) => o.name).join(', ')})`);
  }
  const typed = (column: SqlColumn): DeltaField => {
    let type;
    try {
      type = piiActionOf(table.pii, column.name) ? 'string' : deltaTypeOf(column.type, column.name);
    } catch (err) {
      return fail('definition', (err as Error).message);
    }
    return { name: column.name, type, nullable: true, metadata: {} };
  };
  if (!target) return { columns: output.map(typed), added: [], missing: [] };

  const rebuild = `rebuild it with \`${fullRefreshCommand(definitionFile, table.name)}\``;
  const hidden = table.keys.length ? HIDDEN_COLUMNS : [];
  const expectedPartitions = table.keys.length ? [...table.partitionBy, KEY_BUCKET] : table.partitionBy;
  if (JSON.stringify(target.partitionColumns) !== JSON.stringify(expectedPartitions)) {
    fail(
      'target-mismatch',
      `table ${target.table} is partitioned by [${target.partitionColumns.join(', ')}] but the definition asks for [${expectedPartitions.join(', ')}]; ${rebuild}`,
    );
  }
  const storedKeys = target.metadata.configuration?.[KEYS_PROPERTY];
  if (table.keys.length && storedKeys !== JSON.stringify(table.keys)) {
    fail(
      'target-mismatch',
      `table ${target.table} is keyed by ${storedKeys ?? 'nothing'} but the definition's keys are ${JSON.stringify(table.keys)}; ${rebuild}`,
    );
  }
  const columns = target.schema.fields.filter((f) => !hidden.includes(f.name));
  for (const [column] of Object.entries(table.pii)) {
    const field = columns.find((f) => f.name === column);
    if (field && field.type !== 'string')
      fail('target-mismatch', `column "${column}" is tagged pii but table ${target.table} stores it as ${formatDeltaType(field.type)}, not string; ${rebuild}`);
  }
  const added = output.filter((o) => !columns.some((f) => f.name === o.name)).map(typed);
  const missing = columns.filter((f) => !has(f.name)).map((f) => f.name);
  return { columns: [...columns, ...added], added, missing };
}
