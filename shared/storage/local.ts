/**
 * Local file system backend. Used for tests, the CLI on local paths and users who keep a lake on disk.
 *
 * Create-if-absent is atomic: content goes to a temporary file in the same directory, which is then
 * hard-linked to the final name (`link` fails with EEXIST if the name is taken) and unlinked. Readers
 * therefore never see a half-written commit. Plain writes use write-to-temp + rename.
 */
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as nodePath from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeFileFrom } from './file-sink';
import {
  AccessTier,
  ByteRange,
  checkObjectPath,
  ObjectAlreadyExistsError,
  ObjectContent,
  ObjectInfo,
  ObjectNotFoundError,
  ObjectStore,
  StorageError,
  toBytes,
} from './types';

const TEMP_MARK = '.sluice-tmp-';
const TIER_SUFFIX = '.sluice-tier';

/** An `ObjectStore` rooted at a directory of the local file system. */
export class LocalStore implements ObjectStore {
  readonly url: string;
  readonly root: string;

  /** @param root directory that holds the objects; created on first write */
  constructor(root: string) {
    this.root = nodePath.resolve(root);
    this.url = pathToFileURL(this.root).href;
  }

  private full(path: string): string {
    return nodePath.join(this.root, ...checkObjectPath(path).split('/'));
  }

  async read(path: string, range?: ByteRange): Promise<Uint8Array> {
    try {
      if (!range) return new Uint8Array(await fs.readFile(this.full(path)));
      const handle = await fs.open(this.full(path), 'r');
      try {
        const size = (await handle.stat()).size;
        const length = Math.max(0, Math.min(range.length ?? size - range.offset, size - range.offset));
        const out = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(out, done, length - done, range.offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return out.subarray(0, done);
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw this.mapError(err, path);
    }
  }

  async write(path: string, content: ObjectContent): Promise<ObjectInfo> {
    const target = this.full(path);
    const temp = await this.writeTemp(target, content);
    try {
      await fs.rename(temp, target);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw this.mapError(err, path);
    }
    return this.properties(path);
  }

  async createIfAbsent(path: string, content: Uint8Array | string): Promise<ObjectInfo> {
    const target = this.full(path);
    const temp = await this.writeTemp(target, content);
    try {
      await fs.link(temp, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectAlreadyExistsError(this.url, path);
      throw this.mapError(err, path);
    } finally {
      await fs.unlink(temp).catch(() => undefined);
    }
    // A new object has no tier of its own yet (delete removes the sidecar): no read of one.
    return this.info(path, false);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // Walk only the deepest directory the prefix names, then filter by the full string prefix.
    const slash = prefix.lastIndexOf('/');
    const dir = slash < 0 ? '' : prefix.slice(0, slash);
    const found: string[] = [];
    const tiered = new Set<string>();
    await this.walk(dir, found, tiered);
    found.sort();
    for (const path of found) {
      if (!path.startsWith(prefix)) continue;
      try {
        yield await this.info(path, tiered.has(path));
      } catch (err) {
        if (!(err instanceof ObjectNotFoundError)) throw err; // deleted while listing
      }
    }
  }

  /** Files under `dir` into `out`, and into `tiered` those with a tier sidecar next to them. */
  private async walk(dir: string, out: string[], tiered: Set<string>): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(dir ? this.full(dir) : this.root, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw this.mapError(err, dir);
    }
    for (const entry of entries) {
      if (entry.name.includes(TEMP_MARK)) continue;
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.name.endsWith(TIER_SUFFIX)) {
        tiered.add(rel.slice(0, -TIER_SUFFIX.length));
        continue;
      }
      if (entry.isDirectory()) await this.walk(rel, out, tiered);
      else if (entry.isFile()) out.push(rel);
    }
  }

  async delete(path: string): Promise<void> {
    await fs.rm(this.full(path), { force: true });
    await fs.rm(this.full(path) + TIER_SUFFIX, { force: true });
  }

  async copy(fromPath: string, toPath: string): Promise<ObjectInfo> {
    const target = this.full(toPath);
    await fs.mkdir(nodePath.dirname(target), { recursive: true });
    try {
      await fs.copyFile(this.full(fromPath), target);
    } catch (err) {
      throw this.mapError(err, fromPath);
    }
    return this.properties(toPath);
  }

  async properties(path: string): Promise<ObjectInfo> {
    return this.info(path);
  }

  /**
   * An object's properties; `tiered` says whether a listing just saw its tier sidecar, so that a
   * listing does not try to read a sidecar per object that has none (a failed read is costly).
   */
  private async info(path: string, tiered?: boolean): Promise<ObjectInfo> {
    const full = this.full(path);
    try {
      const stat = await fs.stat(full);
      if (!stat.isFile()) throw new ObjectNotFoundError(this.url, path);
      const tier = tiered === false ? 'Hot' : await fs.readFile(full + TIER_SUFFIX, 'utf8').catch(() => 'Hot');
      return {
        path,
        size: stat.size,
        etag: `"${createHash('sha1').update(`${stat.ino}:${stat.size}:${stat.mtimeMs}`).digest('hex').slice(0, 16)}"`,
        lastModified: stat.mtime,
        accessTier: tier as AccessTier,
      };
    } catch (err) {
      throw this.mapError(err, path);
    }
  }

  /** The local disk has no rehydration delay: a move out of Archive completes at once, whatever the priority. */
  async setAccessTier(path: string, tier: AccessTier): Promise<void> {
    await this.properties(path);
    await fs.writeFile(this.full(path) + TIER_SUFFIX, tier);
  }

  /**
   * A temporary file beside an object, for a writer that makes the content itself (DuckDB's COPY
   * of a large CSV file): `place` then renames it into place, where `write` would copy it. Listings
   * skip it while it is temporary.
   *
   * @param path the object path it is for
   * @returns the file's local path, and a function that makes it the object (or removes it: `discard`)
   */
  async tempFileFor(path: string): Promise<{ file: string; place: () => Promise<ObjectInfo>; discard: () => Promise<void> }> {
    const target = this.full(path);
    await fs.mkdir(nodePath.dirname(target), { recursive: true });
    const file = `${nodePath.dirname(target)}/${TEMP_MARK}${randomUUID()}`;
    return {
      file,
      place: async () => {
        try {
          await fs.rename(file, target);
        } catch (err) {
          throw this.mapError(err, path);
        }
        return this.properties(path);
      },
      discard: () => fs.rm(file, { force: true }),
    };
  }

  private async writeTemp(target: string, content: ObjectContent): Promise<string> {
    const dir = nodePath.dirname(target);
    const temp = `${dir}/${TEMP_MARK}${randomUUID()}`;
    try {
      if (typeof content === 'string' || content instanceof Uint8Array) {
        // The folder is made only when the write finds it missing: commits and small objects go to
        // folders that exist, and the call saved is one of the few a commit makes.
        const bytes = toBytes(content);
        try {
          await fs.writeFile(temp, bytes);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          await fs.mkdir(dir, { recursive: true });
          await fs.writeFile(temp, bytes);
        }
      } else {
        // A stream cannot be read twice: its folder is made first.
        await fs.mkdir(dir, { recursive: true });
        await writeFileFrom(temp, content);
      }
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
    return temp;
  }

  private mapError(err: unknown, path: string): Error {
    if (err instanceof StorageError) return err;
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return new ObjectNotFoundError(this.url, path, { cause: err });
    return new StorageError(`storage error at ${this.url}/${path}: ${(err as Error)?.message ?? err}`, {
      cause: err,
      transient: code === 'EMFILE' || code === 'EAGAIN' || code === 'EBUSY',
    });
  }
}
