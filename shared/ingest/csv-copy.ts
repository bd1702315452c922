/**
 * CSV into bronze data files by DuckDB: the reader (shared/formats/csv.ts) sniffs the dialect, samples
 * and infers as always, then DuckDB reads the whole file itself with that dialect, every field as text,
 * types each value by SQL that accepts only what the reader would convert to the same value, and writes
 * one Parquet file as the encoder does (duckdb-parquet.ts). Measured on the point-of-sale files it
 * runs at 0.94× DuckDB's own CSV→Parquet speed at 1M rows and 1.22× at 5M, where the reader and
 * encoder ran at 0.51× and 0.58× (docs/benchmarks.md, "Ingest").
 *
 * The copy only ever writes what the reader would have written; everything else goes back to the
 * reader, which has lost nothing meanwhile (it stopped after its sample). So the copy gives up, and
 * the file is read as before, when:
 * - the file is not one DuckDB can read alike: compressed, Latin-1, an escape other than doubled
 *   quotes, blank lines before the first record, a decimal, float, binary or `timestamp_ntz` column, a
 *   partition column fed from the file, a column-mapping table (`csvCopyDeclined` says which);
 * - a quote has spaces between it and its delimiter (`a, "b" ,c`): DuckDB drops them and the quotes,
 *   the reader keeps the text as written (looked for by bytes while DuckDB works);
 * - DuckDB stops on a record: a field count other than the header's (a bad record), a quote left
 *   open, invalid UTF-8, a line longer than its limit (the reader then dead-letters the record with
 *   its offset, as always);
 * - a value the SQL can neither convert nor be sure the reader rescues: it raises an error there,
 *   rather than approximate the reader's rules (digits a double may or may not hold, exponents,
 *   timestamps beyond the common ISO forms, a date alone in a timestamp column), or a rescued value
 *   that is not plain printable ASCII (its JSON text would have escapes).
 *
 * Values the reader certainly rescues (`NA` in an integer column, a 30th of February, leading zeros)
 * are rescued by the SQL alike: null in the column, `{"column":"text"}` in `_rescued_data`, members in
 * column order. The accepted grammar is deliberately narrower than the reader's: a value outside it
 * costs a fallback, never a difference. ingest-csv-copy.test.ts reads every CSV fixture and some
 * sixty edge files both ways and compares.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddFile } from '../delta/actions';
import { duckdbApi } from '../duckdb';
import { duckdbFileType, parquetCopyOptions } from '../delta/duckdb-parquet';
import { parquetFooterLength, readFooterStatistics } from '../delta/parquet';
import { formatPartitionValue } from '../delta/partitions';
import type { DeltaField, DeltaStruct } from '../delta/schema';
import { dataFields } from '../delta/stats';
import { describeDataFile, newDataFilePath, WriteFilesOptions } from '../delta/writer';
import { RESCUED_COLUMN, type ReadResult } from '../formats';
import { quoteIdent, quoteLiteral, sqlLiteral } from '../sql';
import { writeFileFrom } from '../storage/file-sink';
import { LocalStore } from '../storage/local';
import type { ObjectStore } from '../storage/types';
import type { FileMetadata } from './columns';
import { readObjectRanges } from './stream';

/*
 * DuckDB runs with two threads and keeps the file's row order (silver upserts let the later row of a
 * key win), so it holds finished row groups until those before them are written. Its memory limit,
 * row group and read buffer sizes bound that. Measured in the ingest process on the 1M- and 5M-row
 * point-of-sale files: DuckDB's defaults (no limit, 128k-row groups, 32 MB buffers) peaked at 540 MiB,
 * past the bronze bound of 512 MiB; with 64k-row groups and 8 MB buffers, a 192 MB limit made it spill
 * and run at one thread's pace (2.8 s at 1M rows), 320 MB ran at 1.8 s and 6.5 s peaking at 430 and
 * 414 MiB, and a copy given back to the reader late in a 5M-row file peaked at 484 MiB with the
 * allocator returning freed memory (docs/benchmarks.md).
 */
