/**
 * Type inference from sampled values, never lossy.
 *
 * Each column keeps a profile of the kinds of values it saw; the type chosen is the narrowest one that
 * holds every sampled value exactly:
 *
 * - Numbers: integers that fit int32 → `integer`, int64 → `long`, up to 38 digits → `decimal(38,0)`,
 *   longer → `string`. Any fraction or exponent makes the column `double` when a double reproduces
 *   every sampled value digit for digit (`1.10` → 1.1 is such an exact conversion); otherwise
 *   `decimal(38,s)` with `s` the largest scale seen, or `string` when that does not fit 38 digits or
 *   exponents are involved. Leading zeros (`007`, `0123`) make a value text: a number would lose them.
 * - Booleans: `true`/`false` in any letter case.
 * - Dates: `yyyy-MM-dd`, `yyyy/MM/dd`, `M/d/yyyy`, `d/M/yyyy` and `d.M.yyyy`. Day and month are never
 *   guessed: a slash or dot column is a date only when some sampled value proves which part is the
 *   day (a part above 12) and no value contradicts it. When every sampled value is ambiguous
 *   (`03/04/2020`) the column stays `string` and the inference says so; a schema hint `date` then
 *   picks the conventional reading (`M/d/yyyy` for slashes, `d.M.yyyy` for dots) or one named in the
 *   hint (`date d/M/yyyy`).
 * - Timestamps: ISO-8601 with `T` or a space, with or without seconds, fraction, zone or offset →
 *   `timestamp` (UTC; zone-less text is read as UTC). ISO dates mixed with timestamps → `timestamp`.
 * - Anything else, mixtures of kinds (say integers and booleans), and columns without any value in the
 *   sample → `string`.
 *
 * JSON values are typed by their JSON type: numbers as above, booleans, strings stay strings unless
 * every value is an ISO date or timestamp, nested objects and arrays are kept as JSON text.
 */
import type { DeltaType } from '../delta/schema';
import { writeShortAscii } from './bytes';
import { JsonNumber, JsonRaw } from './json-text';
import {
  DateFormat,
  NUM_DEC,
  NUM_INT,
  NUM_NONE,
  parseBoolean,
  parseDoubleExact,
  parseInt64,
  parseTimestamp,
  scanDate,
  scanNumber,
  SHAPE_ISO,
  SHAPE_NONE,
  SHAPE_SLASH,
  SHAPE_YMD_SLASH,
  validDate,
} from './scalars';

const K_STRING = 1;
const K_BOOL = 2;
const K_INT = 4;
const K_DEC = 8;
const K_EXP = 16;
const K_DATE = 32;
const K_TS = 64;
const K_NESTED = 128;
const K_NUMBER = K_INT | K_DEC | K_EXP;

/** The type chosen for a column and why. */
export interface Inferred {
  type: DeltaType;
  /** Readable reason, e.g. `date M/d/yyyy`, `string (leading zeros)`. */
  note: string;
  /** The date format of a date column, or the best guess for a `date` hint or target. */
  dateFormat: DateFormat;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Date evidence of slash or dot dates. */
interface PartOrder {
  /** Values readable only month-first. */
  monthFirst: number;
  /** Values readable only day-first. */
  dayFirst: number;
  /** Values readable both ways. */
  either: number;
}

const scratch = { buf: Buffer.alloc(256) };

function encode(text: string): number {
  if (text.length * 3 > scratch.buf.length) scratch.buf = Buffer.alloc(text.length * 3 + 64);
  const ascii = writeShortAscii(text, scratch.buf, 0);
  return ascii >= 0 ? ascii : scratch.buf.write(text, 0, 'utf8');
}

/**
 * The profile of one column's sampled values.
 */
export class ColumnProfile {
  private kinds = 0;
  private values = 0;
  private stringReason = '';
  private allFit32 = true;
  private allFit64 = true;
  private maxIntDigits = 0;
  private maxScale = 0;
  private allDoubleExact = true;
  /** JS numbers with a fraction or an exponent were added (`addJsNumber`): their digits were not counted. */
  private jsFractions = false;
  private isoDates = 0;
  private ymdSlash = 0;
  private readonly slash: PartOrder = { monthFirst: 0, dayFirst: 0, either: 0 };
  private readonly dot: PartOrder = { monthFirst: 0, dayFirst: 0, either: 0 };

  /**
   * Add one non-empty text value (CSV field), given as UTF-8 bytes.
   *
   * @param buf bytes
   * @param s start
   * @param e end
   */
  addText(buf: Uint8Array, s: number, e: number): void {
    this.values++;
    const c = buf[s];
    if (c === 45 || (c >= 48 && c <= 57)) {
      if (this.addNumber(buf, s, e)) return;
      if (this.addDateOrTimestamp(buf, s, e)) return;
      this.addString('');
      return;
    }
    if (parseBoolean(buf, s, e) >= 0) {
      this.kinds |= K_BOOL;
      return;
    }
    this.addString('');
  }

