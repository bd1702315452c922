/**
 * The machinery behind backup, restore and clone: copy one version of a Delta table to another
 * location so that the copy is itself a valid Delta table at that version — the data and
 * deletion-vector files the version references, the commits up to it, and a checkpoint of it.
 *
 * Order makes it safe to stop at any point: data files first, then the commits, then the checkpoint.
 * A commit is never in the copy before the files of the version being copied are, so the copy's
 * newest version always reads.
 *
 * Consistency while the source changes: the version is fixed when the copy starts (a snapshot), and
 * every copied data file's size is checked against the size the log gives. A file that vanished
 * (vacuum) or does not match is not trusted: with `followLatest` the copy moves to the table's newest
 * version, which no longer references it, and copies what that version needs in addition; otherwise,
 * or when the newest version still references a file that is gone, it fails naming the file.
 */
import { AddFile } from '../delta/actions';
import { DEFAULT_RETENTION_MS, parseInterval, writeCheckpoint } from '../delta/checkpoint';
import { deletionVectorFiles } from '../delta/deletion-vectors';
import { checkpointPath, listLog } from '../delta/log';
import { decodeAddPath } from '../delta/partitions';
import { loadSnapshot, type Snapshot } from '../delta/snapshot';
import { contentSha256, copyObject, type CopyMethod } from '../storage/copy';
import { ObjectNotFoundError, type ObjectInfo, type ObjectStore } from '../storage/types';
import { BackupError } from './errors';
import type { FileChecksum, FileKind, ManifestFile } from './manifest';

/** A file the target already holds, with what is known of it. */
export interface HeldFile extends FileChecksum {
  size: number;
}

/** Options of `copyTableVersion`. */
export interface CopyVersionOptions {
  /** The version to copy (default: the newest). */
  version?: number;
  /** The source's snapshot of that version, when the caller loaded it already. */
  snapshot?: Snapshot;
  /** On a file that vanished or changed, move to the newest version and go on (backups, clones of the newest version). */
  followLatest?: boolean;
  /** Versions tried before giving up (default 4). */
  attempts?: number;
  /** Files the target holds already, by path: not copied again. */
  held?: ReadonlyMap<string, HeldFile>;
  /** Commits up to this version are in the target already. */
  logUpTo?: number;
  /** Work out each file's checksum (service MD5, else our SHA-256 of the copy). */
  checksums?: boolean;
  /** Copies at once (default 16). */
  concurrency?: number;
  /** Called after each file copied (progress, tests that change the source mid-copy). */
  onCopied?: (path: string, kind: FileKind) => void | Promise<void>;
}

/** What `copyTableVersion` did. */
export interface CopyVersionResult {
  /** The version copied. */
  version: number;
  /** The source's snapshot at that version. */
  snapshot: Snapshot;
  /** Every file the version needs in the target, with sizes (and checksums when asked). */
  files: ManifestFile[];
  copied: number;
  bytesCopied: number;
  reused: number;
  /** Copies by method (`stream` only between unlike backends). */
  methods: Partial<Record<CopyMethod, number>>;
  movedFrom: { version: number; reason: string }[];
}

interface Needed {
  path: string;
  kind: FileKind;
  /** Size the log gives (data files); DV files have none in the log. */
  size?: number;
  /** Deletion-vector files: the least size the log's descriptors imply (offset, size, checksum). */
  minSize?: number;
}

/**
 * Copy one version of a table.
 *
 * @param source store rooted at the source table
 * @param target store rooted at the copy
 * @param options version, what the target holds, behaviour on vanished files
 * @returns the version copied and its files
 * @throws BackupError naming the files when the version cannot be copied whole
 */
