/**
 * CSV and TSV: the reader around the tokenizer (./csv-tokenizer.ts, which holds the syntax rules).
 * It sniffs the dialect, samples and infers column types, then converts the tokenizer's field
 * positions into Arrow columns a batch at a time, rescuing values that do not fit their column.
 */
import type * as arrow from 'apache-arrow';
import { makeData } from 'apache-arrow';
import { deltaToArrowType } from '../delta/schema';
import type { ByteReader } from './bytes';
import { createWriter } from './column-writers';
import { Rescue } from './rescue';
import { describeDialect, sniffDialect } from './csv-dialect';
import { BAD_WAITING, CsvTokenizer, CUT_OFF, DONE, ESCAPED, LONG_RECORD, NEED_MORE, QUOTED, unescapeField } from './csv-tokenizer';
import { ColumnProfile } from './infer';
import type { OutputColumn } from './layout';
import { dialectByte } from './options';
import { MAX_BATCH_BYTES, maxRecordBytes, ReadContext, rowsPerBatch } from './reader';
import { ChunkPuller, RecordOutput, releaseBadRecords } from './records';

/** How much of the file dialect sniffing looks at first. */
const HEAD_BYTES = 64 * 1024;
/** How far the head may grow when the first record is longer than the usual head. */
const MAX_HEAD_BYTES = 8 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Read a CSV or TSV input into `ctx.result`: sniff the dialect, sample and infer, then leave the batch
 * generator on the result.
 *
 * @param input the decompressed bytes
 * @param ctx the read in progress
 * @param tsv whether the input is declared or named TSV (tab is tried first)
 */
