/**
 * Writing data files: record batches in the table schema are split by partition, encoded to Parquet
 * (zstd) as they arrive (in a worker thread when the batches are big enough to be worth it, see
 * encode-worker.ts), streamed to storage under fresh UUID names in Hive-style partition folders, and
 * described by `add` actions with statistics. Nothing is committed here; files that are never
 * committed are orphans for vacuum to remove.
 *
 * The statistics come from the Parquet footer: the encoder computes min, max and null count of every
 * column chunk anyway, so reading them back costs nothing, where computing them again in JS cost more
 * than the encoding itself. Their bounds are the values of the column chunks (a bound the encoder
 * truncated is still a bound), cut to Delta's rules by stats.ts.
 */
import { randomUUID } from 'node:crypto';
import * as arrow from 'apache-arrow';
import type { ObjectStore } from '../storage/types';
import type { AddFile } from './actions';
import { WriteRejectedError } from './errors';
import { EncodeThread, openParquetEncoder, ParquetEngine, prewarmParquetEncoder } from './encode-worker';
import { ChunkStatistics, concatBytes, parquetFooterLength, readFooterStatistics } from './parquet';
import { decodeAddPath, encodeAddPath, formatPartitionValue, partitionDirectory } from './partitions';
import { decimalParams, deltaFieldToArrow, DeltaField, DeltaStruct, DeltaType } from './schema';
import { dataFields, newStats, StatsCollector, statsToJson } from './stats';
import { buildVector, isCanonicalArrowType, readValue, readValues } from './values';

/** Options for writing data files. */
export interface WriteFilesOptions {
  /** Roll to a new file once this many encoded bytes were written (default 128 MiB). */
  targetFileBytes?: number;
  /** Roll to a new file after this many rows (default 4M). */
  maxRowsPerFile?: number;
  /** Rows per Parquet row group (default 128k). */
  rowGroupRows?: number;
  /** Columns to collect min/max/nullCount for (Delta's dataSkippingNumIndexedCols). */
  statsColumns?: number;
  /** Called with each new partition's values before its first file is opened; throw to refuse the rows. */
  acceptPartition?: (values: Record<string, string | null>) => void;
  /**
   * Where Parquet is encoded: `auto` (default) in a worker thread when the file's first batch holds at
   * least 1 MiB and a worker is free, `main` always on this thread.
   */
  encodeThread?: EncodeThread;
  /**
   * Files below 1 MiB go to an idle worker too, encoded there by parquet-wasm (DuckDB, with its
   * temporary file read back, took as long on 1,000-row files), instead of always on this thread: for callers that
   * write many small files at once (event batches of several partitions), whose encoding would
   * otherwise all fall on the thread that also reads their input. Ignored when `encodeThread` is `main`.
   */
  smallFilesInWorkers?: boolean;
  /** Dictionary-encode columns (default true); parquet-wasm only (DuckDB decides for itself). */
  dictionary?: boolean;
  /** The Parquet writer: `auto` (default) DuckDB where it can, else parquet-wasm (encode-worker.ts). */
  parquetEngine?: ParquetEngine;
}

/** A file whose first batch holds fewer bytes is encoded on the main thread: a worker is not worth it. */
const WORKER_MIN_BYTES = 1024 * 1024;

/** An input of this many bytes or more has an encoding worker started before its first batch. */
const PREWARM_INPUT_BYTES = 8 * 1024 * 1024;

/**
 * Say that the rows of an input of `inputBytes` bytes are about to be read and written: when that is
 * enough for a worker to encode its files, one is started now, while the input is opened and its
 * sample read, rather than when the first batch is complete and waits for it.
 *
 * @param inputBytes the input's size (stored bytes)
 * @param options the write's options (`encodeThread: 'main'` never uses a worker)
 */
export function prepareDataFilesWrite(inputBytes: number, options: WriteFilesOptions = {}): void {
  if (options.encodeThread !== 'main' && inputBytes >= PREWARM_INPUT_BYTES) prewarmParquetEncoder();
}

/** The table shape the files are written for. */
export interface WriteTarget {
  store: ObjectStore;
  schema: DeltaStruct;
  partitionColumns: string[];
}