const MEMORY_LIMIT = '320MB';
/** Rows per row group, unless the write options say otherwise. */
const ROW_GROUP_ROWS = 65536;
/** Bytes of CSV each DuckDB thread reads at a time. */
const READ_BUFFER_BYTES = 8 * 1024 * 1024;
/** The error raised by the SQL at a value it cannot say the reader converts or rescues. */
const RESCUE_MARK = 'sluice: a value needs the reader';

/** What a copy did. */
export type CsvCopyOutcome = { copied: true; adds: AddFile[]; rows: number; rowsRescued: number } | { copied: false; reason: string };

/** Everything a copy needs. */
export interface CsvCopyRequest {
  /** The file on local disk. */
  localPath: string;
  /** The reader's result for the same file, its sample taken and no batch consumed. */
  read: ReadResult;
  /** The schema the files are written in (writeSchema of columns.ts). */
  schema: DeltaStruct;
  partitionColumns: string[];
  /** Values of the metadata columns. */
  metadata: FileMetadata;
  /** The table's store. */
  table: ObjectStore;
  /** Row group, file size and statistics settings. */
  files?: WriteFilesOptions;
  /** Folder for DuckDB's output and spill files (default: the OS temp folder). */
  tempRoot?: string;
}

/**
 * Why DuckDB cannot copy this file, or null when it can try.
 *
 * @param read the reader's result (its `csv` decisions)
 * @param schema the write schema
 * @param partitionColumns the table's partition columns
 * @returns the reason, or null
 */
export function csvCopyDeclined(read: ReadResult, schema: DeltaStruct, partitionColumns: string[]): string | null {
  const csv = read.csv;
  if (!csv) return `not CSV (${read.format})`;
  if (read.compression !== 'none') return `compressed (${read.compression})`;
  if (csv.latin1) return 'Latin-1 text';
  if (csv.escape !== csv.quote) return 'an escape character other than a doubled quote';
  if (!csv.recordAtStart) return 'blank lines before the first record';
  if (csv.inputColumns < 2) return 'a single column (blank lines would be rows)';
  const byName = new Map(csv.columns.map((c) => [c.name.toLowerCase(), c]));
  for (const field of schema.fields) {
    // Column mapping: files hold physical names (and ids), which the reader's path writes, not this SQL.
    if (Object.keys(field.metadata ?? {}).some((k) => k.startsWith('delta.columnMapping.'))) return `column ${field.name} is mapped (column mapping)`;
    const lower = field.name.toLowerCase();
    const fed = byName.get(lower);
    if (partitionColumns.includes(field.name)) {
      if (!(lower in METADATA_VALUES)) return `partition column ${field.name} comes from the file`;
      continue;
    }
    if (!duckdbFileType(field)) return `column ${field.name} of a type DuckDB does not write here (${JSON.stringify(field.type)})`;
    if (!fed || fed.input < 0) continue;
    if (fed.type !== field.type) return `column ${field.name} read as ${JSON.stringify(fed.type)} for a ${JSON.stringify(field.type)} column`;
    if (!(typeof field.type === 'string' && (field.type === 'string' || field.type in VALUE_RULES)))
      return `column ${field.name} of type ${JSON.stringify(field.type)}`;
  }
  return null;
}

/** The metadata column values as SQL literals, by lower-case name. */
const METADATA_VALUES: Record<string, (m: FileMetadata) => unknown> = {
  _ingested_at: (m) => m.ingestedAtMicros,
  _source_file: (m) => m.sourceFile,
  _source_etag: (m) => m.sourceEtag,
  _load_date: (m) => m.loadDate,
};

/** Nulls in a typed column: no field, or an empty one (quoted or not), as the reader has it. */
const isEmpty = (v: string) => `(${v} IS NULL OR ${v} = '')`;
const stop = `error(${quoteLiteral(RESCUE_MARK)})`;
/**
 * Text whose JSON string is itself in quotes (printable ASCII without `"` and `\`): the only values
 * the SQL rescues itself, as `JSON.stringify` would write them.
 */
