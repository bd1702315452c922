/**
 * Column writers: values into Arrow columns of their Delta type. A writer fills Arrow buffers directly
 * from UTF-8 bytes (the CSV hot path) or from JSON values, and produces exactly the Arrow types
 * `deltaToArrowType` names, like `buildVector` (which it uses for nested types). A value that does
 * not convert exactly leaves its row null and the writer says so; what happens to the value then
 * (rescue, ./rescue.ts) is the reader's business.
 */
import * as arrow from 'apache-arrow';
import { decimalParams, DeltaType, deltaToArrowType } from '../delta/schema';
import { buildVector } from '../delta/values';
import { writeShortAscii } from './bytes';
import { JsonNumber, JsonRaw, parseJsonValue, toJsonText } from './json-text';
import {
  DateFormat,
  parseBoolean,
  parseDate,
  parseDecimalExact,
  parseDoubleExact,
  parseInt64,
  parseSmallInt,
  parseTimestamp,
  scanNumber,
  NUM_NONE,
} from './scalars';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
let scratch = new Uint8Array(1024);

/** UTF-8 bytes of a string in a reused buffer; returns the length. */
function encodeScratch(text: string): number {
  if (text.length * 3 > scratch.length) scratch = new Uint8Array(text.length * 3 + 1024);
  const ascii = writeShortAscii(text, scratch, 0);
  return ascii >= 0 ? ascii : encoder.encodeInto(text, scratch).written;
}

/** The text a JSON scalar stands for when converted to a typed column. */
function scalarText(v: unknown): string | null {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return Number.isFinite(v) ? String(v) : null;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return v.toString();
  }
  if (v instanceof JsonNumber || v instanceof JsonRaw) return v.text;
  return null;
}

/** Builds one Arrow column of a Delta type, row by row. Rows not written are null. */
export abstract class ColumnWriter {
  protected readonly validity: Uint8Array;
  protected validCount = 0;

  /** Rows in the column (see `truncate`). */
  length: number;

  /**
   * @param type the column's Delta type
   * @param capacity rows the column can hold
   */
  constructor(
    readonly type: DeltaType,
    capacity: number,
  ) {
    this.length = capacity;
    this.validity = new Uint8Array((capacity + 7) >> 3);
  }

  /**
   * End the column after `rows` rows (fewer than its capacity), before `finish`.
   *
   * @param rows the number of rows written
   */
  truncate(rows: number): void {
    this.length = Math.min(rows, this.length);
  }

  /** Elements of the value buffer that the kept rows use. */
  protected dataLength(): number {
    return this.length;
  }

  protected mark(i: number): void {
    this.validity[i >> 3] |= 1 << (i & 7);
    this.validCount++;
  }

  /**
   * Store the value written as UTF-8 text.
   *
   * @param i row index
   * @param buf bytes
   * @param s start
   * @param e end
   * @returns false when the text does not convert exactly (the row stays null)
   */
  abstract bytes(i: number, buf: Uint8Array, s: number, e: number): boolean;

  /**
   * Store a JSON value (string, number, boolean, JsonNumber, JsonRaw, bigint).
   *
   * @param i row index
   * @param v the value (not null)
   * @returns false when it does not convert exactly
   */
  value(i: number, v: unknown): boolean {
    const text = scalarText(v);
    if (text === null) return false;
    const n = encodeScratch(text);
    return this.bytes(i, scratch, 0, n);
  }

  protected base(): Record<string, unknown> {
    const nullCount = this.length - this.validCount;
    // Rows past a truncation were never written, so validCount counts only the kept rows.
    return nullCount
      ? { type: deltaToArrowType(this.type), length: this.length, nullCount, nullBitmap: this.validity.subarray(0, (this.length + 7) >> 3) }
      : { type: deltaToArrowType(this.type), length: this.length, nullCount: 0 };
  }

  /** The finished column for writers that keep one fixed-width value buffer. */
  protected finishWith(data: { subarray(start: number, end: number): ArrayBufferView }): arrow.Data {
    return arrow.makeData({ ...this.base(), data: data.subarray(0, this.dataLength()) } as never);
  }

