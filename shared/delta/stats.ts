/**
 * Per-file statistics for `add.stats`: numRecords always; minValues, maxValues and nullCount for
 * primitive columns (nested inside structs as the schema nests them). Every min and max written is a
 * valid bound: strings are cut to a 32-character prefix (a cut max gets U+10FFFF appended, so it stays
 * above every value with that prefix), timestamps are kept to milliseconds (min rounded down, max up),
 * binary columns and NaN are left out.
 */
import type * as arrow from 'apache-arrow';
import { formatDate, formatDecimal, formatTimestampMicros } from './partitions';
import { decimalParams, DeltaField, DeltaStruct, DeltaType } from './schema';
import { readValue } from './values';

/** Number of leading characters kept for string bounds (Spark's default). */
export const STRING_PREFIX_LENGTH = 32;

/** Running statistics of one file. */
export interface StatsCollector {
  numRecords: number;
  columns: Map<string, ColumnStats>;
}

interface ColumnStats {
  path: string[];
  type: DeltaType;
  nullCount: number;
  min: unknown;
  max: unknown;
}

/**
 * Start collecting statistics for the given data columns.
 *
 * @param fields the columns stored in the file (partition columns excluded)
 * @param maxColumns only the first N leaf columns get min/max/nullCount (Delta's dataSkippingNumIndexedCols, default 32)
 * @returns an empty collector
 */
export function newStats(fields: DeltaField[], maxColumns = 32): StatsCollector {
  const columns = new Map<string, ColumnStats>();
  const visit = (fs: DeltaField[], prefix: string[]) => {
    for (const f of fs) {
      if (columns.size >= maxColumns) return;
      const path = [...prefix, f.name];
      if (typeof f.type !== 'string') {
        if (f.type.type === 'struct') visit(f.type.fields, path);
        continue;
      }
      columns.set(path.join('\u0000'), { path, type: f.type, nullCount: 0, min: undefined, max: undefined });
    }
  };
  visit(fields, []);
  return { numRecords: 0, columns };
}

function compare(a: unknown, b: unknown): number {
  // Code point order, which is UTF-8 byte order: how Spark (UTF8String) and delta-rs compare strings when
  // they skip files with these bounds. Plain JS `<` is UTF-16 order and puts U+E000–U+FFFF above emoji.
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (D800–DFFF) stand for code points above U+FFFF: move them above E000–FFFF.
    if (x >= 0xd800) x += x < 0xe000 ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y < 0xe000 ? 0x2000 : -0x800;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Fold one record batch into the statistics.
 *
 * @param stats the collector
 * @param batch a batch whose columns include the collector's columns
 */
export function addBatchStats(stats: StatsCollector, batch: arrow.RecordBatch): void {
  stats.numRecords += batch.numRows;
  for (const col of stats.columns.values()) {
    let data: arrow.Data | undefined = batch.getChild(col.path[0])?.data[0];
    const parents: arrow.Data[] = [];
    for (let depth = 1; data && depth < col.path.length; depth++) {
      parents.push(data);
      const idx = (data.type.children as arrow.Field[]).findIndex((c) => c.name === col.path[depth]);
      data = idx < 0 ? undefined : data.children[idx];
    }
    if (!data) {
      col.nullCount += batch.numRows;
      continue;
    }
    const skipBounds = col.type === 'binary' || col.type === 'boolean' || col.type === 'void';
    for (let i = 0; i < batch.numRows; i++) {
      // A null parent struct makes the leaf null too.
      const value = parents.some((p) => readValue(p, i, { type: 'struct', fields: [] }) === null) ? null : readValue(data, i, col.type);
      if (value === null) {
        col.nullCount++;
        continue;
      }
      if (skipBounds || (typeof value === 'number' && Number.isNaN(value))) continue;
      if (col.min === undefined || compare(value, col.min) < 0) col.min = value;
      if (col.max === undefined || compare(value, col.max) > 0) col.max = value;
    }
  }
}

/** A number to be written into JSON as is (exact decimals, 64-bit integers). */
class RawNumber {
  constructor(readonly text: string) {}
}

function boundToJson(value: unknown, type: DeltaType, isMax: boolean): unknown {
  if (typeof type !== 'string') return undefined;
  if (type === 'string') {
    const s = value as string;
    const chars = Array.from(s);
    if (chars.length <= STRING_PREFIX_LENGTH) return s;
    const prefix = chars.slice(0, STRING_PREFIX_LENGTH).join('');
    return isMax ? prefix + '\u{10FFFF}' : prefix;
  }
  if (type === 'date') return formatDate(value as number);
  if (type === 'timestamp' || type === 'timestamp_ntz') {
    let micros = value as bigint;
    const rem = ((micros % 1000n) + 1000n) % 1000n;
    if (rem !== 0n) micros = isMax ? micros - rem + 1000n : micros - rem;
    const text = formatTimestampMicros(micros).replace(/(\.\d{3})\d{3}Z$/, '$1Z');
    return type === 'timestamp' ? text : text.replace('Z', '');
  }
  if (type === 'long') return new RawNumber((value as bigint).toString());
  const dec = decimalParams(type);
  if (dec) return new RawNumber(formatDecimal(value as bigint, dec.scale));
  if (type === 'float' || type === 'double') return Number.isFinite(value as number) ? value : undefined;
  return value;
}

/**
 * The `add.stats` JSON string of a finished file.
 *
 * @param stats the collector
 * @returns the stats JSON text
 */
export function statsToJson(stats: StatsCollector): string {
  const minValues: Record<string, unknown> = {};
  const maxValues: Record<string, unknown> = {};
  const nullCount: Record<string, unknown> = {};
  const put = (target: Record<string, unknown>, path: string[], value: unknown) => {
    let node = target;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]] = value;
  };
  for (const col of stats.columns.values()) {
    put(nullCount, col.path, col.nullCount);
    if (col.min === undefined) continue;
    const min = boundToJson(col.min, col.type, false);
    const max = boundToJson(col.max, col.type, true);
    if (min !== undefined && max !== undefined) {
      put(minValues, col.path, min);
      put(maxValues, col.path, max);
    }
  }
  const marker = '\u0000raw:';
  const text = JSON.stringify({ numRecords: stats.numRecords, minValues, maxValues, nullCount }, (_k, v) => (v instanceof RawNumber ? marker + v.text : v));
  return text.replace(/"\\u0000raw:(-?[\d.]+)"/g, '$1');
}

/**
 * Parse `add.stats` (null when absent or unreadable).
 *
 * @param stats the JSON text
 * @returns the parsed object
 */
export function parseStats(
  stats: string | null | undefined,
): { numRecords?: number; minValues?: Record<string, unknown>; maxValues?: Record<string, unknown>; nullCount?: Record<string, unknown> } | null {
  if (!stats) return null;
  try {
    return JSON.parse(stats);
  } catch {
    return null;
  }
}

/**
 * Column names of a table schema that are stored in data files (all but partition columns).
 *
 * @param schema the table schema
 * @param partitionColumns the partition columns
 * @returns the data fields
 */
export function dataFields(schema: DeltaStruct, partitionColumns: string[]): DeltaField[] {
  return schema.fields.filter((f) => !partitionColumns.includes(f.name));
}
