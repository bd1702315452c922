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
import type { BlobGetPropertiesResponse, BlobSASPermissions, BlockBlobClient, ContainerClient } from '@azure/storage-blob';
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
/** Largest object one Copy Blob From URL takes (the service's limit, 256 MiB). */
const SYNC_COPY_LIMIT = 256 * 1024 * 1024;
/** Block size of large copies staged from URL (the service takes up to 4000 MiB per block). */
const LARGE_COPY_BLOCK = 100 * 1024 * 1024;
/** Read permission of a SAS; the SDK reads permissions only through `toString()`, and this module loads no SDK code. */
const READ_ONLY = { toString: () => 'r' } as unknown as BlobSASPermissions;
/** Lifetime of the read-only SAS a shared-key source gets for one copy. */
const SOURCE_SAS_MINUTES = 60;

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

  /**
   * A store rooted at a folder of this one (same container and credential).
   *
   * @param folder path of the folder, relative to this store's root
   * @returns the store
   */
  folder(folder: string): AzureBlobStore {
    return new AzureBlobStore(this.container, `${this.rootPrefix}${checkObjectPath(folder.replace(/^\/+|\/+$/g, ''))}`);
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
      // A stream that ends within one block (most data files of a small update) goes up as one Put Blob,
      // not a staged block and a block list: half the requests.
      const iterator = content[Symbol.asyncIterator]();
      const head: Uint8Array[] = [];
      let headBytes = 0;
      let ended = false;
      while (headBytes < STREAM_BLOCK_SIZE) {
        const next = await iterator.next();
        if (next.done) {
          ended = true;
          break;
        }
        head.push(next.value);
        headBytes += next.value.byteLength;
      }
      if (ended) {
        const bytes = Buffer.concat(head);
        const response = await this.withContainer(() => client.uploadData(bytes, { blobHTTPHeaders }));
        return this.info(path, bytes.byteLength, response.etag, response.lastModified);
      }
      // A stream can be consumed only once, so the container must exist before the first block is staged.
      await this.ensureContainer();
      let size = 0;
      const rest: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => iterator };
      const chunks = Readable.from(
        (async function* () {
          for (const chunk of head) {
            size += chunk.byteLength;
            yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          }
          for await (const chunk of rest) {
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
          ...md5Of(item.properties.contentMD5),
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

  /**
   * Copy an object of another Blob store (another container, or another account) to `toPath` of this
   * one, server-side: the bytes go from service to service, never through this process. The source
   * is authorised explicitly, since the target's service reads it: with the source store's own token
   * (`x-ms-copy-source-authorization: Bearer`, the app's identity) or, for a shared-key credential
   * (Azurite, connection strings), with a read-only SAS valid for `SOURCE_SAS_MINUTES`. Objects up to
   * `SYNC_COPY_LIMIT` take one Copy Blob From URL; larger ones are staged as blocks from URL (token)
   * or copied asynchronously (SAS).
   *
   * @param source the store holding the object
   * @param sourcePath its path there
   * @param toPath path in this store
   * @param size the source's size when known (saves a request to find out whether it is large)
   * @returns the copy's properties, and the CRC64 (base64) the service computed when it gave one
   */
  async copyFrom(source: AzureBlobStore, sourcePath: string, toPath: string, size?: number): Promise<{ info: ObjectInfo; crc64?: string }> {
    const from = source.blob(sourcePath);
    const target = this.blob(toPath);
    let crc64: string | undefined;
    try {
      const length = size ?? (await source.properties(sourcePath)).size;
      const authorisation = await sourceAuthorisation(from);
      if (length <= SYNC_COPY_LIMIT) {
        const response = await this.withContainer(() =>
          target.syncCopyFromURL(authorisation.url, authorisation.bearer ? { sourceAuthorization: { scheme: 'Bearer', value: authorisation.bearer } } : {}),
        );
        if (response.copyStatus && response.copyStatus !== 'success') throw new StorageError(`copy ended ${response.copyStatus}`);
        const crc = (response as { xMsContentCrc64?: Uint8Array }).xMsContentCrc64;
        if (crc && crc.byteLength) crc64 = Buffer.from(crc).toString('base64');
      } else if (authorisation.bearer) {
        await this.ensureContainer();
        const blocks: string[] = [];
        for (let offset = 0, i = 0; offset < length; offset += LARGE_COPY_BLOCK, i++) {
          const id = Buffer.from(`sluice-copy-${String(i).padStart(8, '0')}`).toString('base64');
          await target.stageBlockFromURL(id, authorisation.url, offset, Math.min(LARGE_COPY_BLOCK, length - offset), {
            sourceAuthorization: { scheme: 'Bearer', value: authorisation.bearer },
          });
          blocks.push(id);
        }
        await target.commitBlockList(blocks);
      } else {
        const poller = await this.withContainer(() => target.beginCopyFromURL(authorisation.url, { intervalInMs: COPY_POLL_MS }));
        const result = await poller.pollUntilDone();
        if (result.copyStatus && result.copyStatus !== 'success') throw new StorageError(`copy ended ${result.copyStatus}`);
      }
    } catch (err) {
      const e = err as RestErrorLike & { details?: { copySourceStatusCode?: number } };
      // The target's service reports a missing source as 404 (or CannotVerifyCopySource with the source's 404).
      if (err instanceof ObjectNotFoundError) throw err;
      if (e?.statusCode === 404 && e.code !== 'ContainerNotFound') throw new ObjectNotFoundError(source.url, sourcePath, { cause: err });
      throw this.mapError(err, toPath, `copy from ${joinUrl(source.url, sourcePath)}`);
    }
    return { info: await this.properties(toPath), ...(crc64 ? { crc64 } : {}) };
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
      ...md5Of(response.contentMD5),
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

/**
 * How the target's service may read a source blob: a bearer token of the source's identity, a SAS the
 * source's shared key signs, or the URL as it is (it already carries a SAS, or the blob is public).
 */
async function sourceAuthorisation(blob: BlockBlobClient): Promise<{ url: string; bearer?: string }> {
  const credential = blob.credential as unknown as { getToken?: (scope: string) => Promise<{ token: string } | null>; accountName?: string };
  if (typeof credential.getToken === 'function') {
    const token = await credential.getToken('https://storage.azure.com/.default');
    if (!token) throw new StorageError(`no token to read ${blob.url} for a copy`);
    return { url: blob.url, bearer: token.token };
  }
  if (typeof credential.accountName === 'string') {
    const url = await blob.generateSasUrl({ permissions: READ_ONLY, expiresOn: new Date(Date.now() + SOURCE_SAS_MINUTES * 60_000) });
    return { url };
  }
  return { url: blob.url };
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

function md5Of(md5: Uint8Array | undefined): { contentMd5?: string } {
  return md5 && md5.byteLength ? { contentMd5: Buffer.from(md5).toString('base64') } : {};
}

/** A tier change time only when the tier was set, not inferred from the account's default (Azurite dates inferred tiers too). */
function explicitTierChange(changedOn: Date | undefined, inferred: boolean | undefined): Date | undefined {
  return changedOn && inferred !== true ? changedOn : undefined;
}

function toTier(tier: string | undefined): AccessTier | undefined {
  return TIERS.find((t) => t === tier);
}

/** The rehydration fields of a listing item or a properties answer, only those the service sent. */
function tierState(p: { archiveStatus?: string; accessTierChangedOn?: Date; accessTierInferred?: boolean; rehydratePriority?: string }): Partial<ObjectInfo> {
  const priority: RehydratePriority | undefined = p.rehydratePriority === 'High' || p.rehydratePriority === 'Standard' ? p.rehydratePriority : undefined;
  const changedOn = explicitTierChange(p.accessTierChangedOn, p.accessTierInferred);
  return {
    ...(p.archiveStatus ? { archiveStatus: p.archiveStatus } : {}),
    ...(changedOn ? { accessTierChangedOn: changedOn } : {}),
    ...(priority ? { rehydratePriority: priority } : {}),
  };
}

/** Service messages carry request ids and timestamps on further lines; the first line says what went wrong. */
function firstLine(message: string): string {
  return message.split('\n')[0].trim();
}
