/**
 * Helpers shared by the formats tests: feed bytes to `readInput` in chosen chunk sizes (so chunk
 * boundaries fall everywhere) and collect the rows as plain JS values (values.ts forms).
 */
import { readInput } from '../../shared/formats';
import type { ReadOptions, ReadResult } from '../../shared/formats';
import { readValues } from '../../shared/delta/values';

/**
 * Bytes as an async iterable of chunks.
 *
 * @param bytes the input
 * @param size chunk size
 * @returns the chunks
 */
export async function* chunked(bytes: Uint8Array, size = 65536): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** A finished read: the result (counters final) and every row. */
export interface ReadAll {
  result: ReadResult;
  rows: Record<string, unknown>[];
  batchSizes: number[];
}

/**
 * Read an input completely.
 *
 * @param bytes the stored bytes
 * @param name file name
 * @param options read options
 * @param chunkSize chunk size fed to the reader
 * @returns result and rows
 */
export async function readAll(bytes: Uint8Array, name: string, options: ReadOptions = {}, chunkSize = 65536): Promise<ReadAll> {
  const result = await readInput(chunked(bytes, chunkSize), name, options);
  const rows: Record<string, unknown>[] = [];
  const batchSizes: number[] = [];
  for await (const batch of result.batches) {
    batchSizes.push(batch.numRows);
    const columns = result.schema.fields.map((f, i) => readValues(batch.getChildAt(i)!, f.type));
    for (let r = 0; r < batch.numRows; r++) {
      const row: Record<string, unknown> = {};
      result.schema.fields.forEach((f, i) => {
        row[f.name] = columns[i][r];
      });
      rows.push(row);
    }
  }
  return { result, rows, batchSizes };
}
