/**
 * Parquet encoding by DuckDB, for the flat column types ingestion writes (strings, integers, floats,
 * booleans, dates, timestamps): measured at 1.4 s for the 1M-row point-of-sale batches where
 * parquet-wasm took 2.2 s (docs/benchmarks.md), with the same footer statistics.
 *
 * The record batches are handed to DuckDB through a table function (`sluice_batches`) whose scan
 * copies each Arrow column into DuckDB's vectors 2,048 rows at a time, and `COPY … TO <file>
 * (FORMAT parquet, COMPRESSION zstd)` writes the file, row group by row group, to a local temporary
 * file. Fixed-width columns and validity bitmaps are copied as bytes (Arrow and DuckDB lay them out
 * alike). Strings are not passed one by one — a call per value cost more than all of parquet-wasm:
 * the column's bytes for the 2,048 rows go into the vector's string heap with one call, and the
 * 16-byte string headers DuckDB keeps per value (length, then up to 12 bytes inline, or a 4-byte
 * prefix and a pointer) are written pointing into that copy.
 *
 * The scan pulls batches synchronously (`next`): DuckDB calls it on this thread while the COPY
 * runs, so it is meant for an encoding worker (encode-worker.ts), which blocks there until the main
 * thread sends the next batch. Runs DuckDB with one thread and a memory limit: the other core reads
 * the input, and the resident set must stay within the bronze ingest's bound.
 *
 * Anything else (nested types, decimals, binary, column mapping field ids) stays with parquet-wasm:
 * `duckdbEncodable` says which; the choice is made in encode-worker.ts.
 */
import * as arrow from 'apache-arrow';
import { duckdbApi, duckdbBindings, type DuckdbApi, type DuckdbBindings } from '../duckdb';
import { DeltaField, deltaFieldToArrow, PARQUET_FIELD_ID } from './schema';
import type { ParquetWriteOptions } from './parquet';

/**
 * DuckDB's memory limit inside an encoding worker: a row group being written is all it holds. 160MB put
 * the 5M-row CSV into Azurite at 520–590 MiB peak RSS (with 65,536-row batches), past the 512 MiB
 * bound. 64MB was below what one 128k-row row group of the point-of-sale rows takes: DuckDB then
 * compressed and spilled its buffers (zstd in and out) and its thread spent 2.2 CPU s on the 1M-row
 * NDJSON file where 80MB and more took 1.1 CPU s, with no lower peak RSS for it (docs/benchmarks.md).
 */
const MEMORY_LIMIT = '96MB';
/** The table function the COPY reads from. */
const SCAN_FUNCTION = 'sluice_batches';

const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** The DuckDB column type for an Arrow type it encodes here, or null. */
function duckdbTypeName(type: arrow.DataType): string | null {
  if (arrow.DataType.isUtf8(type)) return 'VARCHAR';
  if (arrow.DataType.isBool(type)) return 'BOOLEAN';
  if (arrow.DataType.isInt(type)) {
    if (!type.isSigned) return null;
    return ({ 8: 'TINYINT', 16: 'SMALLINT', 32: 'INTEGER', 64: 'BIGINT' } as Record<number, string>)[type.bitWidth] ?? null;
  }
  if (arrow.DataType.isFloat(type)) return type.precision === arrow.Precision.DOUBLE ? 'DOUBLE' : type.precision === arrow.Precision.SINGLE ? 'FLOAT' : null;
  if (arrow.DataType.isDate(type)) return type.unit === arrow.DateUnit.DAY ? 'DATE' : null;
  if (arrow.DataType.isTimestamp(type)) return type.unit === arrow.TimeUnit.MICROSECOND ? (type.timezone ? 'TIMESTAMPTZ' : 'TIMESTAMP') : null;
  return null;
}

/**
 * Whether DuckDB encodes files of this schema here: every column of a flat type listed above, and no
 * Parquet field ids (column mapping `id` mode writes them; parquet-wasm does).
 *
 * @param schema the file's Arrow schema
 * @returns true when `encodeWithDuckdb` takes it
 */
export function duckdbEncodable(schema: arrow.Schema): boolean {
  return schema.fields.length > 0 && schema.fields.every((f) => duckdbTypeName(f.type) !== null && !f.metadata.has(PARQUET_FIELD_ID));
}

