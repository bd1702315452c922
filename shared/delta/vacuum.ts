/**
 * VACUUM: delete data files that no table version inside the retention window references.
 *
 * Kept: every live file and the deletion-vector files live files use (one DV file may serve many data
 * files); every tombstoned file, and the DV file of a tombstone, removed less than the retention ago
 * (time travel and slow readers still need it); every file named by a pending commit-lane intent; every file never
 * committed that a live write claim covers (claims.ts: an optimize, or any writer that claims, keeps
 * what it writes until its commit, whatever the retention); and every other never-committed file
 * younger than both the retention and `minOrphanAgeMs` (a writer may be between writing it and
 * committing it). Nothing under `_delta_log/` or any other folder starting with `_` or `.` is
 * touched. The log, the lane and the claims are re-read right before deleting, so a file committed
 * or claimed while vacuum ran is never deleted.
 *
 * A retention shorter than the table's own (`delta.deletedFileRetentionDuration`, else the default the
 * caller passes, else 7 days) is refused unless `force` is given, before any data file is listed
 * or deleted, as Spark's `retentionDurationCheck` and delta-rs' `enforce_retention_duration` do: readers
 * of versions the table promises to keep would lose their files.
 */
import { posix } from 'node:path';
import type { ObjectInfo, ObjectStore } from '../storage/types';
import { DEFAULT_RETENTION_MS, parseInterval } from './checkpoint';
import { deletionVectorFiles, externalDeletionVectorNames } from './deletion-vectors';
import { findClaims } from './claims';
import { DeltaError } from './errors';
import { checkMaintenanceSupport } from './protocol';
import { pendingIntentFiles } from './lane';
import { decodeAddPath } from './partitions';
import { loadSnapshot, Snapshot } from './snapshot';

/** Options for vacuum. */
export interface VacuumOptions {
  /** Retention in hours (default: the table's retention, see `defaultRetention`). */
  retentionHours?: number;
  /**
   * Retention of a table without `delta.deletedFileRetentionDuration` (default 168 hours, the Delta
   * default); `source` names where it came from, for the refusal message (e.g. the setting).
   */
  defaultRetention?: { hours: number; source: string };
  /** Accept a retention shorter than the table's (readers of older versions may fail). */
  force?: boolean;
  /** List what would be deleted, delete nothing. */
  dryRun?: boolean;
  /** Files never committed are deleted only when older than this too (default 1 hour). */
  minOrphanAgeMs?: number;
  /** Clock for the cutoffs (tests simulate the passing of time with it). */
  now?: number;
}

/** A retention shorter than the table's was asked for without `force`; nothing was deleted. */
export class RetentionTooShortError extends DeltaError {
  constructor(
    message: string,
    readonly requestedHours: number,
    readonly tableHours: number,
  ) {
    super(message);
    this.name = 'RetentionTooShortError';
  }
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
  checkMaintenanceSupport(snapshot.protocol, snapshot.metadata, store.url);
  const table = tableRetention(snapshot, options.defaultRetention);
  const retentionMs = options.retentionHours !== undefined ? options.retentionHours * 3_600_000 : table.ms;
  if (retentionMs < table.ms && !options.force) {
    const asked = options.retentionHours!;
    throw new RetentionTooShortError(
      `delta vacuum: a retention of ${asked} h is shorter than the retention of ${store.url}, ${table.ms / 3_600_000} h (${table.source}); ` +
        "readers of versions inside the table's retention would lose their files. Nothing was deleted; force it (sluice vacuum --force) to vacuum anyway",
      asked,
      table.ms / 3_600_000,
    );
  }
  const orphanAge = Math.max(retentionMs, options.minOrphanAgeMs ?? 3_600_000);
  const cutoff = now - retentionMs;

  const keep = referencedFiles(snapshot, cutoff);
  const tombstoned = tombstonedFiles(snapshot);
  for (const path of await pendingIntentFiles(store)) keep.add(decodeAddPath(path, snapshot.table));
  const claims = await findClaims(store, now);

