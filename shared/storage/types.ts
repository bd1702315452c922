/**
 * The object store contract the lake needs, kept free of any SDK so that the Delta layer runs the same
 * on Azure Blob Storage (and ADLS Gen2 through the Blob API), Azurite and the local file system.
 *
 * Paths are always relative to the store's root, use `/` as separator, never start with `/`, and are
 * taken literally: no percent-decoding happens at this level.
 */

/** Blob access tiers as Azure names them. The local file system keeps the tier in a side record. */
export type AccessTier = 'Hot' | 'Cool' | 'Cold' | 'Archive';

/** What a store knows about one object. */
export interface ObjectInfo {
  /** Path relative to the store root. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Opaque version tag; changes whenever the content changes. */
  etag: string;
  /** Last modification time (server clock for Azure, file mtime locally). */
  lastModified: Date;
  /** Access tier where the backend has one (Azure), `undefined` otherwise. */
  accessTier?: AccessTier;
  /** Azure's rehydration state of an archived blob (`rehydrate-pending-to-hot|cool|cold`); `undefined` when none is pending. */
  archiveStatus?: string;
  /** When the blob's tier last changed, or a rehydration was requested (Azure); `undefined` when never or not known. */
  accessTierChangedOn?: Date;
  /** Priority of a pending rehydration (Azure); `undefined` when none is pending or not known. */
  rehydratePriority?: RehydratePriority;
}

/** Priority of a rehydration from Archive: Standard may take up to 15 hours, High under one hour for blobs under 10 GB. */
export type RehydratePriority = 'Standard' | 'High';

/** Options of `setAccessTier`. */
export interface SetAccessTierOptions {
  /** Priority when the change rehydrates an archived blob (Azure's `x-ms-rehydrate-priority`; Standard when omitted). */
  rehydratePriority?: RehydratePriority;
}

/** Byte range of a read: `offset` from the start, `length` bytes (to the end when omitted). */
export interface ByteRange {
  offset: number;
  length?: number;
}

/** Content accepted by `write` and `createIfAbsent`. */
export type ObjectContent = Uint8Array | string | AsyncIterable<Uint8Array>;

/** Options for writes. */
export interface WriteOptions {
  /** MIME type stored with the object where the backend supports it. */
  contentType?: string;
}

/**
 * The one interface every backend implements. All methods reject with `ObjectNotFoundError` when the
 * object is missing (except `delete`, which is idempotent, and `list`), and with
 * `ObjectAlreadyExistsError` from `createIfAbsent` when another writer got there first.
 */
export interface ObjectStore {
  /** Human-readable location of the store root, for messages (`abfss://…`, `file:///…`). */
  readonly url: string;
  /** Read a whole object, or the byte range given. */
  read(path: string, range?: ByteRange): Promise<Uint8Array>;
  /** Write (create or replace) an object. Streams are consumed chunk by chunk. */
  write(path: string, content: ObjectContent, options?: WriteOptions): Promise<ObjectInfo>;
  /**
   * Create an object only if no object exists at `path` (`If-None-Match: *`). Atomic: of several
   * concurrent callers exactly one succeeds; the others get `ObjectAlreadyExistsError`. The object
   * becomes visible whole or not at all.
   */
  createIfAbsent(path: string, content: Uint8Array | string, options?: WriteOptions): Promise<ObjectInfo>;
  /**
   * List objects whose path starts with `prefix` (a plain string prefix, not only a folder), in
   * lexicographic order of path. Listing is recursive.
   */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Delete an object; deleting a missing object is not an error. */
  delete(path: string): Promise<void>;
  /** Copy an object inside the store without moving the bytes through this process where possible. */
  copy(fromPath: string, toPath: string): Promise<ObjectInfo>;
  /** Size, ETag, last-modified time and tier of one object. */
  properties(path: string): Promise<ObjectInfo>;
  /** Move an object to another access tier (from Archive: request its rehydration, which completes later on Azure). */
  setAccessTier(path: string, tier: AccessTier, options?: SetAccessTierOptions): Promise<void>;
}

/** Base class of storage errors; `transient` tells callers whether a retry may help. */
export class StorageError extends Error {
  readonly transient: boolean;
  constructor(message: string, options?: { cause?: unknown; transient?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StorageError';
    this.transient = options?.transient ?? false;
  }
}

/** The object does not exist. */
export class ObjectNotFoundError extends StorageError {
  readonly path: string;
  constructor(url: string, path: string, options?: { cause?: unknown }) {
    super(`storage object not found: ${joinUrl(url, path)}`, options);
    this.name = 'ObjectNotFoundError';
    this.path = path;
  }
}

/** `createIfAbsent` lost: an object already exists at the path. */
export class ObjectAlreadyExistsError extends StorageError {
  readonly path: string;
  constructor(url: string, path: string, options?: { cause?: unknown }) {
    super(`storage object already exists: ${joinUrl(url, path)}`, options);
    this.name = 'ObjectAlreadyExistsError';
    this.path = path;
  }
}

/** Join a store URL and a relative path for messages. */
export function joinUrl(url: string, path: string): string {
  if (!path) return url;
  return url.endsWith('/') ? url + path : `${url}/${path}`;
}

/** Check a relative object path; rejects absolute paths and `..` segments. */
export function checkObjectPath(path: string): string {
  if (path.startsWith('/') || path.split('/').some((s) => s === '..')) {
    throw new StorageError(`storage path must be relative and stay inside the store: ${JSON.stringify(path)}`);
  }
  return path;
}

/** Turn string or bytes into bytes. */
export function toBytes(content: Uint8Array | string): Uint8Array {
  return typeof content === 'string' ? new TextEncoder().encode(content) : content;
}