/** One open output file. */
interface OpenFile {
  path: string;
  partitionValues: Record<string, string | null>;
  push: (batch: arrow.RecordBatch) => Promise<void>;
  finish: () => Promise<AddFile>;
  rows: number;
  bytes: () => number;
}

/**
 * Write batches as Parquet data files of a table, split by partition values.
 *
 * @param target store, schema and partition columns
 * @param batches input in the table schema (all columns, partition columns included)
 * @param options file size and row group settings
 * @returns one `add` action per file written (dataChange=true)
 */
export async function writeDataFiles(
  target: WriteTarget,
  batches: AsyncIterable<arrow.RecordBatch> | Iterable<arrow.RecordBatch>,
  options: WriteFilesOptions = {},
): Promise<AddFile[]> {
  const fields = dataFields(target.schema, target.partitionColumns);
  const fileSchema = new arrow.Schema(fields.map(deltaFieldToArrow));
  const open = new Map<string, OpenFile>();
  const done: AddFile[] = [];
  const targetBytes = options.targetFileBytes ?? 128 * 1024 * 1024;
  const maxRows = options.maxRowsPerFile ?? 4_000_000;
  try {
    for await (const batch of batches) {
      checkBatch(batch, target.schema);
      if (batch.numRows === 0) continue;
      for (const [key, part] of splitByPartition(batch, target)) {
        let file = open.get(key);
        if (!file) {
          options.acceptPartition?.(part.values);
          const small = part.batch.data.byteLength < WORKER_MIN_BYTES;
          const thread = options.encodeThread === 'main' || (small && !options.smallFilesInWorkers) ? 'main' : 'auto';
          file = await openFile(target, fields, fileSchema, part.values, options, thread, small ? 'wasm' : options.parquetEngine);
          open.set(key, file);
        }
        await file.push(part.batch);
        if (file.rows >= maxRows || file.bytes() >= targetBytes) {
          done.push(await file.finish());
          open.delete(key);
        }
      }
    }
    // The files still open finish side by side: their uploads overlap instead of queueing one after
    // another (an upsert leaves one small file open per touched bucket). Order is kept.
    const finishing = [...open].map(async ([key, file]) => {
      const add = await file.finish();
      open.delete(key);
      return add;
    });
    const finished = await Promise.allSettled(finishing);
    for (const result of finished) if (result.status === 'fulfilled') done.push(result.value);
    const failed = finished.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    // Nothing will commit these files: remove them now rather than leave orphans for vacuum.
    await Promise.allSettled([...open.values()].map((f) => f.finish()));
    const paths = [...done.map((f) => decodeAddPath(f.path)), ...[...open.values()].map((f) => f.path)];
    await Promise.allSettled(paths.map((p) => target.store.delete(p)));
    throw err;
  }
  return done;
}

function checkBatch(batch: arrow.RecordBatch, schema: DeltaStruct): void {
  for (const field of schema.fields) {
    const column = batch.getChild(field.name);
    if (!column) throw new WriteRejectedError(`delta write: input has no column "${field.name}" of the table schema`);
    if (!field.nullable && column.nullCount > 0) {
      let row = 0;
      for (const data of column.data) {
        for (let i = 0; i < data.length; i++, row++) {
          if (readValue(data, i, field.type) === null) {
            throw new WriteRejectedError(`delta write: column "${field.name}" is NOT NULL but input row ${row} of the batch has null`);
          }
        }
      }
    }
  }
}