  /** @returns the finished column */
  abstract finish(): arrow.Data;
}

class StringWriter extends ColumnWriter {
  private data: Buffer;
  private readonly offsets: Int32Array;
  private pos = 0;
  private settled = 0;

  constructor(type: DeltaType, length: number, capacity: number) {
    super(type, length);
    this.data = Buffer.allocUnsafeSlow(Math.max(16, capacity));
    this.offsets = new Int32Array(length + 1);
  }

  protected reserve(i: number, n: number): void {
    const offsets = this.offsets;
    for (let r = this.settled; r <= i; r++) offsets[r] = this.pos;
    this.settled = i + 1;
    if (this.pos + n > this.data.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(this.data.length * 2, this.pos + n));
      this.data.copy(grown, 0, 0, this.pos);
      this.data = grown;
    }
  }

  bytes(i: number, buf: Uint8Array, s: number, e: number): boolean {
    const n = e - s;
    this.reserve(i, n);
    const data = this.data;
    let at = this.pos;
    if (n < 48) for (let p = s; p < e; p++) data[at++] = buf[p];
    else {
      data.set(buf.subarray(s, e), at);
      at += n;
    }
    this.pos = at;
    this.mark(i);
    return true;
  }

  override value(i: number, v: unknown): boolean {
    if (typeof v === 'string') {
      // Encode straight into the column's buffer (a UTF-8 character is at most 3 bytes per UTF-16 unit).
      this.reserve(i, v.length * 3);
      const ascii = writeShortAscii(v, this.data, this.pos);
      if (ascii >= 0) {
        this.pos += ascii;
        this.mark(i);
        return true;
      }
      this.pos += this.data.write(v, this.pos, 'utf8');
      this.mark(i);
      return true;
    }
    if (v instanceof Uint8Array) return false;
    return super.value(i, v);
  }

  finish(): arrow.Data {
    for (let r = this.settled; r <= this.length; r++) this.offsets[r] = this.pos;
    this.settled = this.length + 1;
    const data = new Uint8Array(this.data.buffer, this.data.byteOffset, this.pos);
    return arrow.makeData({ ...this.base(), valueOffsets: this.offsets.subarray(0, this.length + 1), data } as never);
  }
}

class BinaryWriter extends StringWriter {
  override value(i: number, v: unknown): boolean {
    if (v instanceof Uint8Array) return this.bytes(i, v, 0, v.length);
    return super.value(i, v);
  }
}

/**
 * How one fixed-width column type is stored: its value buffer, how text and JSON values go into a
 * row, and how much of the buffer the kept rows use. Every fixed-width type (ints, long, double,
 * float, boolean, date, timestamp, decimal) differs only in these, so one writer serves them all.
 */
interface FixedWidthLayout<D> {
  /** The value buffer of a column of `length` rows. */
  allocate(length: number): D;
  /** The typed array `finish` hands to Arrow (the buffer itself unless it wraps one). */
  view(data: D): { subarray(start: number, end: number): ArrayBufferView };
  /** Elements of the view that `rows` rows use. */
  elements(rows: number): number;
  /** Parse UTF-8 text into row `i`; false when it does not convert exactly. */
  text(data: D, i: number, buf: Uint8Array, s: number, e: number): boolean;
  /**
   * Store a JSON value whose type allows a direct path: true stored, false refused, undefined to
   * convert it through its text instead.
   */
  json?(data: D, i: number, v: unknown): boolean | undefined;
}

/** Writes int64 values into a BigInt64Array through 32-bit halves, avoiding a BigInt per value. */
class Int64Store {
  readonly data: BigInt64Array;
  private readonly words: Int32Array;
  constructor(length: number) {
    this.data = new BigInt64Array(length);
    this.words = new Int32Array(this.data.buffer);
  }
  set(i: number, v: number | bigint): void {
    if (typeof v === 'bigint') {
      this.data[i] = v;
      return;
    }
    // Safe integers only: the low word is v mod 2^32, the high word the floored quotient.
    this.words[i * 2] = v >>> 0;
    this.words[i * 2 + 1] = Math.floor(v / 4294967296);
  }
}