  const candidates: ObjectInfo[] = [];
  let scanned = 0;
  for await (const info of store.list('')) {
    if (isHidden(info.path)) continue;
    scanned++;
    if (keep.has(info.path) || keep.has(NAME_KEY + posix.basename(info.path))) continue;
    // Tombstoned files expire by their deletion time; never-committed files by their own age,
    // unless a writer still at work claimed them.
    if (tombstoned.has(info.path) || (now - info.lastModified.getTime() > orphanAge && !claimed(info, claims.coversFrom))) candidates.push(info);
  }

  // Re-read the log, the lane and the claims: anything committed, handed over or claimed meanwhile stays.
  const latest = await loadSnapshot(store);
  const keepNow = referencedFiles(latest, cutoff);
  for (const path of await pendingIntentFiles(store)) keepNow.add(decodeAddPath(path, latest.table));
  const claimsNow = await findClaims(store, now);
  const latestTombstones = tombstonedFiles(latest);
  const doomed = candidates.filter(
    (c) => !keepNow.has(c.path) && !keepNow.has(NAME_KEY + posix.basename(c.path)) && (latestTombstones.has(c.path) || !claimed(c, claimsNow.coversFrom)),
  );

  if (!options.dryRun) {
    for (let i = 0; i < doomed.length; i += 32) await Promise.all(doomed.slice(i, i + 32).map((f) => store.delete(f.path)));
    // A dead writer's claim goes with its lease; its files were judged as orphans above.
    await Promise.all(claimsNow.dead.map((path) => store.delete(path)));
  }
  return {
    files: doomed.map((f) => f.path),
    bytes: doomed.reduce((n, f) => n + f.size, 0),
    dryRun: !!options.dryRun,
    retentionHours: retentionMs / 3_600_000,
    scanned,
  };
}

/** The table's own retention: its property, else the caller's default, else Delta's 7 days. */
function tableRetention(snapshot: Snapshot, fallback: VacuumOptions['defaultRetention']): { ms: number; source: string } {
  const property = snapshot.metadata.configuration['delta.deletedFileRetentionDuration'];
  const ms = parseInterval(property);
  if (ms !== undefined) return { ms, source: `delta.deletedFileRetentionDuration = "${property}"` };
  if (fallback) return { ms: fallback.hours * 3_600_000, source: `no delta.deletedFileRetentionDuration; ${fallback.source}` };
  return { ms: DEFAULT_RETENTION_MS, source: 'no delta.deletedFileRetentionDuration; the Delta default of 7 days' };
}

/** A never-committed file written since a live claim was made. */
function claimed(info: ObjectInfo, coversFrom: number | null): boolean {
  return coversFrom !== null && info.lastModified.getTime() >= coversFrom;
}

/**
 * Storage paths a version still needs: live files and tombstones newer than the cutoff, with their DV
 * files; DVs at absolute URLs outside the table's spelling are kept by file name (`NAME_KEY`).
 */
function referencedFiles(snapshot: Snapshot, cutoff: number): Set<string> {
  const keep = new Set<string>();
  const files = [...snapshot.state.files.values()];
  const recent = [...snapshot.state.tombstones.values()].filter((remove) => (remove.deletionTimestamp ?? 0) > cutoff);
  for (const file of [...files, ...recent]) keep.add(decodeAddPath(file.path, snapshot.table));
  const dvs = [...files, ...recent].map((f) => f.deletionVector);
  for (const path of deletionVectorFiles(dvs, snapshot.table)) keep.add(path);
  for (const name of externalDeletionVectorNames(dvs, snapshot.table)) keep.add(NAME_KEY + name);
  return keep;
}

/** Prefix of the entries of a keep set that keep a file by name wherever it is (no store path starts with it). */
const NAME_KEY = '\u0000name:';

/** Storage paths the tombstones name (data files and DV files): they expire by deletion time, not by age. */
function tombstonedFiles(snapshot: Snapshot): Set<string> {
  const removes = [...snapshot.state.tombstones.values()];
  const paths = new Set(removes.map((r) => decodeAddPath(r.path, snapshot.table)));
  for (const path of deletionVectorFiles(
    removes.map((r) => r.deletionVector),
    snapshot.table,
  ))
    paths.add(path);
  return paths;
}

/** Paths under folders (or files) whose name starts with `_` or `.` are not data files. */
function isHidden(path: string): boolean {
  return path.split('/').some((segment) => (segment.startsWith('_') && !segment.includes('=')) || segment.startsWith('.'));
}
