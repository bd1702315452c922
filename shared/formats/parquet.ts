/**
 * Parquet input, read by row group: the footer first (its declared length checked against the file),
 * then one row group at a time, each fetched with ranged reads of its column chunks, so memory holds
 * one row group whatever the size of the file. A stored file is read by range where it lies
 * (`ctx.ranged`); a stream (a compressed file, an event body) is spooled first (bytes.ts).
 *
 * A row group whose column chunks lie outside the file or span more than `MAX_PARQUET_READ_BYTES`,
 * or that fails to decode, is one bad record (its index, the byte offset of its first column chunk and
 * why; its declared row count cannot be trusted, so it counts as one record read) and reading goes on
 * with the next one. A footer that cannot be read makes the file unreadable (`fatal`).
 *
 * Parquet is typed, so nothing is inferred: each column keeps its type unless a hint or the target
 * schema says otherwise, in which case values convert through their text exactly or are rescued.
 * Columns whose Arrow type already is Sluice's in-memory type for their Delta type are passed on
 * without copying.
 */
import * as arrow from 'apache-arrow';
import type { FileMetaData } from 'hyparquet';
import { openParquetRowGroups, ParquetRowGroupReader, ParquetSource, readParquetMetadata } from '../delta/parquet';
import { arrowToDeltaType, DeltaType, formatDeltaType } from '../delta/schema';
import { isCanonicalArrowType, readValues } from '../delta/values';
import { ByteReader, DamagedInputError, spool } from './bytes';
import { typedColumn } from './convert';
import { Rescue } from './rescue';
import type { ReadContext } from './reader';
import { RecordOutput } from './records';
import type { BadRecord } from './types';

const MAGIC = [0x50, 0x41, 0x52, 0x31];
/** The largest footer read: wide files with many row groups have footers of a few MiB. */
export const MAX_PARQUET_FOOTER_BYTES = 64 * 1024 * 1024;
/**
 * The most bytes one read may fetch: the column chunks of a row group come in one read each, and
 * writers make row groups of up to 128 MiB (Spark) or 1 GiB (some tools, rarely).
 */
export const MAX_PARQUET_READ_BYTES = 256 * 1024 * 1024;

function hasMagic(bytes: Uint8Array, at: number): boolean {
  return at >= 0 && MAGIC.every((b, i) => bytes[at + i] === b);
}

/** A problem with the file's bytes (not with storage): the row group or file it hits is bad. */
class ParquetInputError extends Error {}

/**
 * Read a Parquet file into `ctx.result`.
 *
 * @param input the (decompressed) bytes, when the file is not read by range
 * @param ctx the read in progress
 */
