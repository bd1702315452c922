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
 * different table taking the same location (deleted and created again); the commit file of a version
 * the process has seen is then another object (or gone), so the ETag of one such commit is compared on
 * every use, in parallel with reading the newer commits (the first 404 ends them: one request when
 * nothing is new), and a mismatch, or any error, falls back to a full load. Snapshots are never
 * modified by their users (commits clone the state they build on).
 */
import { advanceSnapshot, loadSnapshot, snapshotOfState, type Snapshot } from './snapshot';
import { cloneState, type TableState } from './replay';
import { commitPath, readCommitIfExists } from './log';
import { parseCommit, type Action } from './actions';
import type { ObjectStore } from '../storage/types';

interface Kept {
  snapshot: Snapshot;
  /**
   * A version of the table at or below the snapshot's and the ETag of its commit file (read in the
   * background after a full load). It stays the one checked while the snapshot is brought forward:
   * the same object at that version means the same table, whose later commits never change either.
   */
  checked: { version: number; etag: Promise<string | null> };
  /** The newest commits this process read or wrote for the snapshot, by version (a few at most). */
  commits: Map<number, () => Action[]>;
}

/** Commits kept per table for the readers that look at the newest ones again (catalog, change discovery). */
const MAX_KEPT_COMMITS = 4;

/** Tables kept; the least recently used are dropped beyond this (a snapshot holds its file list). */
const MAX_TABLES = 32;
/** Beyond this many new commits a full load (from the checkpoint) is cheaper than reading each. */
const MAX_NEW_COMMITS = 20;

const kept = new Map<string, Kept>();

function keep(store: ObjectStore, snapshot: Snapshot, checked?: Kept['checked'], commits: Kept['commits'] = new Map()): void {
  const etag = () =>
    store.properties(commitPath(snapshot.version)).then(
      (info) => info.etag,
      () => null,
    );
  kept.delete(store.url);
  for (const v of [...commits.keys()].sort((a, b) => a - b)) if (commits.size > MAX_KEPT_COMMITS) commits.delete(v);
  kept.set(store.url, { snapshot, checked: checked ?? { version: snapshot.version, etag: etag() }, commits });
  for (const key of kept.keys()) {
    if (kept.size <= MAX_TABLES) break;
    kept.delete(key);
  }
}

/**
 * The kept snapshot brought forward: one request for the checked commit's ETag and, in parallel, the
 * reads of the commits after the snapshot (the first missing one ends them). Null when the table at
 * the location is another one, or too many commits are new.
 */
async function catchUp(store: ObjectStore, entry: Kept, commits: Kept['commits']): Promise<Snapshot | null> {
  const expected = await entry.checked.etag;
  if (!expected) return null;
  const [current, fresh] = await Promise.all([
    store.properties(commitPath(entry.checked.version)).then((info) => info.etag),
    advanceSnapshot({ ...entry.snapshot, store }, MAX_NEW_COMMITS, (version, actions) => commits.set(version, () => actions)),
  ]);
  return current === expected ? fresh : null;
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
    const commits = new Map(entry.commits);
    const fresh = await catchUp(store, entry, commits).catch(() => null);
    if (fresh) {
      if (fresh.version !== entry.snapshot.version) keep(store, fresh, entry.checked, commits);
      return fresh;
    }
    kept.delete(store.url);
  }
  const snapshot = await loadSnapshot(store);
  keep(store, snapshot);
  return snapshot;
}

/**
 * Keep the state right after a commit of this process, so the next load of the table (the catalog's,
 * the refresh reading it) starts from it: only when a snapshot of the table is kept already, whose
 * checked commit then vouches for the table as before (a state of another table at the location fails
 * that check at the next use and is loaded again).
 *
 * @param store store rooted at the table
 * @param state the state at the committed version (copied)
 * @param text the commit file's content as written
 */
export function keepCommitted(store: ObjectStore, state: TableState, text: string): void {
  const entry = kept.get(store.url);
  if (!entry || state.version <= entry.snapshot.version) return;
  let snapshot: Snapshot;
  try {
    snapshot = snapshotOfState(store, cloneState(state));
  } catch {
    return;
  }
  const commits = new Map(entry.commits);
  let parsed: Action[] | undefined;
  commits.set(state.version, () => (parsed ??= parseCommit(text, `${store.url}/${commitPath(state.version)}`)));
  keep(store, snapshot, entry.checked, commits);
}

/**
 * A commit of a table as the process last read or wrote it for its kept snapshot, else as stored.
 * Commit files never change, and the kept snapshot was checked against the table when it was last
 * brought forward, which readers of the newest commits (the catalog, change discovery) have just done.
 *
 * @param store store rooted at the table
 * @param version the version
 * @returns the commit's actions, or null when it does not exist
 */
export async function readKeptCommit(store: ObjectStore, version: number): Promise<Action[] | null> {
  const known = kept.get(store.url)?.commits.get(version);
  return known ? known() : readCommitIfExists(store, version);
}
