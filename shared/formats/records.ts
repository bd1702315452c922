/**
 * The record loop every reader runs, minus what is specific to its format: pulling bytes until the
 * input ends or turns out damaged, turning the sampled (or declared) columns into the output layout
 * with storable names, emitting batches with their `_rescued_data` column and counters, releasing bad
 * records in file order, and closing the read with its counters and the fatal that damage causes.
 *
 * Each reader keeps its own scanner and its own way of converting values (CSV converts whole columns
 * from byte positions, NDJSON fills column writers record by record, Avro decodes blocks), because
 * that is where the speed is; everything around it is here, once.
 */
import * as arrow from 'apache-arrow';
import { deltaToArrowSchema } from '../delta/schema';
import { keepBadRecord } from './bad-records';
import { ByteReader, DamagedInputError } from './bytes';
import { createWriter } from './column-writers';
import { Rescue } from './rescue';
import type { Inferred } from './infer';
import { Layout, OutputColumn, planLayout } from './layout';
import { COLUMNS_INFERENCE_KEY, columnNames } from './names';
import { RAW_RECORDS_KEPT, ReadContext } from './reader';
import { BadRecord, RESCUED_COLUMN } from './types';

/** Pulls chunks from a reader's input; damage (a corrupt or cut archive) ends the input and is kept. */
export class ChunkPuller {
  /** No more chunks will come. */
  eof = false;
  /** Why the input ended early, when it did. */
  damage: DamagedInputError | null = null;

  /** @param input the decompressed bytes */
  constructor(private readonly input: ByteReader) {}

  /**
   * The next chunk, or null at the end (or at damage).
   *
   * @returns the chunk or null
   */
  async next(): Promise<Uint8Array | null> {
    if (this.eof) return null;
    try {
      const chunk = await this.input.read();
      if (chunk) return chunk;
    } catch (err) {
      if (!(err instanceof DamagedInputError)) throw err;
      this.damage = err;
    }
    this.eof = true;
    return null;
  }

  /** Whether the input ended at its real end: a scanner may then close its last record. */
  get complete(): boolean {
    return this.eof && !this.damage;
  }
}

/** Scanners hand bad records over once this many are waiting, so that waiting ones stay few. */
export const PENDING_BAD_RECORDS = 1024;

/**
 * Move bad records a scanner collected to the result (emptying `pending`), in file order. Also for
 * scanners that must let go of bad records before the output exists (a sample of nothing but bad
 * records reads the whole input).
 *
 * @param ctx the read in progress
 * @param pending the scanner's bad records
 * @param sort whether they may have been found out of file order (then sorted by row, then offset)
 */
export function releaseBadRecords(ctx: ReadContext, pending: BadRecord[], sort = false): void {
  if (pending.length === 0) return;
  if (sort) pending.sort((a, b) => (a.row ?? 0) - (b.row ?? 0) || (a.byteOffset ?? 0) - (b.byteOffset ?? 0));
  const { result } = ctx;
  // One record at a time: spreading a large array into push() overflows the call stack.
  for (const record of pending) {
    // Scanners stop making raw text once they have made enough; this keeps it for the first ones in file order.
    if (result.badRecords.length >= RAW_RECORDS_KEPT && record.raw !== undefined) delete record.raw;
    keepBadRecord(result, record);
  }
  pending.length = 0;
}

/** One input column as the format found it: its name in the input and its inferred or source type. */
export interface FoundColumn {
  name: string;
  inferred: Inferred;
}

/**
 * The output half of a reader: the layout (planned once the columns are known), batches, bad records
 * and counters of `ctx.result`.
 */
export class RecordOutput {
  readonly layout: Layout;
  readonly arrowSchema: arrow.Schema;

  /**
   * Plan the output and put its schema and inference on the result.
   *
   * @param ctx the read in progress
   * @param found the input's columns in input order
   * @param typed whether the types come from the format (Parquet, Avro) rather than inference
   */
  constructor(
    private readonly ctx: ReadContext,
    found: FoundColumn[],
    typed = false,
  ) {
    const { names, renamed } = columnNames(
      found.map((c) => c.name),
      [RESCUED_COLUMN, ...(ctx.options.reservedColumns ?? [])],
    );
    this.layout = planLayout(
      found.map((c, i) => ({ name: names[i], ...(names[i] !== c.name ? { original: c.name } : {}), inferred: c.inferred })),
      ctx.options,
      typed,
    );
    const { result } = ctx;
    result.schema = this.layout.schema;
    result.newFields = this.layout.newFields;
    Object.assign(result.inference, this.layout.inference);
    if (Object.keys(renamed).length) result.inference[COLUMNS_INFERENCE_KEY] = JSON.stringify(renamed);
    this.arrowSchema = deltaToArrowSchema(this.layout.schema);
  }

  /**
   * An all-null column for an output column the input does not have.
   *
   * @param col the output column
   * @param rows rows in the batch
   * @returns the column data
   */
  absent(col: OutputColumn, rows: number): arrow.Data {
    return createWriter(col.type, rows, col.dateFormat).finish();
  }

  /**
   * Assemble a batch from the output columns in layout order, appending `_rescued_data`, and count it.
   *
   * @param children one column per layout column
   * @param rescue the values rescued in this batch
   * @param rows rows in the batch
   * @returns the batch
   */
  batch(children: arrow.Data[], rescue: Rescue, rows: number): arrow.RecordBatch {
    children.push(rescue.toData(rows));
    const stats = this.ctx.result.stats;
    stats.rowsEmitted += rows;
    stats.rowsWithRescued += rescue.rowCount;
    const data = arrow.makeData({ type: new arrow.Struct(this.arrowSchema.fields), length: rows, nullCount: 0, children });
    return new arrow.RecordBatch(this.arrowSchema, data);
  }

  /**
   * Move bad records a scanner collected to the result (emptying `pending`). Readers release them
   * with the batch they precede, so a consumer sees them in file order.
   *
   * @param pending the scanner's bad records
   * @param sort whether they may have been found out of file order (then sorted by row, then offset)
   */
  release(pending: BadRecord[], sort = false): void {
    releaseBadRecords(this.ctx, pending, sort);
  }

  /**
   * Close the read (bad records released): set the final counters and, when the input was damaged,
   * the fatal that says from where on it is lost.
   *
   * @param rowsRead records found, bad ones included
   * @param damage what ended the input early, if anything
   * @param lostFrom decompressed byte offset from which input is lost (the first byte not turned into records)
   */
  end(rowsRead: number, damage: DamagedInputError | null, lostFrom: number): void {
    const { result } = this.ctx;
    result.stats.rowsRead = rowsRead;
    result.stats.bytesRead = this.ctx.storedBytes();
    if (damage) result.fatal = { byteOffset: lostFrom, reason: `${damage.message}; the input from decompressed byte offset ${lostFrom} on is lost` };
  }
}