  /**
   * Add one JSON value (as produced by json-text.ts); null is ignored.
   *
   * @param value the value
   */
  addJson(value: unknown): void {
    if (value === null || value === undefined) return;
    this.values++;
    if (typeof value === 'boolean') {
      this.kinds |= K_BOOL;
    } else if (typeof value === 'number') {
      // Plain integers of up to 15 digits (json-text keeps everything else as JsonNumber).
      this.kinds |= K_INT;
      const digits = Math.abs(value).toString().length;
      if (value < INT32_MIN || value > INT32_MAX) this.allFit32 = false;
      this.maxIntDigits = Math.max(this.maxIntDigits, digits);
    } else if (value instanceof JsonNumber) {
      const n = encode(value.text);
      if (!this.addNumber(scratch.buf, 0, n)) this.addString('numbers beyond decimal(38)');
    } else if (typeof value === 'string') {
      const c = value.charCodeAt(0);
      if (c >= 48 && c <= 57 && value.length <= 40) {
        const n = encode(value);
        if (this.addDateOrTimestamp(scratch.buf, 0, n, true)) return;
      }
      this.addString('');
    } else if (value instanceof JsonRaw) {
      this.kinds |= K_NESTED;
    } else {
      this.addString('');
    }
  }

  /**
   * Add one finite JS number the way its JSON text (`JSON.stringify`) would be added through
   * `addJson` after the lossless parser read it back (for values a host decoded: json-objects.ts),
   * without making that text where it can.
   *
   * A number that is not a whole number below 10^21 is written with a fraction or an exponent, in the
   * shortest text that reads back as the same double: a double holds it exactly, so such values type
   * their column `double` whatever their digits, unless text values no double holds join them, where
   * the digits would decide a decimal's scale. Values a host decoded are JS values throughout (numbers
   * that are doubles already), so that never happens; `resolve` refuses it rather than guess a scale.
   *
   * @param v the number
   */
  addJsNumber(v: number): void {
    if (Number.isInteger(v) && v < 1e21 && v > -1e21) {
      // Up to 15 digits the parser gives back this number; 16 to 21 digits stay text (rare).
      if (v < 1e15 && v > -1e15) this.addJson(v === 0 ? 0 : v);
      else this.addJson(new JsonNumber(String(v)));
      return;
    }
    this.values++;
    this.jsFractions = true;
    // JS writes an exponent from 1e21 up and below 1e-6 (Number.prototype.toString).
    const magnitude = Math.abs(v);
    this.kinds |= magnitude >= 1e21 || magnitude < 1e-6 ? K_EXP : K_DEC;
  }

  private addString(reason: string): void {
    this.kinds |= K_STRING;
    if (reason && !this.stringReason) this.stringReason = reason;
  }

  /** Returns false when the text is not a number usable as one. */
  private addNumber(buf: Uint8Array, s: number, e: number): boolean {
    const sh = scanNumber(buf, s, e);
    if (sh.kind === NUM_NONE) return false;
    if (sh.leadingZero) {
      this.stringReason ||= 'leading zeros';
      return false;
    }
    const intDigits = sh.intDigits;
    const fracDigits = sh.fracDigits;
    const kind = sh.kind;
    if (kind === NUM_INT) {
      this.kinds |= K_INT;
      this.maxIntDigits = Math.max(this.maxIntDigits, intDigits);
      if (intDigits > 10 || sh.intValue < INT32_MIN || sh.intValue > INT32_MAX) this.allFit32 = false;
      if (intDigits > 15 && Number.isNaN(parseInt64(buf, s, e) as number)) this.allFit64 = false;
      if (intDigits > 15 && Number.isNaN(parseDoubleExact(buf, s, e))) this.allDoubleExact = false;
      return true;
    }
    this.kinds |= kind === NUM_DEC ? K_DEC : K_EXP;
    this.maxIntDigits = Math.max(this.maxIntDigits, intDigits);
    if (kind === NUM_DEC) this.maxScale = Math.max(this.maxScale, fracDigits);
    if (Number.isNaN(parseDoubleExact(buf, s, e))) this.allDoubleExact = false;
    return true;
  }

  /** Returns false when the text is neither a date nor a timestamp. */
  private addDateOrTimestamp(buf: Uint8Array, s: number, e: number, isoOnly = false): boolean {
    const sh = scanDate(buf, s, e);
    if (sh.shape === SHAPE_ISO) {
      if (!validDate(sh.year, sh.a, sh.b)) return false;
      this.kinds |= K_DATE;
      this.isoDates++;
      return true;
    }
    if (sh.shape !== SHAPE_NONE && !isoOnly) {
      if (sh.shape === SHAPE_YMD_SLASH) {
        if (!validDate(sh.year, sh.a, sh.b)) return false;
        this.kinds |= K_DATE;
        this.ymdSlash++;
        return true;
      }
      const monthFirst = validDate(sh.year, sh.a, sh.b);
      const dayFirst = validDate(sh.year, sh.b, sh.a);
      if (!monthFirst && !dayFirst) return false;
      const order = sh.shape === SHAPE_SLASH ? this.slash : this.dot;
      if (monthFirst && dayFirst) order.either++;
      else if (monthFirst) order.monthFirst++;
      else order.dayFirst++;
      this.kinds |= K_DATE;
      return true;
    }
    if (e - s > 10 && !Number.isNaN(parseTimestamp(buf, s, e, true) as number)) {
      this.kinds |= K_TS;
      return true;
    }
    return false;
  }

