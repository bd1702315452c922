/**
 * NDJSON (one object per line), JSON arrays of objects, and JSON objects (one, or several in a row).
 *
 * - NDJSON: each non-blank line is a record numbered by its line number; a line that is not a JSON
 *   object is a bad record (line number, byte offset) and the lines around it are read normally.
 * - JSON: the elements of a top-level array (or the top-level objects of the file) are the records,
 *   numbered from 1. Elements are split structurally (brackets and strings), so a malformed element is
 *   one bad record; a file cut inside an element makes that element a bad record.
 * - A record (line or element) longer than `maxRecordBytes` (default 16 MiB) is a bad record with its
 *   first 4 KiB; the rest of it is dropped as it arrives, and reading goes on after it.
 * - Columns are the keys seen in the first `sampleRows` records, in order of first appearance. Keys
 *   that first appear later go to `_rescued_data` (the table schema is decided by then), as do values
 *   that do not fit their column's type and repeated keys within one object.
 * - Nested objects and arrays are kept as their JSON text, exactly as written: bronze stores what came
 *   in, and parsing them into structs is a silver concern. A target schema with struct/array/map
 *   columns does get them parsed into those types.
 * - JSON strings stay strings unless every sampled value is an ISO date or timestamp; JSON numbers are
 *   typed like CSV numbers (see infer.ts), with their source text kept so nothing is rounded.
 * - The sample is parsed losslessly (json-text.ts); after it, records that are flat objects are read
 *   by the byte scanner of json-scan.ts straight into the column writers, and the others (nested
 *   values, escaped keys, malformed records…) by the lossless parser, with the same result.
 */
import { isUtf8 } from 'node:buffer';
import type * as arrow from 'apache-arrow';
import { appendToWindow, type ByteReader } from './bytes';
import { ColumnWriter, createWriter } from './column-writers';
import { Rescue } from './rescue';
import { ColumnProfile } from './infer';
import { parseJsonRecord, toJsonText } from './json-text';
import { JSON_NULL, JsonRecordScanner, scannedKey, scannedValue, scannedWriteWay, writeScanned } from './json-scan';
import { firstInvalidUtf8, invalidUtf8Record, MAX_BATCH_BYTES, maxRecordBytes, rawText, ReadContext, rowsPerBatch, tooLongRecord, wantsRaw } from './reader';
import { ChunkPuller, PENDING_BAD_RECORDS, RecordOutput, releaseBadRecords } from './records';
import type { BadRecord } from './types';

const LF = 0x0a;
const CR = 0x0d;

/** One parsed record: keys and values in order. */
interface ParsedRecord {
  keys: string[];
  values: unknown[];
}

/** Splits records out of a growing byte window: lines for NDJSON, top-level values for JSON. */
class RecordSplitter {
  buf: Buffer = Buffer.allocUnsafe(1 << 20);
  len = 0;
  base = 0;
  pos = 0;
  /** NDJSON: lines seen so far (blank ones included); JSON: elements seen so far. */
  ordinal = 0;
  // JSON structural state, kept across window refills so no byte is scanned twice.
  private scanAt = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private inElement = false;
  private scalar = false;
  private needComma = false;
  /** JSON mode: whether the records are the elements of a top-level array (null until known). */
  topArray: boolean | null = null;
  /** JSON mode: the top-level array has been closed (or the input cannot be split further). */
  closed = false;
  /** JSON mode: non-space bytes follow the closed top-level array. */
  trailing = false;
  /** JSON mode: the input does not start with `[` or `{`. */
  notJson = false;
  /**
   * The rest of an over-long record is being dropped: NDJSON until the next line break (appended
   * bytes are counted in `base` only), JSON until the element's end (scanned, then compacted away).
   */
  private dropping = false;

  constructor(readonly ndjson: boolean) {}

  append(chunk: Uint8Array): void {
    if (this.dropping && this.ndjson) {
      // The window is empty while dropping, so `base` is the offset of whatever is appended next.
      const lf = chunk.indexOf(LF);
      if (lf < 0) {
        this.base += chunk.length;
        return;
      }
      this.dropping = false;
      this.base += lf + 1;
      chunk = chunk.subarray(lf + 1);
    }
    this.buf = appendToWindow(this.buf, this.len, chunk);
    this.len += chunk.length;
  }

