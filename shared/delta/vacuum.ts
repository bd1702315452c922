/**
 * VACUUM: delete data files that no table version inside the retention window references.
 *
 * Kept: every live file; every tombstoned file removed less than the retention ago (time travel and
 * slow readers still need it); every file named by a pending commit-lane intent; and every file that
 * was never committed but is younger than both the retention and `minOrphanAgeMs` (a writer may be
 * between writing it and committing it). Nothing under `_delta_log/` or any other folder starting
 * with `_` or `.` is touched. The log is re-read right before deleting, so a file committed while
 * vacuum ran is never deleted.
 */
import type { ObjectInfo, ObjectStore } from '../storage/types';
import { DEFAULT_RETENTION_MS, parseInterval } from './checkpoint';
import { checkWriteSupport } from './protocol';
import { pendingIntentFiles } from './lane';
import { decodeAddPath } from './partitions';
import { loadSnapshot, Snapshot } from './snapshot';

/** Options for vacuum. */
export interface VacuumOptions {
  /** Retention in hours (default: the table's `delta.deletedFileRetentionDuration`, else 168). */
  retentionHours?: number;
  /** List what would be deleted, delete nothing. */
  dryRun?: boolean;
  /** Files never committed are deleted only when older than this too (default 1 hour). */
  minOrphanAgeMs?: number;
  /** Clock for the cutoffs (tests simulate the passing of time with it). */
  now?: number;
}

/** What vacuum found or did. */
export interface VacuumResult {
  /** Storage paths (relative to the table) deleted, or to be deleted on a dry run. */
  files: string[];
  bytes: number;
  dryRun: boolean;
  retentionHours: number;
  /** Files looked at (data files outside `_`/`.` folders). */
  scanned: number;
}

/**
 * Delete unreferenced data files of a table.
 *
 * @param store store rooted at the table
 * @param options retention, dry run, clock
 * @returns the files deleted (or that would be)
 */
export async function vacuumTable(store: ObjectStore, options: VacuumOptions = {}): Promise<VacuumResult> {
  const now = options.now ?? Date.now();
  const snapshot = await loadSnapshot(store);
  checkWriteSupport(snapshot.protocol, snapshot.metadata, snapshot.schema, store.url);
  const tableRetention = parseInterval(snapshot.metadata.configuration['delta.deletedFileRetentionDuration']) ?? DEFAULT_RETENTION_MS;
  const retentionMs = options.retentionHours !== undefined ? options.retentionHours * 3_600_000 : tableRetention;
  const orphanAge = Math.max(retentionMs, options.minOrphanAgeMs ?? 3_600_000);
  const cutoff = now - retentionMs;

  const keep = referencedFiles(snapshot, cutoff);
  const tombstoned = new Set([...snapshot.state.tombstones.values()].map((r) => decodeAddPath(r.path, snapshot.table)));
  for (const path of await pendingIntentFiles(store)) keep.add(decodeAddPath(path, snapshot.table));

  const candidates: ObjectInfo[] = [];
  let scanned = 0;
  for await (const info of store.list('')) {
    if (isHidden(info.path)) continue;
    scanned++;
    if (keep.has(info.path)) continue;
    // Tombstoned files expire by their deletion time; never-committed files by their own age.
    const age = now - info.lastModified.getTime();
    if (tombstoned.has(info.path) ? true : age > orphanAge) candidates.push(info);
  }

  // Re-read the log and the lane: anything committed or handed over meanwhile stays.
  const latest = await loadSnapshot(store);
  const keepNow = referencedFiles(latest, cutoff);
  for (const path of await pendingIntentFiles(store)) keepNow.add(decodeAddPath(path, latest.table));
  const doomed = candidates.filter((c) => !keepNow.has(c.path));

  if (!options.dryRun) {
    for (let i = 0; i < doomed.length; i += 32) await Promise.all(doomed.slice(i, i + 32).map((f) => store.delete(f.path)));
  }
  return {
    files: doomed.map((f) => f.path),
    bytes: doomed.reduce((n, f) => n + f.size, 0),
    dryRun: !!options.dryRun,
    retentionHours: retentionMs / 3_600_000,
    scanned,
  };
}

/** Storage paths a version still needs: live files and tombstones newer than the cutoff. */
function referencedFiles(snapshot: Snapshot, cutoff: number): Set<string> {
  const keep = new Set<string>();
  for (const add of snapshot.state.files.values()) keep.add(decodeAddPath(add.path, snapshot.table));
  for (const remove of snapshot.state.tombstones.values()) {
    if ((remove.deletionTimestamp ?? 0) > cutoff) keep.add(decodeAddPath(remove.path, snapshot.table));
  }
  return keep;
}

/** Paths under folders (or files) whose name starts with `_` or `.` are not data files. */
function isHidden(path: string): boolean {
  return path.split('/').some((segment) => (segment.startsWith('_') && !segment.includes('=')) || segment.startsWith('.'));
}