export async function copyTableVersion(source: ObjectStore, target: ObjectStore, options: CopyVersionOptions = {}): Promise<CopyVersionResult> {
  const attempts = options.attempts ?? 4;
  const concurrency = options.concurrency ?? 16;
  const held = new Map(options.held ?? []);
  const methods: Partial<Record<CopyMethod, number>> = {};
  const movedFrom: { version: number; reason: string }[] = [];
  let copied = 0;
  let bytesCopied = 0;
  const copiedNow = new Set<string>();

  let snapshot = options.snapshot ?? (await loadSnapshot(source, options.version === undefined ? {} : { version: options.version }));
  for (let attempt = 1; ; attempt++) {
    const needed = filesOfVersion(snapshot);
    const todo = needed.filter((f) => {
      const have = held.get(f.path);
      return !have || (f.size !== undefined && have.size !== f.size);
    });
    const failed: string[] = [];
    await forEachLimit(todo, concurrency, async (file) => {
      let info: ObjectInfo;
      let crc64: string | undefined;
      try {
        const result = await copyObject(source, file.path, target, file.path, file.size);
        info = result.info;
        crc64 = result.crc64;
        methods[result.method] = (methods[result.method] ?? 0) + 1;
      } catch (err) {
        if (err instanceof ObjectNotFoundError) {
          failed.push(`${file.path} is gone from the source`);
          return;
        }
        throw err;
      }
      // A copy of another size than the log's is not the file the version references.
      if (file.size !== undefined && info.size !== file.size) {
        failed.push(`${file.path} has ${info.size} bytes where the log of version ${snapshot.version} says ${file.size}`);
        return;
      }
      if (file.minSize !== undefined && info.size < file.minSize) {
        failed.push(`${file.path} has ${info.size} bytes where the deletion vectors of version ${snapshot.version} need ${file.minSize}`);
        return;
      }
      copied++;
      bytesCopied += info.size;
      copiedNow.add(file.path);
      held.set(file.path, { size: info.size, ...(info.contentMd5 ? { md5: info.contentMd5 } : {}), ...(crc64 ? { crc64 } : {}) });
      await options.onCopied?.(file.path, file.kind);
    });
    if (failed.length === 0) break;
    const reason = failed.sort().slice(0, 5).join('; ') + (failed.length > 5 ? `; and ${failed.length - 5} more` : '');
    if (!options.followLatest) {
      throw new BackupError(`copy of ${source.url} version ${snapshot.version} to ${target.url} failed: ${reason}`);
    }
    movedFrom.push({ version: snapshot.version, reason });
    const latest = await loadSnapshot(source);
    if (latest.version === snapshot.version) {
      throw new BackupError(
        `backup of ${source.url} failed: its newest version ${snapshot.version} references files that cannot be copied (${reason}); ` +
          `the table is damaged (sluice verify ${source.url} lists what is missing)`,
      );
    }
    if (attempt >= attempts) {
      throw new BackupError(
        `backup of ${source.url} failed after ${attempts} attempts: files kept vanishing while they were copied (last: version ${snapshot.version}: ${reason}); ` +
          'a vacuum with a retention shorter than a backup takes removes files of the version being backed up: run the backup again, or vacuum with a longer retention',
      );
    }
    snapshot = latest;
  }

  // The log, after the data: commits up to the version that the target does not hold yet.
  const listing = await listLog(source);
  const commits = [...listing.commits.entries()]
    .filter(([v]) => v <= snapshot.version && (options.logUpTo === undefined || v > options.logUpTo))
    .sort(([a], [b]) => a - b);
  const logFiles: ManifestFile[] = [];
  await forEachLimit(commits, concurrency, async ([, info]) => {
    const result = await copyObject(source, info.path, target, info.path, info.size);
    methods[result.method] = (methods[result.method] ?? 0) + 1;
    copied++;
    bytesCopied += result.info.size;
    copiedNow.add(info.path);
    held.set(info.path, {
      size: result.info.size,
      ...(result.info.contentMd5 ? { md5: result.info.contentMd5 } : {}),
      ...(result.crc64 ? { crc64: result.crc64 } : {}),
    });
  });
  for (const [, info] of commits) logFiles.push({ path: info.path, size: held.get(info.path)!.size, kind: 'commit' });

  // The copy's own checkpoint of the version, so it reads at that version without the commits before.
  const checkpoint = await checkpointCopy(target, snapshot);
  held.set(checkpoint.path, { size: checkpoint.size, ...(checkpoint.contentMd5 ? { md5: checkpoint.contentMd5 } : {}) });
  copiedNow.add(checkpoint.path);

  const files: ManifestFile[] = [
    ...filesOfVersion(snapshot).map((f) => ({ path: f.path, size: held.get(f.path)!.size, kind: f.kind })),
    ...logFiles,
    { path: checkpoint.path, size: checkpoint.size, kind: 'checkpoint' as const },
  ];
  if (options.checksums) {
    await forEachLimit(files, concurrency, async (file) => {
      const have = held.get(file.path)!;
      let sha256 = have.sha256;
      // Our own digest only where the store keeps no MD5: for copies made now, read from the target.
      if (!have.md5 && !sha256) sha256 = await contentSha256(target, file.path, file.size);
      Object.assign(file, have.md5 ? { md5: have.md5 } : { sha256 }, have.crc64 ? { crc64: have.crc64 } : {});
    });
  }
  return {
    version: snapshot.version,
    snapshot,
    files,
    copied,
    bytesCopied,
    reused: files.filter((f) => !copiedNow.has(f.path)).length,
    methods,
    movedFrom,
  };
}

