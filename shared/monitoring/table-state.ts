/**
 * What a Delta table looks like now, as metric values: its version, live files and small files,
 * rows, bytes (and bytes per access tier where the store's listing tells the tier: Azure; a local
 * disk has none), and freshness: the seconds since the last commit that wrote rows (appends, upserts,
 * recomputes; not optimize, which only rearranges them, nor metadata changes).
 */
import { describeSnapshot, loadSnapshot, NotATableError } from '../delta';
import { listLog, readCommit } from '../delta/log';
import { commitTimestamps } from '../delta/snapshot';
import { smallFileBytes } from '../delta/optimize';
import { parseStats } from '../delta/stats';
import { decodeAddPath } from '../delta/partitions';
import type { ObjectStore } from '../storage/types';

/** A table's state as metric values (absent: not known). */
export interface TableState {
  version: number;
  files: number;
  smallFiles: number;
  rows: number | null;
  bytes: number;
  /** Bytes per access tier, when the listing gives tiers. */
  bytesByTier: Record<string, number>;
  /** When the last commit that wrote rows was made (null: none in the retained log). */
  lastDataCommit: Date | null;
  /** Delta txn versions by application id (Event Hubs partitions' last applied sequence numbers). */
  txns: Record<string, number>;
}

/** Commits read, newest first, looking for the last one that wrote rows. */
const MAX_COMMITS_SCANNED = 500;

/**
 * Read a table's state.
 *
 * @param store store rooted at the table
 * @param optimizeTargetBytes optimize's target file size (small files are below 75 % of it)
 * @returns the state, or null when there is no table there yet
 */
export async function readTableState(store: ObjectStore, optimizeTargetBytes: number): Promise<TableState | null> {
  let snapshot;
  try {
    snapshot = await loadSnapshot(store);
  } catch (err) {
    if (err instanceof NotATableError) return null;
    throw err;
  }
  const description = await describeSnapshot(snapshot);
  const small = smallFileBytes(optimizeTargetBytes);
  const tiers = await tiersOf(store, new Set(description.files.map((f) => decodeAddPath(f.path, snapshot.table))));
  const bytesByTier: Record<string, number> = {};
  for (const f of description.files) {
    const tier = tiers.get(decodeAddPath(f.path, snapshot.table));
    if (tier) bytesByTier[tier] = (bytesByTier[tier] ?? 0) + f.size;
  }
  return {
    version: description.version,
    files: description.numFiles,
    smallFiles: description.files.filter((f) => f.size < small).length,
    rows: description.numRecords,
    bytes: description.sizeBytes,
    bytesByTier,
    lastDataCommit: await lastDataCommit(store),
    txns: Object.fromEntries(description.txns.map((t) => [t.appId, t.version])),
  };
}

/** Access tier of the live files, from one listing of the table (empty where the store has no tiers). */
async function tiersOf(store: ObjectStore, live: Set<string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const info of store.list('')) {
    if (info.accessTier && live.has(info.path)) out.set(info.path, info.accessTier);
  }
  return out;
}

/** Time of the newest commit adding rows with `dataChange`; null when none of the retained commits did. */
async function lastDataCommit(store: ObjectStore): Promise<Date | null> {
  const listing = await listLog(store);
  const stamps = commitTimestamps(listing);
  const versions = [...listing.commits.keys()].sort((a, b) => b - a).slice(0, MAX_COMMITS_SCANNED);
  for (let i = 0; i < versions.length; i += 8) {
    const chunk = versions.slice(i, i + 8);
    const commits = await Promise.all(chunk.map((v) => readCommit(store, v)));
    for (let j = 0; j < chunk.length; j++) {
      let wrote = false;
      let inCommit: number | undefined;
      for (const action of commits[j]) {
        if ('add' in action && action.add.dataChange !== false && (parseStats(action.add.stats)?.numRecords ?? 1) > 0) wrote = true;
        if ('commitInfo' in action && typeof action.commitInfo.inCommitTimestamp === 'number') inCommit = action.commitInfo.inCommitTimestamp;
      }
      if (wrote) return new Date(inCommit ?? stamps.get(chunk[j])!);
    }
  }
  return null;
}
