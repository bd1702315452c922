/**
 * Column values between Arrow and JS, exact for every Delta type.
 *
 * apache-arrow's own builders go through JS numbers for timestamps and refuse numbers for int64, so
 * Sluice reads and builds the buffers itself. Every Delta type has one plain JS form, used across the
 * code base:
 *
 * | Delta type | JS value |
 * |---|---|
 * | string | string |
 * | binary | Uint8Array |
 * | boolean | boolean |
 * | byte, short, integer, float, double | number |
 * | long | bigint |
 * | decimal(p,s) | bigint, the unscaled integer |
 * | date | number of days since 1970-01-01 |
 * | timestamp, timestamp_ntz | bigint microseconds since 1970-01-01 (UTC for `timestamp`) |
 * | struct | object keyed by field name |
 * | array | array |
 * | map | `Map` |
 * | void | null |
 */
import * as arrow from 'apache-arrow';
import { variantToJson } from './variant';
import { decimalParams, DeltaType, deltaToArrowType } from './schema';

/**
 * Build an Arrow vector of a Delta type from plain JS values (nulls allowed).
 *
 * @param type the Delta type of the column
 * @param values the values in their JS form
 * @returns the vector
 */
export function buildVector(type: DeltaType, values: readonly unknown[]): arrow.Vector {
  return arrow.makeVector(buildData(type, values));
}

function validity(values: readonly unknown[]): { nullCount: number; nullBitmap?: Uint8Array } {
  let nullCount = 0;
  const bitmap = new Uint8Array(Math.ceil(values.length / 8));
  values.forEach((v, i) => {
    if (v === null || v === undefined) nullCount++;
    else bitmap[i >> 3] |= 1 << (i & 7);
  });
  return nullCount ? { nullCount, nullBitmap: bitmap } : { nullCount: 0 };
}

function buildData(type: DeltaType, values: readonly unknown[]): arrow.Data {
  const arrowType = deltaToArrowType(type);
  const length = values.length;
  const { nullCount, nullBitmap } = validity(values);
  const base = { type: arrowType, length, nullCount, nullBitmap } as Record<string, unknown>;
  if (typeof type === 'string') {
    switch (type) {
      case 'string':
      case 'variant':
      case 'binary': {
        const encoder = new TextEncoder();
        const parts = values.map((v) => (v === null || v === undefined ? new Uint8Array(0) : typeof v === 'string' ? encoder.encode(v) : (v as Uint8Array)));
        const valueOffsets = new Int32Array(length + 1);
        let total = 0;
        parts.forEach((p, i) => {
          total += p.length;
          valueOffsets[i + 1] = total;
        });
        const data = new Uint8Array(total);
        parts.forEach((p, i) => data.set(p, valueOffsets[i]));
        return arrow.makeData({ ...base, valueOffsets, data } as never);
      }
      case 'boolean': {
        const data = new Uint8Array(Math.ceil(length / 8));
        values.forEach((v, i) => {
          if (v === true) data[i >> 3] |= 1 << (i & 7);
        });
        return arrow.makeData({ ...base, data } as never);
      }
      case 'byte':
        return arrow.makeData({ ...base, data: Int8Array.from(values, (v) => Number(v ?? 0)) } as never);
      case 'short':
        return arrow.makeData({ ...base, data: Int16Array.from(values, (v) => Number(v ?? 0)) } as never);
      case 'integer':
      case 'date':
        return arrow.makeData({ ...base, data: Int32Array.from(values, (v) => Number(v ?? 0)) } as never);
      case 'float':
        return arrow.makeData({ ...base, data: Float32Array.from(values, (v) => Number(v ?? 0)) } as never);
      case 'double':
        return arrow.makeData({ ...base, data: Float64Array.from(values, (v) => Number(v ?? 0)) } as never);
      case 'long':
      case 'timestamp':
      case 'timestamp_ntz':
        return arrow.makeData({ ...base, data: BigInt64Array.from(values, (v) => BigInt((v as bigint | number | null) ?? 0)) } as never);
      case 'void':
        return arrow.makeData({ type: arrowType, length, nullCount: length } as never);
    }
    if (decimalParams(type)) {
      const data = new Uint32Array(length * 4);
      values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        let n = BigInt.asUintN(128, BigInt(v as bigint));
        for (let w = 0; w < 4; w++) {
          data[i * 4 + w] = Number(n & 0xffffffffn);
          n >>= 32n;
        }
      });
      return arrow.makeData({ ...base, data } as never);
    }
    throw new Error(`values: cannot build a column of type ${type}`);
  }
  if (type.type === 'struct') {
    const children = type.fields.map((f) =>
      buildData(
        f.type,
        values.map((v) => (v === null || v === undefined ? null : ((v as Record<string, unknown>)[f.name] ?? null))),
      ),
    );
    return arrow.makeData({ ...base, children } as never);
  }
  const valueOffsets = new Int32Array(length + 1);
  const flat: unknown[] = [];
  values.forEach((v, i) => {
    if (v !== null && v !== undefined) {
      const items = type.type === 'array' ? (v as unknown[]) : mapEntries(v);
      for (const item of items) flat.push(item);
    }
    valueOffsets[i + 1] = flat.length;
  });
  if (type.type === 'array') {
    return arrow.makeData({ ...base, valueOffsets, child: buildData(type.elementType, flat) } as never);
  }
  const entries: DeltaType = {
    type: 'struct',
    fields: [
      { name: 'key', type: type.keyType, nullable: false, metadata: {} },
      { name: 'value', type: type.valueType, nullable: type.valueContainsNull, metadata: {} },
    ],
  };
  const entryData = buildData(
    entries,
    (flat as [unknown, unknown][]).map(([key, value]) => ({ key, value })),
  );
  return arrow.makeData({ ...base, valueOffsets, child: entryData } as never);
}

