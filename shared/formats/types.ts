/**
 * The contract between input readers (`shared/formats`) and the bronze ingest stage (`shared/ingest`).
 *
 * A reader turns a stream of bytes (one landing file, or one Event Hubs event body) into batches of
 * Arrow rows in a schema it inferred or was given, plus a record of everything it could not turn into
 * a row. The ingest stage never sees format details, and readers never see Delta tables.
 *
 * Row accounting is exact: every record a reader finds is either in a batch (possibly with values
 * moved to `_rescued_data`) or in `badRecords`. `rowsRead = rowsWritten + rowsDeadLettered`.
 */
import type * as arrow from 'apache-arrow';
import type { DeltaField, DeltaStruct, DeltaType } from '../delta/schema';

/** Input formats. `auto` detects from the name (extension) and the first bytes. */
export type InputFormat = 'auto' | 'csv' | 'tsv' | 'json' | 'ndjson' | 'parquet' | 'avro' | 'binary';

/** Compression wrapping the format; detected from the extension and magic bytes. */
export type Compression = 'none' | 'gzip' | 'zstd';

/** Options for one read. */
export interface ReadOptions {
  /** Declared format (default `auto`). */
  format?: InputFormat;
  /** Declared compression (default: detect). */
  compression?: Compression | 'auto';
  /** CSV dialect overrides; everything not given is detected. */
  csv?: { delimiter?: string; quote?: string; escape?: string; header?: boolean; encoding?: 'utf-8' | 'latin1' };
  /** Column types that win over inference (`{ sku: 'string', qty: 'integer' }`, Delta type names). */
  schemaHints?: Record<string, string>;
  /**
   * The schema rows must end up in (the table's current schema, metadata columns excluded), when the
   * table exists. Columns of the input that are not in it are reported in `ReadResult.newFields`;
   * values that do not fit their column's type go to `_rescued_data`.
   */
  targetSchema?: DeltaStruct;
  /** Rows used to infer types (default 1000). */
  sampleRows?: number;
  /** Rows per emitted batch (default 32768). */
  batchRows?: number;
  /** Binary files at most this size are stored inline; larger ones by reference only (default 16 MiB). */
  binaryInlineLimit?: number;
  /** The file's last-modified time, for the `modificationTime` column of `binary` rows (null when not given). */
  modificationTime?: Date;
  /**
   * Column names the caller adds to every row itself (the ingest stage's metadata columns): an input
   * column with one of these names is renamed (`_source_file_1`) instead of being overwritten.
   */
  reservedColumns?: string[];
  /**
   * Longest record a text reader (CSV, TSV, NDJSON, JSON) turns into a row, in decompressed bytes
   * (default 16 MiB, the app's `SLUICE_MAX_RECORD_MB`): a longer one is a bad record and reading
   * resumes at the next record boundary, so memory never holds more than about this much of a record.
   * Avro: a block may take and inflate to at most this much, and so may the header; a block beyond it
   * is a bad record.
   */
  maxRecordBytes?: number;
}

/**
 * An input that can also be read by byte range: a stored file, as the ingest stage hands it over.
 * `readInput` streams it like any input, except for uncompressed Parquet, which it reads by range
 * (the footer, then one row group at a time) instead of whole.
 */
export interface RangedInput extends AsyncIterable<Uint8Array> {
  /** Size in bytes. */
  readonly size: number;
  /** Bytes [offset, offset + length); rejects when they are not all there. */
  readRange(offset: number, length: number): Promise<Uint8Array>;
  /** Called once reading by range is over: rejects when the object changed meanwhile. */
  verify(): Promise<void>;
}

/**
 * Whether an input can be read by range.
 *
 * @param input an input
 * @returns whether it is a `RangedInput`
 */
export function isRangedInput(input: AsyncIterable<Uint8Array>): input is RangedInput {
  return typeof (input as Partial<RangedInput>).readRange === 'function' && typeof (input as Partial<RangedInput>).size === 'number';
}

/** One record that could not become a row, with where it is. */
export interface BadRecord {
  /** 1-based record number in the file (CSV: data row after the header; NDJSON: line), when known. */
  row?: number;
  /** Byte offset in the (decompressed) input where the record starts, when known. */
  byteOffset?: number;
  /** Column involved, when one is. */
  column?: string;
  /** Why, in words a user understands: "unclosed quote at end of file", "invalid UTF-8 byte 0xff". */
  reason: string;
  /**
   * The raw record text (truncated to 4 KiB), when there is one; only the first `RAW_RECORDS_KEPT`
   * (1,000) bad records of a read keep it, the others keep their row, offset and reason.
   */
  raw?: string;
}