/**
 * The DuckDB type a column of a data file is written with by `encodeWithDuckdb`, or null when DuckDB
 * does not encode it here; for SQL that writes data files itself and must write them alike.
 *
 * @param field the Delta field
 * @returns the type name, e.g. `TIMESTAMPTZ` for `timestamp`
 */
export function duckdbFileType(field: DeltaField): string | null {
  const column = deltaFieldToArrow(field);
  return column.metadata.has(PARQUET_FIELD_ID) ? null : duckdbTypeName(column.type);
}

/**
 * The options of a `COPY … TO … (…)` that writes Parquet as `encodeWithDuckdb` does: zstd, the row
 * group size, the footer's key-value metadata.
 *
 * @param options row group size and footer metadata
 * @returns the options, comma-separated
 */
export function parquetCopyOptions(options: ParquetWriteOptions = {}): string {
  const metadata = Object.entries(options.metadata ?? {});
  return [
    'FORMAT parquet',
    'COMPRESSION zstd',
    `ROW_GROUP_SIZE ${Math.max(1, Math.floor(options.rowGroupRows ?? 131072))}`,
    ...(metadata.length ? [`KV_METADATA {${metadata.map(([k, v]) => `${quote(k)}: ${quote(v)}`).join(', ')}}`] : []),
  ].join(', ');
}

type Bindings = DuckdbBindings;
type NodeApi = DuckdbApi;

/** What the scan reads from: the file being encoded (one at a time per thread). */
interface ScanState {
  schema: arrow.Schema;
  next: () => arrow.RecordBatch | null;
  batch: arrow.RecordBatch | null;
  row: number;
  failure: Error | null;
}

/** DuckDB in this thread, opened on first use. */
interface Engine {
  bindings: Bindings;
  api: NodeApi;
  connection: import('@duckdb/node-api').DuckDBConnection;
  current: ScanState | null;
}

let engine: Engine | null = null;

/**
 * Load DuckDB in this thread (the native module), so that a worker can say at start-up whether it
 * encodes with DuckDB.
 *
 * @returns null when it loads, else why not
 */
