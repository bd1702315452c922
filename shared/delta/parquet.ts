/**
 * Parquet in and out of Arrow.
 *
 * Writing goes through parquet-wasm's streaming writer (record batch in, Parquet bytes out) with zstd,
 * so WASM memory holds one row group at a time. Reading goes through parquet-wasm too, except for
 * INT96 timestamp columns: arrow-rs turns them into nanoseconds, which wraps for dates past 2262
 * (Databricks writes year 9999 sentinels), so those columns are decoded by hyparquet straight to
 * microseconds.
 */
import * as arrow from 'apache-arrow';
import * as wasm from 'parquet-wasm';
import type { FileMetaData, SchemaElement } from 'hyparquet';

/** Lazily loaded hyparquet (an ES module; loaded once, only when needed). */
let hyparquetModules: Promise<[typeof import('hyparquet'), typeof import('hyparquet-compressors')]> | undefined;
function loadHyparquet() {
  hyparquetModules ??= Promise.all([import('hyparquet'), loadCompressors()]);
  return hyparquetModules;
}
let hyparquetModule: Promise<typeof import('hyparquet')> | undefined;
let compressorsModule: Promise<typeof import('hyparquet-compressors')> | undefined;
/** hyparquet alone: it reads uncompressed and Snappy pages without the codecs' module. */
function loadHyparquetAlone() {
  hyparquetModule ??= import('hyparquet');
  return hyparquetModule;
}
function loadCompressors() {
  compressorsModule ??= import('hyparquet-compressors');
  return compressorsModule;
}
/** Codecs hyparquet decodes by itself. */
const BUILT_IN_CODECS = new Set(['UNCOMPRESSED', 'SNAPPY']);

/** Options for writing one Parquet file. */
export interface ParquetWriteOptions {
  /** Rows per row group (default 128k). */
  rowGroupRows?: number;
  /** Key/value metadata stored in the footer. */
  metadata?: Record<string, string>;
  /**
   * Dictionary-encode columns (default true). Off for small files: at a thousand rows the dictionaries
   * cost more bytes than they save under zstd, and a third of the encoding time (parquet-wasm only).
   */
  dictionary?: boolean;
  /**
   * Compress pages with zstd (default true). Off for tiny files read often: a page of a few dozen
   * bytes gains nothing, and decompressing each one is a cost every read pays (parquet-wasm only).
   */
  compression?: boolean;
  /**
   * Record column chunk statistics in the footer (default true). Off for tiny files read often: with
   * one row group nobody can skip anything by them, and the footer every read parses is longer
   * (parquet-wasm only).
   */
  statistics?: boolean;
}

function writerProperties(options: ParquetWriteOptions): wasm.WriterProperties {
  let builder = new wasm.WriterPropertiesBuilder()
    .setCompression(options.compression === false ? wasm.Compression.UNCOMPRESSED : wasm.Compression.ZSTD)
    .setCreatedBy('sluice (parquet-wasm)')
    .setMaxRowGroupSize(options.rowGroupRows ?? 131072)
    .setDictionaryEnabled(options.dictionary ?? true);
  if (options.statistics === false) builder = builder.setStatisticsEnabled(wasm.EnabledStatistics.None);
  if (options.metadata) builder = builder.setKeyValueMetadata(new Map(Object.entries(options.metadata)));
  return builder.build();
}

/**
 * Encode record batches as one Parquet file (zstd), streaming: each batch is handed to WASM and its
 * encoded bytes come back before the next batch is converted.
 *
 * @param batches the record batches, all with the same schema
 * @param options row group size and footer metadata
 * @returns the Parquet bytes, chunk by chunk
 */
export async function* encodeParquet(
  batches: AsyncIterable<arrow.RecordBatch> | Iterable<arrow.RecordBatch>,
  options: ParquetWriteOptions = {},
): AsyncGenerator<Uint8Array> {
  async function* ipc(): AsyncGenerator<Uint8Array> {
    for await (const batch of batches) yield batchToIpc(batch);
  }
  yield* encodeParquetIpc(ipc(), options);
}

/**
 * One record batch as an Arrow IPC stream, the only form parquet-wasm accepts.
 *
 * @param batch the batch
 * @returns the IPC bytes (a buffer of their own, so they can be transferred to a worker)
 */
export function batchToIpc(batch: arrow.RecordBatch): Uint8Array {
  return arrow.tableToIPC(new arrow.Table([batch]), 'stream');
}

