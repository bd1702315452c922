/**
 * A byte-level scanner for the common JSON record: one flat object of strings, numbers, booleans and
 * nulls, read straight from UTF-8 bytes into member positions, without a JS string or object per value.
 *
 * It is a fast path in front of the lossless parser (json-text.ts), never a second opinion: whenever it
 * accepts a record, the lossless parser accepts it too and yields the same members with the same
 * values; whenever the record holds something it does not handle exactly (a nested object or array,
 * an escaped key, a `\u` escape of a surrogate, `-0`, any syntax error), it declines and the caller
 * parses the record losslessly, which also words the error of a malformed one.
 *
 * Members come out as column numbers (of the keys given at construction, -1 for another key), a kind
 * and a byte range: strings as their unescaped UTF-8 bytes (in the input, or in `scratch` when the
 * string had escapes), numbers as their text, plain integers of up to 15 digits also as their value
 * (what the lossless parser turns into a JS number).
 */
import type { DeltaType } from '../delta/schema';
import type { ColumnWriter } from './column-writers';
import { JsonNumber } from './json-text';

/** A member's value is `null`. */
const NULL = 0;
export { NULL as JSON_NULL };
/** `true`. */
const TRUE = 1;
export { TRUE as JSON_TRUE };
/** `false`. */
const FALSE = 2;
export { FALSE as JSON_FALSE };
/** A string: its unescaped UTF-8 bytes. */
const STRING = 3;
export { STRING as JSON_STRING };
/** An integer of up to 15 digits (a JS number for the lossless parser): text and `intValue`. */
const INT = 4;
export { INT as JSON_INT };
/** Any other number (fraction, exponent, 16 digits or more: a `JsonNumber`): its text. */
const NUMBER = 5;
export { NUMBER as JSON_NUMBER };

const QUOTE = 0x22;
const utf8 = new TextDecoder();
const BACKSLASH = 0x5c;

const HEX = new Int8Array(256).fill(-1);
for (let d = 0; d < 10; d++) HEX[0x30 + d] = d;
for (let d = 0; d < 6; d++) HEX[0x41 + d] = HEX[0x61 + d] = 10 + d;

/** The byte a one-character escape stands for (0 when it is not one). */
const SIMPLE_ESCAPE = new Uint8Array(256);
SIMPLE_ESCAPE[0x22] = 0x22;
SIMPLE_ESCAPE[0x5c] = 0x5c;
SIMPLE_ESCAPE[0x2f] = 0x2f;
SIMPLE_ESCAPE[0x62] = 0x08;
SIMPLE_ESCAPE[0x66] = 0x0c;
SIMPLE_ESCAPE[0x6e] = 0x0a;
SIMPLE_ESCAPE[0x72] = 0x0d;
SIMPLE_ESCAPE[0x74] = 0x09;

/** The members of one scanned record. Arrays grow as needed; entries past `count` are stale. */
export class JsonRecordScanner {
  /** Members in the last record scanned. */
  count = 0;
  /** Column number of each member's key, or -1 for a key not given at construction. */
  column = new Int32Array(32);
  /** JSON_NULL … JSON_NUMBER. */
  kind = new Uint8Array(32);
  /** Key bytes in the input (wanted only for keys of no column). */
  keyStart = new Int32Array(32);
  keyEnd = new Int32Array(32);
  /** Value bytes: in the input, or in `scratch` when `inScratch` (an unescaped string). */
  valueStart = new Int32Array(32);
  valueEnd = new Int32Array(32);
  inScratch = new Uint8Array(32);
  /** JSON_INT: the value. */
  intValue = new Float64Array(32);
  /** Unescaped strings of the last record scanned. */
  scratch: Buffer = Buffer.allocUnsafe(4096);
  private scratchLength = 0;

  private readonly keyBytes: (Buffer | null)[];
  private readonly columnOf = new Map<string, number>();
  /** The column whose key followed column c's last time (slot `keys.length` for the first member). */
  private readonly follows: Int32Array;