export async function readParquet(input: ByteReader, ctx: ReadContext): Promise<void> {
  const { result } = ctx;
  let fetched = 0;
  // A storage error (the file changed, a timeout) is not the file's fault: it must reach the caller as
  // itself, but parquet-wasm turns every rejection into its own error text, so it is kept here.
  let storageFailure: unknown;
  let file: ParquetSource & { close(): Promise<void>; verify(): Promise<void> };
  if (ctx.ranged) {
    const ranged = ctx.ranged;
    file = {
      size: ranged.size,
      read: (offset, length) => ranged.readRange(offset, length),
      close: async () => undefined,
      verify: () => ranged.verify(),
    };
  } else {
    try {
      const spooled = await spool(input);
      file = { ...spooled, read: spooled.read, close: spooled.close, verify: async () => undefined };
    } catch (err) {
      if (!(err instanceof DamagedInputError)) throw err;
      // Without the footer at the end nothing of a Parquet file can be read.
      result.fatal = { byteOffset: input.count, reason: `${err.message}; a Parquet file cannot be read without its end` };
      result.stats.bytesRead = ctx.storedBytes();
      return;
    }
  }
  const size = file.size;
  const source: ParquetSource = {
    size,
    read: async (offset, length) => {
      if (offset < 0 || length < 0 || offset + length > size)
        throw new ParquetInputError(`a read of bytes ${offset}..${offset + length} runs past the end of the ${size}-byte file`);
      if (length > MAX_PARQUET_READ_BYTES)
        throw new ParquetInputError(`a read of ${length} bytes at byte offset ${offset}, more than the limit of ${MAX_PARQUET_READ_BYTES}`);
      try {
        const bytes = await file.read(offset, length);
        fetched += bytes.length;
        return bytes;
      } catch (err) {
        storageFailure ??= err;
        throw err;
      }
    },
  };
  const fail = async (byteOffset: number, reason: string) => {
    result.fatal = { byteOffset, reason };
    result.stats.bytesRead = ctx.ranged ? Math.min(size, fetched) : ctx.storedBytes();
    await file.close();
  };

  let metadata: FileMetaData;
  let footerLength: number;
  try {
    if (size === 0) return await fail(0, 'empty file (zero-byte Parquet)');
    if (!hasMagic(await source.read(0, Math.min(4, size)), 0)) return await fail(0, 'not a Parquet file (no PAR1 magic at the start)');
    const tail = size >= 12 ? await source.read(size - 8, 8) : new Uint8Array(0);
    if (!hasMagic(tail, 4)) return await fail(size, 'truncated Parquet file (no PAR1 magic at the end, so no footer)');
    footerLength = new DataView(tail.buffer, tail.byteOffset, 8).getUint32(0, true);
    if (footerLength > size - 12)
      return await fail(size - 8, `corrupt Parquet file: its footer length field declares ${footerLength} bytes, the file has ${size} bytes in all`);
    if (footerLength > MAX_PARQUET_FOOTER_BYTES)
      return await fail(size - 8, `its footer declares ${footerLength} bytes, more than the limit of ${MAX_PARQUET_FOOTER_BYTES}`);
    metadata = await readParquetMetadata(await source.read(size - 8 - footerLength, footerLength + 8));
  } catch (err) {
    if (storageFailure) throw storageFailure;
    return await fail(0, `unreadable Parquet file: ${err instanceof Error ? err.message : String(err)}`);
  }
  let reader: ParquetRowGroupReader;
  const sourceTypes: DeltaType[] = [];
  try {
    reader = await openParquetRowGroups(source, metadata);
    for (const f of reader.schema.fields) sourceTypes.push(arrowToDeltaType(f.type, f.name));
  } catch (err) {
    if (storageFailure) throw storageFailure;
    return await fail(0, `unreadable Parquet file: ${err instanceof Error ? err.message : String(err)}`);
  }
  const output = new RecordOutput(
    ctx,
    reader.schema.fields.map((f, i) => ({
      name: f.name,
      inferred: { type: sourceTypes[i], note: `${formatDeltaType(sourceTypes[i])} (Parquet)`, dateFormat: 'yyyy-MM-dd' },
    })),
    true,
  );
  const stats = result.stats;
  // Column chunks lie between the leading magic and the footer.
  const dataEnd = size - 8 - footerLength;

  const toBatch = (part: arrow.Table) => {
    const m = part.numRows;
    const rescue = new Rescue();
    const children = output.layout.columns.map((col) => {
      if (col.input < 0) return output.absent(col, m);
      const vector = part.getChildAt(col.input)!;
      const from = sourceTypes[col.input];
      const same = formatDeltaType(from) === formatDeltaType(col.type);
      // Nested types are rebuilt: Parquet names list children `item` or `list`, Sluice `element`.
      if (same && typeof from === 'string' && vector.data.length === 1 && vector.data[0].offset === 0 && isCanonicalArrowType(vector.type, col.type)) {
        return vector.data[0];
      }
      return typedColumn(readValues(vector, from), from, col.type, col.dateFormat, rescue, col.name);
    });
    stats.rowsRead += m;
    return output.batch(children, rescue, m);
  };

  result.batches = (async function* () {
    const pending: BadRecord[] = [];
    const groups = metadata.row_groups;
    try {
      for (let g = 0; g < groups.length; g++) {
        const group = groups[g];
        const where = rowGroupRange(group);
        const bad = (why: string) => {
          stats.rowsRead += 1;
          pending.push({
            byteOffset: where.start,
            reason: `bad Parquet row group ${g} (of ${groups.length}, ${group.num_rows} rows declared) at byte offset ${where.start}: ${why}`,
          });
        };
        if (where.start < 4 || where.end > dataEnd) {
          bad(`its column chunks declare bytes ${where.start}..${where.end}, outside the file's data (bytes 4..${dataEnd})`);
          continue;
        }
        if (where.end - where.start > MAX_PARQUET_READ_BYTES) {
          bad(`its column chunks span ${where.end - where.start} bytes, more than the limit of ${MAX_PARQUET_READ_BYTES}`);
          continue;
        }
        const batches = reader.rowGroup(g, ctx.batchRows)[Symbol.asyncIterator]();
        let emitted = 0;
        for (;;) {
          let next: IteratorResult<arrow.Table>;
          try {
            next = await batches.next();
          } catch (err) {
            if (storageFailure) throw storageFailure;
            const message = err instanceof Error ? err.message : String(err);
            bad(emitted ? `it fails to decode after ${emitted} rows (${message})` : `it fails to decode (${message})`);
            break;
          }
          if (next.done) break;
          emitted += next.value.numRows;
          output.release(pending);
          yield toBatch(next.value);
        }
      }
      output.release(pending);
      await file.verify();
      // Stored bytes: the whole file when read by range, else what the (compressed) stream held.
      stats.bytesRead = ctx.ranged ? size : ctx.storedBytes();
    } finally {
      reader.close();
      await file.close();
    }
  })();
}

/** The bytes a row group's column chunks declare: from the first page of the first to the end of the last. */
function rowGroupRange(group: FileMetaData['row_groups'][number]): { start: number; end: number } {
  let start = Infinity;
  let end = -Infinity;
  for (const chunk of group.columns) {
    const meta = chunk.meta_data;
    if (!meta) continue;
    const first = Math.min(Number(meta.data_page_offset), meta.dictionary_page_offset !== undefined ? Number(meta.dictionary_page_offset) : Infinity);
    start = Math.min(start, first);
    end = Math.max(end, first + Number(meta.total_compressed_size));
  }
  return start === Infinity ? { start: 4, end: 4 } : { start, end };
}