export async function readCsv(input: ByteReader, ctx: ReadContext, tsv: boolean): Promise<void> {
  const { result, options } = ctx;
  const csvOptions = options.csv ?? {};
  const puller = new ChunkPuller(input);
  const latin1 = csvOptions.encoding === 'latin1';
  // Latin-1 is transcoded to UTF-8 up front; offsets then count UTF-8 bytes.
  const pullChunk = async (): Promise<Uint8Array | null> => {
    const chunk = await puller.next();
    return chunk && latin1 ? Buffer.from(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).toString('latin1'), 'utf8') : chunk;
  };

  // Head: enough bytes to sniff the dialect from.
  const headChunks: Uint8Array[] = [];
  let headLength = 0;
  while (!puller.eof && headLength < HEAD_BYTES) {
    const chunk = await pullChunk();
    if (chunk) {
      headChunks.push(chunk);
      headLength += chunk.length;
    }
  }
  let window = Buffer.concat(headChunks);
  let start = 0;
  if (window.length >= 3 && window[0] === 0xef && window[1] === 0xbb && window[2] === 0xbf) start = 3;
  if (window.length >= 2 && ((window[0] === 0xff && window[1] === 0xfe) || (window[0] === 0xfe && window[1] === 0xff))) {
    result.fatal = { byteOffset: 0, reason: 'UTF-16 text is not supported (the file starts with a UTF-16 byte order mark); convert it to UTF-8' };
    return;
  }
  if (window.length - start === 0 && !puller.damage) {
    result.fatal = { byteOffset: 0, reason: window.length ? 'empty file (only a byte order mark)' : 'empty file' };
    return;
  }
  const declared = {
    delimiter: dialectByte(csvOptions.delimiter, 'csv.delimiter') ?? (tsv ? 0x09 : undefined),
    quote: dialectByte(csvOptions.quote, 'csv.quote'),
    escape: dialectByte(csvOptions.escape, 'csv.escape'),
    header: csvOptions.header,
  };
  let sniff = sniffDialect(window.subarray(start), puller.complete, declared, tsv);
  while (!sniff.firstRecord && !puller.eof && window.length < MAX_HEAD_BYTES) {
    const more: Uint8Array[] = [window];
    let added = 0;
    while (!puller.eof && added < window.length) {
      const chunk = await pullChunk();
      if (chunk) {
        more.push(chunk);
        added += chunk.length;
      }
    }
    window = Buffer.concat(more);
    sniff = sniffDialect(window.subarray(start), puller.complete, declared, tsv);
  }
  const dialect = sniff.dialect;
  const first = sniff.firstRecord;
  const ncols = Math.max(1, first?.length ?? 1);
  // Without a header the columns are `_c0`, `_c1`… as Spark names them (nothing renamed).
  const names = dialect.header && first ? first.map((f) => utf8.decode(f)) : Array.from({ length: ncols }, (_, i) => `_c${i}`);

  const batchRows = rowsPerBatch(ctx.batchRows, ncols);
  const capacity = Math.max(batchRows, ctx.sampleRows);
  const scanner = new CsvTokenizer(dialect, ncols, capacity, ctx);
  const maxRecord = maxRecordBytes(ctx);
  scanner.append(window);
  scanner.pos = start;
  scanner.skipHeader = dialect.header && first !== null;

  /**
   * Scan what the window holds; when that is not enough, pull more bytes (returns NEED_MORE). A
   * record that outgrows the size limit is skipped here, or LONG_RECORD asks for the held rows to
   * be emitted first.
   */
  const scanOrPull = async (): Promise<number> => {
    const wasEof = puller.eof;
    const status = scanner.scan(puller.complete);
    if (status === BAD_WAITING) {
      // Held rows are checked first: their UTF-8 bad records come before the waiting ones.
      scanner.validate();
      releaseBadRecords(ctx, scanner.pendingBad, true);
      return NEED_MORE;
    }
    if (status !== NEED_MORE) return status;
    if (wasEof) return CUT_OFF;
    while (!puller.eof && scanner.len < scanner.resumeAt) {
      if (scanner.len - scanner.pos > maxRecord) {
        if (scanner.rows > 0) return LONG_RECORD;
        scanner.skipLongRecord();
        return NEED_MORE;
      }
      // Nothing held before the record being scanned (e.g. only bad records so far): drop those bytes.
      if (scanner.rows === 0 && scanner.pos >= 1 << 20) scanner.compact();
      const chunk = await pullChunk();
      if (chunk) scanner.append(chunk);
    }
    return NEED_MORE;
  };

  // Sample: no further than the sample needs. The first read window holds tens of thousands of
  // rows, which the batches scan anyway; scanned here too, they cost a DuckDB copy (which never
  // reads the batches) 40-70 ms of a 1M-row file.
  scanner.limit = ctx.sampleRows;
  for (;;) {
    const status = await scanOrPull();
    if (scanner.rows >= ctx.sampleRows || status !== NEED_MORE) break;
  }
  scanner.limit = capacity;
  if (scanner.headerInvalidAt >= 0) {
    const at = scanner.headerInvalidAt;
    result.fatal = {
      byteOffset: at,
      reason: `invalid UTF-8 byte 0x${scanner.headerInvalidByte.toString(16).padStart(2, '0')} at byte offset ${at} in the header`,
    };
    result.stats.bytesRead = ctx.storedBytes();
    return;
  }
  scanner.validate();
  const profiles = names.map(() => new ColumnProfile());
  const sampleCount = Math.min(scanner.rows, ctx.sampleRows);
  for (let r = 0; r < sampleCount; r++) {
    for (let c = 0; c < ncols; c++) {
      const f = r * ncols + c;
      const s = scanner.starts[f];
      const e = scanner.ends[f];
      if (s === e) continue;
      if (scanner.flags[f] & ESCAPED) {
        const field = unescapeField(scanner.buf, s, e, dialect.quote, dialect.escape);
        profiles[c].addText(field, 0, field.length);
      } else profiles[c].addText(scanner.buf, s, e);
    }
  }
  const output = new RecordOutput(
    ctx,
    names.map((name, i) => ({ name, inferred: profiles[i].resolve() })),
  );
  result.inference['#csv'] = describeDialect(dialect, sniff.lineEnding);
  result.csv = {
    delimiter: dialect.delimiter,
    quote: dialect.quote,
    escape: dialect.escape,
    header: dialect.header && first !== null,
    inputColumns: ncols,
    latin1,
    recordAtStart: window.length > start && window[start] !== 0x0a && window[start] !== 0x0d,
    columns: output.layout.columns.map(({ name, type, input, dateFormat }) => ({ name, type, input, dateFormat })),
    sampledRows: scanner.rows,
  };
  result.format = tsv ? 'tsv' : 'csv';
  const { columns } = output.layout;
  const stats = result.stats;

  /** Emit the rows held: all of them, or only whole batches (the rest waits for more rows). */
  const flush = function* (all: boolean): Generator<arrow.RecordBatch> {
    scanner.validate();
    const held = scanner.rows;
    const total = all ? held : held - (held % batchRows);
    for (let r0 = 0; r0 < total; r0 += batchRows) {
      const m = Math.min(batchRows, total - r0);
      const rescue = new Rescue();
      const children = columns.map((col) => (col.input < 0 ? output.absent(col, m) : convertColumn(scanner, col, r0, m, rescue)));
      stats.rowsRead = scanner.records;
      stats.bytesRead = ctx.storedBytes();
      yield output.batch(children, rescue, m);
    }
    output.release(scanner.pendingBad, true);
    if (total < held) scanner.keepFrom(total);
    else scanner.compact();
    scanner.limit = batchRows;
  };

  result.batches = (async function* () {
    for (;;) {
      if (scanner.rows >= batchRows) {
        yield* flush(false);
        continue;
      }
      if (scanner.rows > 0 && scanner.len > MAX_BATCH_BYTES) {
        // Long records: a shorter batch bounds memory.
        yield* flush(true);
        continue;
      }
      const status = await scanOrPull();
      if (status === LONG_RECORD) {
        yield* flush(true);
        continue;
      }
      // CUT_OFF: the unfinished record at the damage is part of the fatal, not a record.
      if (status === DONE || status === CUT_OFF) break;
    }
    yield* flush(true);
    output.end(scanner.records, puller.damage, scanner.base + scanner.pos);
  })();
}