export async function duckdbUnavailable(): Promise<string | null> {
  try {
    duckdbBindings();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

async function openEngine(): Promise<Engine> {
  if (engine) return engine;
  const bindings: Bindings = duckdbBindings();
  const api: NodeApi = duckdbApi();
  const instance = await api.DuckDBInstance.create(':memory:', {
    threads: '1',
    memory_limit: MEMORY_LIMIT,
    allocator_flush_threshold: '16MB',
    // The flush threshold acts when a task ends, and a file's COPY is one long task: without jemalloc's
    // background purging, memory DuckDB had freed stayed resident at random moments of a long file
    // (5M NDJSON rows: peaks of 416-468 MiB in 5 of 6 runs where the run held 380-395 MiB; with it,
    // 381-394 MiB, and one 422 MiB peak at start-up).
    allocator_background_threads: 'true',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const connection = await instance.connect();
  // parquet is built in; nothing else is needed, and the session must not guess time zones.
  await connection.run(`SET TimeZone = 'UTC'`);
  const created: Engine = { bindings, api, connection, current: null };
  const vectorSize = bindings.vector_size();
  const scratch = new Uint8Array(16 * vectorSize);
  const allValid = new Uint8Array(vectorSize / 8).fill(0xff);
  const fn = api.DuckDBTableFunction.create({
    name: SCAN_FUNCTION,
    bindFunction: (bind) => {
      const state = created.current;
      if (!state) {
        bind.setError('no batches to scan');
        return;
      }
      for (const field of state.schema.fields) bind.addResultColumn(field.name, logicalType(api, field.type));
    },
    initFunction: (init) => init.setMaxThreads(1),
    mainFunction: (info, output) => {
      const state = created.current;
      try {
        if (!state) throw new Error('no batches to scan');
        while (!state.batch || state.row >= state.batch.numRows) {
          state.batch = state.next();
          state.row = 0;
          if (!state.batch) {
            output.rowCount = 0;
            return;
          }
        }
        const count = Math.min(vectorSize, state.batch.numRows - state.row);
        fillChunk(bindings, output.chunk, state.batch, state.row, count, scratch, allValid);
        state.row += count;
      } catch (err) {
        if (state) state.failure ??= err instanceof Error ? err : new Error(String(err));
        info.setError((err as Error).message ?? String(err));
      }
    },
  });
  connection.registerTableFunction(fn);
  engine = created;
  return created;
}

function logicalType(api: NodeApi, type: arrow.DataType): import('@duckdb/node-api').DuckDBType {
  switch (duckdbTypeName(type)) {
    case 'VARCHAR':
      return api.VARCHAR;
    case 'BOOLEAN':
      return api.BOOLEAN;
    case 'TINYINT':
      return api.TINYINT;
    case 'SMALLINT':
      return api.SMALLINT;
    case 'INTEGER':
      return api.INTEGER;
    case 'BIGINT':
      return api.BIGINT;
    case 'FLOAT':
      return api.FLOAT;
    case 'DOUBLE':
      return api.DOUBLE;
    case 'DATE':
      return api.DATE;
    case 'TIMESTAMPTZ':
      return api.TIMESTAMPTZ;
    case 'TIMESTAMP':
      return api.TIMESTAMP;
    default:
      throw new Error(`duckdb parquet: no DuckDB type for Arrow ${String(type)}`);
  }
}

/** Copy rows [row, row + count) of a batch into DuckDB's output chunk. */
function fillChunk(
  bindings: Bindings,
  chunk: import('@duckdb/node-bindings').DataChunk,
  batch: arrow.RecordBatch,
  row: number,
  count: number,
  scratch: Uint8Array,
  allValid: Uint8Array,
): void {
  bindings.data_chunk_set_size(chunk, count);
  for (let c = 0; c < batch.numCols; c++) {
    const vector = bindings.data_chunk_get_vector(chunk, c);
    const column = batch.getChildAt(c)!;
    // A RecordBatch column is one Data; a Vector of several would need a walk across them.
    if (column.data.length !== 1) throw new Error('duckdb parquet: a batch column of several chunks');
    const data = column.data[0];
    // A sliced Data keeps whole validity and boolean bitmaps and counts `offset` into them, while its
    // value offsets and fixed-width values are cut to the slice.
    const first = data.offset + row;
    copyValidity(bindings, vector, data, first, count, allValid);
    const type = data.type;
    if (arrow.DataType.isUtf8(type)) copyStrings(bindings, vector, data as arrow.Data<arrow.Utf8>, row, count, scratch);
    else if (arrow.DataType.isBool(type)) {
      const bits = data.values as Uint8Array;
      for (let i = 0; i < count; i++) scratch[i] = (bits[(first + i) >> 3] >> ((first + i) & 7)) & 1;
      bindings.copy_data_to_vector(vector, 0, scratch.buffer as ArrayBuffer, scratch.byteOffset, count);
    } else {
      const values = data.values as unknown as { buffer: ArrayBuffer; byteOffset: number; byteLength: number; BYTES_PER_ELEMENT: number };
      const width = values.BYTES_PER_ELEMENT;
      // The copy is native and unchecked: reading past the buffer would take the process down.
      if ((row + count) * width > values.byteLength) throw new Error(`duckdb parquet: column ${c} holds fewer values than the batch has rows`);
      bindings.copy_data_to_vector(vector, 0, values.buffer, values.byteOffset + row * width, count * width);
    }
  }
}

/**
 * The validity mask (same bit order as Arrow's: bit i of byte i/8, set = valid). Written for every
 * chunk, all-valid ones included: the scan's output vectors are reused, and a mask left from an
 * earlier chunk with nulls would null values of this one.
 */
function copyValidity(
  bindings: Bindings,
  vector: import('@duckdb/node-bindings').Vector,
  data: arrow.Data,
  first: number,
  count: number,
  allValid: Uint8Array,
): void {
  bindings.vector_ensure_validity_writable(vector);
  const bitmap = data.nullCount > 0 ? data.nullBitmap : undefined;
  if (!bitmap || bitmap.length === 0) {
    bindings.copy_data_to_vector_validity(vector, 0, allValid.buffer as ArrayBuffer, 0, Math.ceil(count / 8));
    return;
  }
  if ((first + count + 7) >> 3 > bitmap.length) throw new Error('duckdb parquet: a validity bitmap shorter than its column');
  if ((first & 7) === 0) {
    bindings.copy_data_to_vector_validity(vector, 0, bitmap.buffer as ArrayBuffer, bitmap.byteOffset + (first >> 3), Math.ceil(count / 8));
    return;
  }
  // A slice starting mid-byte: shift the bits into place.
  const shifted = new Uint8Array(Math.ceil(count / 8));
  for (let i = 0; i < count; i++) if ((bitmap[(first + i) >> 3] >> ((first + i) & 7)) & 1) shifted[i >> 3] |= 1 << (i & 7);
  bindings.copy_data_to_vector_validity(vector, 0, shifted.buffer, 0, shifted.length);
}

/** Largest string DuckDB keeps inside its 16-byte header. */
const INLINE_BYTES = 12;

/**
 * Strings of rows [first, first + count) (indexes into the value offsets): their bytes are added to the vector's string heap as one
 * value (one call, one copy; DuckDB checks the UTF-8 there), whose address is read back from the
 * header DuckDB wrote; then every row's header is written: length, and either the bytes inline
 * (zero-padded, as DuckDB compares inline strings by all 12 bytes) or the first 4 bytes and the
 * address of the value within the heap copy. The heap belongs to the vector until the chunk has been
 * consumed, as with any string DuckDB adds.
 */
function copyStrings(
  bindings: Bindings,
  vector: import('@duckdb/node-bindings').Vector,
  data: arrow.Data<arrow.Utf8>,
  first: number,
  count: number,
  scratch: Uint8Array,
): void {
  const offsets = data.valueOffsets;
  const bytes = data.values;
  const start = offsets[first];
  const end = offsets[first + count];
  if (first + count >= offsets.length || end > bytes.length || start > end) throw new Error('duckdb parquet: string offsets outside their column');
  const words = new Uint32Array(scratch.buffer, scratch.byteOffset, scratch.length >> 2);
  let baseLow = 0;
  let baseHigh = 0;
  if (end - start > INLINE_BYTES) {
    bindings.vector_assign_string_element_len(vector, 0, bytes.subarray(start, end));
    const header = bindings.vector_get_data(vector, 16);
    const view = new DataView(header.buffer, header.byteOffset, 16);
    baseLow = view.getUint32(8, true);
    baseHigh = view.getUint32(12, true);
  }
  for (let i = 0; i < count; i++) {
    const at = offsets[first + i];
    const length = offsets[first + i + 1] - at;
    const h = i * 16;
    words[i * 4] = length;
    if (length <= INLINE_BYTES) {
      words[i * 4 + 1] = 0;
      words[i * 4 + 2] = 0;
      words[i * 4 + 3] = 0;
      for (let k = 0; k < length; k++) scratch[h + 4 + k] = bytes[at + k];
    } else {
      scratch[h + 4] = bytes[at];
      scratch[h + 5] = bytes[at + 1];
      scratch[h + 6] = bytes[at + 2];
      scratch[h + 7] = bytes[at + 3];
      const low = baseLow + (at - start);
      words[i * 4 + 2] = low >>> 0;
      words[i * 4 + 3] = baseHigh + (low > 0xffffffff ? 1 : 0);
    }
  }
  bindings.copy_data_to_vector(vector, 0, scratch.buffer as ArrayBuffer, scratch.byteOffset, count * 16);
}

/**
 * Encode batches as one Parquet file (zstd) at a local path, with DuckDB on this thread.
 *
 * @param next the next batch, or null at the end; called synchronously (also while the COPY runs), may
 *   block. The first batch's schema is the file's (`duckdbEncodable`); there must be one.
 * @param path the output file (created or replaced)
 * @param options row group size and footer metadata
 */
export async function encodeWithDuckdb(next: () => arrow.RecordBatch | null, path: string, options: ParquetWriteOptions = {}): Promise<void> {
  const db = await openEngine();
  if (db.current) throw new Error('duckdb parquet: one file at a time per thread');
  const first = next();
  if (!first) throw new Error('duckdb parquet: a file needs at least one batch');
  const schema = first.schema;
  if (!duckdbEncodable(schema)) throw new Error('duckdb parquet: the schema has a column DuckDB does not encode here');
  const state: ScanState = { schema, next, batch: first, row: 0, failure: null };
  db.current = state;
  const columns = schema.fields.map((f) => `"${f.name.replace(/"/g, '""')}"`).join(', ');
  try {
    await db.connection.run(`COPY (SELECT ${columns} FROM ${SCAN_FUNCTION}()) TO ${quote(path)} (${parquetCopyOptions(options)})`);
  } catch (err) {
    // The scan's own failure (the input side gave up) says more than DuckDB's wrapping of it.
    throw state.failure ?? err;
  } finally {
    db.current = null;
  }
  if (state.failure) throw state.failure;
}
