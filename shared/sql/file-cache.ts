/**
 * A process-wide cache of the data files staging has copied, so a file is fetched from storage once
 * per process rather than once per refresh: gold tables re-read every file of their silver inputs on
 * each update, and without the cache the fetches grow with the number of files, not with what
 * changed.
 *
 * Why it is safe:
 * - Delta data files are immutable: writers name every file with a fresh UUID and never rewrite one,
 *   so a path (with the size the log records) always has the same bytes. Entries are keyed by store
 *   URL, path and size; a file whose size is not known up front is not cached.
 * - The sandbox is unchanged: a cached copy reaches a run folder as a hard link (a second name of the
 *   same read-only bytes inside that folder), so DuckDB still only touches its own run folder. Where a
 *   hard link cannot be made (another file system) the copy is copied.
 * - Disk use is bounded: least recently used entries are dropped once the cache holds more than its
 *   limit (`SLUICE_SQL_CACHE_SIZE`, default 256MB; `0` turns it off). A file larger than a quarter of
 *   the limit is not cached. Removing an entry does not disturb a run using it: its link keeps the
 *   bytes until that run's folder is deleted.
 *
 * The cache folder lives next to the run folders and is removed when the process exits.
 */
import { rmSync } from 'node:fs';
import { copyFile, link, mkdir, mkdtemp, rm } from 'node:fs/promises';
import * as nodePath from 'node:path';

interface Entry {
  path: string;
  bytes: number;
}

/** Cached data files of one temp root. */
export class StagedFileCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry | null>>();
  private dir: Promise<string> | undefined;
  private held = 0;
  private counter = 0;

  constructor(
    private readonly root: string,
    /** Most bytes kept. */
    readonly limitBytes: number,
  ) {}

  /**
   * Put a data file at `target` (inside a run folder), from the cache when it holds it, else by
   * `fetch`, which writes the file at the path it is given; the result is then kept for later runs.
   *
   * @param key identity of the bytes (store URL, path, size)
   * @param bytes the file's size
   * @param target where the run wants the file
   * @param fetch writes the file's bytes to a path
   */
  async place(key: string, bytes: number, target: string, fetch: (path: string) => Promise<void>): Promise<void> {
    if (this.limitBytes <= 0 || bytes > this.limitBytes / 4) return fetch(target);
    let entry = this.entries.get(key);
    if (entry) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, entry);
    } else {
      let pending = this.loading.get(key);
      if (!pending) {
        pending = this.load(key, bytes, fetch).finally(() => this.loading.delete(key));
        this.loading.set(key, pending);
      }
      entry = (await pending) ?? undefined;
    }
    if (!entry) return fetch(target);
    try {
      await link(entry.path, target);
    } catch {
      // Evicted meanwhile, or another file system: copy (or fetch) instead.
      try {
        await copyFile(entry.path, target);
      } catch {
        await fetch(target);
      }
    }
  }

  private async load(key: string, bytes: number, fetch: (path: string) => Promise<void>): Promise<Entry | null> {
    const dir = await this.folder();
    const path = nodePath.join(dir, `${++this.counter}.parquet`);
    try {
      await fetch(path);
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
    const entry = { path, bytes };
    this.entries.set(key, entry);
    this.held += bytes;
    await this.evict();
    return this.entries.has(key) ? entry : null;
  }

  private async evict(): Promise<void> {
    for (const [key, entry] of this.entries) {
      if (this.held <= this.limitBytes) break;
      this.entries.delete(key);
      this.held -= entry.bytes;
      await rm(entry.path, { force: true });
    }
  }

  private folder(): Promise<string> {
    this.dir ??= (async () => {
      await mkdir(this.root, { recursive: true });
      const dir = await mkdtemp(nodePath.join(this.root, 'sluice-sql-cache-'));
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      return dir;
    })();
    return this.dir;
  }
}

const caches = new Map<string, StagedFileCache>();

/**
 * The cache of a temp root (one per root, so hard links stay on one file system).
 *
 * @param root the folder run folders are created in
 * @param limitBytes most bytes kept (the first call for a root decides)
 * @returns the cache
 */
export function stagedFileCache(root: string, limitBytes: number): StagedFileCache {
  let cache = caches.get(root);
  if (!cache) {
    cache = new StagedFileCache(root, limitBytes);
    caches.set(root, cache);
  }
  return cache;
}
