/**
 * The CSV/TSV tokenizer: a streaming byte scanner that finds records and fields and nothing else (no
 * types, no columns, no Arrow), so that its syntax rules stand apart from the reader (./csv.ts), which
 * sniffs the dialect, infers types and converts fields into columns.
 *
 * The scanner works on a window of raw bytes (one batch worth) and records, per field, where it
 * starts and ends and whether it was quoted or contained escapes; no JS string is made for a field
 * until a value has to be rescued. Columns are converted from those positions when a batch is
 * emitted, so memory is the window plus the position arrays.
 *
 * Semantics, all of them deliberate:
 * - Records end at LF, CRLF or CR outside quotes; quoted fields keep their line breaks as written.
 * - A field is quoted when it starts with the quote character; inside it the quote is escaped by
 *   doubling (or by the escape character the dialect names). A quote inside an unquoted field is text.
 * - An unquoted empty field is null. A quoted empty field (`""`) is an empty string in string columns
 *   and null in any other column.
 * - Blank lines are skipped and are not records.
 * - A record with more or fewer fields than the header, or with text after a closing quote, is a bad
 *   record (row number, byte offset, raw text): padding or merging would shift values into the wrong
 *   columns without anyone noticing. The rows around it are read normally.
 * - An unclosed quote at the end of the file makes the record it opened a bad record.
 * - A record longer than `maxRecordBytes` (default 16 MiB) is a bad record with its first 4 KiB; its
 *   bytes are dropped as they arrive, following its quotes to where it ends, and reading goes on
 *   there. Rows held before it are emitted first (in the sample, it ends the sample early).
 * - A record with bytes that are not UTF-8 is a bad record naming the offending byte's offset; in the
 *   header it makes the whole file fatal. Bytes are never replaced.
 * - Row numbers count data records from 1 (the header and blank lines are not records); byte offsets
 *   are positions in the decompressed input, a UTF-8 BOM included.
 */
import { isUtf8 } from 'node:buffer';
import { appendToWindow } from './bytes';
import type { CsvDialect } from './csv-dialect';
import { firstInvalidUtf8, invalidUtf8Record, maxRecordBytes, rawText, ReadContext, tooLongRecord, wantsRaw } from './reader';
import { PENDING_BAD_RECORDS } from './records';
import type { BadRecord } from './types';

export const QUOTED = 1;
export const ESCAPED = 2;
const LF = 0x0a;
const CR = 0x0d;

export const NEED_MORE = 0;
export const FULL = 1;
export const DONE = 2;
/** Nothing more will come, but the window ends inside a record: the input was damaged there. */
export const CUT_OFF = 3;
/** The record being scanned is over the size limit while rows are held: emit them, then skip it. */
export const LONG_RECORD = 4;
/** `PENDING_BAD_RECORDS` bad records wait: hand them over before scanning on. */
export const BAD_WAITING = 5;

// Where skipping an over-long record is in CSV syntax, to find where it ends.
const FIELD_START = 0;
const UNQUOTED = 1;
const IN_QUOTES = 2;
/** In quotes, after the escape character (when it is not the quote). */
const IN_QUOTES_ESCAPE = 3;
/** In quotes, after a quote (when quotes are escaped by doubling): a closing quote or half of a pair. */
const IN_QUOTES_QUOTE = 4;

/**
 * The streaming record scanner over a growing window of bytes.
 */
export class CsvTokenizer {
  buf: Buffer = Buffer.allocUnsafe(1 << 20);
  /** Bytes in the window. */
  len = 0;
  /** Absolute input offset of buf[0]. */
  base = 0;
  /** Start of the next record to scan. */
  pos = 0;
  /** Do not rescan an incomplete record before the window reaches this length (amortises long records). */
  resumeAt = 0;
  /** Rows held (complete, well-formed records). */
  rows = 0;
  /** Scanning stops when this many rows are held (at most `capacity`). */
  limit: number;
  /** Rows already checked for UTF-8. */
  validated = 0;
  /** Data records found so far, bad ones included. */
  records = 0;
  /** Whether the next record is the header. */
  skipHeader = false;
  /** Absolute offset of the first byte of the header that is not UTF-8, or -1. */
  headerInvalidAt = -1;
  headerInvalidByte = 0;
  /** Bad records found while scanning, not yet handed to the output. */
  readonly pendingBad: BadRecord[] = [];
  /**
   * Skipping the rest of an over-long record: appended bytes are dropped (and counted in `base`)
   * until its end, with the position in its syntax in `skipState`.
   */
  skipping = false;
  private skipState = FIELD_START;