const PLAIN_TEXT = `'[\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]*'`;

/**
 * How SQL types one text field as the reader would, per Delta type:
 * - `accept(v)`: the field converted, or null when the value is outside the grammar accepted here (a
 *   subset of scalars.ts's: where it is narrower, a value may be one the reader converts);
 * - `refuse(v, t)`: true when the reader certainly rescues a non-empty `v` that `accept` left null
 *   (`t`); a value neither accepted nor certainly refused stops the copy.
 */
interface ValueRule {
  accept: (v: string, duck: string, dateFormat: string) => string;
  refuse: (v: string, t: string, dateFormat: string) => string;
}

const INTEGER: ValueRule = {
  // The reader's integer grammar exactly: no sign but `-`, no leading zeros, within the type's range.
  accept: (v, duck) => `CASE WHEN regexp_full_match(${v}, '-?(0|[1-9][0-9]{0,18})') THEN TRY_CAST(${v} AS ${duck}) END`,
  refuse: () => 'true',
};

const VALUE_RULES: Record<string, ValueRule> = {
  byte: INTEGER,
  short: INTEGER,
  integer: INTEGER,
  long: INTEGER,
  // Plain decimals (no exponent, no leading zeros). Up to 15 digits a double holds every one exactly;
  // beyond, only those that a double prints back digit for digit (1.8630000000000002), as the reader
  // has it. Both sides round correctly, so the values are the same. Certainly refused: text that is no
  // number literal at all, or one with leading zeros.
  double: {
    accept: (v, duck) =>
      `CASE WHEN regexp_full_match(${v}, '-?(0|[1-9][0-9]*)(\\.[0-9]+)?') AND (length(${v}) - (${v}[1] = '-')::INTEGER - contains(${v}, '.')::INTEGER <= 15 OR CAST(CAST(${v} AS DOUBLE) AS VARCHAR) = ${v}) THEN CAST(${v} AS ${duck}) END`,
    refuse: (v) => `(NOT regexp_full_match(${v}, '-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?') OR regexp_full_match(${v}, '-?0[0-9].*'))`,
  },
  boolean: {
    accept: (v) => `CASE lower(${v}) WHEN 'true' THEN true WHEN 'false' THEN false END`,
    refuse: () => 'true',
  },
  // ISO in every date column, and the column's own format with one- or two-digit day and month.
  // Certainly refused: not 8 to 10 digits and separators, or in an accepted shape but no calendar date.
  date: {
    accept: (v, duck, dateFormat) => {
      const other = DATE_FORMATS[dateFormat];
      const own = other ? ` WHEN regexp_full_match(${v}, '${other.pattern}') THEN CAST(try_strptime(${v}, '${other.strptime}') AS ${duck})` : '';
      return `CASE WHEN regexp_full_match(${v}, '${ISO_DATE}') THEN TRY_CAST(${v} AS ${duck})${own} END`;
    },
    refuse: (v, t, dateFormat) => {
      const other = DATE_FORMATS[dateFormat];
      const shaped = `regexp_full_match(${v}, '${ISO_DATE}')${other ? ` OR regexp_full_match(${v}, '${other.pattern}')` : ''}`;
      return `(length(${v}) NOT BETWEEN 8 AND 10 OR NOT regexp_full_match(${v}, '[0-9./-]+') OR ((${shaped}) AND ${t} IS NULL))`;
    },
  },
  // Certainly refused: not starting with a yyyy-MM-dd date, or in the accepted shape but no calendar time.
  timestamp: {
    accept: (v, duck) => `CASE WHEN regexp_full_match(${v}, '${ISO_TIMESTAMP}') THEN TRY_CAST(${v} AS ${duck}) END`,
    refuse: (v, t) =>
      `(NOT regexp_full_match(substr(${v}, 1, 10), '[0-9]{4}-[0-9]{2}-[0-9]{2}') OR (regexp_full_match(${v}, '${ISO_TIMESTAMP}') AND ${t} IS NULL))`,
  },
};

