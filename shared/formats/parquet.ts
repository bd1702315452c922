/**
 * Parquet input: decoded whole with `decodeParquet` (the footer is at the end of the file, so the
 * file is held in memory; the one exception to streaming) and mapped to its Delta schema.
 *
 * Parquet is typed, so nothing is inferred: each column keeps its type unless a hint or the target
 * schema says otherwise, in which case values convert through their text exactly or are rescued.
 * Columns whose Arrow type already is Sluice's in-memory type for their Delta type are passed on
 * without copying.
 */
import * as arrow from 'apache-arrow';
import { decodeParquet } from '../delta/parquet';
import { arrowToDeltaType, DeltaType, formatDeltaType } from '../delta/schema';
import { isCanonicalArrowType, readValues } from '../delta/values';
import { ByteReader, concatBytes, DamagedInputError } from './bytes';
import { Rescue, typedColumn } from './convert';
import type { ReadContext } from './reader';
import { RecordOutput } from './records';

const MAGIC = [0x50, 0x41, 0x52, 0x31];

function hasMagic(bytes: Uint8Array, at: number): boolean {
  return at >= 0 && MAGIC.every((b, i) => bytes[at + i] === b);
}

/**
 * Read a Parquet file into `ctx.result`.
 *
 * @param input the (decompressed) bytes
 * @param ctx the read in progress
 */
export async function readParquet(input: ByteReader, ctx: ReadContext): Promise<void> {
  const { result } = ctx;
  const chunks: Uint8Array[] = [];
  try {
    for (let chunk = await input.read(); chunk; chunk = await input.read()) chunks.push(chunk);
  } catch (err) {
    if (!(err instanceof DamagedInputError)) throw err;
    // Without the footer at the end nothing of a Parquet file can be read.
    result.fatal = { byteOffset: chunks.reduce((n, c) => n + c.length, 0), reason: `${err.message}; a Parquet file cannot be read without its end` };
    result.stats.bytesRead = ctx.storedBytes();
    return;
  }
  const bytes = concatBytes(chunks);
  chunks.length = 0;
  result.stats.bytesRead = ctx.storedBytes();
  if (bytes.length === 0) {
    result.fatal = { byteOffset: 0, reason: 'empty file (zero-byte Parquet)' };
    return;
  }
  if (!hasMagic(bytes, 0)) {
    result.fatal = { byteOffset: 0, reason: 'not a Parquet file (no PAR1 magic at the start)' };
    return;
  }
  if (bytes.length < 12 || !hasMagic(bytes, bytes.length - 4)) {
    result.fatal = { byteOffset: bytes.length, reason: 'truncated Parquet file (no PAR1 magic at the end, so no footer)' };
    return;
  }
  let table: arrow.Table;
  const sourceTypes: DeltaType[] = [];
  try {
    table = await decodeParquet(bytes);
    for (const f of table.schema.fields) sourceTypes.push(arrowToDeltaType(f.type, f.name));
  } catch (err) {
    result.fatal = { byteOffset: 0, reason: `unreadable Parquet file: ${err instanceof Error ? err.message : String(err)}` };
    return;
  }
  const output = new RecordOutput(
    ctx,
    table.schema.fields.map((f, i) => ({ name: f.name, inferred: { type: sourceTypes[i], note: `${formatDeltaType(sourceTypes[i])} (Parquet)`, dateFormat: 'yyyy-MM-dd' } })),
    true,
  );
  const stats = result.stats;
  const total = table.numRows;

  result.batches = (async function* () {
    for (let r0 = 0; r0 < total; r0 += ctx.batchRows) {
      const m = Math.min(ctx.batchRows, total - r0);
      const part = r0 === 0 && m === total ? table : table.slice(r0, r0 + m);
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
      yield output.batch(children, rescue, m);
    }
  })();
}