function splitByPartition(batch: arrow.RecordBatch, target: WriteTarget): Map<string, { values: Record<string, string | null>; batch: arrow.RecordBatch }> {
  const out = new Map<string, { values: Record<string, string | null>; batch: arrow.RecordBatch }>();
  const dataOnly = (b: arrow.RecordBatch) => selectColumns(b, dataFields(target.schema, target.partitionColumns));
  if (target.partitionColumns.length === 0) {
    out.set('', { values: {}, batch: dataOnly(batch) });
    return out;
  }
  const fields = target.partitionColumns.map((c) => target.schema.fields.find((f) => f.name === c)!);
  const uniform = fields.map((f) => uniformValue(batch.getChild(f.name)!, f.type));
  if (uniform.every((u) => u !== undefined)) {
    // The common case (ingestion: one load date per file): no per-row work at all.
    const values: Record<string, string | null> = {};
    fields.forEach((f, c) => (values[f.name] = formatPartitionValue(uniform[c]!.value, f.type)));
    out.set(JSON.stringify(fields.map((f) => values[f.name])), { values, batch: dataOnly(batch) });
    return out;
  }
  const columns = fields.map((f) => readValues(batch.getChild(f.name)!, f.type));
  const groups = new Map<string, { values: Record<string, string | null>; rows: number[] }>();
  const byRaw = new Map<string, { values: Record<string, string | null>; rows: number[] }>();
  for (let i = 0; i < batch.numRows; i++) {
    // Group on the raw values first and format each distinct combination once.
    const raw = columns.map((c) => rawKey(c[i])).join('\u0000');
    let group = byRaw.get(raw);
    if (!group) {
      const values: Record<string, string | null> = {};
      fields.forEach((f, c) => (values[f.name] = formatPartitionValue(columns[c][i], f.type)));
      const key = JSON.stringify(fields.map((f) => values[f.name]));
      group = groups.get(key) ?? { values, rows: [] };
      groups.set(key, group);
      byRaw.set(raw, group);
    }
    group.rows.push(i);
  }
  for (const [key, group] of groups) {
    const rows = group.rows.length === batch.numRows ? batch : takeRows(batch, target.schema, group.rows);
    out.set(key, { values: group.values, batch: dataOnly(rows) });
  }
  return out;
}

/** A map key for a partition value in its JS form (bigints and numbers apart, null apart from "null"). */
function rawKey(value: unknown): string {
  if (value === null || value === undefined) return 'n';
  return `${typeof value === 'bigint' ? 'b' : typeof value === 'number' ? 'd' : 's'}${String(value)}`;
}

/**
 * The value all rows of a column have, found on the raw buffers without reading values one by one,
 * or undefined when they differ (or the column is of a kind this does not look into).
 */
function uniformValue(column: arrow.Vector, type: DeltaType): { value: unknown } | undefined {
  if (column.length === 0) return undefined;
  if (column.nullCount === column.length) return { value: null };
  if (column.nullCount > 0) return undefined;
  const first = column.data[0];
  for (const data of column.data) {
    // Only one-element-per-value columns: integers, dates, timestamps (not strings, whose `values` are
    // bytes, nor booleans, whose are bits, nor floats, where equal is not the same: -0 and 0).
    const t = data.type;
    const fixedWidth = arrow.DataType.isInt(t) || arrow.DataType.isDate(t) || arrow.DataType.isTimestamp(t);
    if (!fixedWidth || data.stride !== 1) return undefined;
    const typed = data.values as unknown as ArrayLike<number | bigint>;
    const expected = (first.values as unknown as ArrayLike<number | bigint>)[first.offset];
    for (let i = data.offset; i < data.offset + data.length; i++) if (typed[i] !== expected) return undefined;
  }
  return { value: readValue(first, 0, type) };
}

/**
 * Select rows of a batch by index into a new batch (used to split mixed-partition batches).
 *
 * @param batch the batch
 * @param schema the Delta schema of its columns
 * @param rows row indexes to keep, in order
 * @returns the new batch
 */
export function takeRows(batch: arrow.RecordBatch, schema: DeltaStruct, rows: number[]): arrow.RecordBatch {
  const vectors: Record<string, arrow.Vector> = {};
  for (const field of schema.fields) {
    const column = batch.getChild(field.name);
    if (!column) continue;
    const all = readValues(column, field.type);
    vectors[field.name] = buildVector(
      field.type,
      rows.map((r) => all[r]),
    );
  }
  return new arrow.Table(vectors).batches[0];
}