/** Bad records kept out of memory. */
export interface MoreBadRecords {
  /** How many there are. */
  readonly count: number;
  /** Read them, in file order. */
  records(): Iterable<BadRecord>;
  /** Release what holds them. */
  dispose(): void;
}

/** What a reader produces for one input. */
export interface ReadResult {
  /** Detected or declared format and compression, and the CSV dialect or date formats chosen. */
  format: InputFormat;
  compression: Compression;
  /**
   * How inference decided, e.g. `{ event_date: 'date M/d/yyyy', sku: 'string (leading zeros)' }`, keyed
   * by column name (as stored: see names.ts). Keys starting with `#` describe the file: `#csv` the
   * dialect (delimiter, quote, escape, header, line ending), `#avro` the layout (Event Hubs Capture),
   * `#columns` the input names that had to change to be stored (a JSON object, original → stored,
   * e.g. `{"Order Date":"Order_Date"}`; absent when none did).
   */
  inference: Record<string, string>;
  /**
   * The data schema of the emitted batches: the target schema's columns first (in its order), then the
   * input's new columns, then `_rescued_data` (string, nullable) last. Metadata columns are not included.
   */
  schema: DeltaStruct;
  /** Input columns the target schema does not have (empty when no target was given). */
  newFields: DeltaField[];
  /** Batches of rows in `schema`. Consume fully before reading the counters below. */
  batches: AsyncIterable<arrow.RecordBatch>;
  /**
   * Records that could not become rows (filled while `batches` is consumed): the first 10,000; any
   * further ones are in `moreBadRecords`.
   */
  badRecords: BadRecord[];
  /**
   * Bad records past the first 10,000, in file order after `badRecords`, kept out of memory (see
   * formats/bad-records.ts); absent when there are none. Call `dispose` once they have been read.
   */
  moreBadRecords?: MoreBadRecords;
  /**
   * Counters (final once `batches` is exhausted). `rowsRead` counts records found: data records of
   * CSV (not the header, not blank lines), non-blank NDJSON lines, JSON array elements or top-level
   * objects, Avro records, Parquet rows, the one binary row; an Avro block or Parquet row group that
   * cannot be read counts as one (its declared count is not to be trusted). A record is either emitted or in
   * `badRecords` (or `moreBadRecords`), so `rowsRead = rowsEmitted + badRecords.length +
   * (moreBadRecords?.count ?? 0)`; input lost to a `fatal` (after a
   * truncated archive's damage) holds no countable records and is not in `rowsRead`. `bytesRead` counts
   * stored bytes consumed, i.e. compressed bytes for compressed input; it is the whole file unless a
   * `fatal` stopped the read early.
   */
  stats: { rowsRead: number; rowsEmitted: number; rowsWithRescued: number; bytesRead: number };
  /**
   * Set when the input as a whole is unreadable (zero-byte Parquet, truncated archive before any row,
   * not the declared format): the ingest stage dead-letters the file with this reason. Rows already
   * emitted stay valid. Damage found after the sample (a truncated archive) sets it while `batches` is
   * consumed, after the last good batch: check it once `batches` is exhausted.
   */
  fatal?: BadRecord;
  /**
   * CSV and TSV: what the reader decided from the head, for an engine that reads the same bytes
   * itself (the ingest stage's DuckDB copy) and must read them exactly so. Absent for other formats.
   */
  csv?: CsvDecisions;
}

/** What a CSV read decided before its first batch. */
export interface CsvDecisions {
  delimiter: number;
  quote: number;
  /** Equal to `quote` when quotes are escaped by doubling them. */
  escape: number;
  /** The first record is the header (and is not a row). */
  header: boolean;
  /** Fields per record. */
  inputColumns: number;
  /** Whether the file is read as Latin-1 (transcoded); UTF-8 otherwise. */
  latin1: boolean;
  /** The first record starts right at the file's start (after a byte order mark), not after blank lines. */
  recordAtStart: boolean;
  /** Each output column: its name, type, date format and the input field it comes from (-1: none). */
  columns: { name: string; type: DeltaType; input: number; dateFormat: string }[];
  /** Rows the sample holds (bad records excluded): more than 0 means the first batch has rows. */
  sampledRows: number;
}

/** The column holding values that did not fit, as JSON keyed by column name. */
export const RESCUED_COLUMN = '_rescued_data';