/** Write the copy's checkpoint of a version; the `_last_checkpoint` hint is best effort (an immutable target refuses overwrites). */
async function checkpointCopy(target: ObjectStore, snapshot: Snapshot): Promise<ObjectInfo> {
  const retention = parseInterval(snapshot.metadata.configuration['delta.deletedFileRetentionDuration']) ?? DEFAULT_RETENTION_MS;
  const path = checkpointPath(snapshot.version);
  try {
    await writeCheckpoint(target, snapshot.state, { tombstoneCutoff: Date.now() - retention });
  } catch (err) {
    // The checkpoint is created first and the hint written after it; only a failed hint is tolerable.
    try {
      return await target.properties(path);
    } catch {
      throw err;
    }
  }
  return target.properties(path);
}

/**
 * The files a version needs besides its log: the data files of its live `add` actions and the
 * deletion-vector files they use, as paths relative to the table.
 *
 * @param snapshot the version
 * @returns the files, data files with the size the log gives
 * @throws BackupError for a file outside the table (an absolute path), which a copy cannot carry
 */
export function filesOfVersion(snapshot: Snapshot): Needed[] {
  const out: Needed[] = [];
  const files: AddFile[] = [...snapshot.state.files.values()];
  const seen = new Set<string>();
  for (const add of files) {
    const path = decodeAddPath(add.path, snapshot.table);
    if (/^[a-z][a-z0-9+.-]*:/i.test(path)) {
      throw new BackupError(
        `${snapshot.table} version ${snapshot.version} references ${add.path}, a file outside the table; a copy of the table cannot hold it`,
      );
    }
    if (seen.has(path)) continue;
    seen.add(path);
    out.push({ path, kind: 'data', size: add.size });
  }
  const dvFiles = new Map<string, Needed>();
  for (const add of files) {
    const dv = add.deletionVector;
    if (!dv) continue;
    for (const path of deletionVectorFiles([dv], snapshot.table)) {
      const entry = dvFiles.get(path) ?? { path, kind: 'deletionVector' as const, minSize: 0 };
      // Each vector sits at its offset as a 4-byte size, its bytes and a 4-byte checksum.
      entry.minSize = Math.max(entry.minSize!, (dv.offset ?? 1) + 4 + dv.sizeInBytes + 4);
      dvFiles.set(path, entry);
    }
  }
  for (const entry of dvFiles.values()) {
    if (!seen.has(entry.path)) out.push(entry);
    seen.add(entry.path);
  }
  for (const add of files) {
    const dv = add.deletionVector;
    if (dv?.storageType === 'p' && !deletionVectorFiles([dv], snapshot.table).size) {
      throw new BackupError(
        `${snapshot.table} version ${snapshot.version} uses a deletion vector outside the table (${dv.pathOrInlineDv}); a copy cannot hold it`,
      );
    }
  }
  return out;
}

/**
 * Run `fn` over items, at most `limit` at once; the first error stops new starts and is thrown.
 *
 * @param items the items
 * @param limit concurrency
 * @param fn the work
 */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length && failure === undefined) {
        const item = items[next++];
        try {
          await fn(item);
        } catch (err) {
          failure ??= err;
        }
      }
    }),
  );
  if (failure !== undefined) throw failure;
}