function selectColumns(batch: arrow.RecordBatch, fields: DeltaField[]): arrow.RecordBatch {
  const schema = new arrow.Schema(fields.map(deltaFieldToArrow));
  const children = fields.map((f) => {
    const column = batch.getChild(f.name)!;
    // Input from other sources may use other Arrow types for the same Delta type (int32 for long, ms timestamps): convert.
    if (column.data.length === 1 && isCanonicalArrowType(column.type, f.type)) return column.data[0];
    return buildVector(f.type, readValues(column, f.type)).data[0];
  });
  return new arrow.RecordBatch(schema, arrow.makeData({ type: new arrow.Struct(schema.fields), length: batch.numRows, nullCount: 0, children }));
}

async function openFile(
  target: WriteTarget,
  fields: DeltaField[],
  fileSchema: arrow.Schema,
  partitionValues: Record<string, string | null>,
  options: WriteFilesOptions,
  thread: EncodeThread,
  engine: ParquetEngine | undefined,
): Promise<OpenFile> {
  const path = newDataFilePath(target.partitionColumns, partitionValues);
  const encoder = await openParquetEncoder(
    {
      rowGroupRows: options.rowGroupRows,
      metadata: { 'sluice.schema': JSON.stringify(fileSchema.fields.map((f) => f.name)) },
      ...(options.dictionary === false ? { dictionary: false } : {}),
    },
    thread,
    engine,
    fileSchema,
  );
  const tail: Uint8Array[] = [];
  let tailBytes = 0;
  let written = 0;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of encoder.output) {
      written += chunk.length;
      // Keep the last MiB or so: the footer, with the statistics, is at the end.
      tail.push(chunk);
      tailBytes += chunk.length;
      while (tail.length > 1 && tailBytes - tail[0].length >= TAIL_BYTES) tailBytes -= tail.shift()!.length;
      yield chunk;
    }
  }
  const upload = target.store.write(path, counted(), { contentType: 'application/vnd.apache.parquet' });
  // An upload that fails stops the encoder, so that `push` does not wait for it forever.
  upload.catch((err) => encoder.abort(err instanceof Error ? err : new Error(String(err))));
  const file: OpenFile = {
    path,
    partitionValues,
    rows: 0,
    bytes: () => Math.max(written, encoder.encodedBytes()),
    async push(batch) {
      file.rows += batch.numRows;
      await encoder.push(batch);
    },
    async finish() {
      encoder.end();
      const info = await upload;
      let end = concatBytes(tail);
      const footerLength = parquetFooterLength(end);
      if (footerLength > end.length) end = await target.store.read(path, { offset: info.size - footerLength, length: footerLength });
      return describeDataFile(fields, options.statsColumns, path, partitionValues, info, end, file.rows);
    },
  };
  return file;
}

/**
 * A fresh name for a data file, in its Hive-style partition folder.
 *
 * @param partitionColumns the table's partition columns
 * @param partitionValues the file's partition values
 * @returns the path relative to the table root
 */
export function newDataFilePath(partitionColumns: string[], partitionValues: Record<string, string | null>): string {
  const dir = partitionDirectory(partitionColumns, partitionValues);
  const name = `part-00000-${randomUUID()}.c000.zstd.parquet`;
  return dir ? `${dir}/${name}` : name;
}

/**
 * The `add` action of a data file written and stored, its statistics read from its footer.
 *
 * @param fields the file's columns (partition columns excluded)
 * @param statsColumns columns to collect statistics for (default 32)
 * @param path its path relative to the table root
 * @param partitionValues its partition values
 * @param info what the store said of it once written
 * @param end the file's last bytes, its whole footer included
 * @param rows rows in the file
 * @returns the action (dataChange=true)
 */
export async function describeDataFile(
  fields: DeltaField[],
  statsColumns: number | undefined,
  path: string,
  partitionValues: Record<string, string | null>,
  info: { size: number; lastModified: Date },
  end: Uint8Array,
  rows: number,
): Promise<AddFile> {
  const stats = newStats(fields, statsColumns ?? 32);
  stats.numRecords = rows;
  statsFromFooter(stats, (await readFooterStatistics(end)).rowGroups);
  return {
    path: encodeAddPath(path),
    partitionValues,
    size: info.size,
    modificationTime: info.lastModified.getTime(),
    dataChange: true,
    stats: statsToJson(stats),
  };
}