  private readonly special = new Uint8Array(256);
  starts: Int32Array;
  ends: Int32Array;
  flags: Uint8Array;
  recStarts: Int32Array;
  recEnds: Int32Array;
  recNos: Float64Array;

  constructor(
    readonly dialect: CsvDialect,
    readonly ncols: number,
    readonly capacity: number,
    private readonly ctx: ReadContext,
  ) {
    this.special[dialect.delimiter] = 1;
    this.special[LF] = 1;
    this.special[CR] = 1;
    this.starts = new Int32Array(capacity * ncols);
    this.ends = new Int32Array(capacity * ncols);
    this.flags = new Uint8Array(capacity * ncols);
    this.recStarts = new Int32Array(capacity);
    this.recEnds = new Int32Array(capacity);
    this.recNos = new Float64Array(capacity);
    this.limit = capacity;
  }

  append(chunk: Uint8Array): void {
    if (this.skipping) {
      // The window is empty while skipping, so `base` is the offset of whatever is appended next.
      const end = this.skipRecord(chunk, 0, chunk.length);
      if (end < 0) {
        this.base += chunk.length;
        return;
      }
      this.skipping = false;
      this.base += end;
      chunk = chunk.subarray(end);
    }
    this.buf = appendToWindow(this.buf, this.len, chunk);
    this.len += chunk.length;
  }

  /**
   * Keep rows [from, rows) (emitted rows before them are dropped) and the bytes from the first kept
   * row on; positions shift with the bytes.
   *
   * @param from first row to keep
   */
  keepFrom(from: number): void {
    const delta = this.recStarts[from];
    const ncols = this.ncols;
    const kept = this.rows - from;
    this.buf.copyWithin(0, delta, this.len);
    this.len -= delta;
    this.base += delta;
    this.pos -= delta;
    this.resumeAt = Math.max(0, this.resumeAt - delta);
    for (let i = 0, k = from * ncols; i < kept * ncols; i++, k++) {
      this.starts[i] = this.starts[k] - delta;
      this.ends[i] = this.ends[k] - delta;
      this.flags[i] = this.flags[k];
    }
    for (let r = 0; r < kept; r++) {
      this.recStarts[r] = this.recStarts[from + r] - delta;
      this.recEnds[r] = this.recEnds[from + r] - delta;
      this.recNos[r] = this.recNos[from + r];
    }
    this.rows = kept;
    this.validated = kept;
  }

  /** Raw text for a bad record, while records still keep it (see `RAW_RECORDS_KEPT`). */
  private raw(s: number, e: number): { raw?: string } {
    return wantsRaw(this.ctx, this.pendingBad.length) ? { raw: rawText(this.buf, s, e) } : {};
  }

  /**
   * Make the record at `pos`, which has grown past the size limit without ending, a bad record and
   * drop its bytes up to its end (the rest as they arrive). No rows may be held: they would lose the
   * bytes behind them.
   */
  skipLongRecord(): void {
    const start = this.pos;
    this.pendingBad.push(tooLongRecord(this.ctx, this.buf, start, this.len, this.base, ++this.records, wantsRaw(this.ctx, this.pendingBad.length)));
    this.skipState = FIELD_START;
    const end = this.skipRecord(this.buf, start, this.len);
    if (end >= 0) {
      this.pos = end;
      return;
    }
    this.base += this.len;
    this.len = 0;
    this.pos = 0;
    this.resumeAt = 0;
    this.rows = 0;
    this.validated = 0;
    this.skipping = true;
  }

