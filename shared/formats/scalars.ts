/**
 * The text grammar of typed values, read straight from UTF-8 bytes.
 *
 * Inference and conversion share these functions, so a value that made the sample infer a type always
 * converts to it. Every accepted text converts exactly: integers with leading zeros ("007") are not
 * numbers (the zeros would be lost), a decimal that a double cannot hold digit for digit is not a
 * double, a timestamp with more than microsecond precision is not a timestamp.
 *
 * Working on bytes instead of strings avoids creating a JS string per field on the hot path.
 */

// ---------------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------------

/** Shape of a numeric literal: not a number, integer, with a fraction, with an exponent. */
export const NUM_NONE = 0;
export const NUM_INT = 1;
export const NUM_DEC = 2;
export const NUM_EXP = 3;

/**
 * What `scanNumber` found. One shared instance is reused (callers copy what they need), because a
 * fresh object per field costs more than the scan itself.
 */
export interface NumberShape {
  kind: number;
  negative: boolean;
  /** The integer part has superfluous leading zeros (`007`, `00.5`). */
  leadingZero: boolean;
  intDigits: number;
  fracDigits: number;
  /** Fraction digits without trailing zeros (`1.50` → 1). */
  fracSignificant: number;
  /** Digits from the first to the last non-zero digit (0 for zero). */
  significant: number;
  /** The integer value when `kind` is NUM_INT and it has at most 15 digits (exact). */
  intValue: number;
}

const shape: NumberShape = { kind: 0, negative: false, leadingZero: false, intDigits: 0, fracDigits: 0, fracSignificant: 0, significant: 0, intValue: 0 };

/**
 * Recognise `-?digits(.digits)?([eE][+-]?digits)?` (no `+` sign, no bare `.5` or `5.`, no spaces).
 *
 * @param buf bytes
 * @param s start (inclusive)
 * @param e end (exclusive)
 * @returns the shared shape record (valid until the next call)
 */
export function scanNumber(buf: Uint8Array, s: number, e: number): NumberShape {
  const out = shape;
  out.kind = NUM_NONE;
  let p = s;
  const negative = p < e && buf[p] === 45;
  if (negative) p++;
  const intStart = p;
  let value = 0;
  let firstNonZero = -1;
  let lastNonZero = -1;
  let digitIndex = 0;
  while (p < e) {
    const d = buf[p] - 48;
    if (d < 0 || d > 9) break;
    value = value * 10 + d;
    if (d !== 0) {
      if (firstNonZero < 0) firstNonZero = digitIndex;
      lastNonZero = digitIndex;
    }
    digitIndex++;
    p++;
  }
  const intDigits = p - intStart;
  if (intDigits === 0) return out;
  let kind = NUM_INT;
  let fracDigits = 0;
  let fracSignificant = 0;
  if (p < e && buf[p] === 46) {
    p++;
    const fracStart = p;
    while (p < e) {
      const d = buf[p] - 48;
      if (d < 0 || d > 9) break;
      if (d !== 0) {
        if (firstNonZero < 0) firstNonZero = digitIndex;
        lastNonZero = digitIndex;
        fracSignificant = p - fracStart + 1;
      }
      digitIndex++;
      p++;
    }
    fracDigits = p - fracStart;
    if (fracDigits === 0) return out;
    kind = NUM_DEC;
  }
  if (p < e && (buf[p] | 0x20) === 101) {
    p++;
    if (p < e && (buf[p] === 45 || buf[p] === 43)) p++;
    const expStart = p;
    while (p < e && buf[p] >= 48 && buf[p] <= 57) p++;
    if (p === expStart) return out;
    kind = NUM_EXP;
  }
  if (p !== e) return out;
  out.kind = kind;
  out.negative = negative;
  out.leadingZero = intDigits > 1 && buf[intStart] === 48;
  out.intDigits = intDigits;
  out.fracDigits = fracDigits;
  out.fracSignificant = fracSignificant;
  out.significant = firstNonZero < 0 ? 0 : lastNonZero - firstNonZero + 1;
  out.intValue = negative ? -value : value;
  return out;
}

