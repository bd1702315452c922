/**
 * Input readers: landing files and event bodies into Arrow batches for the bronze ingest stage.
 *
 * `readInput` detects compression and format, then hands the bytes to the reader of that format:
 * csv.ts (CSV/TSV), json.ts (NDJSON, JSON arrays and objects), avro.ts (Avro container files, Event
 * Hubs Capture), parquet.ts, binary.ts (any other file, one row). See types.ts for the contract.
 * Event bodies the host already decoded into objects are read from their values by json-objects.ts,
 * with the result `readInput` gives for their JSON text.
 */
import { ByteReader, DamagedInputError } from './bytes';
import { readBinary } from './binary';
import { readAvro } from './avro';
import { readCsv } from './csv';
import { decompress } from './decompress';
import { detectCompression, detectFormat } from './detect';
import { readJson } from './json';
import { checkReadOptions } from './options';
import { readParquet } from './parquet';
import { emptyResult, readContext } from './reader';
import { isRangedInput } from './types';
import type { Compression, InputFormat, ReadOptions, ReadResult } from './types';

export type { BadRecord, Compression, InputFormat, RangedInput, ReadOptions, ReadResult } from './types';
export { RESCUED_COLUMN } from './types';
export { checkReadOptions, ReadOptionsError } from './options';
export { COLUMNS_INFERENCE_KEY, columnNames, isStorableName } from './names';

/** Bytes of decompressed input looked at to detect the format. */
const DETECT_BYTES = 4096;

/**
 * Read one input (a landing file or an event body) into Arrow batches.
 *
 * Text formats stream: memory holds the inference sample and one batch, whatever the file size.
 * Parquet is read by row group: by range when `bytes` is a `RangedInput` (and not compressed), else
 * from a spooled copy (a temporary file beyond a few MiB).
 *
 * @param bytes the stored bytes, chunk by chunk
 * @param name the file name or path (its extension helps detection; binary rows carry it as `path`)
 * @param options format, compression, dialect, hints, target schema, sampling and batch sizes
 * @returns the result: schema and inference decided, batches still to be consumed. Bad records,
 *   counters and a `fatal` found after the sample are filled in while `batches` is consumed. Throws
 *   only `ReadOptionsError`, for invalid options (an unknown format or schema hint type, a dialect
 *   character that is not one ASCII character…), before reading anything; problems of the input are
 *   reported in the result.
 */
export async function readInput(bytes: AsyncIterable<Uint8Array>, name: string, options: ReadOptions = {}): Promise<ReadResult> {
  checkReadOptions(options);
  const stored = new ByteReader(bytes);
  const declaredFormat: InputFormat = options.format ?? 'auto';
  const head = await stored.peek(8);
  const compression: Compression = options.compression && options.compression !== 'auto' ? options.compression : detectCompression(name, head);
  // Until the content is seen (or when there is none), the name alone says what the file is meant to be.
  const placeholder: Exclude<InputFormat, 'auto'> = declaredFormat === 'auto' ? detectFormat(name, new Uint8Array(0)) : declaredFormat;
  if (head.length === 0) {
    const result = emptyResult(placeholder, compression);
    result.fatal = { byteOffset: 0, reason: 'empty file' };
    return result;
  }
  const input = compression === 'none' ? stored : new ByteReader(decompress(stored, compression));
  let decodedHead: Uint8Array;
  try {
    decodedHead = await input.peek(DETECT_BYTES);
  } catch (err) {
    if (!(err instanceof DamagedInputError)) throw err;
    const result = emptyResult(placeholder, compression);
    result.fatal = { byteOffset: 0, reason: err.message };
    result.stats.bytesRead = stored.count;
    return result;
  }
  if (decodedHead.length === 0) {
    const result = emptyResult(placeholder, compression);
    result.fatal = { byteOffset: 0, reason: `empty file (${compression} archive with no content)` };
    result.stats.bytesRead = stored.count;
    return result;
  }
  const format = declaredFormat === 'auto' ? detectFormat(name, decodedHead) : declaredFormat;
  const result = emptyResult(format, compression);
  const ctx = readContext(name, options, result, () => stored.count, compression === 'none' && isRangedInput(bytes) ? bytes : undefined);
  switch (format) {
    case 'csv':
    case 'tsv':
      await readCsv(input, ctx, format === 'tsv');
      break;
    case 'json':
    case 'ndjson':
      await readJson(input, ctx, format);
      break;
    case 'parquet':
      await readParquet(input, ctx);
      break;
    case 'avro':
      await readAvro(input, ctx);
      break;
    case 'binary':
      await readBinary(input, ctx);
      break;
  }
  result.stats.bytesRead = Math.max(result.stats.bytesRead, stored.count);
  return result;
}
