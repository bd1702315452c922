/**
 * JSON records a host already decoded (the Node Functions library hands Event Hubs bodies over as JS
 * objects), read into batches straight from their values: the same result as writing each record as a
 * line of JSON text and reading the lines as NDJSON (json.ts), without making and scanning that text.
 *
 * Exact or nothing. A record is taken only when its text would be a flat JSON object whose members
 * the lossless parser (json-text.ts) would hand over as the values read here:
 *
 * - the record is a plain object (prototype `Object.prototype` or null) without `toJSON`;
 * - its members are those `JSON.stringify` writes (own enumerable string keys, in `Object.keys`
 *   order; members whose value is `undefined`, a function or a symbol are left out);
 * - each value is a string, a boolean, null or a number. Non-finite numbers are written `null`, and
 *   `-0` is written `0`. Any other number is the JS number the lossless parser gives back, or its
 *   text `String(v)` kept as a `JsonNumber` (a fraction, an exponent, 16 digits or more); the column
 *   writers turn a JS number into that same text wherever they convert through text, and store it
 *   as it is only where that text would give the same value (doubles, integers in range), so the
 *   numbers stay JS numbers here, and inference takes them as their text (`addJsNumber`);
 * - the record's text stays within `maxRecordBytes` (bounded from above from its lengths).
 *
 * Anything else — a nested object or array, a bigint, a `Date`, a getter that throws, a possibly
 * over-long record — makes `readJsonObjects` decline the whole set (null), and the caller reads the
 * JSON text instead, which also words the reason of a record that cannot be read. Declining the
 * whole set, not one record, keeps the columns (keys in order of first appearance) and the inferred
 * types those of one read of all records.
 */
import * as arrow from 'apache-arrow';
import { createWriter, type ColumnWriter } from './column-writers';
import { ColumnProfile, type Inferred } from './infer';
import { columnNames } from './names';
import { toJsonText } from './json-text';
import { checkReadOptions } from './options';
import { emptyResult, maxRecordBytes, ReadContext, readContext, rowsPerBatch } from './reader';
import { RecordOutput } from './records';
import { Rescue } from './rescue';
import { RESCUED_COLUMN, type ReadOptions, type ReadResult } from './types';

/** One record's members as the lossless parser would give them. */
interface Members {
  keys: readonly string[];
  values: unknown[];
}

/** A value could not be taken exactly: the whole set is read from its JSON text instead. */
const DECLINE = Symbol('decline');

/**
 * A member value as the lossless parser gives it after `JSON.stringify`, or `undefined` when
 * `JSON.stringify` leaves the member out, or DECLINE.
 */
function parsedValue(v: unknown): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      if (!Number.isFinite(v)) return null;
      return v === 0 ? 0 : v;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      return v === null ? null : DECLINE;
    default:
      return DECLINE; // bigint: JSON.stringify throws
  }
}

/** Upper bound of the UTF-8 length of a value's JSON text (a UTF-16 unit is at most 6 bytes escaped). */
function textBound(v: unknown): number {
  return typeof v === 'string' ? 6 * v.length + 2 : 25;
}

/**
 * A record's members, or null when it cannot be taken exactly.
 *
 * @param record one record as the host decoded it
 * @param limit the longest record text allowed
 * @param last the previous record's members (its keys are shared when they are the same)
 * @returns the members
 */
