/**
 * Finding and reading dead-letter records (deadletter.ts writes them): what `sluice deadletter list|show`
 * and `GET /api/deadletter[/{id}]` serve.
 *
 * A record is named by its **id**: its path under the dead-letter folder (`_sluice/dead-letter/` of the
 * lake container), `<table path>/<YYYY-MM-DD>/<blob path>@<etag>.json`, e.g.
 * `bronze/pos_sales/2026-01-31/pos/sales/a.csv@0x8DC….json` (`<table path>/replays/…` for what a
 * replay set aside again). The table of a record is the part of its id before the date folder (and
 * `replays/`), so listing one table is one prefix listing.
 *
 * Listing reads only the head of each record (everything before its `records` array, which the writer
 * puts last): a record may hold tens of thousands of bad records, and a listing must not load them.
 */
import { ObjectNotFoundError, type ObjectStore } from '../storage/types';
import { DEAD_LETTER_FOLDER } from '../storage/lake-layout';
import { tableKeyOf } from './ingest';
import type { DeadLetterEntry, DeadLetterRecord } from './types';

/** Which records to list. */
export interface DeadLetterFilter {
  /** Only this table (`<layer>/<table>`). */
  table?: string;
  /** Only records written at or after this time. */
  since?: Date;
}

/** The id names no record (or is not an id at all). */
export class DeadLetterNotFoundError extends Error {
  override name = 'DeadLetterNotFoundError';
}

/** Folder, under a table's dead-letter prefix, of the records replays write (deadletter-replay.ts). */
export const REPLAY_FOLDER = 'replays';
/** The date folder that follows the table path in an id. */
const DATE_FOLDER = /\/(\d{4}-\d{2}-\d{2})\//;
/** Bytes read for a record's head; a longer head (a long reason) is read again whole up to HEAD_LIMIT. */
const HEAD_BYTES = 64 * 1024;
const HEAD_LIMIT = 4 * 1024 * 1024;
/** Where the writer starts the array of bad records (a `,"` cannot occur inside a JSON string). */
const RECORDS_KEY = ',"records":[';

/**
 * Check an id as a caller gives it: a relative path ending in `.json`, without `.`/`..` segments.
 *
 * @param id the id
 * @returns the id
 * @throws DeadLetterNotFoundError saying what is wrong with it
 */
export function checkDeadLetterId(id: string): string {
  const segments = id.split('/');
  if (!id.endsWith('.json') || id.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..') || !DATE_FOLDER.test(`/${id}`)) {
    throw new DeadLetterNotFoundError(
      `'${id}' is not a dead-letter record id: ids are paths under ${DEAD_LETTER_FOLDER}/ as 'sluice deadletter list --json' prints them, e.g. bronze/pos_sales/2026-01-31/pos/sales/a.csv@0x8DC….json`,
    );
  }
  return id;
}

/**
 * The table path a record id belongs to.
 *
 * @param id the id
 * @returns `<layer>/<table>`, or '' when the id has no date folder
 */
export function deadLetterTable(id: string): string {
  const m = DATE_FOLDER.exec(`/${id}`);
  const table = m ? `/${id}`.slice(1, m.index) : '';
  return table.endsWith(`/${REPLAY_FOLDER}`) ? table.slice(0, -REPLAY_FOLDER.length - 1) : table;
}

/**
 * Where a record is, in words a person can follow: container path and URL.
 *
 * @param folder store rooted at the dead-letter folder
 * @param id the record id
 * @returns `{ location: '<container>/_sluice/dead-letter/<id>', url }`
 */
export function deadLetterLocation(folder: ObjectStore, id: string): { location: string; url: string } {
  // `@` (between a file's path and its ETag) is valid in a URL path: kept readable.
  const path = id
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/%40/g, '@'))
    .join('/');
  return { location: `${tableKeyOf(folder)}/${id}`, url: `${folder.url.replace(/\/+$/, '')}/${path}` };
}

/**
 * The records of the dead-letter folder, in id order (table, then date), heads only.
 *
 * @param folder store rooted at the dead-letter folder
 * @param filter table and time
 * @returns the entries, as they are read
 */
