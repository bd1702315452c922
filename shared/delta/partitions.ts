/**
 * Partition values: the strings in `add.partitionValues` to typed JS values and back, and the
 * Hive-style directory names data files are written under.
 *
 * An empty string or JSON null is null; the string "null" is a real value. Zone-less timestamp
 * values (`2021-09-08 11:11:11`) are read as UTC unless the table names a zone in its configuration
 * under `sluice.partitionTimeZone` (an IANA zone such as `America/Los_Angeles`), or the reader is given
 * one. Sluice itself writes timestamps as ISO-8601 UTC (`2021-09-08T11:11:11.000000Z`), which is
 * unambiguous.
 */
import { DeltaError } from './errors';
import { decimalParams, DeltaType } from './schema';

/** Configuration key naming the zone of zone-less timestamp partition values. */
export const PARTITION_TIME_ZONE_KEY = 'sluice.partitionTimeZone';

/**
 * Parse a partition value string to the JS form of its column type (see values.ts).
 *
 * @param raw the logged string (or null)
 * @param type the column's Delta type
 * @param column column name, for messages
 * @param timeZone zone for zone-less timestamps (default UTC)
 * @returns the typed value or null
 */
export function parsePartitionValue(raw: string | null | undefined, type: DeltaType, column: string, timeZone = 'UTC'): unknown {
  if (raw === null || raw === undefined || raw === '') return null;
  const fail = (): never => {
    throw new DeltaError(
      `delta partition: value ${JSON.stringify(raw)} of partition column "${column}" is not a valid ${typeof type === 'string' ? type : type.type}`,
    );
  };
  if (typeof type !== 'string') return fail();
  switch (type) {
    case 'string':
      return raw;
    case 'binary':
      return Uint8Array.from(raw, (c) => c.charCodeAt(0) & 0xff);
    case 'boolean':
      if (raw.toLowerCase() === 'true') return true;
      if (raw.toLowerCase() === 'false') return false;
      return fail();
    case 'byte':
    case 'short':
    case 'integer': {
      const n = Number(raw);
      return Number.isInteger(n) ? n : fail();
    }
    case 'long':
      return /^[-+]?\d+$/.test(raw.trim()) ? BigInt(raw.trim()) : fail();
    case 'float':
    case 'double': {
      const n = Number(raw);
      return Number.isNaN(n) && raw !== 'NaN' ? fail() : n;
    }
    case 'date': {
      const m = /^(-?\d{4,})-(\d{2})-(\d{2})/.exec(raw);
      if (!m) return fail();
      return Math.floor(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 86_400_000);
    }
    case 'timestamp':
    case 'timestamp_ntz': {
      const micros = parseTimestampMicros(raw, type === 'timestamp' ? timeZone : 'UTC');
      return micros ?? fail();
    }
  }
  const dec = decimalParams(type);
  if (dec) return parseDecimal(raw, dec.scale) ?? fail();
  return fail();
}

/**
 * Parse a decimal literal to its unscaled integer at `scale`, rounding half up when it has more digits.
 *
 * @param text decimal text, possibly with exponent (`0E-10`, `1.5e3`)
 * @param scale target scale
 * @returns the unscaled bigint, or null when the text is not a number
 */
export function parseDecimal(text: string, scale: number): bigint | null {
  const m = /^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
  const negative = m[1] === '-';
  let digits = (m[2] || '') + (m[3] || '');
  const exponent = Number(m[4] || 0) - (m[3] || '').length + scale;
  if (exponent >= 0) digits += '0'.repeat(exponent);
  else {
    const keep = digits.length + exponent;
    const dropped = keep > 0 ? digits.slice(keep) : digits.padStart(-exponent, '0');
    digits = keep > 0 ? digits.slice(0, keep) : '0';
    if (dropped && dropped[0] >= '5') digits = (BigInt(digits || '0') + 1n).toString();
  }
  const n = BigInt(digits || '0');
  return negative ? -n : n;
}

/**
 * Format an unscaled decimal with exactly `scale` fraction digits.
 *
 * @param unscaled the unscaled integer
 * @param scale the decimal scale
 * @returns text such as `-12.30`
 */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = scale > 0 ? `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}` : digits;
  return negative ? `-${text}` : text;
}

const TS_RE = /^(-?\d{4,})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Parse a timestamp to microseconds since the epoch. Text with `Z` or an offset is absolute; text
 * without is wall-clock time in `timeZone`.
 *
 * @param text `YYYY-MM-DD[ T]HH:MM[:SS[.fraction]][Z|±HH:MM]`
 * @param timeZone IANA zone for zone-less text
 * @returns microseconds, or null if the text is not a timestamp
 */