/** How much of a file's end is kept in memory to read its footer from. */
const TAIL_BYTES = 1 << 20;

/**
 * Fill a file's statistics from its column chunks. A column whose null count a chunk lacks is left
 * out of the statistics (Delta allows that); a column with values in a chunk that has no bounds keeps
 * its null count but gets no bounds.
 */
function statsFromFooter(stats: StatsCollector, rowGroups: { numRows: number; columns: ChunkStatistics[] }[]): void {
  const chunks = new Map<string, { numRows: number; chunk: ChunkStatistics }[]>();
  for (const group of rowGroups) {
    for (const chunk of group.columns) {
      const key = chunk.path.join('\u0000');
      chunks.set(key, [...(chunks.get(key) ?? []), { numRows: group.numRows, chunk }]);
    }
  }
  for (const [key, col] of stats.columns) {
    const found = chunks.get(key) ?? [];
    if (found.length !== rowGroups.length || found.some((f) => f.chunk.nullCount === undefined)) {
      stats.columns.delete(key);
      continue;
    }
    col.nullCount = found.reduce((n, f) => n + f.chunk.nullCount!, 0);
    let min: Bound | undefined;
    let max: Bound | undefined;
    let bounded = true;
    for (const { numRows, chunk } of found) {
      if (numRows === chunk.nullCount) continue;
      const lo = chunk.min && decodeBound(chunk.min, col.type, chunk.physicalType);
      const hi = chunk.max && decodeBound(chunk.max, col.type, chunk.physicalType);
      if (!lo || !hi) {
        bounded = false;
        break;
      }
      if (!min || compareBounds(lo, min) < 0) min = lo;
      if (!max || compareBounds(hi, max) > 0) max = hi;
    }
    col.min = bounded ? min?.value : undefined;
    col.max = bounded ? max?.value : undefined;
  }
}

/** A bound as the JS value stats.ts takes, with its bytes (strings compare in UTF-8 byte order). */
interface Bound {
  value: unknown;
  bytes?: Uint8Array;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode a plain-encoded bound to the JS form of its Delta type; undefined for types without bounds. */
function decodeBound(raw: Uint8Array, type: DeltaType, physicalType: number): Bound | undefined {
  if (typeof type !== 'string') return undefined;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const decimal = decimalParams(type) !== null;
  switch (physicalType) {
    case 1: // INT32
      if (raw.length !== 4) return undefined;
      if (decimal) return { value: BigInt(view.getInt32(0, true)) };
      return ['byte', 'short', 'integer', 'date'].includes(type) ? { value: view.getInt32(0, true) } : undefined;
    case 2: // INT64
      return raw.length === 8 && (decimal || ['long', 'timestamp', 'timestamp_ntz'].includes(type)) ? { value: view.getBigInt64(0, true) } : undefined;
    case 4: // FLOAT
      return raw.length === 4 && type === 'float' ? { value: view.getFloat32(0, true) } : undefined;
    case 5: // DOUBLE
      return raw.length === 8 && type === 'double' ? { value: view.getFloat64(0, true) } : undefined;
    case 6: // BYTE_ARRAY
    case 7: // FIXED_LEN_BYTE_ARRAY
      if (decimal)
        return raw.length
          ? {
              value: BigInt.asIntN(
                raw.length * 8,
                raw.reduce((n, b) => (n << 8n) | BigInt(b), 0n),
              ),
            }
          : undefined;
      if (type !== 'string') return undefined;
      try {
        return { value: utf8.decode(raw), bytes: raw };
      } catch {
        return undefined;
      }
    default:
      return undefined;
  }
}

function compareBounds(a: Bound, b: Bound): number {
  if (a.bytes && b.bytes) {
    const n = Math.min(a.bytes.length, b.bytes.length);
    for (let i = 0; i < n; i++) if (a.bytes[i] !== b.bytes[i]) return a.bytes[i] - b.bytes[i];
    return a.bytes.length - b.bytes.length;
  }
  return (a.value as number) < (b.value as number) ? -1 : (a.value as number) > (b.value as number) ? 1 : 0;
}