const ISO_DATE = '[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}';
const ISO_TIMESTAMP = '[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?';

/** The date formats besides ISO: the shape the reader accepts (scanDate) and DuckDB's reading of it. */
const DATE_FORMATS: Record<string, { pattern: string; strptime: string }> = {
  'yyyy/MM/dd': { pattern: '[1-9][0-9]{3}/[0-9]{1,2}/[0-9]{1,2}', strptime: '%Y/%m/%d' },
  'M/d/yyyy': { pattern: '[0-9]{1,2}/[0-9]{1,2}/[1-9][0-9]{3}', strptime: '%m/%d/%Y' },
  'd/M/yyyy': { pattern: '[0-9]{1,2}/[0-9]{1,2}/[1-9][0-9]{3}', strptime: '%d/%m/%Y' },
  'd.M.yyyy': { pattern: '[0-9]{1,2}\\.[0-9]{1,2}\\.[1-9][0-9]{3}', strptime: '%d.%m.%Y' },
};

/** One file column: its SQL over the typed fields (`t<k>`) and texts (`c<k>`), and its rescue member. */
interface ColumnPlan {
  /** `t<k>` expression of the inner SELECT, for a typed column fed from the file. */
  typed?: string;
  /** The column in the outer SELECT. */
  value: string;
  /** `"name":"text"` when the reader rescues this row's value, else null. */
  member?: string;
}

function planColumn(field: DeltaField, request: CsvCopyRequest): ColumnPlan {
  const duck = duckdbFileType(field)!;
  const lower = field.name.toLowerCase();
  const name = quoteIdent(field.name);
  const constant = METADATA_VALUES[lower];
  if (constant) return { value: `CAST(${sqlLiteral(constant(request.metadata), field.type)} AS ${duck}) AS ${name}` };
  const fed = request.read.csv!.columns.find((c) => c.name.toLowerCase() === lower);
  if (!fed || fed.input < 0) return { value: `NULL::${duck} AS ${name}` };
  const v = `c${fed.input}`;
  if (field.type === 'string') return { value: `${v} AS ${name}` };
  const rule = VALUE_RULES[field.type as string];
  const t = `t${fed.input}`;
  const refused = `NOT ${isEmpty(v)} AND ${t} IS NULL`;
  return {
    typed: `CASE WHEN ${isEmpty(v)} THEN NULL ELSE ${rule.accept(v, duck, fed.dateFormat)} END AS ${t}`,
    value: `CASE WHEN ${isEmpty(v)} OR ${t} IS NOT NULL THEN ${t} WHEN ${rule.refuse(v, t, fed.dateFormat)} AND regexp_full_match(${v}, ${PLAIN_TEXT}) THEN NULL ELSE ${stop} END AS ${name}`,
    // The value was either accepted, or refused (or the copy stopped) just above.
    member: `CASE WHEN ${refused} THEN ${quoteLiteral(`${JSON.stringify(field.name)}:"`)} || ${v} || '"' END`,
  };
}

/** The SELECT writing the file: typed fields inside, the file's columns and `_rescued_data` outside. */
function selectSql(fields: DeltaField[], request: CsvCopyRequest): string {
  const plans = fields.map((f) => ({ field: f, plan: planColumn(f, request) }));
  const csv = request.read.csv!;
  const texts = Array.from({ length: csv.inputColumns }, (_, i) => `c${i}`);
  const typed = plans.flatMap((p) => (p.plan.typed ? [p.plan.typed] : []));
  const members = plans.flatMap((p) => (p.plan.member ? [p.plan.member] : []));
  // Members in column order, as the reader adds them.
  const rescued = members.length
    ? `CASE WHEN ${members.map((m) => `${m} IS NOT NULL`).join(' OR ')} THEN '{' || concat_ws(',', ${members.join(', ')}) || '}' END`
    : 'NULL';
  const columns = plans.map(({ field, plan }) =>
    field.name.toLowerCase() === RESCUED_COLUMN ? `CAST(${rescued} AS VARCHAR) AS ${quoteIdent(field.name)}` : plan.value,
  );
  return `SELECT ${columns.join(', ')} FROM (SELECT ${[...texts, ...typed].join(', ')} FROM ${sourceSql(request)})`;
}

