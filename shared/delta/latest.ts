/**
 * Latest snapshots of the tables a process writes and refreshes, kept between uses so that loading a
 * table again reads only the commits added since, instead of the checkpoint hint, a log listing, the
 * checkpoint and every commit after it. Every ingested file loads its bronze table (and the commit
 * lane loads it again), a refresh loads its target and its sources, and the gold tables load the
 * silver ones the level before just loaded; on Azurite or Blob Storage each of those round trips is
 * several milliseconds, on a busy emulator far more (Azurite scans every blob of the account for a
 * listing).
 *
 * Why a kept snapshot can be trusted: a Delta commit file, once written, never changes (commits are
 * created only if absent), so the state at a version is fixed. The one thing that can happen is a
 * different table taking the same location (deleted and created again); the commit file of the kept
 * version is then another object, so its ETag is compared on every use (in parallel with reading the
 * newer commits) and a mismatch, or any error, falls back to a full load. Snapshots are never
 * modified by their users (commits clone the state they build on).
 */
import { loadSnapshot, refreshSnapshot, type Snapshot } from './snapshot';
import { commitPath } from './log';
import { ObjectNotFoundError, type ObjectStore } from '../storage/types';

interface Kept {
  snapshot: Snapshot;
  /** ETag of the commit file of `snapshot.version` (read in the background after a load). */
  etag: Promise<string | null>;
}

/** Tables kept; the least recently used are dropped beyond this (a snapshot holds its file list). */
const MAX_TABLES = 32;
/** Beyond this many new commits a full load (from the checkpoint) is cheaper than reading each. */
const MAX_NEW_COMMITS = 20;

const kept = new Map<string, Kept>();

function keep(store: ObjectStore, snapshot: Snapshot): void {
  const etag = store.properties(commitPath(snapshot.version)).then(
    (info) => info.etag,
    () => null,
  );
  kept.delete(store.url);
  kept.set(store.url, { snapshot, etag });
  for (const key of kept.keys()) {
    if (kept.size <= MAX_TABLES) break;
    kept.delete(key);
  }
}

async function catchUp(store: ObjectStore, entry: Kept): Promise<Snapshot | null> {
  const expected = await entry.etag;
  if (!expected) return null;
  const { version } = entry.snapshot;
  const [current, far] = await Promise.all([
    store.properties(commitPath(version)).then((info) => info.etag),
    store.properties(commitPath(version + MAX_NEW_COMMITS)).then(
      () => true,
      (err) => {
        if (err instanceof ObjectNotFoundError) return false;
        throw err;
      },
    ),
  ]);
  if (current !== expected || far) return null;
  return refreshSnapshot({ ...entry.snapshot, store });
}

/**
 * The latest snapshot of a table, from the kept one and the commits since when possible.
 *
 * @param store store rooted at the table
 * @returns the latest snapshot
 * @throws what `loadSnapshot` throws (`NotATableError` when there is no table)
 */
export async function latestSnapshot(store: ObjectStore): Promise<Snapshot> {
  const entry = kept.get(store.url);
  if (entry) {
    const fresh = await catchUp(store, entry).catch(() => null);
    if (fresh) {
      if (fresh.version !== entry.snapshot.version) keep(store, fresh);
      return fresh;
    }
    kept.delete(store.url);
  }
  const snapshot = await loadSnapshot(store);
  keep(store, snapshot);
  return snapshot;
}
