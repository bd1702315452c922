/**
 * Copying an object from one store to another, the cheapest way the two backends allow:
 *
 * - Blob → Blob (any containers, any accounts): server-side, the target's service reads the source
 *   (`AzureBlobStore.copyFrom`); the bytes never pass through this process.
 * - local → local: a file copy by the operating system (`copyFile`, a reflink where the file system
 *   has them).
 * - between unlike backends (local ↔ Blob): the only way is to stream the bytes through this process,
 *   chunk by chunk; the outcome says so (`method: 'stream'`).
 *
 * Checksums come with the copy where a service gives one (Content-MD5 kept with the blob, the CRC64
 * Copy Blob From URL returns); `contentSha256` computes our own by reading an object, for the rest.
 */
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as nodePath from 'node:path';
import { AzureBlobStore } from './azure';
import { LocalStore } from './local';
import { ObjectInfo, ObjectNotFoundError, ObjectStore, StorageError } from './types';

/** How an object was copied. */
export type CopyMethod = 'server' | 'local' | 'stream';

/** The outcome of `copyObject`. */
export interface CopiedObject {
  /** Properties of the copy. */
  info: ObjectInfo;
  method: CopyMethod;
  /** CRC64 of the content (base64) when the service computed one during the copy. */
  crc64?: string;
}

/** Chunk size of streamed copies and of checksum reads. */
const CHUNK = 8 * 1024 * 1024;

/**
 * Copy `sourcePath` of `source` to `targetPath` of `target`, replacing what is there.
 *
 * @param source store holding the object
 * @param sourcePath its path
 * @param target store to copy into (may be the same store)
 * @param targetPath path of the copy
 * @param size the source's size when known (a streamed or large copy then needs no extra request)
 * @returns the copy's properties and how it was made
 * @throws ObjectNotFoundError naming the source when it does not exist
 */
export async function copyObject(source: ObjectStore, sourcePath: string, target: ObjectStore, targetPath: string, size?: number): Promise<CopiedObject> {
  if (source instanceof AzureBlobStore && target instanceof AzureBlobStore) {
    const { info, crc64 } = await target.copyFrom(source, sourcePath, targetPath, size);
    return { info, method: 'server', ...(crc64 ? { crc64 } : {}) };
  }
  if (source instanceof LocalStore && target instanceof LocalStore) {
    const to = nodePath.join(target.root, ...targetPath.split('/'));
    await fs.mkdir(nodePath.dirname(to), { recursive: true });
    // Through a temporary name (which listings skip), so a copy cut short never looks like the object.
    const temp = nodePath.join(nodePath.dirname(to), `.sluice-tmp-${randomUUID()}`);
    try {
      await fs.copyFile(nodePath.join(source.root, ...sourcePath.split('/')), temp);
      await fs.rename(temp, to);
    } catch (err) {
      await fs.rm(temp, { force: true });
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ObjectNotFoundError(source.url, sourcePath, { cause: err });
      throw new StorageError(`copy ${source.url}/${sourcePath} -> ${target.url}/${targetPath} failed: ${(err as Error).message}`, { cause: err });
    }
    return { info: await target.properties(targetPath), method: 'local' };
  }
  const length = size ?? (await source.properties(sourcePath)).size;
  const info = await target.write(targetPath, chunks(source, sourcePath, length));
  return { info, method: 'stream' };
}

/** The bytes of an object in `CHUNK`-sized range reads, so a large object never sits in memory whole. */
async function* chunks(store: ObjectStore, path: string, size: number): AsyncGenerator<Uint8Array> {
  if (size === 0) {
    await store.properties(path);
    return;
  }
  for (let offset = 0; offset < size; offset += CHUNK) {
    const bytes = await store.read(path, { offset, length: Math.min(CHUNK, size - offset) });
    if (bytes.byteLength === 0) throw new StorageError(`${store.url}/${path} ended at byte ${offset} of ${size} while it was copied`);
    yield bytes;
  }
}

/**
 * SHA-256 of an object's content, read in chunks (for objects whose store keeps no checksum).
 *
 * @param store the store
 * @param path the object
 * @param size its size
 * @returns the digest, hex
 */
export async function contentSha256(store: ObjectStore, path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of chunks(store, path, size)) hash.update(chunk);
  return hash.digest('hex');
}
