/**
 * Log cleanup (the protocol's "Metadata Cleanup"): delete `_delta_log/` entries no reader needs any
 * more, so the log of a long-lived table does not grow without end.
 *
 * The rule, as Spark and delta-rs apply it:
 *
 * 1. The cutoff is `now − delta.logRetentionDuration` (default 30 days). Versions committed after it
 *    are inside the retention: time travel to any of them must keep working.
 * 2. Find the newest commit at or before the cutoff (commit times are the commit files' times, made
 *    monotonic as time travel dates them), then the newest complete checkpoint at or before that
 *    version: the *kept checkpoint*. A reader reaches every version from it on with the checkpoint
 *    and the commits after it, so every version inside the retention stays reachable.
 * 3. Delete the commits, checkpoints, `.crc` files and compacted files that end before the kept
 *    checkpoint's version. The kept checkpoint, its commit and everything newer stay.
 *
 * No checkpoint at or before the cutoff means nothing is deleted (a reader needs some checkpoint or
 * version 0 to start from). `delta.enableExpiredLogCleanup = false` turns the cleanup off. The commits
 * from the kept checkpoint to the latest version must be contiguous and the kept checkpoint must be
 * readable, or nothing is deleted: we never make a damaged log worse. Deletion runs oldest first, so
 * a crash part-way leaves a log whose remaining part is still a contiguous run up to the latest version.
 *
 * Concurrent writers only ever add versions above the latest one, and log files are never rewritten,
 * so nothing a writer creates while this runs can fall below the kept checkpoint: no re-read is needed.
 * `_last_checkpoint` always names a checkpoint at or after the kept one and is never touched;
 * `_sidecars/` and the other sub-folders are left alone.
 */
import type { ObjectInfo, ObjectStore } from '../storage/types';
import { DeltaError } from './errors';
import { parseInterval, readCheckpoint } from './checkpoint';
import { listLog, LOG_DIR, requireContiguous } from './log';
import { checkMaintenanceSupport } from './protocol';
import { commitTimestamps, loadSnapshot } from './snapshot';

/** Default `delta.logRetentionDuration`: 30 days. */
export const DEFAULT_LOG_RETENTION_MS = 30 * 86_400_000;

/** Options of log cleanup. */
export interface LogCleanupOptions {
  /** Clock for the cutoff (tests simulate the passing of time with it). */
  now?: number;
  /** List what would be deleted, delete nothing. */
  dryRun?: boolean;
}

/** What log cleanup found or did. */
export interface LogCleanupResult {
  /** Paths (relative to the table) deleted, or to be deleted on a dry run, oldest first. */
  files: string[];
  dryRun: boolean;
  /** The retention applied, in ms, and where it came from. */
  retentionMs: number;
  retentionSource: string;
  /** The version of the kept checkpoint (the oldest version still reachable), or null when nothing qualifies. */
  keepFromVersion: number | null;
  /** Why nothing was deleted, when nothing was. */
  reason?: string;
}

/** The version a log file belongs to (for compacted files, the last version they cover); null for other names. */
function logFileVersion(name: string): number | null {
  const compacted = /^(\d{20})\.(\d{20})\.compacted\.json$/.exec(name);
  if (compacted) return Number(compacted[2]);
  // Commits, checkpoints (classic, multi-part, UUID-named) and their Hadoop `.crc` companions (`.<name>.crc`, `<v>.crc`).
  const m = /^\.?(\d{20})\.(?:json|crc|checkpoint\.[^/]+|json\.crc)$/.exec(name);
  return m ? Number(m[1]) : null;
}

/**
 * Delete the `_delta_log/` entries older than the retention and than the newest checkpoint before it.
 *
 * @param store store rooted at the table
 * @param options clock, dry run
 * @returns what was (or would be) deleted and which version stays the oldest reachable
 */
export async function cleanupExpiredLog(store: ObjectStore, options: LogCleanupOptions = {}): Promise<LogCleanupResult> {
  const now = options.now ?? Date.now();
  const dryRun = !!options.dryRun;
  const snapshot = await loadSnapshot(store);
  checkMaintenanceSupport(snapshot.protocol, snapshot.metadata, store.url);
  const config = snapshot.metadata.configuration;
  const property = config['delta.logRetentionDuration'];
  const parsed = parseInterval(property);
  const retentionMs = parsed ?? DEFAULT_LOG_RETENTION_MS;
  const retentionSource = parsed !== undefined ? `delta.logRetentionDuration = "${property}"` : 'the Delta default of 30 days';
  const nothing = (reason: string, keepFromVersion: number | null = null): LogCleanupResult => ({
    files: [],
    dryRun,
    retentionMs,
    retentionSource,
    keepFromVersion,
    reason,
  });
  if ((config['delta.enableExpiredLogCleanup'] ?? '').toLowerCase() === 'false') return nothing('delta.enableExpiredLogCleanup is false');

  const listing = await listLog(store);
  const cutoff = now - retentionMs;
  const times = commitTimestamps(listing);
  let lastExpired = -1;
  for (const [version, time] of times) if (time <= cutoff) lastExpired = Math.max(lastExpired, version);
  if (lastExpired < 0) return nothing(`no commit is older than the log retention (${retentionSource})`);
  const kept = Math.max(-1, ...[...listing.checkpoints.keys()].filter((v) => v <= lastExpired));
  if (kept < 0) return nothing(`no checkpoint at or before version ${lastExpired}, the newest commit older than the log retention`);
  if (kept === Math.min(...listing.commits.keys(), ...listing.checkpoints.keys()))
    return nothing(`nothing older than checkpoint ${kept}, the oldest version readers still need`, kept);

  const latest = Math.max(...listing.commits.keys());
  try {
    requireContiguous(listing, kept + 1, latest, store.url);
    await readCheckpoint(store, listing.checkpoints.get(kept)!.paths);
  } catch (err) {
    throw new DeltaError(`delta log cleanup: left ${store.url} untouched: ${(err as Error).message}`, { cause: err });
  }

  const doomed: ObjectInfo[] = [];
  for await (const info of store.list(LOG_DIR)) {
    const name = info.path.slice(LOG_DIR.length);
    if (name.includes('/')) continue;
    const version = logFileVersion(name);
    if (version !== null && version < kept) doomed.push(info);
  }
  const order = (info: ObjectInfo) => logFileVersion(info.path.slice(LOG_DIR.length))!;
  doomed.sort((a, b) => order(a) - order(b) || a.path.localeCompare(b.path));
  if (!dryRun) for (const info of doomed) await store.delete(info.path);
  return {
    files: doomed.map((d) => d.path),
    dryRun,
    retentionMs,
    retentionSource,
    keepFromVersion: kept,
    ...(doomed.length ? {} : { reason: `nothing older than checkpoint ${kept}` }),
  };
}