/** A column of one fixed-width type, laid out by its `FixedWidthLayout`. */
class FixedWidthWriter<D> extends ColumnWriter {
  private readonly data: D;
  constructor(
    type: DeltaType,
    length: number,
    private readonly layout: FixedWidthLayout<D>,
  ) {
    super(type, length);
    this.data = layout.allocate(length);
  }

  protected override dataLength(): number {
    return this.layout.elements(this.length);
  }

  bytes(i: number, buf: Uint8Array, s: number, e: number): boolean {
    if (!this.layout.text(this.data, i, buf, s, e)) return false;
    this.mark(i);
    return true;
  }

  override value(i: number, v: unknown): boolean {
    const stored = this.layout.json?.(this.data, i, v);
    if (stored === undefined) return super.value(i, v);
    if (stored) this.mark(i);
    return stored;
  }

  finish(): arrow.Data {
    return this.finishWith(this.layout.view(this.data));
  }
}

type IntArray = Int8Array | Int16Array | Int32Array;
const rowsOf = (rows: number): number => rows;
const itself = <T>(data: T): T => data;
/** Dates and timestamps take JSON strings through their text; other JSON values are no date. */
const textOnly = (_data: unknown, _i: number, v: unknown): boolean | undefined => (typeof v === 'string' ? undefined : false);

function smallIntLayout(allocate: (length: number) => IntArray, min: number, max: number): FixedWidthLayout<IntArray> {
  return {
    allocate,
    view: itself,
    elements: rowsOf,
    text(data, i, buf, s, e) {
      const v = parseSmallInt(buf, s, e, min, max);
      if (v !== v) return false;
      data[i] = v;
      return true;
    },
    json(data, i, v) {
      if (typeof v !== 'number') return undefined;
      if (!Number.isInteger(v) || v < min || v > max) return false;
      data[i] = v;
      return true;
    },
  };
}

const LONG: FixedWidthLayout<Int64Store> = {
  allocate: (length) => new Int64Store(length),
  view: (store) => store.data,
  elements: rowsOf,
  text(store, i, buf, s, e) {
    const v = parseInt64(buf, s, e);
    if (v !== v) return false;
    store.set(i, v);
    return true;
  },
  json(store, i, v) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) return undefined;
    store.set(i, v);
    return true;
  },
};

const DOUBLE: FixedWidthLayout<Float64Array> = {
  allocate: (length) => new Float64Array(length),
  view: itself,
  elements: rowsOf,
  text(data, i, buf, s, e) {
    const v = parseDoubleExact(buf, s, e);
    if (v !== v) return false;
    data[i] = v;
    return true;
  },
  json(data, i, v) {
    if (typeof v !== 'number') return undefined;
    // json-text only yields numbers for integers of up to 15 digits, which doubles hold exactly.
    data[i] = v;
    return true;
  },
};

/** `float` columns exist only when declared: the nearest float is accepted (it is what was asked for). */
const FLOAT: FixedWidthLayout<Float32Array> = {
  allocate: (length) => new Float32Array(length),
  view: itself,
  elements: rowsOf,
  text(data, i, buf, s, e) {
    const sh = scanNumber(buf, s, e);
    if (sh.kind === NUM_NONE || sh.leadingZero) return false;
    const v = Math.fround(Number(decoder.decode(buf.subarray(s, e))));
    if (!Number.isFinite(v)) return false;
    data[i] = v;
    return true;
  },
};

const BOOLEAN: FixedWidthLayout<Uint8Array> = {
  allocate: (length) => new Uint8Array((length + 7) >> 3),
  view: itself,
  elements: (rows) => (rows + 7) >> 3,
  text(data, i, buf, s, e) {
    const v = parseBoolean(buf, s, e);
    if (v < 0) return false;
    if (v) data[i >> 3] |= 1 << (i & 7);
    return true;
  },
  json(data, i, v) {
    if (typeof v !== 'boolean') return undefined;
    if (v) data[i >> 3] |= 1 << (i & 7);
    return true;
  },
};