/**
 * Encode Arrow IPC streams (one or more record batches each, all with the same schema) as one Parquet
 * file (zstd), streaming. Works on bytes only, so it runs the same on the main thread and in an
 * encoding worker (encode-worker.ts).
 *
 * @param ipcStreams the batches as IPC streams
 * @param options row group size and footer metadata
 * @param onConsumed called each time WASM has taken one IPC stream in (the encoder wants more input)
 * @returns the Parquet bytes, chunk by chunk
 */
export async function* encodeParquetIpc(
  ipcStreams: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ParquetWriteOptions = {},
  onConsumed?: () => void,
): AsyncGenerator<Uint8Array> {
  const iterator = (Symbol.asyncIterator in ipcStreams ? ipcStreams[Symbol.asyncIterator]() : (ipcStreams as Iterable<Uint8Array>)[Symbol.iterator]()) as
    AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  const input = new ReadableStream<wasm.RecordBatch>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) {
        controller.close();
        return;
      }
      const table = wasm.Table.fromIPCStream(next.value);
      try {
        // The batches are handed over (moved into the writer); the table's own references must be freed
        // now, not when the garbage collector gets to the wrapper: a worker thread allocates so little JS
        // that it seldom collects, and its WASM memory grew to 200 MiB waiting for it.
        for (const batch of table.recordBatches()) controller.enqueue(batch);
      } finally {
        table.free();
      }
      onConsumed?.();
    },
  });
  const output = await wasm.transformParquetStream(input, writerProperties(options));
  const reader = output.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    yield value as Uint8Array;
  }
}

/**
 * Encode one Arrow table as Parquet bytes in memory (small files: checkpoints, tests).
 *
 * @param table the table
 * @param options row group size and footer metadata
 * @returns the whole file
 */
export async function encodeParquetBuffer(table: arrow.Table, options: ParquetWriteOptions = {}): Promise<Uint8Array> {
  const batches = table.batches.length
    ? table.batches
    : [
        new arrow.RecordBatch(
          table.schema,
          arrow.makeData({
            type: new arrow.Struct(table.schema.fields),
            length: 0,
            children: table.schema.fields.map((f) => arrow.makeData({ type: f.type, length: 0 } as never)),
          }),
        ),
      ];
  const chunks: Uint8Array[] = [];
  for await (const chunk of encodeParquet(batches, options)) chunks.push(chunk);
  return concatBytes(chunks);
}

/**
 * Concatenate byte chunks.
 *
 * @param chunks byte arrays
 * @returns one array
 */