function membersOf(record: unknown, limit: number, last: Members | null): Members | null {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return null;
  const proto = Object.getPrototypeOf(record);
  if (proto !== Object.prototype && proto !== null) return null;
  const object = record as Record<string, unknown>;
  if (typeof object.toJSON === 'function') return null;
  // Both in the order JSON.stringify writes the members; the values array is this record's own.
  let keys: readonly string[] = Object.keys(object);
  const values: unknown[] = Object.values(object);
  if (values.length !== keys.length) return null; // a getter changed the object as it was read
  let bytes = 2;
  let kept = 0;
  for (let i = 0; i < keys.length; i++) {
    const value = parsedValue(values[i]);
    if (value === DECLINE) return null;
    if (value === undefined) continue;
    if (kept !== i) (keys as string[])[kept] = keys[i];
    values[kept++] = value;
    bytes += 6 * keys[i].length + 4 + textBound(value);
  }
  if (bytes > limit) return null;
  if (kept !== keys.length) {
    (keys as string[]).length = kept;
    values.length = kept;
  }
  // Records of one shape share one key list, so the columns of a record are matched once per shape.
  if (last && sameKeys(last.keys, keys)) keys = last.keys;
  return { keys, values };
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What of a read the caller needs. */
export interface ObjectReadOptions {
  /**
   * `infer` (default): every column's type is inferred, as the text reader does. `skip`: columns the
   * target schema has (types fixed by it) are not, so their `inference` notes say so instead of what
   * the values would have made of them; the rows are the same (only a `date` column's format comes
   * from its values, and those are still inferred).
   */
  targetColumns?: 'infer' | 'skip';
}

/** The note of a column whose values were not looked at: the target schema gives its type. */
const NOT_INFERRED: Inferred = { type: 'string', note: 'not inferred (the target schema gives the type)', dateFormat: 'yyyy-MM-dd' };

/**
 * The inferred type of each column from the sampled records' values, or NOT_INFERRED for target
 * columns the caller does not want inferred.
 */
function inferTypes(
  members: readonly Members[],
  sampled: number,
  keys: readonly string[],
  keyToColumn: ReadonlyMap<string, number>,
  options: ReadOptions,
  targetColumns: 'infer' | 'skip',
): Inferred[] {
  const wanted = keys.map(() => true);
  if (targetColumns === 'skip' && options.targetSchema) {
    // Matched as RecordOutput matches them: by the storable name, case-insensitively.
    const target = new Map(options.targetSchema.fields.map((f) => [f.name.toLowerCase(), f.type]));
    const { names } = columnNames(keys, [RESCUED_COLUMN, ...(options.reservedColumns ?? [])]);
    names.forEach((name, i) => {
      const type = target.get(name.toLowerCase());
      if (type !== undefined && type !== 'date') wanted[i] = false;
    });
  }
  const profiles = keys.map((_, i) => (wanted[i] ? new ColumnProfile() : null));
  let shape: readonly string[] | null = null;
  let shapeProfiles: (ColumnProfile | null)[] = [];
  for (let r = 0; r < sampled; r++) {
    const m = members[r];
    if (m.keys !== shape) {
      shape = m.keys;
      shapeProfiles = shape.map((key) => profiles[keyToColumn.get(key)!]);
    }
    for (let i = 0; i < shapeProfiles.length; i++) {
      const profile = shapeProfiles[i];
      if (profile === null) continue;
      const value = m.values[i];
      if (typeof value === 'number') profile.addJsNumber(value);
      else profile.addJson(value);
    }
  }
  return profiles.map((p) => (p ? p.resolve() : NOT_INFERRED));
}

/**
 * Read decoded JSON records as NDJSON of their JSON text would be read (`readInput` with format
 * `ndjson`), straight from the values.
 *
 * @param records the records, in order (record n is row n)
 * @param name input name for messages
 * @param options hints, target schema, reserved columns, sample and batch sizes, as for `readInput`
 * @param read what of the result the caller needs (default: all of it)
 * @returns the result with its batches made, or null when a record cannot be taken exactly (see the
 *   module doc): then read `JSON.stringify` of each record as NDJSON instead. Throws only
 *   `ReadOptionsError`, as `readInput` does.
 */
export function readJsonObjects(records: readonly unknown[], name: string, options: ReadOptions = {}, read: ObjectReadOptions = {}): ReadResult | null {
  checkReadOptions(options);
  const limit = maxRecordBytes({ options } as ReadContext);
  const members: Members[] = new Array(records.length);
  let last: Members | null = null;
  for (let r = 0; r < records.length; r++) {
    let m: Members | null;
    try {
      m = membersOf(records[r], limit, last);
    } catch {
      return null; // a getter threw: the JSON text route says what is wrong with the record
    }
    if (!m) return null;
    members[r] = last = m;
  }

  const result = emptyResult('ndjson', 'none');
  if (records.length === 0) {
    result.fatal = { byteOffset: 0, reason: 'empty file' };
    return result;
  }
  const ctx = readContext(name, options, result, () => 0);

  // Columns are the keys of the sample in order of first appearance, typed from its values.
  const keyToColumn = new Map<string, number>();
  const keys: string[] = [];
  const sampled = Math.min(ctx.sampleRows, records.length);
  let shape: readonly string[] | null = null;
  for (let r = 0; r < sampled; r++) {
    const m = members[r];
    if (m.keys === shape) continue;
    shape = m.keys;
    for (const key of shape) {
      if (keyToColumn.has(key)) continue;
      keyToColumn.set(key, keys.length);
      keys.push(key);
    }
  }
  const inferred = inferTypes(members, sampled, keys, keyToColumn, options, read.targetColumns ?? 'infer');
  const output = new RecordOutput(
    ctx,
    keys.map((key, i) => ({ name: key, inferred: inferred[i] })),
  );
  const { layout } = output;
  const outputOf = new Int32Array(keys.length).fill(-1);
  layout.columns.forEach((col, i) => {
    if (col.input >= 0) outputOf[col.input] = i;
  });
  const batchRows = rowsPerBatch(ctx.batchRows, keys.length);
  const batches: arrow.RecordBatch[] = [];
  for (let start = 0; start < records.length; start += batchRows) {
    const rows = Math.min(batchRows, records.length - start);
    const writers: ColumnWriter[] = layout.columns.map((col) => createWriter(col.type, rows, col.dateFormat));
    const rescue = new Rescue();
    // Output column of each member, worked out once per key list (records of one shape share it).
    shape = null;
    let shapeOutput: Int32Array = new Int32Array(0);
    for (let r = 0; r < rows; r++) {
      const m = members[start + r];
      if (m.keys !== shape) {
        shape = m.keys;
        shapeOutput = new Int32Array(shape.length);
        for (let i = 0; i < shape.length; i++) {
          const col = keyToColumn.get(shape[i]);
          shapeOutput[i] = col === undefined ? -1 : outputOf[col];
        }
      }
      for (let i = 0; i < shapeOutput.length; i++) {
        const value = m.values[i];
        if (value === null) continue;
        const out = shapeOutput[i];
        // A key first seen after the sample: the schema is decided, so the value is rescued.
        if (out < 0) rescue.add(r, shape[i], toJsonText(value));
        else if (!writers[out].value(r, value)) rescue.add(r, layout.columns[out].name, toJsonText(value));
      }
      members[start + r] = undefined as never; // let the members go as the rows are written
    }
    batches.push(
      output.batch(
        writers.map((w) => w.finish()),
        rescue,
        rows,
      ),
    );
  }
  output.end(records.length, null, 0);
  result.batches = (async function* () {
    yield* batches;
  })();
  return result;
}
