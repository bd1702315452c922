/**
 * What every reader shares about a read: its context and defaults, the result being filled, record
 * text for bad records, and UTF-8 checks with the exact offending byte. (The record loop around a
 * format's scanner is records.ts.)
 */
import type { BadRecord, InputFormat, RangedInput, ReadOptions, ReadResult } from './types';

/** Defaults of `ReadOptions`. */
export const DEFAULT_SAMPLE_ROWS = 1000;
/**
 * Rows per batch. Each stage of a bronze ingest holds about a batch (the one being read, the one being
 * conformed and serialised, two waiting for the encoding worker), so this sets most of the reading
 * side's memory: 32,768 rather than 65,536 took the 1M-row NDJSON ingest's peak RSS from 450–464 to
 * 384–385 MiB at the same CPU time (docs/benchmarks.md, Ingest).
 */
export const DEFAULT_BATCH_ROWS = 32768;
export const DEFAULT_BINARY_INLINE_LIMIT = 16 * 1024 * 1024;
/** A batch is emitted early when its rows hold this many input bytes, to bound memory. */
export const MAX_BATCH_BYTES = 64 * 1024 * 1024;
/** At most this many values (rows × columns) are held per batch, so wide inputs get shorter batches. */
export const MAX_BATCH_VALUES = 4 * 1024 * 1024;
/** Default of `ReadOptions.maxRecordBytes` (the app's `SLUICE_MAX_RECORD_MB` default is the same 16). */
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;
/**
 * Bad records of one read that keep their raw text. A file of millions of bad lines would otherwise
 * hold (and dead-letter) up to 4 KiB of text for each; the first thousand show what is wrong, and the
 * rest keep row, offset and reason, so each is still counted and can be found in the file.
 */
export const RAW_RECORDS_KEPT = 1000;

/**
 * Rows per batch for an input of `columns` columns: `batchRows`, fewer for very wide inputs.
 *
 * @param batchRows the requested rows per batch
 * @param columns input columns
 * @returns rows per batch (at least 1)
 */
export function rowsPerBatch(batchRows: number, columns: number): number {
  return Math.max(1, Math.min(batchRows, Math.floor(MAX_BATCH_VALUES / Math.max(1, columns))));
}

/**
 * The record-size limit of a read.
 *
 * @param ctx the read in progress
 * @returns `options.maxRecordBytes`, or the default
 */
export function maxRecordBytes(ctx: ReadContext): number {
  return ctx.options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
}

/**
 * The bad record for a record longer than the limit (its first bytes as raw text).
 *
 * @param ctx the read in progress
 * @param buf bytes holding the start of the record
 * @param s record start in buf
 * @param e end of what buf holds of the record
 * @param base absolute offset of buf[0] in the input
 * @param row record number
 * @param withRaw whether the record keeps its raw text (see `RAW_RECORDS_KEPT`)
 * @returns the bad record
 */
export function tooLongRecord(ctx: ReadContext, buf: Uint8Array, s: number, e: number, base: number, row: number | undefined, withRaw: boolean): BadRecord {
  const limit = maxRecordBytes(ctx);
  const mib = limit / (1024 * 1024);
  const size = Number.isInteger(mib) ? `${mib} MiB` : `${limit} bytes`;
  return badRecord(
    row,
    base + s,
    `record longer than the limit of ${size} (SLUICE_MAX_RECORD_MB); skipped to the next record`,
    withRaw ? rawText(buf, s, e) : undefined,
  );
}

/**
 * Whether a bad record found now keeps its raw text: true while fewer than `RAW_RECORDS_KEPT` are
 * on the result or waiting to be released.
 *
 * @param ctx the read in progress
 * @param pending bad records found but not yet released
 * @returns whether to make its raw text
 */
export function wantsRaw(ctx: ReadContext, pending: number): boolean {
  return ctx.result.badRecords.length + pending < RAW_RECORDS_KEPT;
}