/** Convert one output column of rows [r0, r0 + m) from the scanned field positions. */
function convertColumn(scanner: CsvTokenizer, col: OutputColumn, r0: number, m: number, rescue: Rescue): arrow.Data {
  const k = col.input;
  if (col.type === 'string' || col.type === 'binary') return textColumn(scanner, col.type, k, r0, m);
  const ncols = scanner.ncols;
  const { starts, ends, flags, buf } = scanner;
  const writer = createWriter(col.type, m, col.dateFormat);
  const { quote, escape } = scanner.dialect;
  for (let r = 0; r < m; r++) {
    const f = (r0 + r) * ncols + k;
    const s = starts[f];
    const e = ends[f];
    const fl = flags[f];
    // Empty, quoted or not, is null in a typed column.
    if (s === e) continue;
    let ok: boolean;
    if (fl & ESCAPED) {
      const field = unescapeField(buf, s, e, quote, escape);
      ok = writer.bytes(r, field, 0, field.length);
      if (!ok) rescue.add(r, col.name, JSON.stringify(utf8.decode(field)));
    } else {
      ok = writer.bytes(r, buf, s, e);
      if (!ok) rescue.add(r, col.name, JSON.stringify(utf8.decode(buf.subarray(s, e))));
    }
  }
  return writer.finish();
}

/**
 * A string or binary column straight from the window: field bytes are copied into the Arrow data
 * buffer (unescaped where needed) with no JS string and no per-value call, the hottest path of a read.
 */
function textColumn(scanner: CsvTokenizer, type: 'string' | 'binary', k: number, r0: number, m: number): arrow.Data {
  const ncols = scanner.ncols;
  const { starts, ends, flags, buf } = scanner;
  const { quote, escape } = scanner.dialect;
  let capacity = 0;
  for (let r = 0, f = r0 * ncols + k; r < m; r++, f += ncols) capacity += ends[f] - starts[f];
  const data = new Uint8Array(capacity);
  const offsets = new Int32Array(m + 1);
  const validity = new Uint8Array((m + 7) >> 3);
  let nulls = 0;
  let at = 0;
  for (let r = 0, f = r0 * ncols + k; r < m; r++, f += ncols) {
    const s = starts[f];
    const e = ends[f];
    const fl = flags[f];
    if (s === e && !(fl & QUOTED)) {
      nulls++;
      offsets[r + 1] = at;
      continue;
    }
    validity[r >> 3] |= 1 << (r & 7);
    if (fl & ESCAPED) {
      const field = unescapeField(buf, s, e, quote, escape);
      data.set(field, at);
      at += field.length;
    } else if (e - s < 32) {
      for (let p = s; p < e; p++) data[at++] = buf[p];
    } else {
      data.set(buf.subarray(s, e), at);
      at += e - s;
    }
    offsets[r + 1] = at;
  }
  const base = nulls
    ? { type: deltaToArrowType(type), length: m, nullCount: nulls, nullBitmap: validity }
    : { type: deltaToArrowType(type), length: m, nullCount: 0 };
  return makeData({ ...base, valueOffsets: offsets, data: at === capacity ? data : data.subarray(0, at) } as never);
}