/** `read_csv` with the reader's dialect, every field as text, stopping at anything it would not read alike. */
function sourceSql(request: CsvCopyRequest): string {
  const csv = request.read.csv!;
  const char = (b: number) => quoteLiteral(String.fromCharCode(b));
  const columns = Array.from({ length: csv.inputColumns }, (_, i) => `'c${i}': 'VARCHAR'`).join(', ');
  return `read_csv(${quoteLiteral(request.localPath)}, auto_detect = false, header = ${csv.header}, delim = ${char(csv.delimiter)}, quote = ${char(csv.quote)}, escape = ${char(csv.escape)}, columns = {${columns}}, strict_mode = true, null_padding = false, allow_quoted_nulls = false, encoding = 'utf-8', buffer_size = ${READ_BUFFER_BYTES})`;
}

/**
 * Copy a CSV file into data files of the table with DuckDB, or say why not (the caller then reads it
 * with the reader). Nothing is committed; files uploaded before a failure are deleted.
 *
 * @param request the file, the reader's decisions, the write schema and table
 * @returns the `add` actions and rows written, or why the copy gave up
 */
export async function copyCsvIntoFiles(request: CsvCopyRequest): Promise<CsvCopyOutcome> {
  const declined = csvCopyDeclined(request.read, request.schema, request.partitionColumns);
  if (declined) return { copied: false, reason: declined };
  const csv = request.read.csv!;
  const fields = dataFields(request.schema, request.partitionColumns);
  const partitionValues: Record<string, string | null> = {};
  for (const column of request.partitionColumns) {
    const field = request.schema.fields.find((f) => f.name === column)!;
    partitionValues[column] = formatPartitionValue(METADATA_VALUES[column.toLowerCase()](request.metadata), field.type);
  }
  request.files?.acceptPartition?.(partitionValues);
  const dir = await mkdtemp(nodePath.join(request.tempRoot ?? tmpdir(), 'sluice-csv-copy-'));
  let instance: import('@duckdb/node-api').DuckDBInstance;
  let connection: import('@duckdb/node-api').DuckDBConnection;
  try {
    const { DuckDBInstance } = duckdbApi();
    instance = await DuckDBInstance.create(':memory:', {
      threads: String(Math.max(1, Math.min(2, cpus().length))),
      memory_limit: MEMORY_LIMIT,
      temp_directory: nodePath.join(dir, 'spill'),
      // Memory DuckDB freed goes back to the system, for the reader when the copy gives the file back.
      allocator_flush_threshold: '16MB',
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    });
    connection = await instance.connect();
  } catch (err) {
    // A DuckDB that does not load or start here leaves the file to the reader, not failed.
    await rm(dir, { recursive: true, force: true });
    return { copied: false, reason: `DuckDB did not start: ${firstLine((err as Error).message ?? String(err))}` };
  }
  const uploaded: string[] = [];
  const path = newDataFilePath(request.partitionColumns, partitionValues);
  // A table on local disk gets DuckDB's file by a rename: copying it would cost about as much as
  // writing it again (70 ms of the 35 MB of a 1M-row file).
  const direct = request.table instanceof LocalStore ? await request.table.tempFileFor(path) : null;
  try {
    try {
      await connection.run(`SET TimeZone = 'UTC'`);
      const out = direct?.file ?? nodePath.join(dir, 'out.parquet');
      const metadata = { 'sluice.schema': JSON.stringify(fields.map((f) => f.name)) };
      // One file, whatever the size: DuckDB keeps the row order within a file, but not across the
      // files of a COPY that rotates them (FILE_SIZE_BYTES, ROW_GROUPS_PER_FILE), measured with two threads.
      const options = parquetCopyOptions({ rowGroupRows: request.files?.rowGroupRows ?? ROW_GROUP_ROWS, metadata });
      const select = selectSql(fields, request);
      // Looked for while DuckDB works: the main thread is idle meanwhile.
      const spaced = spacedQuoteAt(request.localPath, csv.delimiter, csv.quote);
      spaced.catch(() => undefined);
      try {
        await connection.run(`COPY (${select}) TO ${quoteLiteral(out)} (${options})`);
      } catch (err) {
        const message = (err as Error).message ?? String(err);
        return { copied: false, reason: message.includes(RESCUE_MARK) ? 'a value only the reader reads exactly' : `DuckDB stopped: ${firstLine(message)}` };
      }
      const at = await spaced;
      if (at >= 0) return { copied: false, reason: `spaces beside a quote that opens or closes a field (byte offset ${at})` };
      const end = await fileTail(out);
      const groups = (await readFooterStatistics(end)).rowGroups;
      const rows = groups.reduce((n, g) => n + g.numRows, 0);
      // Rows with rescued values: the rows less the nulls of `_rescued_data`, from the footer.
      let rescuedNulls = 0;
      for (const group of groups) {
        const chunk = group.columns.find((c) => c.path.length === 1 && c.path[0].toLowerCase() === RESCUED_COLUMN);
        if (chunk?.nullCount === undefined) return { copied: false, reason: 'no null count of _rescued_data in the footer' };
        rescuedNulls += chunk.nullCount;
      }
      if (rows === 0) return { copied: true, adds: [], rows, rowsRescued: 0 };
      uploaded.push(path);
      const info = direct
        ? await direct.place()
        : await request.table.write(path, createReadStream(out, { highWaterMark: 4 * 1024 * 1024 }), {
            contentType: 'application/vnd.apache.parquet',
          });
      const adds = [await describeDataFile(fields, request.files?.statsColumns, path, partitionValues, info, end, rows)];
      return { copied: true, adds, rows, rowsRescued: rows - rescuedNulls };
    } finally {
      connection.closeSync();
    }
  } catch (err) {
    // Nothing will commit these files: remove them now rather than leave orphans for vacuum.
    await Promise.allSettled(uploaded.map((p) => request.table.delete(p)));
    throw err;
  } finally {
    instance.closeSync();
    // Gone once placed; a copy declined or failed leaves it behind.
    await direct?.discard();
    await rm(dir, { recursive: true, force: true });
  }
}

