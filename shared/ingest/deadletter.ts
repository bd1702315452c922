/**
 * Dead-letter records: what could not be ingested from one file version, as one JSON document at
 * `<prefix><YYYY-MM-DD>/<blob path>@<etag>.json` in the dead-letter store (by default the lake
 * container's `_sluice/dead-letter/` with prefix `<table path>/`, i.e.
 * `lake/_sluice/dead-letter/bronze/pos_sales/2026-01-31/pos/sales/a.csv@0x8DC….json`).
 *
 * The record references the input (landing URL, path, ETag, size) instead of copying it: a file may be
 * gigabytes. Each bad record keeps its row number, byte offset and reason; the first 1,000 of a file
 * also keep up to 4 KiB of raw text (the reader truncates, and drops the text of later ones so that a
 * file of millions of bad lines makes a record of bounded size per line). The date is that of the first attempt and the name is fixed per (path, ETag), so
 * a retry rewrites the same record instead of adding another.
 *
 * ```json
 * { "kind": "sluice.deadLetter", "version": 1, "table": "lake/bronze/pos_sales",
 *   "source": { "landing": "https://…/landing", "path": "pos/sales/a.csv", "etag": "0x8DC…", "size": 1234 },
 *   "reason": "unclosed quote at end of file",            // only when the whole file (or its rest) failed
 *   "counts": { "rowsRead": 10, "rowsWritten": 8, "rowsDeadLettered": 2 },
 *   "createdAt": "…", "records": [ { "row": 3, "byteOffset": 120, "reason": "…", "raw": "…" } ] }
 * ```
 */
import { concatBytes } from '../delta/parquet';
import type { BadRecord } from '../formats/types';
import type { DeadLetterRecord, DeadLetterTarget } from './types';

/** A dead-letter document as `writeDeadLetter` takes it: the records may be any iterable. */
export type DeadLetterDocument = Omit<DeadLetterRecord, 'records'> & { records: Iterable<BadRecord> };

/**
 * Path of the record for one file version.
 *
 * @param target dead-letter store and prefix
 * @param startedAt first attempt (dates the folder)
 * @param path blob path
 * @param etag normalised ETag
 * @returns the path inside the dead-letter store
 */
export function deadLetterPath(target: DeadLetterTarget, startedAt: string, path: string, etag: string): string {
  const prefix = target.prefix && !target.prefix.endsWith('/') ? `${target.prefix}/` : target.prefix;
  const safePath = path
    .split('/')
    .filter((s) => s && s !== '.' && s !== '..')
    .join('/');
  const safeEtag = etag.replace(/[^A-Za-z0-9_.-]/g, '_');
  return `${prefix}${startedAt.slice(0, 10)}/${safePath}@${safeEtag}.json`;
}

/** Records up to this size are written with one Put Blob (see `writeDeadLetter`). */
const SINGLE_WRITE_LIMIT = 32 * 1024 * 1024;

/**
 * Write a dead-letter record.
 *
 * Duplicate deliveries of one event run concurrently and write the same record at the same path. A
 * streamed (block) upload from two writers at once fails with InvalidBlockList on Blob storage, as one
 * writer's commit discards the other's staged blocks; a single Put Blob simply replaces the record
 * atomically with an identical one. So records are written whole up to 32 MiB (tens of thousands of
 * bad records); only larger ones are streamed, where a concurrent duplicate may fail (and be retried)
 * but never corrupts the record.
 *
 * @param target dead-letter store
 * @param path path from `deadLetterPath`
 * @param record the document (its records are encoded as they are written, a thousand at a time)
 * @returns the path written
 */
export async function writeDeadLetter(target: DeadLetterTarget, path: string, record: DeadLetterDocument): Promise<string> {
  const parts = documentParts(record);
  // Encode up to the single-write limit; whatever does not fit follows as a stream, encoded as it is
  // uploaded, so memory holds at most the limit whatever the number of records.
  const head: Uint8Array[] = [];
  let size = 0;
  let next = parts.next();
  while (!next.done && size <= SINGLE_WRITE_LIMIT) {
    head.push(next.value);
    size += next.value.length;
    next = parts.next();
  }
  if (next.done) {
    await target.store.write(path, concatBytes(head), { contentType: 'application/json' });
  } else {
    const pending = next.value;
    const rest = (async function* () {
      yield* head.splice(0);
      yield pending;
      for (let part = parts.next(); !part.done; part = parts.next()) yield part.value;
    })();
    await target.store.write(path, rest, { contentType: 'application/json' });
  }
  return path;
}

/** Records per encoded part of a document. */
const RECORDS_PER_PART = 1000;

/** The document's JSON, as UTF-8 parts of up to `RECORDS_PER_PART` records each. */
function* documentParts(record: DeadLetterDocument): Generator<Uint8Array> {
  const { records, ...head } = record;
  const encoder = new TextEncoder();
  const opening = JSON.stringify({ kind: 'sluice.deadLetter', version: 1, ...head });
  let text = `${opening.slice(0, -1)},"records":[`;
  let inPart = 0;
  let first = true;
  for (const r of records) {
    text += `${first ? '\n' : ',\n'}${JSON.stringify(r)}`;
    first = false;
    if (++inPart === RECORDS_PER_PART) {
      yield encoder.encode(text);
      text = '';
      inPart = 0;
    }
  }
  yield encoder.encode(`${text}]}\n`);
}