function mapEntries(v: unknown): [unknown, unknown][] {
  if (v instanceof Map) return [...v.entries()];
  if (Array.isArray(v)) return v as [unknown, unknown][];
  return Object.entries(v as object);
}

/**
 * Read every value of a vector in the JS form of a Delta type. The vector may have any Arrow type
 * that represents that Delta type (other timestamp units, decimal scales, int widths, large strings,
 * dictionaries).
 *
 * @param vector the column
 * @param type the Delta type wanted
 * @returns one JS value (or null) per row
 */
export function readValues(vector: arrow.Vector, type: DeltaType): unknown[] {
  const out: unknown[] = [];
  for (const data of vector.data) for (let i = 0; i < data.length; i++) out.push(readValue(data, i, type));
  return out;
}

function isValid(data: arrow.Data, i: number): boolean {
  if (data.typeId === arrow.Type.Null) return false;
  if (!data.nullBitmap || data.nullBitmap.length === 0 || data.nullCount === 0) return true;
  const at = data.offset + i;
  return ((data.nullBitmap[at >> 3] >> (at & 7)) & 1) === 1;
}

const UNIT_TO_MICROS: Record<number, [bigint, bigint]> = {
  [arrow.TimeUnit.SECOND]: [1_000_000n, 1n],
  [arrow.TimeUnit.MILLISECOND]: [1000n, 1n],
  [arrow.TimeUnit.MICROSECOND]: [1n, 1n],
  [arrow.TimeUnit.NANOSECOND]: [1n, 1000n],
};

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/**
 * Read one value at row `i` of a data chunk in the JS form of a Delta type.
 *
 * @param data the Arrow data chunk
 * @param i row index inside the chunk
 * @param type the Delta type wanted
 * @returns the value, or null
 */
