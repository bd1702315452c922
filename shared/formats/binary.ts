/**
 * Binary files (images, PDFs, anything not a data format): one row per file.
 *
 * Columns: `path` (the name given), `length` (bytes, long), `modificationTime` (timestamp, from
 * `ReadOptions.modificationTime`, else null), `contentType` (from magic bytes, else the extension),
 * `content` (binary). Files larger than `binaryInlineLimit` are not inlined: `content` is null and
 * `path` is the reference to read the bytes from; the stream is still read to the end to count the
 * length, holding at most the limit in memory.
 */
import { ByteReader, concatBytes, DamagedInputError } from './bytes';
import { typedColumn } from './convert';
import { Rescue } from './rescue';
import { detectContentType } from './detect';
import { DEFAULT_BINARY_INLINE_LIMIT, ReadContext } from './reader';
import { RecordOutput } from './records';
import type { DeltaType } from '../delta/schema';

/**
 * Read a binary file into `ctx.result` (one row).
 *
 * @param input the (decompressed) bytes
 * @param ctx the read in progress
 */
export async function readBinary(input: ByteReader, ctx: ReadContext): Promise<void> {
  const { result, options } = ctx;
  const limit = options.binaryInlineLimit ?? DEFAULT_BINARY_INLINE_LIMIT;
  const kept: Uint8Array[] = [];
  let length = 0;
  let inline = true;
  let head: Uint8Array = new Uint8Array(0);
  try {
    for (let chunk = await input.read(); chunk; chunk = await input.read()) {
      if (length === 0) head = chunk.slice(0, 64);
      length += chunk.length;
      if (inline && length <= limit) kept.push(chunk);
      else if (inline) {
        inline = false;
        kept.length = 0;
      }
    }
  } catch (err) {
    if (!(err instanceof DamagedInputError)) throw err;
    // A binary file is one record: a damaged archive leaves no row to emit.
    result.fatal = { byteOffset: length, reason: err.message };
    result.stats.bytesRead = ctx.storedBytes();
    return;
  }
  const content = inline ? concatBytes(kept) : null;
  const columns: [string, DeltaType, unknown, string][] = [
    ['path', 'string', ctx.name, 'string (file path; the reference to the content)'],
    ['length', 'long', BigInt(length), 'long (bytes)'],
    ['modificationTime', 'timestamp', options.modificationTime ? BigInt(options.modificationTime.getTime()) * 1000n : null, 'timestamp'],
    ['contentType', 'string', detectContentType(ctx.name, head), 'string'],
    ['content', 'binary', content, inline ? 'binary' : `binary (not inlined: ${length} bytes > limit ${limit}; read the file at path)`],
  ];
  const output = new RecordOutput(
    ctx,
    columns.map(([name, type, , note]) => ({ name, inferred: { type, note, dateFormat: 'yyyy-MM-dd' } })),
    true,
  );
  result.batches = (async function* () {
    const rescue = new Rescue();
    const children = output.layout.columns.map((col) => {
      if (col.input < 0) return output.absent(col, 1);
      const [, type, value] = columns[col.input];
      return typedColumn([value], type, col.type, col.dateFormat, rescue, col.name);
    });
    const batch = output.batch(children, rescue, 1);
    output.end(1, null, 0);
    yield batch;
  })();
}