  /**
   * The type for the sampled values.
   *
   * @returns type, note and date format
   */
  resolve(): Inferred {
    const k = this.kinds;
    const dateFormat = this.dateFormatGuess();
    const done = (type: DeltaType, note: string = typeof type === 'string' ? type : 'nested'): Inferred => ({ type, note, dateFormat });
    if (this.values === 0) return done('string', 'string (no values in sample)');
    if (k & K_NESTED) return done('string', k === K_NESTED ? 'string (nested JSON kept as text)' : 'string (mixed values)');
    if (k & K_STRING) return done('string', this.stringReason ? `string (${this.stringReason})` : 'string');
    if (k === K_BOOL) return done('boolean');
    if ((k & K_NUMBER) === k) {
      if (k === K_INT) {
        if (this.allFit32) return done('integer');
        if (this.allFit64) return done('long', 'long (exceeds integer)');
        if (this.maxIntDigits <= 38) return done('decimal(38,0)', 'decimal(38,0) (exceeds long)');
        return done('string', 'string (integers beyond 38 digits)');
      }
      if (this.allDoubleExact) return done('double');
      if (this.jsFractions) throw new Error('formats: JS numbers inferred together with numbers no double holds (addJsNumber is for decoded values only)');
      if (!(k & K_EXP) && this.maxIntDigits + this.maxScale <= 38) {
        return done(`decimal(38,${this.maxScale})`, `decimal(38,${this.maxScale}) (more digits than a double holds)`);
      }
      return done('string', 'string (numbers a double cannot hold exactly)');
    }
    if (k === K_DATE) {
      const format = this.dateFormat();
      if (typeof format === 'string') return done('date', `date ${format}`);
      return done('string', `string (${format.problem})`);
    }
    if (k === K_TS || (k === (K_TS | K_DATE) && this.onlyIsoDates())) {
      return done('timestamp', 'timestamp ISO-8601 (zone-less values read as UTC)');
    }
    return done('string', 'string (mixed values)');
  }

  private onlyIsoDates(): boolean {
    return (
      this.ymdSlash === 0 &&
      this.slash.monthFirst + this.slash.dayFirst + this.slash.either === 0 &&
      this.dot.monthFirst + this.dot.dayFirst + this.dot.either === 0
    );
  }

  /** The date format the sample proves, or why there is none. ISO is accepted alongside any format. */
  private dateFormat(): DateFormat | { problem: string } {
    const slash = this.slash.monthFirst + this.slash.dayFirst + this.slash.either;
    const dot = this.dot.monthFirst + this.dot.dayFirst + this.dot.either;
    const families = (this.ymdSlash ? 1 : 0) + (slash ? 1 : 0) + (dot ? 1 : 0);
    if (families > 1) return { problem: 'mixed date formats' };
    if (this.ymdSlash) return 'yyyy/MM/dd';
    if (slash) {
      const { monthFirst, dayFirst } = this.slash;
      if (monthFirst && dayFirst) return { problem: 'dates in both M/d/yyyy and d/M/yyyy order' };
      if (monthFirst) return 'M/d/yyyy';
      if (dayFirst) return 'd/M/yyyy';
      return { problem: 'ambiguous dates: M/d/yyyy or d/M/yyyy (no day above 12 in the sample)' };
    }
    if (dot) {
      const { monthFirst, dayFirst } = this.dot;
      if (monthFirst) return { problem: 'dates not in d.M.yyyy order' };
      if (dayFirst) return 'd.M.yyyy';
      return { problem: 'ambiguous dates: d.M.yyyy or M.d.yyyy (no day above 12 in the sample)' };
    }
    return 'yyyy-MM-dd';
  }

  /** For a column declared `date`: the proven format, else the conventional reading of its shape. */
  private dateFormatGuess(): DateFormat {
    const proven = this.dateFormat();
    if (typeof proven === 'string') return proven;
    if (this.slash.monthFirst + this.slash.either > 0 && this.slash.dayFirst === 0) return 'M/d/yyyy';
    if (this.slash.dayFirst > 0 && this.slash.monthFirst === 0) return 'd/M/yyyy';
    if (this.dot.dayFirst + this.dot.either > 0) return 'd.M.yyyy';
    return 'yyyy-MM-dd';
  }
}
