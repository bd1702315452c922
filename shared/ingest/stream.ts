/**
 * Streaming one stored object by byte ranges, so the stage never holds a whole input file: one range
 * is being consumed while the next one is fetched.
 */
import type { RangedInput } from '../formats/types';
import type { ObjectStore } from '../storage/types';
import { StorageError } from '../storage/types';

/** Default range size (4 MiB). */
export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

/** The object changed (new ETag or size) while it was being read: the read is worthless, retry. */
export class SourceChangedError extends StorageError {
  constructor(message: string) {
    super(message, { transient: true });
    this.name = 'SourceChangedError';
  }
}

/** Options of `readObjectRanges`. */
export interface RangeReadOptions {
  /** Range size (default 4 MiB). */
  chunkBytes?: number;
  /** The ETag the object must still have when the read ends (normalised, see `normaliseEtag`). */
  etag?: string;
  /** Called with the bytes read so far after each range. */
  onBytes?: (bytesRead: number) => void;
}

/**
 * Read an object as a stream of byte ranges.
 *
 * @param store the store holding it
 * @param path its path
 * @param size its size in bytes (from `properties`)
 * @param options range size, expected ETag, progress callback
 * @returns the bytes, chunk by chunk; throws `SourceChangedError` when the object changed meanwhile
 */
export async function* readObjectRanges(store: ObjectStore, path: string, size: number, options: RangeReadOptions = {}): AsyncGenerator<Uint8Array> {
  const chunk = Math.max(1, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  const fetch = (offset: number) => store.read(path, { offset, length: Math.min(chunk, size - offset) });
  let offset = 0;
  let next: Promise<Uint8Array> | null = size > 0 ? fetch(0) : null;
  // A prefetch that is never awaited (the consumer stopped early) must not become an unhandled rejection.
  next?.catch(() => undefined);
  while (next) {
    const bytes = await next;
    const expected = Math.min(chunk, size - offset);
    if (bytes.length !== expected) {
      throw new SourceChangedError(`ingest: ${store.url}/${path} changed while being read (range at ${offset} returned ${bytes.length} of ${expected} bytes)`);
    }
    offset += bytes.length;
    next = offset < size ? fetch(offset) : null;
    next?.catch(() => undefined);
    options.onBytes?.(offset);
    yield bytes;
  }
  await checkUnchanged(store, path, size, options.etag);
}

/** Throw `SourceChangedError` when the object no longer has the ETag (and size) it was read with. */
async function checkUnchanged(store: ObjectStore, path: string, size: number, etag: string | undefined): Promise<void> {
  if (etag === undefined) return;
  const now = await store.properties(path);
  if (normaliseEtag(now.etag) !== etag || now.size !== size) {
    throw new SourceChangedError(`ingest: ${store.url}/${path} was replaced while being read (ETag ${etag} → ${normaliseEtag(now.etag)})`);
  }
}

/**
 * A stored object as the readers take it: a stream of byte ranges (`readObjectRanges`) that can also
 * be read by range, as Parquet is (footer first, then one row group at a time).
 *
 * @param store the store holding it
 * @param path its path
 * @param size its size in bytes (from `properties`)
 * @param options range size, expected ETag, progress callback (called with the bytes read by range too)
 * @returns the input
 */
export function rangedObject(store: ObjectStore, path: string, size: number, options: RangeReadOptions = {}): RangedInput {
  let rangeBytes = 0;
  return {
    size,
    [Symbol.asyncIterator]: () => readObjectRanges(store, path, size, options),
    readRange: async (offset, length) => {
      const bytes = await store.read(path, { offset, length });
      if (bytes.length !== length) {
        throw new SourceChangedError(`ingest: ${store.url}/${path} changed while being read (range at ${offset} returned ${bytes.length} of ${length} bytes)`);
      }
      rangeBytes += length;
      options.onBytes?.(Math.min(size, rangeBytes));
      return bytes;
    },
    verify: () => checkUnchanged(store, path, size, options.etag),
  };
}

/**
 * An ETag without quotes or weak marker, as Event Grid events carry it (`0x8DC…`).
 *
 * @param etag an ETag as a store or an event gives it
 * @returns the bare tag
 */
export function normaliseEtag(etag: string): string {
  return etag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
}