/** The read in progress: options and the result object readers fill in. */
export interface ReadContext {
  name: string;
  options: ReadOptions;
  sampleRows: number;
  batchRows: number;
  /** The result handed to the caller; readers set `fatal`, counters and bad records on it as they go. */
  result: ReadResult;
  /** Stored bytes consumed so far (before decompression). */
  storedBytes: () => number;
  /** The stored input by range, when it can be read so and is not compressed (Parquet reads it so). */
  ranged?: RangedInput;
}

/**
 * The context of a read, with the sample and batch sizes the options ask for (or the defaults).
 *
 * @param name the file name or path
 * @param options the read options
 * @param result the result the reader fills in
 * @param storedBytes stored bytes consumed so far
 * @param ranged the stored input by range, when it can be read so
 * @returns the context
 */
export function readContext(name: string, options: ReadOptions, result: ReadResult, storedBytes: () => number, ranged?: RangedInput): ReadContext {
  return {
    name,
    options,
    sampleRows: Math.max(1, options.sampleRows ?? DEFAULT_SAMPLE_ROWS),
    batchRows: Math.max(1, options.batchRows ?? DEFAULT_BATCH_ROWS),
    result,
    storedBytes,
    ...(ranged ? { ranged } : {}),
  };
}

/**
 * A result with no rows, for inputs that fail before a schema exists.
 *
 * @param format the format
 * @param compression the compression
 * @returns an empty result
 */
export function emptyResult(format: InputFormat, compression: ReadResult['compression']): ReadResult {
  return {
    format,
    compression,
    inference: {},
    schema: { type: 'struct', fields: [] },
    newFields: [],
    batches: (async function* () {})(),
    badRecords: [],
    stats: { rowsRead: 0, rowsEmitted: 0, rowsWithRescued: 0, bytesRead: 0 },
  };
}

const lossy = new TextDecoder('utf-8');
const RAW_LIMIT = 4096;

/**
 * A record's text for `BadRecord.raw`: at most 4 KiB, invalid bytes shown as U+FFFD.
 *
 * @param buf bytes
 * @param s start
 * @param e end
 * @returns the text
 */
export function rawText(buf: Uint8Array, s: number, e: number): string {
  return lossy.decode(buf.subarray(s, Math.min(e, s + RAW_LIMIT)));
}

/**
 * Offset of the first byte that breaks UTF-8 (bad lead byte, bad continuation, overlong form,
 * surrogate, beyond U+10FFFF, or a sequence cut off by `e`), or -1 when the bytes are valid.
 *
 * @param buf bytes
 * @param s start
 * @param e end
 * @returns absolute index in `buf`, or -1
 */
export function firstInvalidUtf8(buf: Uint8Array, s: number, e: number): number {
  let i = s;
  while (i < e) {
    const b = buf[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      if (i + k >= e) return i;
      const c = buf[i + k];
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/**
 * The bad record for invalid UTF-8.
 *
 * @param buf bytes of the record
 * @param s record start in buf
 * @param e record end in buf
 * @param bad index of the offending byte in buf
 * @param base absolute offset of buf[0] in the input
 * @param row record number
 * @param withRaw whether the record keeps its raw text (see `RAW_RECORDS_KEPT`)
 * @returns the bad record
 */
export function invalidUtf8Record(buf: Uint8Array, s: number, e: number, bad: number, base: number, row: number | undefined, withRaw = true): BadRecord {
  const hex = buf[bad].toString(16).padStart(2, '0');
  return badRecord(row, base + s, `invalid UTF-8 byte 0x${hex} at byte offset ${base + bad}`, withRaw ? rawText(buf, s, e) : undefined);
}

/**
 * A bad record with only the fields that are known. Files can have millions: a plain literal per
 * shape (no object spreads) keeps making them cheap.
 *
 * @param row record number, when known
 * @param byteOffset where the record starts in the decompressed input
 * @param reason why it is bad
 * @param raw its text, when it keeps it
 * @returns the bad record
 */
export function badRecord(row: number | undefined, byteOffset: number, reason: string, raw: string | undefined): BadRecord {
  const record: BadRecord = row === undefined ? { byteOffset, reason } : { row, byteOffset, reason };
  if (raw !== undefined) record.raw = raw;
  return record;
}