  /**
   * Give up the record the window ends inside (it has outgrown the size limit): its bytes are
   * dropped, now and as they arrive, up to its end, and reading goes on after it.
   *
   * @returns the record number and window position of its start (valid until the next call)
   */
  dropPartial(): { row: number; start: number } {
    const start = this.pos;
    this.ordinal++;
    this.dropping = true;
    return { row: this.ordinal, start };
  }

  /** Whether the rest of an over-long record is being dropped. */
  get isDropping(): boolean {
    return this.dropping;
  }

  /** After `dropPartial` and reporting: release the dropped bytes of the window. */
  releaseDropped(): void {
    if (this.ndjson) {
      this.base += this.len;
      this.len = 0;
      this.pos = 0;
      this.scanAt = 0;
      return;
    }
    // JSON: the structural state is kept; the bytes scanned so far are no longer needed.
    this.pos = this.scanAt;
    this.compact();
  }

  compact(): void {
    const keep = this.pos;
    if (keep === 0) return;
    this.buf.copyWithin(0, keep, this.len);
    this.len -= keep;
    this.base += keep;
    this.scanAt -= keep;
    this.pos = 0;
  }

  /** The last record `next` found: its text is [recordStart, recordEnd) of the window. */
  recordStart = 0;
  recordEnd = 0;

  /**
   * Find the next record (its range in `recordStart`, `recordEnd`), if the window holds a complete one.
   *
   * @param eof whether the window end is the end of the input
   * @returns whether there is one
   */
  next(eof: boolean): boolean {
    return this.ndjson ? this.nextLine(eof) : this.nextValue(eof);
  }

  private nextLine(eof: boolean): boolean {
    const buf = this.buf;
    for (;;) {
      if (this.pos >= this.len) return false;
      let end = buf.indexOf(LF, this.pos);
      let next: number;
      if (end < 0 || end >= this.len) {
        if (!eof) return false;
        end = this.len;
        next = this.len;
      } else next = end + 1;
      const start = this.pos;
      this.pos = next;
      this.ordinal++;
      let e = end;
      if (e > start && buf[e - 1] === CR) e--;
      let s = start;
      while (s < e && (buf[s] === 0x20 || buf[s] === 0x09)) s++;
      if (s === e) continue;
      this.recordStart = start;
      this.recordEnd = e;
      return true;
    }
  }

  private nextValue(eof: boolean): boolean {
    const buf = this.buf;
    const len = this.len;
    let p = Math.max(this.scanAt, this.pos);
    for (;;) {
      if (!this.inElement) {
        while (p < len && (buf[p] === 0x20 || buf[p] === 0x09 || buf[p] === LF || buf[p] === CR)) p++;
        this.pos = p;
        this.scanAt = p;
        if (p >= len || this.closed) {
          if (this.closed && p < len) this.trailing = true;
          return false;
        }
        const c = buf[p];
        if (this.topArray === null) {
          if (c !== 0x5b && c !== 0x7b) {
            this.notJson = true;
            this.closed = true;
            return false;
          }
          this.topArray = c === 0x5b;
          if (this.topArray) {
            p++;
            continue;
          }
        }
        if (this.topArray) {
          if (c === 0x5d) {
            this.closed = true;
            p++;
            continue;
          }
          if (this.needComma) {
            if (c === 0x2c) {
              this.needComma = false;
              p++;
              continue;
            }
            // A missing comma: treat what follows as the next element (it reports itself if broken).
            this.needComma = false;
          } else if (c === 0x2c) {
            // An empty element (`[1,,2]`): not a record, just broken syntax; skip it.
            p++;
            continue;
          }
        }
        this.inElement = true;
        this.depth = 0;
        this.inString = false;
        this.escaped = false;
        this.scalar = c !== 0x7b && c !== 0x5b;
        this.pos = p;
      }
      // Inside an element starting at this.pos; scan on from p.
      const start = this.pos;
      let found = false;
      while (p < len) {
        const b = buf[p];
        if (this.inString) {
          if (this.escaped) this.escaped = false;
          else if (b === 0x5c) this.escaped = true;
          else if (b === 0x22) this.inString = false;
          p++;
          continue;
        }
        if (b === 0x22) {
          this.inString = true;
        } else if (b === 0x7b || b === 0x5b) {
          this.depth++;
        } else if (b === 0x7d || b === 0x5d) {
          if (this.depth === 0 && this.scalar) {
            found = true;
            break;
          }
          this.depth--;
          if (this.depth === 0 && !this.scalar) {
            p++;
            found = true;
            break;
          }
        } else if (this.scalar && this.depth === 0 && (b === 0x2c || b === 0x20 || b === LF || b === CR || b === 0x09)) {
          found = true;
          break;
        }
        p++;
      }
      if (!found && eof && this.scalar && this.depth === 0 && !this.inString) found = true;
      if (!found) {
        if (!eof) {
          this.scanAt = p;
          return false;
        }
        // The input ends inside this element.
        this.inElement = false;
        this.scanAt = len;
        this.pos = len;
        this.closed = true;
        // A dropped element was counted (and reported) when it was dropped.
        if (!this.dropping) {
          this.ordinal++;
          this.cutOff = [start, len];
        }
        this.dropping = false;
        return false;
      }
      this.inElement = false;
      this.needComma = this.topArray === true;
      this.pos = p;
      this.scanAt = p;
      if (this.dropping) {
        this.dropping = false;
        continue;
      }
      this.ordinal++;
      this.recordStart = start;
      this.recordEnd = p;
      return true;
    }
  }