/**
 * Latin-1 view of ASCII bytes as a string (numbers and dates are ASCII).
 *
 * @param buf bytes
 * @param s start
 * @param e end
 * @returns the string
 */
export function asciiString(buf: Uint8Array, s: number, e: number): string {
  if (e - s < 64) {
    let out = '';
    for (let i = s; i < e; i++) out += String.fromCharCode(buf[i]);
    return out;
  }
  return Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('latin1');
}

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/**
 * The double a numeric literal denotes, or NaN when it is not a number or a double cannot hold its
 * digits exactly (the value would change).
 *
 * @param buf bytes
 * @param s start
 * @param e end
 * @returns the number or NaN
 */
export function parseDoubleExact(buf: Uint8Array, s: number, e: number): number {
  const sh = scanNumber(buf, s, e);
  if (sh.kind === NUM_NONE || sh.leadingZero) return NaN;
  if (sh.kind === NUM_INT && sh.intDigits <= 15) return sh.intValue;
  if (sh.kind === NUM_DEC && sh.significant <= 15 && sh.intDigits + sh.fracDigits <= 22) {
    // Clinger's fast path: an integer below 2^53 divided by an exact power of ten is rounded correctly
    // by one IEEE division, so this equals Number(text) without building the string.
    let m = 0;
    for (let p = s + (sh.negative ? 1 : 0); p < e; p++) {
      const d = buf[p] - 48;
      if (d >= 0 && d <= 9) m = m * 10 + d;
    }
    if (m <= 9007199254740991) {
      const v = m / POW10[sh.fracDigits];
      return sh.negative ? -v : v;
    }
  }
  const text = asciiString(buf, s, e);
  const n = Number(text);
  if (!Number.isFinite(n)) return NaN;
  if (sh.significant <= 15) return n;
  return canonicalDigits(text) === canonicalDigits(String(n)) ? n : NaN;
}