const SPACE = 0x20;
const TAB = 0x09;
const isSpace = (b: number) => b === SPACE || b === TAB;
const SCAN_BYTES = 4 * 1024 * 1024;
/** Each read window starts this far before the previous one ended, so a quote near its start has context. */
const SCAN_OVERLAP = 256;

/**
 * Where a quote has spaces or tabs between it and the delimiter or line end beside it (`a, "b" ,c`),
 * or -1. DuckDB reads such a field as the quoted text alone; the reader keeps the spaces and the
 * quotes as written. The look is by bytes, so it also finds such sequences inside quoted text: those
 * files go to the reader too, which costs time, never a difference. A run of spaces longer than the
 * overlap of read windows counts as found, for the same reason.
 */
async function spacedQuoteAt(path: string, delimiter: number, quote: number): Promise<number> {
  const edge = (b: number) => b === delimiter || b === 0x0a || b === 0x0d;
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(SCAN_BYTES);
    for (let pos = 0; ;) {
      const { bytesRead } = await handle.read(buf, 0, SCAN_BYTES, pos);
      if (bytesRead === 0) return -1;
      const last = bytesRead < SCAN_BYTES;
      let next = pos + bytesRead - SCAN_OVERLAP;
      for (let i = buf.indexOf(quote, 0); i >= 0 && i < bytesRead; i = buf.indexOf(quote, i + 1)) {
        // A quote within the overlap of a later window was looked at, with what precedes it, in the one before.
        if (i > 0 && isSpace(buf[i - 1]) && !(pos > 0 && i < SCAN_OVERLAP)) {
          let j = i - 1;
          while (j > 0 && isSpace(buf[j])) j--;
          // Spaces back to the start of the file, or of a window: found.
          if (isSpace(buf[j]) || edge(buf[j])) return pos + i;
        }
        if (i + 1 < bytesRead && isSpace(buf[i + 1])) {
          let j = i + 1;
          while (j < bytesRead - 1 && isSpace(buf[j])) j++;
          if (edge(buf[j]) || (isSpace(buf[j]) && (last || i < SCAN_OVERLAP))) return pos + i;
          if (isSpace(buf[j])) {
            // The spaces run past the window: look again from just before this quote.
            next = pos + i - 1;
            break;
          }
        }
      }
      if (last) return -1;
      pos = next;
    }
  } finally {
    await handle.close();
  }
}