  /**
   * @param keys the keys that are columns, in column order
   */
  constructor(keys: readonly string[]) {
    // A key with a quote or backslash is written with escapes, and one that is not well-formed
    // UTF-16 (a lone surrogate) has no UTF-8 at all: neither can be matched by its bytes.
    const plain = (k: string) => !/["\\]/.test(k) && Buffer.from(k, 'utf8').toString('utf8') === k;
    this.keyBytes = keys.map((k) => (plain(k) ? Buffer.from(k, 'utf8') : null));
    keys.forEach((k, i) => {
      if (!this.columnOf.has(k)) this.columnOf.set(k, i);
    });
    this.follows = new Int32Array(keys.length + 1);
    for (let i = 0; i <= keys.length; i++) this.follows[i] = i === keys.length ? 0 : i + 1;
  }

  /**
   * Scan one record. The bytes must be valid UTF-8 (callers check this first: a record that is not
   * is bad whatever its syntax).
   *
   * @param buf the input
   * @param s start of the record text
   * @param e end of the record text
   * @returns true when the record is a flat object this scanner read exactly (members in
   *   `count`, `column`, …); false when the lossless parser must decide
   */
  scan(buf: Uint8Array, s: number, e: number): boolean {
    this.count = 0;
    this.scratchLength = 0;
    let p = skipSpace(buf, s, e);
    if (p >= e || buf[p] !== 0x7b) return false;
    p = skipSpace(buf, p + 1, e);
    if (p < e && buf[p] === 0x7d) return skipSpace(buf, p + 1, e) === e;
    let previous = this.follows.length - 1;
    const follows = this.follows;
    const keyBytes = this.keyBytes;
    for (;;) {
      if (p >= e || buf[p] !== QUOTE) return false;
      const ks = p + 1;
      // Keys mostly come in the order they came last time: compare with the expected key first.
      let col = -1;
      let ke = -1;
      const guess = follows[previous];
      const key = guess < keyBytes.length ? keyBytes[guess] : null;
      if (key !== null) {
        const n = key.length;
        if (ks + n < e && buf[ks + n] === QUOTE) {
          let i = 0;
          while (i < n && key[i] === buf[ks + i]) i++;
          if (i === n) {
            col = guess;
            ke = ks + n;
          }
        }
      }
      if (ke < 0) {
        let q = ks;
        for (;;) {
          if (q >= e) return false;
          const b = buf[q];
          if (b === QUOTE) break;
          if (b === BACKSLASH) return false;
          q++;
        }
        ke = q;
        col = this.lookUpKey(buf, ks, ke, previous);
      }
      p = ke + 1;
      if (p < e && buf[p] === 0x3a) p++;
      else {
        p = skipSpace(buf, p, e);
        if (p >= e || buf[p] !== 0x3a) return false;
        p++;
      }
      if (p < e && buf[p] <= 0x20) p = skipSpace(buf, p, e);
      if (p >= e) return false;
      const m = this.count;
      if (m === this.column.length) this.grow();
      if (col >= 0) previous = col;
      this.column[m] = col;
      this.keyStart[m] = ks;
      this.keyEnd[m] = ke;
      this.inScratch[m] = 0;
      const c = buf[p];
      if (c === QUOTE) {
        p = this.string(buf, p + 1, e, m);
        if (p < 0) return false;
      } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
        p = this.number(buf, p, e, m);
        if (p < 0) return false;
      } else if (c === 0x74) {
        if (p + 4 > e || buf[p + 1] !== 0x72 || buf[p + 2] !== 0x75 || buf[p + 3] !== 0x65) return false;
        this.kind[m] = TRUE;
        p += 4;
      } else if (c === 0x66) {
        if (p + 5 > e || buf[p + 1] !== 0x61 || buf[p + 2] !== 0x6c || buf[p + 3] !== 0x73 || buf[p + 4] !== 0x65) return false;
        this.kind[m] = FALSE;
        p += 5;
      } else if (c === 0x6e) {
        if (p + 4 > e || buf[p + 1] !== 0x75 || buf[p + 2] !== 0x6c || buf[p + 3] !== 0x6c) return false;
        this.kind[m] = NULL;
        p += 4;
      } else return false; // nested values, and anything that is no JSON value
      this.count = m + 1;
      if (p < e && buf[p] <= 0x20) p = skipSpace(buf, p, e);
      if (p >= e) return false;
      const sep = buf[p];
      if (sep === 0x7d) return skipSpace(buf, p + 1, e) === e;
      if (sep !== 0x2c) return false;
      p++;
      if (p < e && buf[p] <= 0x20) p = skipSpace(buf, p, e);
    }
  }

  /** The column of the key bytes [ks, ke), when it is not the expected one; learns the order. */
  private lookUpKey(buf: Uint8Array, ks: number, ke: number, previous: number): number {
    const col = this.columnOf.get(utf8.decode(buf.subarray(ks, ke))) ?? -1;
    if (col >= 0) this.follows[previous] = col;
    return col;
  }

