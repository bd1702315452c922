/**
 * What every file of a table is to the table, read from its log and checkpoints (one snapshot load)
 * and one listing of the table's folder, which carries each blob's size, tier and rehydration state
 * (no per-blob property calls):
 *
 * - **live**: the current version reads it (data files, and the deletion-vector files they use);
 * - **timeTravel**: only older versions read it; vacuum may delete it from `deletionTimestamp` +
 *   the table's retention on (`delta.deletedFileRetentionDuration`, else the default the caller
 *   passes, as vacuum does), its **known deletion date**;
 * - **expired**: removed longer ago than the retention: a vacuum candidate;
 * - **orphan**: in storage, in no version the log still describes (a write that never committed, or
 *   an expired file whose tombstone a checkpoint has already dropped);
 * - **log**: `_delta_log/` and every other folder starting with `_` or `.` (Sluice's and Delta's own
 *   records): never tiered.
 *
 * A live file the listing does not hold is reported as missing; the table is broken there, and
 * tiering says so rather than guess.
 */
import { posix } from 'node:path';
import type { AddFile, DeletionVector } from '../delta/actions';
import { DEFAULT_RETENTION_MS, parseInterval } from '../delta/checkpoint';
import { deletionVectorFiles } from '../delta/deletion-vectors';
import { decodeAddPath } from '../delta/partitions';
import { loadSnapshot, type Snapshot } from '../delta/snapshot';
import type { AccessTier, ObjectInfo, ObjectStore } from '../storage/types';

/** What a file is to its table. */
export type FileClass = 'live' | 'timeTravel' | 'expired' | 'orphan' | 'log';

/** One listed file with its class. */
export interface ClassifiedFile {
  path: string;
  size: number;
  etag: string;
  lastModified: Date;
  /** Tier as listed (Hot when the store has none). */
  tier: AccessTier;
  archiveStatus?: string;
  accessTierChangedOn?: Date;
  class: FileClass;
  /** Live data files: their partition (`col=value/…`, '' for an unpartitioned table or a DV file). */
  partition?: string;
  /** Time-travel and expired files: when vacuum may delete them (ms). */
  deletableFrom?: number;
  /** A deletion-vector file: one may serve data files of many partitions, so it is never archived. */
  deletionVector?: true;
}

/** A table's files, classified. */
export interface TableFiles {
  /** The table's URL. */
  table: string;
  version: number;
  /** The retention vacuum applies, and where it comes from. */
  retentionMs: number;
  retentionSource: string;
  partitionColumns: string[];
  files: ClassifiedFile[];
  /** Live files the log names but the listing does not hold. */
  missing: string[];
  /** Live files stored outside the table (absolute paths of shallow clones): never ours to tier. */
  external: number;
}

/** Options of `classifyTable`. */
export interface ClassifyOptions {
  /** The instant the classes hold at (default now); `sluice tier plan --as-of` moves it. */
  asOf?: Date;
  /** Retention of a table without `delta.deletedFileRetentionDuration`, in hours, and where it comes from. */
  defaultRetention?: { hours: number; source: string };
}

/**
 * Classify every file of a table.
 *
 * @param store store rooted at the table
 * @param options instant and default retention
 * @returns the files and what each is
 * @throws the snapshot load's error when the log cannot be read
 */
export async function classifyTable(store: ObjectStore, options: ClassifyOptions = {}): Promise<TableFiles> {
  const snapshot = await loadSnapshot(store);
  const listing: ObjectInfo[] = [];
  for await (const info of store.list('')) listing.push(info);
  return classifyListing(snapshot, listing, options);
}

/**
 * Classify a listing against a loaded snapshot (the part of `classifyTable` that does no I/O).
 *
 * @param snapshot the table's latest version
 * @param listing every object under the table's folder
 * @param options instant and default retention
 * @returns the files and what each is
 */
