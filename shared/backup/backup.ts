/**
 * `backupTable`: a consistent, incremental backup of a Delta table at its current version, as a Delta
 * table of its own (Databricks' DEEP CLONE pattern) plus one manifest per backed-up version.
 *
 * Incremental: the newest manifest says which files the backup holds and up to which version it has
 * the log, so a second backup copies only the data files the new version references that the backup
 * does not hold yet, and the commits since. Requests grow with what is new, not with the table.
 */
import { loadSnapshot } from '../delta/snapshot';
import type { CopyMethod } from '../storage/copy';
import type { ObjectStore } from '../storage/types';
import { copyTableVersion, type CopyVersionOptions, type HeldFile } from './copy-version';
import { BackupError } from './errors';
import { type BackupManifest, manifestVersions, readManifest, writeManifest } from './manifest';

/** Options of `backupTable`. */
export interface BackupOptions {
  /** Copies at once (default 16). */
  concurrency?: number;
  /** Versions tried when files vanish mid-copy (default 4). */
  attempts?: number;
  /** Called after each file copied. */
  onCopied?: CopyVersionOptions['onCopied'];
  /** Clock (tests). */
  now?: () => Date;
}

/** The stable JSON of `sluice backup --json`. */
export interface BackupResult {
  source: string;
  backup: string;
  /** The version backed up. */
  version: number;
  /** The version the backup held before (null for a first backup). */
  previousVersion: number | null;
  /** True when the table had not changed since the last backup (nothing copied, no new manifest). */
  unchanged: boolean;
  /** Files copied (data, deletion vectors, commits) and their bytes; the checkpoint is written, not copied. */
  copied: number;
  bytesCopied: number;
  /** Files of the version the backup held already. */
  reused: number;
  /** Files the version needs in all (data, DV, commits, checkpoint). */
  files: number;
  methods: Partial<Record<CopyMethod, number>>;
  /** Versions given up because a file vanished while copying. */
  movedFrom: { version: number; reason: string }[];
}

/**
 * Back up a table at its current version.
 *
 * @param source store rooted at the table
 * @param backup store rooted at the backup (a Delta table itself; created on first use)
 * @param options concurrency, retries, progress
 * @returns what was backed up
 * @throws BackupError when the backup holds another table, or a version cannot be copied whole
 */
export async function backupTable(source: ObjectStore, backup: ObjectStore, options: BackupOptions = {}): Promise<BackupResult> {
  const now = options.now ?? (() => new Date());
  const versions = await manifestVersions(backup);
  const previous = versions.length ? await readManifest(backup, versions[versions.length - 1]) : null;
  const current = await loadSnapshot(source);
  if (previous) {
    if (previous.tableId !== current.metadata.id) {
      throw new BackupError(
        `backup of ${source.url} to ${backup.url} refused: the backup holds table ${previous.tableId} (from ${previous.source}), ` +
          `but ${source.url} is table ${current.metadata.id}; back it up to another location`,
      );
    }
    if (current.version < previous.version) {
      throw new BackupError(
        `backup of ${source.url} to ${backup.url} refused: the table is at version ${current.version}, older than the backed-up version ${previous.version}; ` +
          'was it replaced? back it up to another location',
      );
    }
    if (current.version === previous.version) {
      return {
        source: source.url,
        backup: backup.url,
        version: previous.version,
        previousVersion: previous.version,
        unchanged: true,
        copied: 0,
        bytesCopied: 0,
        reused: previous.files.length,
        files: previous.files.length,
        methods: {},
        movedFrom: [],
      };
    }
  }
  const held = new Map<string, HeldFile>();
  for (const f of previous?.files ?? []) {
    // Checkpoints are per version; commits are below `logUpTo` anyway.
    if (f.kind === 'data' || f.kind === 'deletionVector') held.set(f.path, f);
  }
  const result = await copyTableVersion(source, backup, {
    snapshot: current,
    followLatest: true,
    held,
    ...(previous ? { logUpTo: previous.version } : {}),
    checksums: true,
    concurrency: options.concurrency,
    attempts: options.attempts,
    onCopied: options.onCopied,
  });
  // The manifest lists every commit up to the version, those of earlier backups included.
  const files = [...result.files];
  if (previous) {
    const listed = new Set(files.map((f) => f.path));
    for (const f of previous.files) if (f.kind === 'commit' && !listed.has(f.path)) files.push(f);
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifest: BackupManifest = {
    format: 'sluice-backup-manifest',
    formatVersion: 1,
    source: source.url,
    tableId: result.snapshot.metadata.id,
    version: result.version,
    createdAt: now().toISOString(),
    movedFrom: result.movedFrom,
    copied: result.copied,
    bytesCopied: result.bytesCopied,
    reused: result.reused,
    files,
  };
  await writeManifest(backup, manifest);
  return {
    source: source.url,
    backup: backup.url,
    version: result.version,
    previousVersion: previous?.version ?? null,
    unchanged: false,
    copied: result.copied,
    bytesCopied: result.bytesCopied,
    reused: result.reused,
    files: files.length,
    methods: result.methods,
    movedFrom: result.movedFrom,
  };
}