/** Significant digits and decimal exponent of a numeric literal, e.g. `1.50e3` and `1500` → `15e3`. */
function canonicalDigits(text: string): string {
  const m = /^-?(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(text);
  if (!m) return text;
  const intPart = m[1] ?? '';
  const digits = intPart + (m[2] ?? '');
  let exponent = Number(m[3] ?? 0) + intPart.length;
  const first = digits.search(/[1-9]/);
  if (first < 0) return '0';
  exponent -= first;
  return `${digits.slice(first).replace(/0+$/, '')}e${exponent}`;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * An integer literal as a number (at most 15 digits) or bigint (more), or NaN when the text is not an
 * integer literal without leading zeros or does not fit in 64 bits.
 *
 * @param buf bytes
 * @param s start
 * @param e end
 * @returns the value
 */
export function parseInt64(buf: Uint8Array, s: number, e: number): number | bigint {
  const sh = scanNumber(buf, s, e);
  if (sh.kind !== NUM_INT || sh.leadingZero) return NaN;
  if (sh.intDigits <= 15) return sh.intValue;
  if (sh.intDigits > 19) return NaN;
  const big = BigInt(asciiString(buf, s, e));
  return big < INT64_MIN || big > INT64_MAX ? NaN : big;
}

/**
 * An integer literal within [min, max], or NaN.
 *
 * @param buf bytes
 * @param s start
 * @param e end
 * @param min smallest allowed value
 * @param max largest allowed value
 * @returns the value or NaN
 */
export function parseSmallInt(buf: Uint8Array, s: number, e: number, min: number, max: number): number {
  // Inline scan: this is the hottest conversion and the general scanner does more than it needs.
  let p = s;
  const negative = p < e && buf[p] === 45;
  if (negative) p++;
  const n = e - p;
  if (n === 0 || n > 10 || (n > 1 && buf[p] === 48)) return NaN;
  let v = 0;
  for (; p < e; p++) {
    const d = buf[p] - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  if (negative) v = -v;
  return v < min || v > max ? NaN : v;
}

/**
 * A decimal literal (no exponent) as the unscaled integer at `scale`, or null when it has more
 * significant fraction digits than `scale` or more than `precision` digits in all.
 *
 * @param buf bytes
 * @param s start
 * @param e end
 * @param precision total digits allowed
 * @param scale fraction digits
 * @returns the unscaled value or null
 */
export function parseDecimalExact(buf: Uint8Array, s: number, e: number, precision: number, scale: number): bigint | null {
  const sh = scanNumber(buf, s, e);
  if ((sh.kind !== NUM_INT && sh.kind !== NUM_DEC) || sh.leadingZero) return null;
  if (sh.fracSignificant > scale) return null;
  let intDigits = sh.intDigits;
  const intStart = s + (sh.negative ? 1 : 0);
  if (intDigits === 1 && buf[intStart] === 48) intDigits = 0;
  if (intDigits > precision - scale) return null;
  let digits = asciiString(buf, intStart, intStart + sh.intDigits);
  if (sh.fracDigits) {
    const fracStart = intStart + sh.intDigits + 1;
    digits += asciiString(buf, fracStart, fracStart + Math.min(sh.fracDigits, scale));
  }
  const pad = scale - Math.min(sh.fracDigits, scale);
  let n = BigInt(digits) * (pad ? 10n ** BigInt(pad) : 1n);
  if (sh.negative) n = -n;
  return n;
}

/**
 * `true` / `false` in any letter case.
 *
 * @param buf bytes
 * @param s start
 * @param e end
 * @returns 1 for true, 0 for false, -1 for anything else
 */
export function parseBoolean(buf: Uint8Array, s: number, e: number): number {
  const n = e - s;
  if (n === 4 && (buf[s] | 0x20) === 116 && (buf[s + 1] | 0x20) === 114 && (buf[s + 2] | 0x20) === 117 && (buf[s + 3] | 0x20) === 101) return 1;
  if (
    n === 5 &&
    (buf[s] | 0x20) === 102 &&
    (buf[s + 1] | 0x20) === 97 &&
    (buf[s + 2] | 0x20) === 108 &&
    (buf[s + 3] | 0x20) === 115 &&
    (buf[s + 4] | 0x20) === 101
  )
    return 0;
  return -1;
}

// ---------------------------------------------------------------------------------------------------
// Dates and timestamps
// ---------------------------------------------------------------------------------------------------

/** Date formats Sluice reads. ISO `yyyy-MM-dd` is accepted in every date column besides its format. */
export type DateFormat = 'yyyy-MM-dd' | 'yyyy/MM/dd' | 'M/d/yyyy' | 'd/M/yyyy' | 'd.M.yyyy';

/** The date formats, for validating hints. */
export const DATE_FORMATS: readonly DateFormat[] = ['yyyy-MM-dd', 'yyyy/MM/dd', 'M/d/yyyy', 'd/M/yyyy', 'd.M.yyyy'];

/** Layout of a date-like text: which separators and where the year is. */
export const SHAPE_NONE = 0;
export const SHAPE_ISO = 1;
export const SHAPE_YMD_SLASH = 2;
export const SHAPE_SLASH = 3;
export const SHAPE_DOT = 4;

/** What `scanDate` found (shared instance). `a` and `b` are the first two parts for SLASH and DOT. */
export interface DateShape {
  shape: number;
  year: number;
  a: number;
  b: number;
}
const dateShape: DateShape = { shape: 0, year: 0, a: 0, b: 0 };

function digitsAt(buf: Uint8Array, p: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = buf[p + i] - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** Read 1 or 2 digits at p; returns value and advances via the returned length packed as v*4+len. */
function oneOrTwo(buf: Uint8Array, p: number, e: number): number {
  const d0 = p < e ? buf[p] - 48 : -1;
  if (d0 < 0 || d0 > 9) return -1;
  const d1 = p + 1 < e ? buf[p + 1] - 48 : -1;
  if (d1 >= 0 && d1 <= 9) return (d0 * 10 + d1) * 4 + 2;
  return d0 * 4 + 1;
}

/**
 * Recognise `yyyy-MM-dd`, `yyyy/M/d`, `a/b/yyyy` and `a.b.yyyy` (one or two digit parts).
 *
 * @param buf bytes
 * @param s start
 * @param e end (the text must end there)
 * @returns the shared shape record
 */
export function scanDate(buf: Uint8Array, s: number, e: number): DateShape {
  const out = dateShape;
  out.shape = SHAPE_NONE;
  const n = e - s;
  if (n < 8 || n > 10) return out;
  if (buf[s + 4] === 45) {
    if (n !== 10 || buf[s + 7] !== 45) return out;
    const y = digitsAt(buf, s, 4);
    const m = digitsAt(buf, s + 5, 2);
    const d = digitsAt(buf, s + 8, 2);
    if (y < 0 || m < 0 || d < 0) return out;
    out.shape = SHAPE_ISO;
    out.year = y;
    out.a = m;
    out.b = d;
    return out;
  }
  if (buf[s + 4] === 47 && digitsAt(buf, s, 4) >= 0) {
    const y = digitsAt(buf, s, 4);
    const m = oneOrTwo(buf, s + 5, e);
    if (m < 0) return out;
    const p = s + 5 + (m & 3);
    if (buf[p] !== 47) return out;
    const d = oneOrTwo(buf, p + 1, e);
    if (d < 0 || p + 1 + (d & 3) !== e) return out;
    out.shape = SHAPE_YMD_SLASH;
    out.year = y;
    out.a = m >> 2;
    out.b = d >> 2;
    return out;
  }
  const a = oneOrTwo(buf, s, e);
  if (a < 0) return out;
  let p = s + (a & 3);
  const sep = buf[p];
  if (sep !== 47 && sep !== 46) return out;
  const b = oneOrTwo(buf, p + 1, e);
  if (b < 0) return out;
  p += 1 + (b & 3);
  if (buf[p] !== sep || e - p !== 5) return out;
  const y = digitsAt(buf, p + 1, 4);
  if (y < 0) return out;
  out.shape = sep === 47 ? SHAPE_SLASH : SHAPE_DOT;
  out.year = y;
  out.a = a >> 2;
  out.b = b >> 2;
  return out;
}

/**
 * Whether year/month/day is a real calendar date (years 1–9999).
 *
 * @param y year
 * @param m month 1–12
 * @param d day
 * @returns true when valid
 */
export function validDate(y: number, m: number, d: number): boolean {
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  if (d <= 28) return true;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const max = m === 2 ? (leap ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
  return d <= max;
}

/**
 * Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
 *
 * @param y year
 * @param m month 1–12
 * @param d day 1–31
 * @returns the day number
 */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * A date in `format` (or ISO `yyyy-MM-dd`) as days since the epoch, or NaN.
 *
 * @param buf bytes
 * @param s start
 * @param e end
 * @param format the column's date format
 * @returns the day number or NaN
 */
export function parseDate(buf: Uint8Array, s: number, e: number, format: DateFormat): number {
  const sh = scanDate(buf, s, e);
  const y = sh.year;
  let m: number;
  let d: number;
  switch (sh.shape) {
    case SHAPE_ISO:
      m = sh.a;
      d = sh.b;
      break;
    case SHAPE_YMD_SLASH:
      if (format !== 'yyyy/MM/dd') return NaN;
      m = sh.a;
      d = sh.b;
      break;
    case SHAPE_SLASH:
      if (format === 'M/d/yyyy') {
        m = sh.a;
        d = sh.b;
      } else if (format === 'd/M/yyyy') {
        d = sh.a;
        m = sh.b;
      } else return NaN;
      break;
    case SHAPE_DOT:
      if (format !== 'd.M.yyyy') return NaN;
      d = sh.a;
      m = sh.b;
      break;
    default:
      return NaN;
  }
  if (!validDate(y, m, d)) return NaN;
  return daysFromCivil(y, m, d);
}

const MAX_SAFE_SECONDS = 9_000_000_000; // |seconds| × 10^6 + fraction stays below 2^53

/**
 * An ISO-8601 timestamp (`yyyy-MM-dd`, then `T`, `t` or a space, `HH:mm[:ss[.fraction]]`, then `Z` or
 * an offset `±HH[:MM]`/`±HHMM`, or nothing) as microseconds since the epoch. Zone-less text is UTC
 * wall-clock time (for `timestamp_ntz` it is the wall-clock time itself). A date alone is midnight.
 * Fractions beyond microseconds are accepted only when the extra digits are zeros.
 *
 * @param buf bytes
 * @param s start
 * @param e end
 * @param allowZone whether a zone or offset may be present (false for `timestamp_ntz`)
 * @returns microseconds (a number when it is safe, else a bigint), or NaN
 */
export function parseTimestamp(buf: Uint8Array, s: number, e: number, allowZone: boolean): number | bigint {
  if (e - s < 10) return NaN;
  if (buf[s + 4] !== 45 || buf[s + 7] !== 45) return NaN;
  const y = digitsAt(buf, s, 4);
  const mo = digitsAt(buf, s + 5, 2);
  const d = digitsAt(buf, s + 8, 2);
  if (y < 0 || mo < 0 || d < 0 || !validDate(y, mo, d)) return NaN;
  let seconds = daysFromCivil(y, mo, d) * 86400;
  let micros = 0;
  let p = s + 10;
  if (p < e) {
    const sep = buf[p];
    if (sep !== 84 && sep !== 116 && sep !== 32) return NaN;
    p++;
    if (e - p < 5 || buf[p + 2] !== 58) return NaN;
    const h = digitsAt(buf, p, 2);
    const mi = digitsAt(buf, p + 3, 2);
    if (h < 0 || h > 23 || mi < 0 || mi > 59) return NaN;
    seconds += h * 3600 + mi * 60;
    p += 5;
    if (p < e && buf[p] === 58) {
      const sec = e - p >= 3 ? digitsAt(buf, p + 1, 2) : -1;
      if (sec < 0 || sec > 59) return NaN;
      seconds += sec;
      p += 3;
      if (p < e && (buf[p] === 46 || buf[p] === 44)) {
        p++;
        const fracStart = p;
        let scale = 100000;
        while (p < e && buf[p] >= 48 && buf[p] <= 57) {
          const digit = buf[p] - 48;
          if (p - fracStart < 6) micros += digit * scale;
          else if (digit !== 0 || p - fracStart >= 9) return NaN;
          scale /= 10;
          p++;
        }
        if (p === fracStart) return NaN;
      }
    }
    if (p < e) {
      if (!allowZone) return NaN;
      const z = buf[p];
      if ((z === 90 || z === 122) && p + 1 === e) {
        p++;
      } else if (z === 43 || z === 45) {
        const rest = e - p - 1;
        const oh = digitsAt(buf, p + 1, 2);
        let om: number;
        if (rest === 2) om = 0;
        else if (rest === 4) om = digitsAt(buf, p + 3, 2);
        else if (rest === 5 && buf[p + 3] === 58) om = digitsAt(buf, p + 4, 2);
        else return NaN;
        if (oh < 0 || oh > 23 || om < 0 || om > 59) return NaN;
        const offset = (oh * 3600 + om * 60) * (z === 45 ? -1 : 1);
        seconds -= offset;
        p = e;
      } else return NaN;
    }
  }
  if (p !== e) return NaN;
  if (Math.abs(seconds) < MAX_SAFE_SECONDS) return seconds * 1_000_000 + micros;
  return BigInt(seconds) * 1_000_000n + BigInt(micros);
}
