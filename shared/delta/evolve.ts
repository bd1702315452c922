/**
 * Schema evolution of appends that go through the commit lane (lane.ts): an intent may name the
 * columns its data files were written with (`LaneIntent.columns`); columns the table does not have yet
 * join the table schema in the same commit that adds the files, with one `metaData` action carrying
 * the union of every new column of the batch.
 *
 * The protocol requires that "a file column present in the schema must have the same type"
 * (delta-protocol-notes §3), and Sluice writes protocol (1,2) without the `typeWidening` feature, so a
 * column's type never changes once it is in the table schema. Widening therefore happens only between
 * intents that add the same new column in the same commit: the column gets the widest of their types
 * (byte→short→integer→long→double, float→double, decimals widened to hold both, date→timestamp,
 * anything else → string as a last resort), and only intents whose files already have exactly that
 * type are committed with it. The others (and any intent whose files have a column that is already in
 * the table with another type) are left out; their writers see the new schema and write their data
 * again against it (`SchemaChangedError`). Nothing is lost: no row is committed in a type other than
 * the table's.
 */
import { decimalParams, DeltaField, DeltaStruct, DeltaType, formatDeltaType } from './schema';

/** Whether two Delta types are the same physical column type (nested nullability ignored). */
export function sameDeltaType(a: DeltaType, b: DeltaType): boolean {
  return formatDeltaType(a) === formatDeltaType(b);
}

const INTEGER_RANK: Record<string, number> = { byte: 1, short: 2, integer: 3, long: 4 };
const INTEGER_DIGITS: Record<string, number> = { byte: 3, short: 5, integer: 10, long: 19 };

/**
 * The narrowest type both values of `a` and of `b` fit in.
 *
 * @param a a Delta type
 * @param b another Delta type
 * @returns the widened type (`string` when nothing narrower holds both)
 */
export function widenType(a: DeltaType, b: DeltaType): DeltaType {
  if (sameDeltaType(a, b)) return a;
  if (a === 'void') return b;
  if (b === 'void') return a;
  if (typeof a !== 'string' || typeof b !== 'string') return 'string';
  const ra = INTEGER_RANK[a];
  const rb = INTEGER_RANK[b];
  if (ra && rb) return ra >= rb ? a : b;
  const floating = (t: string) => t === 'float' || t === 'double';
  if ((floating(a) || ra) && (floating(b) || rb)) return 'double';
  const da = decimalParams(a) ?? (ra ? { precision: INTEGER_DIGITS[a], scale: 0 } : null);
  const db = decimalParams(b) ?? (rb ? { precision: INTEGER_DIGITS[b], scale: 0 } : null);
  if (da && db) {
    const scale = Math.max(da.scale, db.scale);
    const precision = Math.max(da.precision - da.scale, db.precision - db.scale) + scale;
    return precision <= 38 ? `decimal(${precision},${scale})` : 'string';
  }
  if ((da && floating(b)) || (db && floating(a))) return 'double';
  const times = new Set([a, b]);
  if (times.has('date') && times.has('timestamp')) return 'timestamp';
  if (times.has('date') && times.has('timestamp_ntz')) return 'timestamp_ntz';
  return 'string';
}

/** What one intent brings: its id and the columns of its files (undefined: written in the table schema). */
export interface SchemaCandidate {
  id: string;
  columns?: DeltaField[];
}

/** Outcome of merging the new columns of a batch of intents into a table schema. */
export interface SchemaMergePlan {
  /** The evolved schema, or null when the batch adds no column. */
  schema: DeltaStruct | null;
  /** Ids of intents whose files fit the (evolved) schema exactly, in input order. */
  accepted: string[];
  /** Ids of intents left out, with the column that does not fit. */
  rejected: { id: string; column: string; has: DeltaType; table: DeltaType }[];
}

/**
 * The first column of `columns` that the table has with another type, or null.
 *
 * @param schema the table schema
 * @param columns the columns an intent's files were written with
 * @returns the conflict, or null when every shared column has the table's type
 */
export function conflictingColumn(schema: DeltaStruct, columns: DeltaField[] | undefined): { column: string; has: DeltaType; table: DeltaType } | null {
  if (!columns) return null;
  const byName = new Map(schema.fields.map((f) => [f.name.toLowerCase(), f]));
  for (const column of columns) {
    const field = byName.get(column.name.toLowerCase());
    if (field && !sameDeltaType(field.type, column.type)) return { column: column.name, has: column.type, table: field.type };
  }
  return null;
}

/**
 * Merge the new columns of a batch of intents into the table schema.
 *
 * @param schema the table schema now
 * @param candidates intents in commit order; their shared columns must already match the table (see `conflictingColumn`)
 * @returns the evolved schema (or null) and which intents fit it
 */
export function planSchemaMerge(schema: DeltaStruct, candidates: SchemaCandidate[]): SchemaMergePlan {
  const existing = new Set(schema.fields.map((f) => f.name.toLowerCase()));
  const added = new Map<string, DeltaField>();
  for (const candidate of candidates) {
    for (const column of candidate.columns ?? []) {
      const key = column.name.toLowerCase();
      if (existing.has(key)) continue;
      const seen = added.get(key);
      if (!seen) added.set(key, { name: column.name, type: column.type === 'void' ? 'string' : column.type, nullable: true, metadata: {} });
      else seen.type = widenType(seen.type, column.type);
    }
  }
  const evolved: DeltaStruct | null = added.size ? { type: 'struct', fields: [...schema.fields, ...added.values()] } : null;
  const accepted: string[] = [];
  const rejected: SchemaMergePlan['rejected'] = [];
  for (const candidate of candidates) {
    const conflict = conflictingColumn(evolved ?? schema, candidate.columns);
    if (conflict) rejected.push({ id: candidate.id, ...conflict });
    else accepted.push(candidate.id);
  }
  return { schema: evolved, accepted, rejected };
}