  /**
   * Follow CSV syntax (as `scan` reads it) from `skipState` over buf[s, e) to the end of the record
   * being skipped.
   *
   * @returns the index after the record's line break, or -1 when it does not end before `e`
   */
  private skipRecord(buf: Uint8Array, s: number, e: number): number {
    const { delimiter, quote, escape } = this.dialect;
    const doubled = escape === quote;
    const special = this.special;
    let state = this.skipState;
    let p = s;
    while (p < e) {
      if (state === IN_QUOTES) {
        if (doubled) {
          const q = buf.indexOf(quote, p);
          if (q < 0 || q >= e) break;
          state = IN_QUOTES_QUOTE;
          p = q + 1;
        } else {
          const b = buf[p++];
          if (b === quote) state = UNQUOTED;
          else if (b === escape) state = IN_QUOTES_ESCAPE;
        }
        continue;
      }
      if (state === IN_QUOTES_ESCAPE) {
        state = IN_QUOTES;
        p++;
        continue;
      }
      const b = buf[p];
      if (b === quote && (state === FIELD_START || state === IN_QUOTES_QUOTE)) {
        // Opening a quoted field, or the second quote of a doubled pair.
        state = IN_QUOTES;
        p++;
        continue;
      }
      // Outside quotes (a quote in an unquoted field, or after a closing quote, is text).
      if (b === LF || b === CR) {
        this.skipState = FIELD_START;
        return p + 1;
      }
      if (b === delimiter) {
        state = FIELD_START;
        p++;
        continue;
      }
      p++;
      while (p < e && special[buf[p]] === 0) p++;
      state = UNQUOTED;
    }
    this.skipState = state;
    return -1;
  }

  /** Drop everything before the next record (all rows have been emitted). */
  compact(): void {
    const keep = this.pos;
    if (keep > 0) {
      this.buf.copyWithin(0, keep, this.len);
      this.len -= keep;
      this.base += keep;
      this.resumeAt = Math.max(0, this.resumeAt - keep);
      this.pos = 0;
    }
    this.rows = 0;
    this.validated = 0;
  }

  /**
   * Scan records from `pos` until the window is exhausted or the row arrays are full.
   *
   * @param eof whether no more bytes will come (the window end is the file end)
   * @returns NEED_MORE, FULL or DONE
   */
  scan(eof: boolean): number {
    const buf = this.buf;
    const len = this.len;
    const view = buf.subarray(0, len);
    const ncols = this.ncols;
    const delim = this.dialect.delimiter;
    const quote = this.dialect.quote;
    const esc = this.dialect.escape;
    const doubled = esc === quote;
    const special = this.special;
    const starts = this.starts;
    const ends = this.ends;
    const flags = this.flags;
    const cap = this.limit;
    const maxRecord = maxRecordBytes(this.ctx);
    let pos = this.pos;
    let rows = this.rows;
    let recStart = pos;
    let incomplete = false;
    const pendingBad = this.pendingBad;
    records: while (rows < cap && pendingBad.length < PENDING_BAD_RECORDS) {
      if (pos >= len) break;
      recStart = pos;
      const first = buf[pos];
      if (first === LF) {
        pos++;
        continue;
      }
      if (first === CR) {
        if (pos + 1 >= len && !eof) {
          incomplete = true;
          break;
        }
        pos += pos + 1 < len && buf[pos + 1] === LF ? 2 : 1;
        continue;
      }
      let col = 0;
      let junkAfterQuote = false;
      const rowBase = rows * ncols;
      for (;;) {
        let fs: number;
        let fe: number;
        let fl = 0;
        if (pos < len && buf[pos] === quote) {
          fl = QUOTED;
          fs = pos + 1;
          let p = fs;
          for (;;) {
            if (doubled) {
              const q = view.indexOf(quote, p);
              if (q + 1 < len && q >= 0 && buf[q + 1] === quote) {
                fl |= ESCAPED;
                p = q + 2;
                continue;
              } else if (q >= 0 && (q + 1 < len || eof)) {
                fe = q;
                p = q + 1;
                break;
              }
            } else {
              while (p < len) {
                const b = buf[p];
                if (b === esc) {
                  fl |= ESCAPED;
                  p += 2;
                } else if (b === quote) break;
                else p++;
              }
              if (p < len) {
                fe = p;
                p++;
                break;
              }
            }
            // The closing quote is not in the window.
            if (!eof) {
              incomplete = true;
              break records;
            }
            this.records++;
            this.pendingBad.push({ row: this.records, byteOffset: this.base + recStart, reason: 'unclosed quote at end of file', ...this.raw(recStart, len) });
            pos = len;
            continue records;
          }
          pos = p;
          if (pos < len) {
            const b = buf[pos];
            if (b !== delim && b !== LF && b !== CR) {
              junkAfterQuote = true;
              while (pos < len && special[buf[pos]] === 0) pos++;
              if (pos >= len && !eof) {
                incomplete = true;
                break records;
              }
            }
          } else if (!eof) {
            incomplete = true;
            break records;
          }
        } else {
          fs = pos;
          let p = pos;
          while (p < len && special[buf[p]] === 0) p++;
          if (p >= len && !eof) {
            incomplete = true;
            break records;
          }
          fe = p;
          pos = p;
        }
        if (col < ncols) {
          const k = rowBase + col;
          starts[k] = fs;
          ends[k] = fe!;
          flags[k] = fl;
        }
        col++;
        if (pos >= len) break;
        const b = buf[pos];
        if (b === delim) {
          pos++;
          if (pos >= len && !eof) {
            incomplete = true;
            break records;
          }
          continue;
        }
        if (b === CR) {
          if (pos + 1 >= len && !eof) {
            incomplete = true;
            break records;
          }
          pos += pos + 1 < len && buf[pos + 1] === LF ? 2 : 1;
        } else pos++;
        break;
      }
      if (this.skipHeader) {
        this.skipHeader = false;
        const bad = firstInvalidUtf8(buf, recStart, pos);
        if (bad >= 0) {
          this.headerInvalidAt = this.base + bad;
          this.headerInvalidByte = buf[bad];
        }
        continue;
      }
      const recNo = ++this.records;
      if (pos - recStart > maxRecord) {
        this.pendingBad.push(tooLongRecord(this.ctx, buf, recStart, pos, this.base, recNo, wantsRaw(this.ctx, this.pendingBad.length)));
        continue;
      }
      if (junkAfterQuote || col !== ncols) {
        const reason = junkAfterQuote ? 'unexpected character after closing quote' : `expected ${ncols} field${ncols === 1 ? '' : 's'}, found ${col}`;
        this.pendingBad.push({ row: recNo, byteOffset: this.base + recStart, reason, ...this.raw(recStart, trimEol(buf, recStart, pos)) });
        continue;
      }
      this.recStarts[rows] = recStart;
      this.recEnds[rows] = pos;
      this.recNos[rows] = recNo;
      rows++;
    }
    if (incomplete) {
      pos = recStart;
      this.resumeAt = len + Math.max(len - recStart, 4096);
    } else this.resumeAt = len + 1;
    this.pos = pos;
    this.rows = rows;
    if (rows >= cap) return FULL;
    if (pendingBad.length >= PENDING_BAD_RECORDS) return BAD_WAITING;
    return !incomplete && pos >= len && eof ? DONE : NEED_MORE;
  }

