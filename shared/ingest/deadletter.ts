/**
 * Dead-letter records: what could not be ingested from one file version, as one JSON document at
 * `<prefix><YYYY-MM-DD>/<blob path>@<etag>.json` in the dead-letter store (by default the lake
 * container's `_sluice/dead-letter/` with prefix `<table path>/`, i.e.
 * `lake/_sluice/dead-letter/bronze/pos_sales/2026-01-31/pos/sales/a.csv@0x8DC….json`).
 *
 * The record references the input (landing URL, path, ETag, size) instead of copying it: a file may be
 * gigabytes. Each bad record keeps its row number and byte offset and up to 4 KiB of raw text (the
 * reader truncates). The date is that of the first attempt and the name is fixed per (path, ETag), so
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
import type { BadRecord } from '../formats/types';
import type { ObjectStore } from '../storage/types';

/** Where dead-letter records of one table go. */
export interface DeadLetterTarget {
  store: ObjectStore;
  /** Path prefix inside the store, `''` or ending with `/` (e.g. `bronze/pos_sales/`). */
  prefix: string;
}

/** One dead-letter document. */
export interface DeadLetterRecord {
  table: string;
  source: { landing: string; path: string; etag: string; size: number };
  /** File-level reason (unreadable input, new columns in failOnNewColumns mode, …). */
  reason?: string;
  counts: { rowsRead: number; rowsWritten: number; rowsDeadLettered: number };
  createdAt: string;
  records: BadRecord[];
}

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
  const safePath = path.split('/').filter((s) => s && s !== '.' && s !== '..').join('/');
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
 * @param record the document
 * @returns the path written
 */
export async function writeDeadLetter(target: DeadLetterTarget, path: string, record: DeadLetterRecord): Promise<string> {
  const { records, ...head } = record;
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  let size = 0;
  const add = (text: string) => {
    const bytes = encoder.encode(text);
    parts.push(bytes);
    size += bytes.length;
  };
  const opening = JSON.stringify({ kind: 'sluice.deadLetter', version: 1, ...head });
  add(`${opening.slice(0, -1)},"records":[`);
  for (let i = 0; i < records.length; i += 1000) {
    add(`${i ? ',\n' : '\n'}${records.slice(i, i + 1000).map((r) => JSON.stringify(r)).join(',\n')}`);
  }
  add(']}\n');
  if (size <= SINGLE_WRITE_LIMIT) {
    const whole = new Uint8Array(size);
    let at = 0;
    for (const part of parts) {
      whole.set(part, at);
      at += part.length;
    }
    await target.store.write(path, whole, { contentType: 'application/json' });
  } else {
    await target.store.write(path, (async function* () { yield* parts; })(), { contentType: 'application/json' });
  }
  return path;
}