export function parseTimestampMicros(text: string, timeZone = 'UTC'): bigint | null {
  const m = TS_RE.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const wallMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(wallMs)) return null;
  let offsetMs: number;
  if (zone) {
    if (zone.toUpperCase() === 'Z') offsetMs = 0;
    else {
      const sign = zone[0] === '-' ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      offsetMs = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
    }
  } else {
    offsetMs = zoneOffsetMs(wallMs, timeZone);
  }
  const micros = BigInt(wallMs - offsetMs) * 1000n + BigInt((frac + '000000').slice(0, 6));
  return micros;
}

/** Offset of a zone at a wall-clock time, in ms (wall = utc + offset). */
function zoneOffsetMs(wallMs: number, timeZone: string): number {
  if (timeZone === 'UTC') return 0;
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const offsetAt = (utcMs: number) => {
    const parts = Object.fromEntries(fmt.formatToParts(new Date(utcMs)).map((p) => [p.type, p.value]));
    const asUtc = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
    return asUtc - Math.floor(utcMs / 1000) * 1000;
  };
  // Two passes settle the offset around DST changes.
  const first = offsetAt(wallMs);
  return offsetAt(wallMs - first);
}

/**
 * Format a timestamp in microseconds as ISO-8601 UTC with six fraction digits.
 *
 * @param micros microseconds since the epoch
 * @returns e.g. `2022-01-01T00:00:00.000000Z`
 */
export function formatTimestampMicros(micros: bigint): string {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const sub = micros - ms * 1000n;
  const iso = new Date(Number(ms)).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  return `${iso.slice(0, -1)}${sub.toString().padStart(3, '0')}Z`;
}

/**
 * Format days since the epoch as `YYYY-MM-DD`.
 *
 * @param days day number
 * @returns the date text
 */
export function formatDate(days: number): string {
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Serialise a typed value for `add.partitionValues`.
 *
 * @param value the value in its JS form
 * @param type the column's Delta type
 * @returns the string, or null for null
 */
export function formatPartitionValue(value: unknown, type: DeltaType): string | null {
  if (value === null || value === undefined) return null;
  if (typeof type !== 'string') throw new DeltaError(`delta partition: nested types cannot be partition columns`);
  switch (type) {
    case 'date':
      return formatDate(Number(value));
    case 'timestamp':
    case 'timestamp_ntz': {
      const text = formatTimestampMicros(BigInt(value as bigint));
      return type === 'timestamp' ? text : text.replace('T', ' ').replace('Z', '');
    }
    case 'binary':
      return String.fromCharCode(...(value as Uint8Array));
    case 'float':
    case 'double': {
      const n = Number(value);
      return Number.isInteger(n) ? n.toFixed(1) : String(n);
    }
  }
  const dec = decimalParams(type);
  if (dec) return formatDecimal(BigInt(value as bigint), dec.scale);
  return String(value);
}

/** Characters Hive escapes in partition directory names. */
const HIVE_ESCAPE = /[\u0000-\u001f"#%'*/:=?\\\u007f{[\]^]/g;

/**
 * The Hive-style directory for one partition (`a=1/b=x%2Fy`), unescaped for storage use.
 *
 * @param columns partition columns in table order
 * @param values serialised partition values by column
 * @returns the relative directory path, without trailing slash (empty for unpartitioned tables)
 */
export function partitionDirectory(columns: string[], values: Record<string, string | null>): string {
  return columns
    .map((c) => {
      const v = values[c];
      const text =
        v === null || v === undefined || v === ''
          ? '__HIVE_DEFAULT_PARTITION__'
          : v.replace(HIVE_ESCAPE, (ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
      return `${c.replace(HIVE_ESCAPE, (ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'))}=${text}`;
    })
    .join('/');
}

/**
 * Turn a storage path (relative to the table) into the URI-encoded form `add.path` holds.
 *
 * @param storagePath the path as stored
 * @returns the path with each segment percent-encoded as an RFC 2396 relative URI
 */
export function encodeAddPath(storagePath: string): string {
  return (
    storagePath
      .split('/')
      // Keep `=` readable as Spark does (`day=2024-01-01/…`); escape everything else outside the unreserved set,
      // `%` and `:` included, so the path decodes back exactly and never looks like a URI scheme.
      .map((s) =>
        encodeURIComponent(s)
          .replace(/%3D/g, '=')
          .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()),
      )
      .join('/')
  );
}

/**
 * Turn an `add.path` into the storage path relative to the table: percent-decode once. Absolute
 * URIs under the table root are made relative; other absolute URIs are returned as they are.
 *
 * @param addPath the logged path
 * @param tableUrl the table's URL
 * @returns the relative storage path, or the absolute URI
 */
export function decodeAddPath(addPath: string, tableUrl?: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(addPath)) {
    if (tableUrl && addPath.startsWith(tableUrl.replace(/\/?$/, '/'))) {
      return decodeURIComponent(addPath.slice(tableUrl.replace(/\/?$/, '/').length));
    }
    return addPath;
  }
  return decodeURIComponent(addPath);
}