  /**
   * Check rows [validated, rows) for UTF-8; bad rows become bad records and are removed.
   */
  validate(): void {
    const from = this.validated;
    const to = this.rows;
    if (from >= to) return;
    if (isUtf8(this.buf.subarray(this.recStarts[from], this.recEnds[to - 1]))) {
      this.validated = to;
      return;
    }
    const ncols = this.ncols;
    let keep = from;
    for (let r = from; r < to; r++) {
      const s = this.recStarts[r];
      const e = this.recEnds[r];
      const bad = firstInvalidUtf8(this.buf, s, e);
      if (bad >= 0) {
        this.pendingBad.push(
          invalidUtf8Record(this.buf, s, trimEol(this.buf, s, e), bad, this.base, this.recNos[r], wantsRaw(this.ctx, this.pendingBad.length)),
        );
        continue;
      }
      if (keep !== r) {
        this.starts.copyWithin(keep * ncols, r * ncols, (r + 1) * ncols);
        this.ends.copyWithin(keep * ncols, r * ncols, (r + 1) * ncols);
        this.flags.copyWithin(keep * ncols, r * ncols, (r + 1) * ncols);
        this.recStarts[keep] = s;
        this.recEnds[keep] = e;
        this.recNos[keep] = this.recNos[r];
      }
      keep++;
    }
    this.rows = keep;
    this.validated = keep;
  }
}

function trimEol(buf: Uint8Array, s: number, e: number): number {
  while (e > s && (buf[e - 1] === LF || buf[e - 1] === CR)) e--;
  return e;
}

let unescaped = new Uint8Array(4096);

/**
 * A field without its escape characters, in a buffer shared by all calls: valid until the next call.
 *
 * @returns the unescaped bytes
 */
export function unescapeField(buf: Uint8Array, s: number, e: number, quote: number, esc: number): Uint8Array {
  if (e - s > unescaped.length) unescaped = new Uint8Array((e - s) * 2);
  const out = unescaped;
  let n = 0;
  for (let p = s; p < e; p++) {
    const b = buf[p];
    if (b === esc && p + 1 < e && (esc === quote ? buf[p + 1] === quote : buf[p + 1] === quote || buf[p + 1] === esc)) {
      out[n++] = buf[p + 1];
      p++;
    } else out[n++] = b;
  }
  return out.subarray(0, n);
}