export function concatBytes(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Parse only the footer metadata of a Parquet file (pure JS; cheap).
 *
 * @param bytes the whole file
 * @returns hyparquet's metadata
 */
export async function readParquetMetadata(bytes: Uint8Array): Promise<FileMetaData> {
  const [hp] = await loadHyparquet();
  return hp.parquetMetadata(toArrayBuffer(bytes));
}

/**
 * Decode a Parquet file into an Arrow table. INT96 top-level columns come back as microsecond
 * timestamps (UTC); everything else as arrow-rs decodes it.
 *
 * @param bytes the whole file
 * @param columns top-level columns to read (all when omitted)
 * @param fieldIds top-level columns to read by Parquet field id too (column mapping `id` mode)
 * @returns the Arrow table
 */
export async function decodeParquet(bytes: Uint8Array, columns?: string[], fieldIds: number[] = []): Promise<arrow.Table> {
  const metadata = await readParquetMetadata(bytes);
  const topLevel = topLevelColumns(metadata.schema);
  const wanted = columns
    ? topLevel.filter((c) => columns.includes(c.name) || (c.element.field_id !== undefined && fieldIds.includes(c.element.field_id)))
    : topLevel;
  const int96 = wanted.filter((c) => c.element.type === 'INT96').map((c) => c.name);
  const others = wanted.filter((c) => c.element.type !== 'INT96').map((c) => c.name);
  let table: arrow.Table;
  if (others.length === 0) {
    // No column wanted (all of the table's columns are partition columns) still has the file's rows.
    const empty = new arrow.Schema([]);
    const rows = Number(metadata.num_rows);
    table = new arrow.Table(empty, [new arrow.RecordBatch(empty, arrow.makeData({ type: new arrow.Struct([]), length: rows, nullCount: 0, children: [] }))]);
  } else {
    const wasmTable = wasm.readParquet(bytes, { columns: others, batchSize: 65536 });
    table = arrow.tableFromIPC(wasmTable.intoIPCStream());
  }
  if (int96.length === 0) return table;
  const vectors: Record<string, arrow.Vector> = {};
  for (const field of table.schema.fields) vectors[field.name] = table.getChild(field.name)!;
  Object.assign(vectors, await int96Vectors(toArrayBuffer(bytes), metadata, int96, 0, Number(metadata.num_rows)));
  // Keep the file's column order.
  const ordered: Record<string, arrow.Vector> = {};
  for (const c of wanted) ordered[c.name] = vectors[c.name];
  return new arrow.Table(ordered);
}

/** INT96 columns of rows [rowStart, rowEnd), decoded by hyparquet as microsecond UTC timestamps. */
async function int96Vectors(
  file: ArrayBuffer | { byteLength: number; slice(start: number, end?: number): Promise<ArrayBuffer> },
  metadata: FileMetaData,
  names: string[],
  rowStart: number,
  rowEnd: number,
): Promise<Record<string, arrow.Vector>> {
  if (names.length === 0) return {};
  const [hp, { compressors }] = await loadHyparquet();
  const rows = (await hp.parquetReadObjects({
    file,
    metadata,
    columns: names,
    rowStart,
    rowEnd,
    compressors,
    parsers: { timestampFromNanoseconds: (nanos: bigint) => nanos / 1000n - (nanos < 0n && nanos % 1000n !== 0n ? 1n : 0n) },
  })) as Record<string, bigint | null>[];
  const length = rowEnd - rowStart;
  const vectors: Record<string, arrow.Vector> = {};
  for (const name of names) {
    const values = new BigInt64Array(length);
    const valid = new Uint8Array(Math.ceil(length / 8));
    let nulls = 0;
    rows.forEach((row, i) => {
      const v = row[name];
      if (v === null || v === undefined) nulls++;
      else {
        values[i] = v;
        valid[i >> 3] |= 1 << (i & 7);
      }
    });
    const type = new arrow.TimestampMicrosecond('UTC');
    vectors[name] = arrow.makeVector(arrow.makeData({ type, length, nullCount: nulls, nullBitmap: nulls ? valid : undefined, data: values }));
  }
  return vectors;
}

/** parquet-wasm trapped (a Rust panic, e.g. on corrupt page data) while decoding. */
export class WasmTrapError extends Error {
  constructor(cause: Error) {
    super(`the Parquet decoder stopped on corrupt data (WebAssembly trap: ${cause.message})`);
    this.name = 'WasmTrapError';
  }
}

/** The call into parquet-wasm's async reader that has not settled yet (at most one: see `untilTrap`). */
const pendingCalls = new Set<(err: Error) => void>();
/** Settles when the call in flight has; the next one starts after it. */
let decoderFree: Promise<void> = Promise.resolve();

/**
 * A trap inside parquet-wasm's async reader is thrown from a task of its own (an uncaught exception)
 * and leaves the call's promise pending forever. While a call is pending, such a trap fails it
 * instead; any other uncaught exception stays fatal, as it would be without this listener.
 */
function onUncaught(err: unknown): void {
  if (err instanceof WebAssembly.RuntimeError && pendingCalls.size) {
    for (const fail of [...pendingCalls]) fail(new WasmTrapError(err));
    return;
  }
  throw err;
}

/**
 * Run one call into parquet-wasm's async reader, failing with `WasmTrapError` if it traps. Calls run
 * one at a time in the process: a trap does not say whose call it ended, so with two in flight a
 * corrupt file would fail a healthy one's row group too.
 */
function untilTrap<T>(start: () => Promise<T>): Promise<T> {
  const turn = decoderFree.then(
    () =>
      new Promise<T>((resolve, reject) => {
        const settle = (finish: () => void) => {
          if (!pendingCalls.delete(fail)) return;
          process.off('uncaughtException', onUncaught);
          finish();
        };
        const fail = (err: Error) => settle(() => reject(err));
        process.on('uncaughtException', onUncaught);
        pendingCalls.add(fail);
        start().then(
          (value) => settle(() => resolve(value)),
          (err: unknown) => settle(() => reject(err)),
        );
      }),
  );
  decoderFree = turn.then(
    () => undefined,
    () => undefined,
  );
  return turn;
}

/** Random access to the bytes of a Parquet file (a stored object read by range, a spooled stream). */
export interface ParquetSource {
  /** Size in bytes. */
  readonly size: number;
  /** Bytes [offset, offset + length); rejects when they are not all there. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A Parquet file opened for reading one row group at a time. */
export interface ParquetRowGroupReader {
  /** The footer, as hyparquet parses it (row groups, their rows and column chunks). */
  readonly metadata: FileMetaData;
  /** The file's columns as Arrow fields, in file order (INT96 ones as microsecond UTC timestamps). */
  readonly schema: arrow.Schema;
  /**
   * Decode one row group in tables of at most `batchRows` rows (INT96 columns as microsecond
   * timestamps). Only that row group's column chunks are fetched, with one ranged read each.
   */
  rowGroup(index: number, batchRows: number): AsyncGenerator<arrow.Table>;
  /** Free the decoder's WASM memory. */
  close(): void;
}

/**
 * Open a Parquet file whose footer has been checked (`footer`) for reading by row group: parquet-wasm
 * reads through `source` (its async reader asks for the footer, then for each row group's column
 * chunks), so memory holds one row group, not the file.
 *
 * @param source the file's bytes, by range
 * @param metadata the footer, parsed
 * @returns the reader
 */
export async function openParquetRowGroups(source: ParquetSource, metadata: FileMetaData): Promise<ParquetRowGroupReader> {
  // parquet-wasm takes a Blob; it only calls `size`, `slice` and `arrayBuffer`, so this one reads by range.
  const blob = {
    size: source.size,
    slice: (start: number, end: number) => ({
      arrayBuffer: async () => toArrayBuffer(await source.read(start, end - start)),
    }),
  };
  let file = await wasm.ParquetFile.fromFile(blob as unknown as Blob);
  const topLevel = topLevelColumns(metadata.schema);
  const int96 = topLevel.filter((c) => c.element.type === 'INT96').map((c) => c.name);
  const others = topLevel.filter((c) => c.element.type !== 'INT96').map((c) => c.name);
  const asyncBuffer = {
    byteLength: source.size,
    slice: async (start: number, end?: number) => toArrayBuffer(await source.read(start, (end ?? source.size) - start)),
  };
  const groupStart = (index: number) => metadata.row_groups.slice(0, index).reduce((n, g) => n + Number(g.num_rows), 0);
  const wasmSchema = file.schema();
  const decoded = arrow.tableFromIPC(wasmSchema.intoIPCStream()).schema;
  const schema = new arrow.Schema(
    decoded.fields.map((f) => (int96.includes(f.name) ? new arrow.Field(f.name, new arrow.TimestampMicrosecond('UTC'), f.nullable, f.metadata) : f)),
    decoded.metadata,
  );
  return {
    metadata,
    schema,
    async *rowGroup(index: number, batchRows: number): AsyncGenerator<arrow.Table> {
      const first = groupStart(index);
      const rows = Number(metadata.row_groups[index].num_rows);
      if (others.length === 0) {
        for (let at = 0; at < rows; at += batchRows) {
          const vectors = await int96Vectors(asyncBuffer, metadata, int96, first + at, first + Math.min(rows, at + batchRows));
          yield new arrow.Table(Object.fromEntries(topLevel.map((c) => [c.name, vectors[c.name]])));
        }
        return;
      }
      let reader: ReadableStreamDefaultReader | undefined;
      let at = 0;
      try {
        reader = (await untilTrap(() => file.stream({ rowGroups: [index], batchSize: batchRows, columns: others }))).getReader();
        for (;;) {
          const { done, value } = await untilTrap(() => reader!.read());
          if (done) break;
          const table = arrow.tableFromIPC((value as wasm.RecordBatch).intoIPCStream());
          if (int96.length === 0) {
            at += table.numRows;
            yield table;
            continue;
          }
          const vectors: Record<string, arrow.Vector> = {};
          for (const field of table.schema.fields) vectors[field.name] = table.getChild(field.name)!;
          Object.assign(vectors, await int96Vectors(asyncBuffer, metadata, int96, first + at, first + at + table.numRows));
          at += table.numRows;
          yield new arrow.Table(Object.fromEntries(topLevel.map((c) => [c.name, vectors[c.name]])));
        }
      } catch (err) {
        if (!(err instanceof WasmTrapError)) throw err;
        // The trapped instance of the file is left mid-call: the next row group gets a fresh one.
        file = await wasm.ParquetFile.fromFile(blob as unknown as Blob);
        throw err;
      } finally {
        reader?.releaseLock();
      }
    },
    close: () => file.free(),
  };
}

/**
 * Decode a Parquet file to plain JS row objects (checkpoints): maps become objects, int64 becomes bigint.
 *
 * @param bytes the whole file
 * @param columns top-level columns to read
 * @returns one object per row
 */
export async function decodeParquetObjects(bytes: Uint8Array, columns?: string[]): Promise<Record<string, unknown>[]> {
  const hp = await loadHyparquetAlone();
  const file = toArrayBuffer(bytes);
  const metadata = hp.parquetMetadata(file);
  // The codecs' module takes ~40 ms to load; a process that reads only small checkpoints (written
  // uncompressed) never needs it.
  const codecs = metadata.row_groups.some((g) => g.columns.some((c) => c.meta_data && !BUILT_IN_CODECS.has(c.meta_data.codec)));
  const compressors = codecs ? (await loadCompressors()).compressors : undefined;
  const present = topLevelColumns(metadata.schema).map((c) => c.name);
  return (await hp.parquetReadObjects({ file, metadata, compressors, columns: columns?.filter((c) => present.includes(c)) })) as Record<string, unknown>[];
}

/** Statistics the Parquet writer recorded for one column chunk (one leaf column of one row group). */
export interface ChunkStatistics {
  /** The leaf column's path (`['s', 'a']` for field `a` of struct `s`). */
  path: string[];
  /** Parquet physical type: 0 BOOLEAN, 1 INT32, 2 INT64, 3 INT96, 4 FLOAT, 5 DOUBLE, 6 BYTE_ARRAY, 7 FIXED_LEN_BYTE_ARRAY. */
  physicalType: number;
  /** Null values in the chunk; undefined when the writer did not record it. */
  nullCount?: number;
  /** Plain-encoded bounds (`min_value` / `max_value`); a truncated one is still a valid bound. */
  min?: Uint8Array;
  max?: Uint8Array;
}

/** The statistics of a whole file, row group by row group. */
export interface FooterStatistics {
  rowGroups: { numRows: number; columns: ChunkStatistics[] }[];
}

/**
 * Length of the footer a Parquet file ends with: the metadata, its 4-byte length and `PAR1`.
 *
 * @param tail the last bytes of the file (at least 8)
 * @returns the footer's length in bytes
 */
export function parquetFooterLength(tail: Uint8Array): number {
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  if (tail.length < 8 || view.getUint32(tail.length - 4, true) !== 0x31524150) throw new Error('parquet: the file does not end with PAR1');
  return view.getUint32(tail.length - 8, true) + 8;
}

/**
 * Read the column chunk statistics from a Parquet footer. The values stay raw (plain-encoded bytes):
 * the caller knows the logical types and decodes them exactly (decimals, 64-bit integers, UTF-8).
 *
 * @param tail the end of the file, holding at least the whole footer (see `parquetFooterLength`)
 * @returns the statistics by row group and leaf column
 */
export async function readFooterStatistics(tail: Uint8Array): Promise<FooterStatistics> {
  const length = parquetFooterLength(tail);
  if (length > tail.length) throw new Error(`parquet: the footer is ${length} bytes, only ${tail.length} were given`);
  thriftModule ??= import('hyparquet/src/thrift.js');
  const thrift = await thriftModule;
  const view = new DataView(tail.buffer, tail.byteOffset + tail.length - length, length - 8);
  // FileMetaData (parquet.thrift): 4 row_groups; RowGroup: 1 columns, 3 num_rows; ColumnChunk: 3
  // meta_data; ColumnMetaData: 1 type, 3 path_in_schema, 12 statistics; Statistics: 3 null_count,
  // 5 max_value, 6 min_value.
  const metadata = thrift.deserializeTCompactProtocol({ view, offset: 0 });
  const text = new TextDecoder();
  const rowGroups = ((metadata.field_4 ?? []) as Thrift[]).map((group) => ({
    numRows: Number(group.field_3),
    columns: ((group.field_1 ?? []) as Thrift[]).map((chunk): ChunkStatistics => {
      const meta = chunk.field_3 as Thrift;
      const stats = meta.field_12 as Thrift | undefined;
      return {
        path: (meta.field_3 as Uint8Array[]).map((p) => text.decode(p)),
        physicalType: meta.field_1 as number,
        ...(stats?.field_3 !== undefined ? { nullCount: Number(stats.field_3) } : {}),
        ...(stats?.field_6 !== undefined ? { min: (stats.field_6 as Uint8Array).slice() } : {}),
        ...(stats?.field_5 !== undefined ? { max: (stats.field_5 as Uint8Array).slice() } : {}),
      };
    }),
  }));
  return { rowGroups };
}

type Thrift = { [key: `field_${number}`]: unknown };
let thriftModule: Promise<typeof import('hyparquet/src/thrift.js')> | undefined;

/** Top-level columns of a Parquet schema with their schema elements. */
function topLevelColumns(schema: SchemaElement[]): { name: string; element: SchemaElement }[] {
  const out: { name: string; element: SchemaElement }[] = [];
  let i = 1;
  const skip = (index: number): number => {
    const children = schema[index].num_children ?? 0;
    let next = index + 1;
    for (let c = 0; c < children; c++) next = skip(next);
    return next;
  };
  while (i < schema.length) {
    out.push({ name: schema[i].name, element: schema[i] });
    i = skip(i);
  }
  return out;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}