export function readValue(data: arrow.Data, i: number, type: DeltaType): unknown {
  if (!isValid(data, i)) return null;
  // Arrow JS slices a chunk's value, offset and type buffers and its struct children when it slices the
  // chunk, so `i` indexes them directly; only bitmaps (validity, booleans) keep the chunk's bit offset.
  const at = i;
  const bit = data.offset + i;
  const t = data.type;
  if (arrow.DataType.isDictionary(t)) {
    const index = Number((data.values as ArrayLike<number | bigint>)[at]);
    return readValue(data.dictionary!.data[0], index, type);
  }
  switch (t.typeId) {
    case arrow.Type.Utf8:
    case arrow.Type.LargeUtf8:
    case arrow.Type.Binary:
    case arrow.Type.LargeBinary: {
      const offsets = data.valueOffsets as ArrayLike<number | bigint>;
      const bytes = (data.values as Uint8Array).subarray(Number(offsets[at]), Number(offsets[at + 1]));
      if (type === 'binary') return bytes.slice();
      return new TextDecoder().decode(bytes);
    }
    case arrow.Type.FixedSizeBinary: {
      const width = (t as arrow.FixedSizeBinary).byteWidth;
      return (data.values as Uint8Array).slice(at * width, (at + 1) * width);
    }
    case arrow.Type.Bool:
      return (((data.values as Uint8Array)[bit >> 3] >> (bit & 7)) & 1) === 1;
    case arrow.Type.Int: {
      const raw = (data.values as ArrayLike<number | bigint>)[at];
      if (type === 'long') return BigInt(raw);
      // An integer read as a decimal: a file written before the column was widened (typeWidening).
      const decimal = decimalParams(type);
      return decimal ? BigInt(raw) * 10n ** BigInt(decimal.scale) : Number(raw);
    }
    case arrow.Type.Float:
      return Number((data.values as ArrayLike<number>)[at]);
    case arrow.Type.Date: {
      const raw = Number((data.values as ArrayLike<number | bigint>)[at]);
      const days = (t as arrow.Date_).unit === arrow.DateUnit.DAY ? raw : Math.floor(raw / 86_400_000);
      // A date read as timestamp_ntz: midnight of that day (typeWidening date → timestamp_ntz).
      return type === 'timestamp_ntz' ? BigInt(days) * 86_400_000_000n : days;
    }
    case arrow.Type.Timestamp: {
      const raw = BigInt((data.values as BigInt64Array)[at]);
      const [mul, div] = UNIT_TO_MICROS[(t as arrow.Timestamp).unit];
      return floorDiv(raw * mul, div);
    }
    case arrow.Type.Decimal: {
      const dt = t as arrow.Decimal;
      const words = dt.bitWidth / 32;
      const raw = data.values as Uint32Array;
      let n = 0n;
      for (let w = words - 1; w >= 0; w--) n = (n << 32n) | BigInt(raw[at * words + w]);
      n = BigInt.asIntN(dt.bitWidth, n);
      const want = decimalParams(type);
      if (!want) return Number(n) / 10 ** dt.scale;
      if (want.scale === dt.scale) return n;
      return want.scale > dt.scale ? n * 10n ** BigInt(want.scale - dt.scale) : n / 10n ** BigInt(dt.scale - want.scale);
    }
    case arrow.Type.Struct: {
      if (type === 'variant') return variantText(data, at);
      if (typeof type === 'string' || type.type !== 'struct') return null;
      const obj: Record<string, unknown> = {};
      const children = (t as arrow.Struct).children;
      for (const field of type.fields) {
        const idx = children.findIndex((c) => c.name === field.name);
        obj[field.name] = idx < 0 ? null : readValue(data.children[idx], at, field.type);
      }
      return obj;
    }
    case arrow.Type.List:
    case arrow.Type.LargeList: {
      if (typeof type === 'string' || type.type !== 'array') return null;
      const offsets = data.valueOffsets as ArrayLike<number | bigint>;
      const out: unknown[] = [];
      for (let j = Number(offsets[at]); j < Number(offsets[at + 1]); j++) out.push(readValue(data.children[0], j, type.elementType));
      return out;
    }
    case arrow.Type.Map: {
      if (typeof type === 'string' || type.type !== 'map') return null;
      const offsets = data.valueOffsets as ArrayLike<number>;
      const entries = data.children[0];
      const out = new Map<unknown, unknown>();
      for (let j = offsets[at]; j < offsets[at + 1]; j++) {
        out.set(readValue(entries.children[0], j, type.keyType), readValue(entries.children[1], j, type.valueType));
      }
      return out;
    }
  }
  throw new Error(`values: cannot read Arrow type ${t} as ${typeof type === 'string' ? type : type.type}`);
}

/**
 * Whether an Arrow type already is the in-memory type Sluice uses for a Delta type, so a column can be
 * reused without conversion.
 *
 * @param actual the column's Arrow type
 * @param type the Delta type
 * @returns true when no conversion is needed
 */
export function isCanonicalArrowType(actual: arrow.DataType, type: DeltaType): boolean {
  return sameType(actual, deltaToArrowType(type));
}

function sameType(a: arrow.DataType, b: arrow.DataType): boolean {
  if (a.typeId !== b.typeId) return false;
  switch (a.typeId) {
    case arrow.Type.Int:
      return (a as arrow.Int).bitWidth === (b as arrow.Int).bitWidth && (a as arrow.Int).isSigned === (b as arrow.Int).isSigned;
    case arrow.Type.Float:
      return (a as arrow.Float).precision === (b as arrow.Float).precision;
    case arrow.Type.Decimal:
      return (a as arrow.Decimal).scale === (b as arrow.Decimal).scale && (a as arrow.Decimal).bitWidth === (b as arrow.Decimal).bitWidth;
    case arrow.Type.Date:
      return (a as arrow.Date_).unit === (b as arrow.Date_).unit;
    case arrow.Type.Timestamp:
      return (a as arrow.Timestamp).unit === (b as arrow.Timestamp).unit && !(a as arrow.Timestamp).timezone === !(b as arrow.Timestamp).timezone;
    case arrow.Type.Struct:
    case arrow.Type.List:
    case arrow.Type.Map: {
      const ac = a.children as arrow.Field[];
      const bc = b.children as arrow.Field[];
      return ac.length === bc.length && ac.every((c, i) => (a.typeId !== arrow.Type.Struct || c.name === bc[i].name) && sameType(c.type, bc[i].type));
    }
  }
  return true;
}

/** An unshredded variant (a struct of the binaries `metadata` and `value`) as its JSON text. */
function variantText(data: arrow.Data, at: number): string {
  const children = (data.type as arrow.Struct).children;
  const metadata = children.findIndex((c) => c.name === 'metadata');
  const value = children.findIndex((c) => c.name === 'value');
  if (metadata < 0 || value < 0 || children.some((c) => c.name === 'typed_value')) {
    throw new Error(`values: a variant stored as ${data.type} is not an unshredded variant (binary metadata and value), which is all Sluice reads`);
  }
  return variantToJson(readValue(data.children[metadata], at, 'binary') as Uint8Array, readValue(data.children[value], at, 'binary') as Uint8Array);
}