  /** A string value from just after its opening quote; returns the position after it, or -1. */
  private string(buf: Uint8Array, s: number, e: number, m: number): number {
    let q = s;
    for (;;) {
      if (q >= e) return -1;
      const b = buf[q];
      if (b === QUOTE) {
        this.kind[m] = STRING;
        this.valueStart[m] = s;
        this.valueEnd[m] = q;
        return q + 1;
      }
      if (b === BACKSLASH) break;
      q++;
    }
    // Escapes: the unescaped bytes go to the scratch buffer, after the strings before them.
    if (this.scratch.length < this.scratchLength + (e - s)) {
      const grown = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.scratchLength + (e - s)));
      this.scratch.copy(grown, 0, 0, this.scratchLength);
      this.scratch = grown;
    }
    const out = this.scratch;
    const os = this.scratchLength;
    let o = os;
    for (let p = s; p < q; p++) out[o++] = buf[p];
    let p = q;
    for (;;) {
      if (p >= e) return -1;
      const b = buf[p];
      if (b === QUOTE) break;
      if (b !== BACKSLASH) {
        out[o++] = b;
        p++;
        continue;
      }
      if (p + 1 >= e) return -1;
      const x = buf[p + 1];
      const simple = SIMPLE_ESCAPE[x];
      if (simple) {
        out[o++] = simple;
        p += 2;
        continue;
      }
      if (x !== 0x75 || p + 6 > e) return -1;
      const h0 = HEX[buf[p + 2]];
      const h1 = HEX[buf[p + 3]];
      const h2 = HEX[buf[p + 4]];
      const h3 = HEX[buf[p + 5]];
      if ((h0 | h1 | h2 | h3) < 0) return -1;
      const cp = (h0 << 12) | (h1 << 8) | (h2 << 4) | h3;
      // A surrogate (half of a pair, or alone) is the lossless parser's to combine or replace.
      if (cp >= 0xd800 && cp <= 0xdfff) return -1;
      if (cp < 0x80) out[o++] = cp;
      else if (cp < 0x800) {
        out[o++] = 0xc0 | (cp >> 6);
        out[o++] = 0x80 | (cp & 0x3f);
      } else {
        out[o++] = 0xe0 | (cp >> 12);
        out[o++] = 0x80 | ((cp >> 6) & 0x3f);
        out[o++] = 0x80 | (cp & 0x3f);
      }
      p += 6;
    }
    this.kind[m] = STRING;
    this.inScratch[m] = 1;
    this.valueStart[m] = os;
    this.valueEnd[m] = o;
    this.scratchLength = o;
    return p + 1;
  }

  /** A number in JSON's grammar; returns the position after it, or -1 (also for `-0`). */
  private number(buf: Uint8Array, s: number, e: number, m: number): number {
    let p = s;
    const negative = buf[p] === 0x2d;
    if (negative) p++;
    const intStart = p;
    let c = p < e ? buf[p] : 0;
    let value = 0;
    if (c === 0x30) p++;
    else if (c >= 0x31 && c <= 0x39) {
      do {
        value = value * 10 + (c - 0x30);
        p++;
      } while (p < e && (c = buf[p]) >= 0x30 && c <= 0x39);
    } else return -1;
    const intDigits = p - intStart;
    let plain = true;
    if (p < e && buf[p] === 0x2e) {
      plain = false;
      const f = ++p;
      while (p < e && (c = buf[p]) >= 0x30 && c <= 0x39) p++;
      if (p === f) return -1;
    }
    if (p < e && (buf[p] === 0x65 || buf[p] === 0x45)) {
      plain = false;
      p++;
      if (p < e && (buf[p] === 0x2b || buf[p] === 0x2d)) p++;
      const f = p;
      while (p < e && (c = buf[p]) >= 0x30 && c <= 0x39) p++;
      if (p === f) return -1;
    }
    this.valueStart[m] = s;
    this.valueEnd[m] = p;
    if (plain && intDigits <= 15) {
      // `-0` is a JS -0, whose text is "0": left to the lossless path rather than special-cased.
      if (negative && value === 0) return -1;
      this.kind[m] = INT;
      this.intValue[m] = negative ? -value : value;
    } else this.kind[m] = NUMBER;
    return p;
  }

  private grow(): void {
    const n = this.column.length * 2;
    const widen = <T extends Int32Array | Uint8Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.column = widen(this.column, (k) => new Int32Array(k));
    this.kind = widen(this.kind, (k) => new Uint8Array(k));
    this.keyStart = widen(this.keyStart, (k) => new Int32Array(k));
    this.keyEnd = widen(this.keyEnd, (k) => new Int32Array(k));
    this.valueStart = widen(this.valueStart, (k) => new Int32Array(k));
    this.valueEnd = widen(this.valueEnd, (k) => new Int32Array(k));
    this.inScratch = widen(this.inScratch, (k) => new Uint8Array(k));
    this.intValue = widen(this.intValue, (k) => new Float64Array(k));
  }
}

