/**
 * Rows as JSON, in the encoding Sluice's command line and tests use (the conventions of the Delta
 * conformance suite): integers and floats as JSON numbers (64-bit integers stay exact), decimals as
 * strings with exactly `scale` fraction digits, binary as lowercase hex, dates `YYYY-MM-DD`,
 * timestamps ISO-8601 UTC with six fraction digits, structs as objects, arrays as arrays, maps as
 * objects (keys as text), non-finite floats as the strings "NaN", "Infinity", "-Infinity".
 */
import type * as arrow from 'apache-arrow';
import { decimalParams, DeltaStruct, DeltaType } from './schema';
import { formatDate, formatDecimal, formatTimestampMicros } from './partitions';
import { readValue } from './values';

/** A JSON-ready value; 64-bit integers are kept as bigint so they print exactly. */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Encode one value (in its JS form, see values.ts) for JSON output.
 *
 * @param value the value
 * @param type its Delta type
 * @returns the JSON-ready value
 */
export function encodeValue(value: unknown, type: DeltaType): JsonValue {
  if (value === null || value === undefined) return null;
  if (typeof type === 'string') {
    switch (type) {
      case 'binary':
        return Buffer.from(value as Uint8Array).toString('hex');
      case 'date':
        return formatDate(value as number);
      case 'timestamp':
      case 'timestamp_ntz':
        return formatTimestampMicros(value as bigint);
      case 'float':
      case 'double': {
        const n = value as number;
        return Number.isFinite(n) ? n : String(n);
      }
    }
    const dec = decimalParams(type);
    if (dec) return formatDecimal(value as bigint, dec.scale);
    return value as JsonValue;
  }
  if (type.type === 'struct') {
    const out: Record<string, JsonValue> = {};
    for (const f of type.fields) out[f.name] = encodeValue((value as Record<string, unknown>)[f.name], f.type);
    return out;
  }
  if (type.type === 'array') return (value as unknown[]).map((v) => encodeValue(v, type.elementType));
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of value as Map<unknown, unknown>) {
    const key = encodeValue(k, type.keyType);
    out[typeof key === 'string' ? key : JSON.stringify(key, bigintReplacer)] = encodeValue(v, type.valueType);
  }
  return out;
}

/**
 * Rows of a record batch, encoded for JSON output.
 *
 * @param batch a batch in the table schema
 * @param schema the table schema
 * @returns one object per row, keyed by column name
 */
export function batchToRows(batch: arrow.RecordBatch, schema: DeltaStruct): Record<string, JsonValue>[] {
  const rows: Record<string, JsonValue>[] = [];
  const columns = schema.fields.map((f) => ({ field: f, data: batch.getChild(f.name)?.data[0] }));
  for (let i = 0; i < batch.numRows; i++) {
    const row: Record<string, JsonValue> = {};
    for (const { field, data } of columns) row[field.name] = data ? encodeValue(readValue(data, i, field.type), field.type) : null;
    rows.push(row);
  }
  return rows;
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * Serialise a JSON-ready value; bigints are written as plain JSON numbers, exactly.
 *
 * @param value the value
 * @returns JSON text on one line
 */
export function stringifyJson(value: JsonValue): string {
  const marker = '\u0000big:';
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? marker + v.toString() : v));
  return text.replace(/"\\u0000big:(-?\d+)"/g, '$1');
}