function firstLine(text: string): string {
  const line = text.split('\n')[0];
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** The end of a local Parquet file, its whole footer included. */
async function fileTail(path: string): Promise<Uint8Array> {
  const size = (await stat(path)).size;
  const handle = await open(path, 'r');
  try {
    const read = async (length: number) => {
      const out = new Uint8Array(Math.min(length, size));
      await handle.read(out, 0, out.length, size - out.length);
      return out;
    };
    const tail = await read(64 * 1024);
    const footer = parquetFooterLength(tail);
    return footer > tail.length ? await read(footer) : tail;
  } finally {
    await handle.close();
  }
}

/** Files smaller than this are left to the reader: DuckDB's start-up costs more than it saves there. */
export const CSV_COPY_MIN_BYTES = 8 * 1024 * 1024;

/** A landing file on local disk, for DuckDB to read and the reader to read alike. */
export interface LocalInput {
  /** Absolute path of the bytes. */
  path: string;
  /** The store and path the reader reads them from. */
  store: ObjectStore;
  name: string;
  /** Whether the bytes are a copy taken (and checked against the ETag) for this ingestion. */
  spooled: boolean;
  /** Delete the copy, if one was taken. */
  dispose(): Promise<void>;
  /** Set by the ingestion: `duckdb`, or `reader (why not DuckDB)`. */
  readBy?: string;
}

/**
 * Whether an ingestion tries the DuckDB copy: a CSV or TSV file by its declared format or name, large
 * enough to gain from it.
 *
 * @param path the blob path
 * @param format the source's declared format
 * @param size the file's size
 * @param anySize whether small files are tried too
 * @returns true to try
 */
export function wantsCsvCopy(path: string, format: string | undefined, size: number, anySize = false): boolean {
  if (size < CSV_COPY_MIN_BYTES && !anySize) return false;
  if (format && format !== 'auto') return format === 'csv' || format === 'tsv';
  return /\.(csv|tsv)$/i.test(path);
}

/**
 * The landing file on local disk: where it is, for a local landing store; else a copy in the temp
 * folder, read by ranges and checked against its ETag at the end.
 *
 * @param landing the landing store
 * @param path the blob path
 * @param size its size
 * @param etag the ETag it must still have
 * @param chunkBytes range size
 * @returns the local input; dispose it once the file is ingested
 */
export async function localInputOf(landing: ObjectStore, path: string, size: number, etag: string, chunkBytes?: number): Promise<LocalInput> {
  const url = new URL(landing.url);
  if (url.protocol === 'file:') {
    return { path: nodePath.join(fileURLToPath(url), ...path.split('/')), store: landing, name: path, spooled: false, dispose: async () => undefined };
  }
  const dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-landing-'));
  const local = nodePath.join(dir, 'input');
  try {
    await writeFileFrom(local, readObjectRanges(landing, path, size, { chunkBytes, etag }));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return { path: local, store: new LocalStore(dir), name: 'input', spooled: true, dispose: () => rm(dir, { recursive: true, force: true }) };
}