export function classifyListing(snapshot: Snapshot, listing: Iterable<ObjectInfo>, options: ClassifyOptions = {}): TableFiles {
  const asOf = (options.asOf ?? new Date()).getTime();
  const { ms: retentionMs, source: retentionSource } = tableRetention(snapshot, options.defaultRetention);
  const table = snapshot.table;
  const columns = snapshot.partitionColumns;

  const live = new Map<string, string>();
  const liveDvs: (DeletionVector | null | undefined)[] = [];
  let external = 0;
  for (const add of snapshot.state.files.values()) {
    const path = decodeAddPath(add.path, table);
    if (isAbsolute(path)) external++;
    else live.set(path, partitionOf(add, columns));
    liveDvs.push(add.deletionVector);
  }
  const dvFiles = deletionVectorFiles(liveDvs, table);
  for (const path of dvFiles) if (!live.has(path)) live.set(path, '');

  // A path removed in several versions (or a DV shared by several tombstones) goes at the latest date.
  const removedAt = new Map<string, number>();
  const later = (path: string, at: number) => removedAt.set(path, Math.max(removedAt.get(path) ?? -Infinity, at));
  for (const remove of snapshot.state.tombstones.values()) {
    const at = remove.deletionTimestamp ?? 0;
    later(decodeAddPath(remove.path, table), at);
    for (const dv of deletionVectorFiles([remove.deletionVector], table)) {
      later(dv, at);
      dvFiles.add(dv);
    }
  }

  const files: ClassifiedFile[] = [];
  const seen = new Set<string>();
  for (const info of listing) {
    const file: ClassifiedFile = { ...listedFile(info), ...(dvFiles.has(info.path) ? { deletionVector: true as const } : {}) };
    if (isHidden(info.path)) file.class = 'log';
    else if (live.has(info.path)) {
      file.class = 'live';
      file.partition = live.get(info.path);
      seen.add(info.path);
    } else if (removedAt.has(info.path)) {
      file.deletableFrom = removedAt.get(info.path)! + retentionMs;
      file.class = file.deletableFrom > asOf ? 'timeTravel' : 'expired';
    }
    files.push(file);
  }
  const missing = [...live.keys()].filter((p) => !seen.has(p));
  return { table, version: snapshot.version, retentionMs, retentionSource, partitionColumns: columns, files, missing, external };
}

/** The table's retention as vacuum reads it: its property, else the caller's default, else Delta's 7 days. */
function tableRetention(snapshot: Snapshot, fallback: ClassifyOptions['defaultRetention']): { ms: number; source: string } {
  const property = snapshot.metadata.configuration?.['delta.deletedFileRetentionDuration'];
  const ms = parseInterval(property);
  if (ms !== undefined) return { ms, source: `delta.deletedFileRetentionDuration = "${property}"` };
  if (fallback) return { ms: fallback.hours * 3_600_000, source: fallback.source };
  return { ms: DEFAULT_RETENTION_MS, source: 'the Delta default of 7 days' };
}

function partitionOf(add: AddFile, columns: string[]): string {
  return columns.map((c) => `${c}=${add.partitionValues?.[c] ?? '__HIVE_DEFAULT_PARTITION__'}`).join('/');
}

function isAbsolute(path: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(path);
}

/**
 * Whether a path is outside the data files: under a folder (or a file) whose name starts with `_`
 * or `.`, as vacuum judges it (`_delta_log/`, `_sluice/`, claims). Such files are never tiered.
 *
 * @param path a path relative to the table
 * @returns true for the log and Sluice's own records
 */
export function isHidden(path: string): boolean {
  return path.split('/').some((segment) => (segment.startsWith('_') && !segment.includes('=')) || segment.startsWith('.')) || posix.basename(path) === '';
}

/**
 * A listed blob as the plan sees it before its class is known (`orphan` until the log says otherwise):
 * a store without tiers counts as Hot.
 *
 * @param info the listing's entry
 * @returns the file, class `orphan`
 */
export function listedFile(info: ObjectInfo): ClassifiedFile {
  return {
    path: info.path,
    size: info.size,
    etag: info.etag,
    lastModified: info.lastModified,
    tier: info.accessTier ?? 'Hot',
    class: 'orphan',
    ...(info.archiveStatus ? { archiveStatus: info.archiveStatus } : {}),
    ...(info.accessTierChangedOn ? { accessTierChangedOn: info.accessTierChangedOn } : {}),
  };
}