/** The first position at or after `p` that is not JSON whitespace (space, tab, LF, CR). */
function skipSpace(buf: Uint8Array, p: number, e: number): number {
  while (p < e) {
    const b = buf[p];
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) break;
    p++;
  }
  return p;
}

/** Scanned values go into a column writer by its type's rules for JSON values (column-writers.ts). */
const W_TEXT = 0;
export { W_TEXT as WRITE_TEXT };
/** Numbers, booleans and decimals: plain integers as numbers, other numbers and strings as text. */
const W_SCALAR = 1;
export { W_SCALAR as WRITE_SCALAR };
/** Dates and timestamps: strings as text; any other JSON value is no date. */
const W_DATETIME = 2;
export { W_DATETIME as WRITE_DATETIME };
/** Nested and void columns: through the lossless value, as the lossless path hands it over. */
const W_VALUE = 3;
export { W_VALUE as WRITE_VALUE };

/**
 * How scanned values of a column of this type are written so that the column ends up as
 * `ColumnWriter.value` would leave it given the lossless parser's value: the writers convert every
 * JSON string and `JsonNumber` through its UTF-8 text, which the scanner already has.
 *
 * @param type the column's Delta type
 * @returns WRITE_TEXT … WRITE_VALUE
 */
export function scannedWriteWay(type: DeltaType): number {
  if (typeof type !== 'string' || type === 'void') return W_VALUE;
  if (type === 'string' || type === 'binary') return W_TEXT;
  if (type === 'date' || type === 'timestamp' || type === 'timestamp_ntz') return W_DATETIME;
  return W_SCALAR;
}

/**
 * Write member `m` of the last scanned record into row `row` of a column.
 *
 * @param scanner the scanner holding the record
 * @param buf the input the record was scanned from
 * @param m member index
 * @param writer the column's writer
 * @param way `scannedWriteWay` of the column's type
 * @param row row index in the batch
 * @returns false when the value does not convert exactly (the row stays null), as `ColumnWriter.value`
 */
export function writeScanned(scanner: JsonRecordScanner, buf: Uint8Array, m: number, writer: ColumnWriter, way: number, row: number): boolean {
  const kind = scanner.kind[m];
  if (kind === TRUE || kind === FALSE) return way === W_DATETIME ? false : writer.value(row, kind === TRUE);
  switch (way) {
    case W_TEXT:
      // Plain integers are written as JSON has them, which is the JS number's own text (`-0` never gets here).
      break;
    case W_SCALAR:
      if (kind === INT) return writer.value(row, scanner.intValue[m]);
      break;
    case W_DATETIME:
      if (kind !== STRING) return false;
      break;
    default:
      return writer.value(row, scannedValue(scanner, buf, m));
  }
  const src = scanner.inScratch[m] ? scanner.scratch : buf;
  return writer.bytes(row, src, scanner.valueStart[m], scanner.valueEnd[m]);
}

/**
 * Member `m`'s value as the lossless parser gives it (json-text.ts): string, number, `JsonNumber`,
 * boolean or null.
 *
 * @param scanner the scanner holding the record
 * @param buf the input the record was scanned from
 * @param m member index
 * @returns the value
 */
export function scannedValue(scanner: JsonRecordScanner, buf: Uint8Array, m: number): unknown {
  switch (scanner.kind[m]) {
    case NULL:
      return null;
    case TRUE:
      return true;
    case FALSE:
      return false;
    case INT:
      return scanner.intValue[m];
  }
  const src = scanner.inScratch[m] ? scanner.scratch : buf;
  const text = utf8.decode(src.subarray(scanner.valueStart[m], scanner.valueEnd[m]));
  return scanner.kind[m] === STRING ? text : new JsonNumber(text);
}

/**
 * Member `m`'s key as text.
 *
 * @param scanner the scanner holding the record
 * @param buf the input the record was scanned from
 * @param m member index
 * @returns the key
 */
export function scannedKey(scanner: JsonRecordScanner, buf: Uint8Array, m: number): string {
  return utf8.decode(buf.subarray(scanner.keyStart[m], scanner.keyEnd[m]));
}
