/**
 * Azure Blob Storage backend, also serving ADLS Gen2 accounts (through their Blob endpoint) and Azurite.
 *
 * The store root is a container plus a path prefix inside it, so one container can hold many tables.
 * Only types are imported from `@azure/storage-blob`: the caller builds the `ContainerClient`, and code
 * that never touches Azure does not pay for loading the SDK.
 *
 * Create-if-absent is one `Put Blob` with `If-None-Match: *`, which the service evaluates atomically,
 * so it is the commit primitive of the Delta log.
 */
import { Readable } from 'node:stream';
import type { BlobGetPropertiesResponse, BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import {
  AccessTier,
  ByteRange,
  checkObjectPath,
  joinUrl,
  ObjectAlreadyExistsError,
  ObjectContent,
  ObjectInfo,
  ObjectNotFoundError,
  ObjectStore,
  RehydratePriority,
  SetAccessTierOptions,
  StorageError,
  toBytes,
  WriteOptions,
} from './types';

/** Block size of streamed uploads; 4 MiB keeps memory bounded while staying far below the 50,000-block limit for lake files. */
const STREAM_BLOCK_SIZE = 4 * 1024 * 1024;
/** Blocks staged in parallel by a streamed upload. */
const STREAM_CONCURRENCY = 4;
/** Poll interval of server-side copies; same-account copies normally finish on the first request. */
const COPY_POLL_MS = 250;

const TIERS: readonly AccessTier[] = ['Hot', 'Cool', 'Cold', 'Archive'];
/** Network error codes after which a retry may succeed. */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ECONNABORTED']);
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** The fields of the SDK's `RestError` used here; duck-typed so this module needs no SDK at run time. */
interface RestErrorLike {
  name?: string;
  message?: string;
  statusCode?: number;
  code?: string;
}

/** An `ObjectStore` rooted at `prefix` inside one Blob container. */
export class AzureBlobStore implements ObjectStore {
  readonly url: string;
  /** Blob-name prefix of the root: empty, or ending with `/`. */
  readonly rootPrefix: string;
  private readonly container: ContainerClient;
  private containerReady?: Promise<void>;

  /**
   * @param container client of the container that holds the store; created on first write if missing
   * @param prefix path of the store root inside the container (`''` for the container itself)
   */
  constructor(container: ContainerClient, prefix = '') {
    const trimmed = prefix.replace(/^\/+|\/+$/g, '');
    this.rootPrefix = trimmed ? `${checkObjectPath(trimmed)}/` : '';
    this.container = container;
    // The client URL may carry a SAS token; messages must never leak it.
    const base = new URL(container.url);
    base.search = '';
    base.hash = '';
    this.url = joinUrl(base.href.replace(/\/+$/, ''), this.rootPrefix.replace(/\/$/, ''));
  }

  private blob(path: string): BlockBlobClient {
    return this.container.getBlockBlobClient(this.rootPrefix + checkObjectPath(path));
  }

  async read(path: string, range?: ByteRange): Promise<Uint8Array> {
    const client = this.blob(path);
    const offset = range?.offset ?? 0;
    const length = range?.length;
    if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
      throw new StorageError(`invalid byte range ${JSON.stringify(range)} for ${joinUrl(this.url, path)}`);
    }
    // The SDK reads a count of 0 as "to the end", so an empty range only has to prove the blob exists.
    if (length === 0) {
      await this.properties(path);
      return new Uint8Array(0);
    }
    try {
      const response = await client.download(offset, length);
      const bytes = await readAll(response.readableStreamBody);
      if (response.contentLength !== undefined && bytes.byteLength !== response.contentLength) {
        throw new StorageError(`short read from ${joinUrl(this.url, path)}: got ${bytes.byteLength} of ${response.contentLength} bytes`, { transient: true });
      }
      return bytes;
    } catch (err) {
      // 416: the range starts at or past the end; the local backend answers that with no bytes too.
      if ((err as RestErrorLike)?.statusCode === 416) return new Uint8Array(0);
      throw this.mapError(err, path, 'read');
    }
  }

  async write(path: string, content: ObjectContent, options?: WriteOptions): Promise<ObjectInfo> {
    const client = this.blob(path);
    const blobHTTPHeaders = options?.contentType ? { blobContentType: options.contentType } : undefined;
    try {
      if (typeof content === 'string' || content instanceof Uint8Array) {
        const bytes = toBytes(content);
        const response = await this.withContainer(() => client.uploadData(bytes, { blobHTTPHeaders }));
        return this.info(path, bytes.byteLength, response.etag, response.lastModified);
      }
      // A stream can be consumed only once, so the container must exist before the first block is staged.
      await this.ensureContainer();
      let size = 0;
      const chunks = Readable.from(
        (async function* () {
          for await (const chunk of content) {
            if (chunk.byteLength === 0) continue;
            size += chunk.byteLength;
            // The SDK's block buffering relies on Buffer methods that a plain Uint8Array lacks.
            yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          }
        })(),
      );
      const response = await client.uploadStream(chunks, STREAM_BLOCK_SIZE, STREAM_CONCURRENCY, { blobHTTPHeaders });
      return this.info(path, size, response.etag, response.lastModified);
    } catch (err) {
      throw this.mapError(err, path, 'write');
    }
  }

  async createIfAbsent(path: string, content: Uint8Array | string, options?: WriteOptions): Promise<ObjectInfo> {
    const client = this.blob(path);
    const bytes = toBytes(content);
    try {
      // One Put Blob, never block staging: the object appears whole and the condition is checked atomically.
      const response = await this.withContainer(() =>
        client.upload(bytes, bytes.byteLength, {
          conditions: { ifNoneMatch: '*' },
          blobHTTPHeaders: options?.contentType ? { blobContentType: options.contentType } : undefined,
        }),
      );
      return this.info(path, bytes.byteLength, response.etag, response.lastModified);
    } catch (err) {
      const e = err as RestErrorLike;
      if ((e?.statusCode === 409 && e.code === 'BlobAlreadyExists') || e?.statusCode === 412) {
        throw new ObjectAlreadyExistsError(this.url, path, { cause: err });
      }
      throw this.mapError(err, path, 'createIfAbsent');
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const iterator = this.container.listBlobsFlat({ prefix: this.rootPrefix + prefix, includeMetadata: true });
    try {
      // The service returns names in lexicographic order, page after page; the SDK follows the markers.
      for await (const item of iterator) {
        // Hierarchical-namespace (ADLS Gen2) accounts list directories as empty marker blobs.
        if (item.metadata?.hdi_isfolder === 'true') continue;
        yield {
          path: item.name.slice(this.rootPrefix.length),
          size: item.properties.contentLength ?? 0,
          etag: item.properties.etag,
          lastModified: item.properties.lastModified,
          accessTier: toTier(item.properties.accessTier),
          ...tierState(item.properties),
        };
      }
    } catch (err) {
      // A missing container simply holds nothing yet.
      if ((err as RestErrorLike)?.statusCode === 404) return;
      throw this.mapError(err, prefix, 'list');
    }
  }

  async delete(path: string): Promise<void> {
    try {
      await this.blob(path).deleteIfExists();
    } catch (err) {
      // deleteIfExists swallows only BlobNotFound; a missing container holds nothing to delete either.
      if ((err as RestErrorLike)?.statusCode === 404) return;
      throw this.mapError(err, path, 'delete');
    }
  }

  async copy(fromPath: string, toPath: string): Promise<ObjectInfo> {
    const source = this.blob(fromPath);
    const target = this.blob(toPath);
    try {
      // Asynchronous Copy Blob: inside one account the service authorises the source with the caller's
      // own credential, which the synchronous Copy Blob From URL does not do for private blobs.
      const poller = await target.beginCopyFromURL(source.url, { intervalInMs: COPY_POLL_MS });
      const result = await poller.pollUntilDone();
      if (result.copyStatus && result.copyStatus !== 'success') {
        throw new StorageError(`copy ${joinUrl(this.url, fromPath)} -> ${joinUrl(this.url, toPath)} ended ${result.copyStatus}`);
      }
    } catch (err) {
      // Both blobs share a container, so a 404 means the source is missing.
      throw this.mapError(err, fromPath, `copy to ${joinUrl(this.url, toPath)}`);
    }
    return this.properties(toPath);
  }

  async properties(path: string): Promise<ObjectInfo> {
    let response: BlobGetPropertiesResponse;
    try {
      response = await this.blob(path).getProperties();
    } catch (err) {
      throw this.mapError(err, path, 'properties');
    }
    return {
      path,
      size: response.contentLength ?? 0,
      etag: response.etag ?? '',
      lastModified: response.lastModified ?? new Date(0),
      accessTier: toTier(response.accessTier),
      ...tierState(response),
    };
  }

  async setAccessTier(path: string, tier: AccessTier, options?: SetAccessTierOptions): Promise<void> {
    try {
      await this.blob(path).setAccessTier(tier, options?.rehydratePriority ? { rehydratePriority: options.rehydratePriority } : {});
    } catch (err) {
      throw this.mapError(err, path, `setAccessTier ${tier}`);
    }
  }

  /** Run a write; if the container turns out to be missing, create it once and run the write again. */
  private async withContainer<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      const e = err as RestErrorLike;
      if (e?.statusCode !== 404 || e.code !== 'ContainerNotFound') throw err;
      await this.ensureContainer();
      return write();
    }
  }

  /** Create the container if needed, at most once per instance (a failed attempt may be retried). */
  private ensureContainer(): Promise<void> {
    this.containerReady ??= this.container.createIfNotExists().then(
      () => undefined,
      (err: RestErrorLike) => {
        // A credential scoped to the container may not create containers; the write itself will then
        // report whether the container is really missing.
        if (err?.statusCode === 403) return;
        this.containerReady = undefined;
        throw this.mapError(err, '', 'create container');
      },
    );
    return this.containerReady;
  }

  private info(path: string, size: number, etag: string | undefined, lastModified: Date | undefined): ObjectInfo {
    return { path, size, etag: etag ?? '', lastModified: lastModified ?? new Date() };
  }

  private mapError(err: unknown, path: string, operation: string): Error {
    if (err instanceof StorageError) return err;
    const e = (err ?? {}) as RestErrorLike;
    if (e.statusCode === 404) return new ObjectNotFoundError(this.url, path, { cause: err });
    const transient =
      (e.statusCode !== undefined && TRANSIENT_STATUS.has(e.statusCode)) ||
      (e.code !== undefined && TRANSIENT_CODES.has(e.code)) ||
      e.name === 'AbortError' ||
      e.name === 'TimeoutError';
    const status = [e.statusCode, e.code].filter((s) => s !== undefined).join(' ');
    const detail = firstLine(e.message ?? String(err));
    return new StorageError(`azure blob ${operation} failed at ${joinUrl(this.url, path)}: ${status ? `${status}: ` : ''}${detail}`, { cause: err, transient });
  }
}

/** Read a Node stream to its end into one byte array. */
async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<Uint8Array> {
  if (!stream) return new Uint8Array(0);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    chunks.push(buf);
    total += buf.byteLength;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function toTier(tier: string | undefined): AccessTier | undefined {
  return TIERS.find((t) => t === tier);
}

/** The rehydration fields of a listing item or a properties answer, only those the service sent. */
function tierState(p: { archiveStatus?: string; accessTierChangedOn?: Date; rehydratePriority?: string }): Partial<ObjectInfo> {
  const priority: RehydratePriority | undefined = p.rehydratePriority === 'High' || p.rehydratePriority === 'Standard' ? p.rehydratePriority : undefined;
  return {
    ...(p.archiveStatus ? { archiveStatus: p.archiveStatus } : {}),
    ...(p.accessTierChangedOn ? { accessTierChangedOn: p.accessTierChangedOn } : {}),
    ...(priority ? { rehydratePriority: priority } : {}),
  };
}

/** Service messages carry request ids and timestamps on further lines; the first line says what went wrong. */
function firstLine(message: string): string {
  return message.split('\n')[0].trim();
}