function dateLayout(format: DateFormat): FixedWidthLayout<Int32Array> {
  return {
    allocate: (length) => new Int32Array(length),
    view: itself,
    elements: rowsOf,
    json: textOnly,
    text(data, i, buf, s, e) {
      const v = parseDate(buf, s, e, format);
      if (v !== v) return false;
      data[i] = v;
      return true;
    },
  };
}

function timestampLayout(utc: boolean): FixedWidthLayout<Int64Store> {
  return {
    allocate: LONG.allocate,
    view: LONG.view,
    elements: rowsOf,
    json: textOnly,
    text(store, i, buf, s, e) {
      const v = parseTimestamp(buf, s, e, utc);
      if (v !== v) return false;
      store.set(i, v);
      return true;
    },
  };
}

/** Decimals are 128-bit little-endian two's complement, four 32-bit words a row. */
function decimalLayout(precision: number, scale: number): FixedWidthLayout<Uint32Array> {
  return {
    allocate: (length) => new Uint32Array(length * 4),
    view: itself,
    elements: (rows) => rows * 4,
    text(data, i, buf, s, e) {
      const v = parseDecimalExact(buf, s, e, precision, scale);
      if (v === null) return false;
      let n = BigInt.asUintN(128, v);
      for (let w = 0; w < 4; w++) {
        data[i * 4 + w] = Number(n & 0xffffffffn);
        n >>= 32n;
      }
      return true;
    },
  };
}

class VoidWriter extends ColumnWriter {
  bytes(): boolean {
    return false;
  }
  finish(): arrow.Data {
    return arrow.makeData({ type: deltaToArrowType('void'), length: this.length, nullCount: this.length } as never);
  }
}

/** Struct, array and map columns: the text must be JSON of that shape. */
class NestedWriter extends ColumnWriter {
  private readonly values: unknown[];
  constructor(type: DeltaType, length: number) {
    super(type, length);
    this.values = new Array(length).fill(null);
  }

  bytes(i: number, buf: Uint8Array, s: number, e: number): boolean {
    let parsed: unknown;
    try {
      parsed = parseJsonValue(decoder.decode(buf.subarray(s, e)));
    } catch {
      return false;
    }
    return this.value(i, parsed);
  }

  override value(i: number, v: unknown): boolean {
    if (v instanceof JsonRaw || typeof v === 'string') {
      try {
        v = parseJsonValue(typeof v === 'string' ? v : v.text);
      } catch {
        return false;
      }
    }
    const converted = coerceJs(v, this.type);
    if (converted === INVALID) return false;
    this.values[i] = converted;
    return true;
  }

  finish(): arrow.Data {
    return buildVector(this.type, this.values.slice(0, this.length)).data[0];
  }
}

const INVALID = Symbol('invalid');

/** A parsed JSON value as the JS form of a Delta type (see values.ts), or INVALID. */
function coerceJs(v: unknown, type: DeltaType): unknown {
  if (v === null || v === undefined) return null;
  if (typeof type === 'string') {
    if (type === 'string') return typeof v === 'object' && !(v instanceof JsonNumber) ? toJsonText(v) : scalarText(v);
    if (type === 'boolean' && typeof v === 'boolean') return v;
    if (type === 'double' && typeof v === 'number') return v;
    const text = scalarText(v);
    return text === null ? INVALID : parseScalar(type, text);
  }
  if (type.type === 'struct') {
    if (typeof v !== 'object' || Array.isArray(v) || v instanceof JsonNumber) return INVALID;
    const out: Record<string, unknown> = {};
    const source = v as Record<string, unknown>;
    const lower = new Map(Object.keys(source).map((k) => [k.toLowerCase(), k]));
    for (const f of type.fields) {
      const key = f.name in source ? f.name : lower.get(f.name.toLowerCase());
      const c = key === undefined ? null : coerceJs(source[key], f.type);
      if (c === INVALID) return INVALID;
      out[f.name] = c;
    }
    return out;
  }
  if (type.type === 'array') {
    if (!Array.isArray(v)) return INVALID;
    const out: unknown[] = [];
    for (const item of v) {
      const c = coerceJs(item, type.elementType);
      if (c === INVALID) return INVALID;
      out.push(c);
    }
    return out;
  }
  if (typeof v !== 'object' || Array.isArray(v) || v instanceof JsonNumber) return INVALID;
  const out = new Map<unknown, unknown>();
  for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
    const key = coerceJs(k, type.keyType);
    const value = coerceJs(item, type.valueType);
    if (key === INVALID || key === null || value === INVALID) return INVALID;
    out.set(key, value);
  }
  return out;
}