  /** An element the input ended inside (JSON mode), reported once. */
  cutOff: [number, number] | null = null;
}

/**
 * Read NDJSON or JSON into `ctx.result`.
 *
 * @param input the decompressed bytes
 * @param ctx the read in progress
 * @param format `ndjson` or `json`
 * @param byteScanner whether records after the sample go through the byte scanner when they can
 *   (tests turn it off to compare its output with the lossless parser's)
 */
export async function readJson(input: ByteReader, ctx: ReadContext, format: 'json' | 'ndjson', byteScanner = true): Promise<void> {
  const { result } = ctx;
  const splitter = new RecordSplitter(format === 'ndjson');
  const puller = new ChunkPuller(input);
  let records = 0;
  let sawContent = false;

  const pull = async (): Promise<void> => {
    const chunk = await puller.next();
    if (!chunk) return;
    const bom = splitter.base === 0 && splitter.len === 0 && chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf;
    splitter.append(chunk);
    if (bom) splitter.pos = 3;
  };

  const pending: BadRecord[] = [];
  const maxRecord = maxRecordBytes(ctx);
  /** Input offset up to which the text is known to be valid UTF-8 (from a record start on). */
  let utf8ValidTo = 0;
  /** After a failed check of a window: records before this offset are checked one by one. */
  let utf8CheckAgainAt = 0;
  /** Raw text of a bad record in the window, while records still keep it (see `RAW_RECORDS_KEPT`). */
  const rawOf = (s: number, e: number): { raw?: string } => (wantsRaw(ctx, pending.length) ? { raw: rawText(splitter.buf, s, e) } : {});
  /**
   * The next record from the window: parsed members, 'bad' (recorded in `pending`), 'more' when the
   * window must be refilled first, or null at the end. Synchronous, so the per-record path makes no
   * promises. With `scanned`, a record of valid UTF-8 is offered to it first: when it takes the
   * record (returns true), the result is 'scanned'.
   */
  const takeRecord = (scanned?: (buf: Buffer, s: number, e: number) => boolean): ParsedRecord | 'bad' | 'more' | 'scanned' | null => {
    for (;;) {
      if (!splitter.next(puller.complete)) {
        if (splitter.cutOff) {
          const [s, e] = splitter.cutOff;
          splitter.cutOff = null;
          records++;
          pending.push({ row: splitter.ordinal, byteOffset: splitter.base + s, reason: 'unexpected end of file inside a JSON value', ...rawOf(s, e) });
          return 'bad';
        }
        if (puller.eof || splitter.trailing || splitter.notJson) return null;
        if (splitter.closed) {
          // Only whitespace so far after the array: drop it while reading on to the end.
          splitter.pos = splitter.len;
          splitter.compact();
        }
        if (splitter.len - splitter.pos > maxRecord) {
          // The window ends inside a record that has outgrown the limit: report it once, drop its bytes.
          if (splitter.isDropping) {
            splitter.releaseDropped();
            return 'more';
          }
          const { row, start } = splitter.dropPartial();
          sawContent = true;
          records++;
          pending.push(tooLongRecord(ctx, splitter.buf, start, splitter.len, splitter.base, row, wantsRaw(ctx, pending.length)));
          splitter.releaseDropped();
          return 'bad';
        }
        return 'more';
      }
      const s = splitter.recordStart;
      const e = splitter.recordEnd;
      sawContent = true;
      records++;
      const row = splitter.ordinal;
      const offset = splitter.base + s;
      if (e - s > maxRecord) {
        pending.push(tooLongRecord(ctx, splitter.buf, s, e, splitter.base, row, wantsRaw(ctx, pending.length)));
        return 'bad';
      }
      // UTF-8 is checked a window at a time, up to its last line break: valid text cut at ASCII bytes
      // stays valid. Where the check fails, each record is checked alone, to find the bad ones.
      if (splitter.base + e > utf8ValidTo && splitter.base + s >= utf8CheckAgainAt) {
        const lastLf = splitter.buf.lastIndexOf(LF, splitter.len - 1);
        const end = lastLf > e ? lastLf : e;
        if (isUtf8(splitter.buf.subarray(s, end))) utf8ValidTo = splitter.base + end;
        else utf8CheckAgainAt = splitter.base + end;
      }
      if (splitter.base + e > utf8ValidTo && !isUtf8(splitter.buf.subarray(s, e))) {
        pending.push(invalidUtf8Record(splitter.buf, s, e, firstInvalidUtf8(splitter.buf, s, e), splitter.base, row, wantsRaw(ctx, pending.length)));
        return 'bad';
      }
      if (scanned !== undefined && scanned(splitter.buf, s, e)) return 'scanned';
      const text = splitter.buf.toString('utf8', s, e);
      const record: ParsedRecord = { keys: [], values: [] };
      const error = parseJsonRecord(text, (k, v) => {
        record.keys.push(k);
        record.values.push(v);
      });
      if (error) {
        pending.push({ row, byteOffset: offset, reason: error, ...rawOf(s, e) });
        return 'bad';
      }
      return record;
    }
  };
  const nextRecord = async (): Promise<ParsedRecord | 'bad' | null> => {
    for (;;) {
      const next = takeRecord();
      if (next === 'scanned') throw new Error('formats: a record was scanned without a scanner');
      if (next !== 'more') return next;
      splitter.compact();
      await pull();
    }
  };

  // Sample.
  const sample: ParsedRecord[] = [];
  while (sample.length < ctx.sampleRows) {
    const next = await nextRecord();
    if (next === null) break;
    if (next !== 'bad') sample.push(next);
    else if (pending.length >= PENDING_BAD_RECORDS) releaseBadRecords(ctx, pending);
  }
  if (!sawContent && pending.length === 0) {
    result.stats.bytesRead = ctx.storedBytes();
    if (puller.damage) {
      result.fatal = { byteOffset: splitter.base + splitter.pos, reason: puller.damage.message };
      return;
    }
    if (splitter.notJson) {
      const at = splitter.base + splitter.pos;
      const first = rawText(splitter.buf, splitter.pos, splitter.pos + 1);
      result.fatal = { byteOffset: at, reason: `not JSON: the text starts with ${JSON.stringify(first)}, not with [ or {` };
      return;
    }
    if (splitter.topArray !== true) {
      // A top-level `[]` is a valid file without records; nothing at all is an empty file.
      result.fatal = { byteOffset: 0, reason: 'empty file (only whitespace)' };
      return;
    }
  }

  // Columns are the keys of the sample in order of first appearance.
  const keyToColumn = new Map<string, number>();
  const keys: string[] = [];
  const profiles: ColumnProfile[] = [];
  for (const rec of sample) {
    for (let i = 0; i < rec.keys.length; i++) {
      const key = rec.keys[i];
      let col = keyToColumn.get(key);
      if (col === undefined) {
        col = keys.length;
        keys.push(key);
        keyToColumn.set(key, col);
        profiles.push(new ColumnProfile());
      }
      profiles[col].addJson(rec.values[i]);
    }
  }
  const output = new RecordOutput(
    ctx,
    keys.map((name, i) => ({ name, inferred: profiles[i].resolve() })),
  );
  const { layout } = output;
  const ncols = keys.length;

  // Values go into the column writers as records arrive, so parsed JS values die young instead of
  // living (and being promoted by the GC) until the batch is complete.
  const outputOf = new Int32Array(ncols).fill(-1);
  layout.columns.forEach((col, i) => {
    if (col.input >= 0) outputOf[col.input] = i;
  });
  const seenInRow = new Int32Array(ncols);
  const batchRows = rowsPerBatch(ctx.batchRows, ncols);
  let writers: ColumnWriter[] = [];
  let rescue = new Rescue();
  let rows = 0;
  let batchBytes = 0;
  /** Bytes of each text column in the last batch: the next one starts with that much room, not doubling up to it. */
  const textBytes = new Float64Array(layout.columns.length);
  const startBatch = () => {
    writers = layout.columns.map((col, i) => createWriter(col.type, batchRows, col.dateFormat, Math.ceil(textBytes[i] * 1.25)));
    rescue = new Rescue();
    rows = 0;
    batchBytes = 0;
    seenInRow.fill(0);
  };
  startBatch();
  const add = (rec: ParsedRecord) => {
    const r = rows++;
    for (let i = 0; i < rec.keys.length; i++) {
      const key = rec.keys[i];
      const value = rec.values[i];
      const col = keyToColumn.get(key);
      if (col === undefined) {
        // A key first seen after the sample: the schema is decided, so the value is rescued.
        if (value !== null) rescue.add(r, key, toJsonText(value));
        continue;
      }
      if (value === null) continue;
      if (seenInRow[col] === r + 1) {
        // A repeated key: the first value is kept, the repeat rescued.
        rescue.add(r, key, toJsonText(value));
        continue;
      }
      seenInRow[col] = r + 1;
      const out = outputOf[col];
      if (!writers[out].value(r, value)) rescue.add(r, layout.columns[out].name, toJsonText(value));
    }
  };
  // After the sample: records the byte scanner reads go straight from the window into the writers,
  // member by member exactly as `add` does with parsed ones.
  const scanner = new JsonRecordScanner(keys);
  const ways = layout.columns.map((col) => scannedWriteWay(col.type));
  // Local copies: a module's exports can be getters (tsx runs the bench), too slow per value.
  const write = writeScanned;
  const NULL = JSON_NULL;
  const addScanned = (buf: Buffer, s: number, e: number): boolean => {
    if (!scanner.scan(buf, s, e)) return false;
    const r = rows++;
    for (let m = 0; m < scanner.count; m++) {
      const col = scanner.column[m];
      const isNull = scanner.kind[m] === NULL;
      if (col < 0) {
        if (!isNull) rescue.add(r, scannedKey(scanner, buf, m), toJsonText(scannedValue(scanner, buf, m)));
        continue;
      }
      if (isNull) continue;
      if (seenInRow[col] === r + 1) {
        rescue.add(r, keys[col], toJsonText(scannedValue(scanner, buf, m)));
        continue;
      }
      seenInRow[col] = r + 1;
      const out = outputOf[col];
      if (!write(scanner, buf, m, writers[out], ways[out], r)) rescue.add(r, layout.columns[out].name, toJsonText(scannedValue(scanner, buf, m)));
    }
    return true;
  };
  const scanned = byteScanner ? addScanned : undefined;
  const flush = (): arrow.RecordBatch | null => {
    output.release(pending);
    if (rows === 0) return null;
    const m = rows;
    const children = writers.map((w, i) => {
      w.truncate(m);
      const data = w.finish();
      if (data.values instanceof Uint8Array && data.valueOffsets) textBytes[i] = data.values.byteLength;
      return data;
    });
    const batch = output.batch(children, rescue, m);
    startBatch();
    return batch;
  };

  result.batches = (async function* () {
    for (const rec of sample) {
      add(rec);
      if (rows >= batchRows) yield flush()!;
    }
    sample.length = 0;
    for (;;) {
      const before = splitter.pos;
      const next = takeRecord(scanned);
      if (next === 'more') {
        // Records already taken hold no references into the window. It is compacted only now, when
        // what is left of it is the start of one record: compacting after every record past the
        // first MiB moved the rest of each 4 MiB chunk forward again and again (1.5 times the input).
        splitter.compact();
        await pull();
        continue;
      }
      if (next === null) break;
      if (next !== 'bad') {
        if (next !== 'scanned') add(next);
        batchBytes += Math.max(0, splitter.pos - before);
      } else if (pending.length >= PENDING_BAD_RECORDS) releaseBadRecords(ctx, pending);
      if (rows >= batchRows || batchBytes > MAX_BATCH_BYTES) {
        const batch = flush();
        if (batch) yield batch;
      }
    }
    const batch = flush();
    if (batch) yield batch;
    if (splitter.trailing) {
      const s = splitter.pos;
      pending.push({ byteOffset: splitter.base + s, reason: 'unexpected data after the end of the JSON array', ...rawOf(s, splitter.len) });
    }
    output.release(pending);
    output.end(records + (splitter.trailing ? 1 : 0), puller.damage, splitter.base + splitter.pos);
  })();
}