export async function* listDeadLetters(folder: ObjectStore, filter: DeadLetterFilter = {}): AsyncGenerator<DeadLetterEntry> {
  const prefix = filter.table ? `${filter.table.replace(/^\/+|\/+$/g, '')}/` : '';
  for await (const info of folder.list(prefix)) {
    if (!info.path.endsWith('.json') || !DATE_FOLDER.test(`/${info.path}`)) continue;
    // The table filter is a prefix: `bronze/pos` must not take `bronze/pos_sales`'s records.
    if (filter.table && deadLetterTable(info.path) !== prefix.slice(0, -1)) continue;
    if (filter.since && info.lastModified.getTime() < filter.since.getTime()) continue;
    let head: Omit<DeadLetterRecord, 'records'>;
    try {
      head = await readHead(folder, info.path, info.size);
    } catch (err) {
      // Deleted between the listing and the read (an event-batch retry removes its own).
      if (err instanceof ObjectNotFoundError) continue;
      throw err;
    }
    yield {
      id: info.path,
      table: deadLetterTable(info.path),
      ...deadLetterLocation(folder, info.path),
      lastModified: info.lastModified.toISOString(),
      size: info.size,
      source: head.source,
      ...(head.reason !== undefined ? { reason: head.reason } : {}),
      counts: head.counts,
      createdAt: head.createdAt,
    };
  }
}

/**
 * A record's bytes as stored (JSON), for callers that pass it on unchanged.
 *
 * @param folder store rooted at the dead-letter folder
 * @param id the record id
 * @returns the bytes
 * @throws DeadLetterNotFoundError when no record has that id
 */
export async function readDeadLetterBytes(folder: ObjectStore, id: string): Promise<Uint8Array> {
  checkDeadLetterId(id);
  try {
    return await folder.read(id);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) throw new DeadLetterNotFoundError(`no dead-letter record ${id} in ${deadLetterLocation(folder, '').location}`);
    throw err;
  }
}

/**
 * A whole record, bad records included.
 *
 * @param folder store rooted at the dead-letter folder
 * @param id the record id
 * @returns the record
 * @throws DeadLetterNotFoundError when no record has that id; Error naming the record when it is not one
 */
export async function readDeadLetter(folder: ObjectStore, id: string): Promise<DeadLetterRecord> {
  const bytes = await readDeadLetterBytes(folder, id);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new Error(`dead-letter record ${deadLetterLocation(folder, id).location} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  return checkRecord(parsed, folder, id) as DeadLetterRecord;
}

async function readHead(folder: ObjectStore, id: string, size: number): Promise<Omit<DeadLetterRecord, 'records'>> {
  for (let length = Math.min(size, HEAD_BYTES); ; length = Math.min(size, HEAD_LIMIT)) {
    const text = new TextDecoder().decode(await folder.read(id, { offset: 0, length }));
    const at = text.indexOf(RECORDS_KEY);
    if (at >= 0) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(`${text.slice(0, at)}}`);
      } catch (err) {
        throw new Error(`dead-letter record ${deadLetterLocation(folder, id).location}: its head is not JSON: ${(err as Error).message}`, { cause: err });
      }
      return checkRecord(parsed, folder, id);
    }
    if (length >= size || length >= HEAD_LIMIT)
      throw new Error(
        `dead-letter record ${deadLetterLocation(folder, id).location}: no "records" array in its first ${length} bytes; not a Sluice dead-letter record`,
      );
  }
}

function checkRecord(parsed: unknown, folder: ObjectStore, id: string): Omit<DeadLetterRecord, 'records'> {
  const r = parsed as Partial<DeadLetterRecord> & { kind?: string };
  if (!r || typeof r !== 'object' || r.kind !== 'sluice.deadLetter' || !r.source || !r.counts) {
    throw new Error(`${deadLetterLocation(folder, id).location} is not a Sluice dead-letter record (kind sluice.deadLetter with source and counts)`);
  }
  return r as Omit<DeadLetterRecord, 'records'>;
}
