/**
 * Where a read keeps its bad records. A few megabytes of short broken lines make millions of bad
 * records, and each must still be counted and dead-lettered with its offset and reason; held as
 * objects they would exhaust the heap (3 million took more than 512 MiB). So a read keeps the first
 * `BAD_RECORDS_IN_MEMORY` on `ReadResult.badRecords` and the rest, in file order, as JSON lines in a
 * temporary file (`ReadResult.moreBadRecords`), which is unlinked as soon as it is created: nothing
 * is left behind when the process dies, and the open descriptor keeps the data until `dispose`.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import type { BadRecord, MoreBadRecords, ReadResult } from './types';

/** Bad records of one read held as objects; later ones go to a temporary file. */
export const BAD_RECORDS_IN_MEMORY = 10_000;

/** Encoded records are written to the file in pieces of about this size. */
const WRITE_BYTES = 1024 * 1024;

/** Bad records past the first `BAD_RECORDS_IN_MEMORY`, as JSON lines in an unlinked temporary file. */
export class BadRecordFile implements MoreBadRecords {
  count = 0;
  private fd = -1;
  private size = 0;
  private pending: string[] = [];
  private pendingLength = 0;

  /**
   * Keep one more record.
   *
   * @param record the record (in file order after every record added before)
   */
  add(record: BadRecord): void {
    const line = `${JSON.stringify(record)}\n`;
    this.pending.push(line);
    this.pendingLength += line.length;
    this.count++;
    if (this.pendingLength >= WRITE_BYTES) this.write();
  }

  /**
   * The records, in the order they were added (reads the file back a piece at a time).
   *
   * @returns the records
   */
  *records(): Generator<BadRecord> {
    this.write();
    const piece = Buffer.allocUnsafe(WRITE_BYTES);
    // A piece may end inside a line (and inside a multi-byte character): decode up to its last line
    // break and carry the rest over as bytes.
    let carry = Buffer.alloc(0);
    for (let at = 0; at < this.size;) {
      const n = readSync(this.fd, piece, 0, Math.min(piece.length, this.size - at), at);
      if (n === 0) break;
      at += n;
      const bytes = carry.length ? Buffer.concat([carry, piece.subarray(0, n)]) : piece.subarray(0, n);
      const lastBreak = bytes.lastIndexOf(0x0a);
      const text = bytes.toString('utf8', 0, lastBreak + 1);
      carry = Buffer.from(bytes.subarray(lastBreak + 1));
      for (const line of text.split('\n')) if (line) yield JSON.parse(line) as BadRecord;
    }
  }

  /** Close the file (its space is freed; it has no name). */
  dispose(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.pending = [];
  }

  private write(): void {
    if (this.pending.length === 0) return;
    if (this.fd < 0) this.fd = openUnlinked();
    const bytes = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.pendingLength = 0;
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, this.size + done);
    this.size += bytes.length;
  }
}

/** A new temporary file, open for reading and writing, whose name is already gone. */
function openUnlinked(): number {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-bad-records-'));
  const path = nodePath.join(dir, 'records.ndjson');
  const fd = openSync(path, 'w+');
  rmSync(dir, { recursive: true, force: true });
  return fd;
}

/**
 * Add released bad records to a read's result: the first `BAD_RECORDS_IN_MEMORY` as objects, the
 * rest to its temporary file.
 *
 * @param result the result being filled
 * @param record the record, in file order
 */
export function keepBadRecord(result: ReadResult, record: BadRecord): void {
  if (result.badRecords.length < BAD_RECORDS_IN_MEMORY) {
    result.badRecords.push(record);
    return;
  }
  if (!result.moreBadRecords) result.moreBadRecords = new BadRecordFile();
  (result.moreBadRecords as BadRecordFile).add(record);
}

/**
 * How many bad records a read found (those in memory and those in its file).
 *
 * @param result the read
 * @returns the count
 */
export function badRecordCount(result: ReadResult): number {
  return result.badRecords.length + (result.moreBadRecords?.count ?? 0);
}

/**
 * Every bad record of a read in file order.
 *
 * @param result the read
 * @returns the records
 */
export function* allBadRecords(result: ReadResult): Generator<BadRecord> {
  yield* result.badRecords;
  if (result.moreBadRecords) yield* result.moreBadRecords.records();
}