/** Text as the JS form of a primitive Delta type, or INVALID (same grammar as the writers). */
function parseScalar(type: string, text: string): unknown {
  const n = encodeScratch(text);
  const b = scratch;
  switch (type) {
    case 'binary':
      return encoder.encode(text);
    case 'boolean': {
      const v = parseBoolean(b, 0, n);
      return v < 0 ? INVALID : v === 1;
    }
    case 'integer':
    case 'short':
    case 'byte': {
      const bits = type === 'integer' ? 31 : type === 'short' ? 15 : 7;
      const v = parseSmallInt(b, 0, n, -(2 ** bits), 2 ** bits - 1);
      return v !== v ? INVALID : v;
    }
    case 'long': {
      const v = parseInt64(b, 0, n);
      return v !== v ? INVALID : BigInt(v);
    }
    case 'double': {
      const v = parseDoubleExact(b, 0, n);
      return v !== v ? INVALID : v;
    }
    case 'float': {
      const sh = scanNumber(b, 0, n);
      const v = sh.kind === NUM_NONE || sh.leadingZero ? NaN : Math.fround(Number(text));
      return Number.isFinite(v) ? v : INVALID;
    }
    case 'date': {
      const v = parseDate(b, 0, n, 'yyyy-MM-dd');
      return v !== v ? INVALID : v;
    }
    case 'timestamp':
    case 'timestamp_ntz': {
      const v = parseTimestamp(b, 0, n, type === 'timestamp');
      return v !== v ? INVALID : BigInt(v);
    }
  }
  const dec = decimalParams(type);
  if (dec) return parseDecimalExact(b, 0, n, dec.precision, dec.scale) ?? INVALID;
  return INVALID;
}

/**
 * A writer for a column of a Delta type.
 *
 * @param type the column's Delta type
 * @param length rows in the batch
 * @param dateFormat the format of `date` columns
 * @param capacity expected bytes of a string or binary column
 * @returns the writer
 */
export function createWriter(type: DeltaType, length: number, dateFormat: DateFormat = 'yyyy-MM-dd', capacity = 0): ColumnWriter {
  if (typeof type !== 'string') return new NestedWriter(type, length);
  switch (type) {
    // Without a size hint start small: string buffers grow by doubling.
    case 'string':
      return new StringWriter(type, length, capacity || Math.min(length * 8, 1 << 16));
    case 'binary':
      return new BinaryWriter(type, length, capacity || Math.min(length * 8, 1 << 16));
    case 'integer':
      return new FixedWidthWriter(
        type,
        length,
        smallIntLayout((n) => new Int32Array(n), -2147483648, 2147483647),
      );
    case 'short':
      return new FixedWidthWriter(
        type,
        length,
        smallIntLayout((n) => new Int16Array(n), -32768, 32767),
      );
    case 'byte':
      return new FixedWidthWriter(
        type,
        length,
        smallIntLayout((n) => new Int8Array(n), -128, 127),
      );
    case 'long':
      return new FixedWidthWriter(type, length, LONG);
    case 'double':
      return new FixedWidthWriter(type, length, DOUBLE);
    case 'float':
      return new FixedWidthWriter(type, length, FLOAT);
    case 'boolean':
      return new FixedWidthWriter(type, length, BOOLEAN);
    case 'date':
      return new FixedWidthWriter(type, length, dateLayout(dateFormat));
    case 'timestamp':
    case 'timestamp_ntz':
      return new FixedWidthWriter(type, length, timestampLayout(type === 'timestamp'));
    case 'void':
      return new VoidWriter(type, length);
  }
  const dec = decimalParams(type);
  if (dec) return new FixedWidthWriter(type, length, decimalLayout(dec.precision, dec.scale));
  throw new Error(`formats: no writer for type ${type}`);
}
