/**
 * `restoreBackup` and `cloneTable`: a new table equal to a backed-up (or live) table at one version,
 * made with the same copy machinery as the backup (copy-version.ts).
 *
 * Restore takes a version a backup ran at (one manifest each; the newest by default), refuses a
 * target that already holds a table, and checks each copy against the manifest's checksum where the
 * service gives one to compare with (Content-MD5). A backup file in the Archive tier cannot be read
 * or copied until it is rehydrated: restore names such files and stops before copying anything.
 *
 * Clone copies any version still reconstructible from the source's log whose files are still there;
 * run again towards the same target, it copies only what changed (the target keeps its files and its
 * log, and gains the newer commits and a checkpoint).
 */
import { advanceRehydration, DEFAULT_REHYDRATION_PRIORITY, progressLine, type RehydrationPriority } from '../tiering/rehydrate';
import { loadSnapshot } from '../delta/snapshot';
import type { CopyMethod } from '../storage/copy';
import type { ObjectStore } from '../storage/types';
import { copyTableVersion, type HeldFile } from './copy-version';
import { BackupError } from './errors';
import { manifestVersions, readManifest } from './manifest';

/** The stable JSON of `sluice restore --json` and `sluice clone --json`. */
export interface CopyTableResult {
  source: string;
  target: string;
  version: number;
  /** The version the target held before (clone towards an earlier clone), or null. */
  previousVersion: number | null;
  copied: number;
  bytesCopied: number;
  reused: number;
  files: number;
  methods: Partial<Record<CopyMethod, number>>;
}

/** Options of `restoreBackup`. */
export interface RestoreOptions {
  /** The backed-up version to restore (default: the newest). */
  version?: number;
  concurrency?: number;
  /**
   * Backup files in the Archive tier are rehydrated to Hot first (shared/tiering's rehydration), at
   * this priority (default standard). Without `waitMs` the restore asks for them and stops, naming how
   * many are still offline, unless storage brought them online at once.
   */
  rehydrate?: { priority?: RehydrationPriority; waitMs?: number; pollMs?: number };
}

/**
 * Restore a backup into a new table.
 *
 * @param backup store rooted at the backup table
 * @param target store rooted where the table is to be created (must hold no table)
 * @param options version
 * @returns what was restored
 * @throws BackupError when the version was not backed up, the target holds a table, files are archived or a copy does not match
 */
export async function restoreBackup(backup: ObjectStore, target: ObjectStore, options: RestoreOptions = {}): Promise<CopyTableResult> {
  const versions = await manifestVersions(backup);
  if (!versions.length) throw new BackupError(`restore from ${backup.url}: it is not a Sluice backup (no manifest under _sluice_backup/manifests/)`);
  const version = options.version ?? versions[versions.length - 1];
  if (!versions.includes(version)) {
    throw new BackupError(`restore from ${backup.url}: version ${version} was not backed up; backed-up versions: ${versions.join(', ')}`);
  }
  if (await holdsTable(target)) throw new BackupError(`restore to ${target.url} refused: a table exists there; restore into an empty location`);
  const manifest = await readManifest(backup, version);
  await rehydrateArchived(backup, manifest.files, options.rehydrate ?? {});
  const result = await copyTableVersion(backup, target, { version, checksums: false, concurrency: options.concurrency });
  // Where both the manifest and the copy carry the service's MD5, they must agree.
  const expected = new Map(manifest.files.map((f) => [f.path, f]));
  const mismatched: string[] = [];
  for (const file of result.files) {
    const want = expected.get(file.path);
    if (!want || file.kind === 'checkpoint') continue;
    if (want.size !== file.size) mismatched.push(`${file.path}: ${file.size} bytes, the manifest says ${want.size}`);
  }
  const copiedInfo = await Promise.all(
    result.files.filter((f) => f.kind !== 'checkpoint' && expected.get(f.path)?.md5).map(async (f) => ({ f, info: await target.properties(f.path) })),
  );
  for (const { f, info } of copiedInfo) {
    const want = expected.get(f.path)!.md5!;
    if (info.contentMd5 && info.contentMd5 !== want) mismatched.push(`${f.path}: MD5 ${info.contentMd5}, the manifest says ${want}`);
  }
  if (mismatched.length) {
    throw new BackupError(
      `restore from ${backup.url} version ${version} to ${target.url}: copies do not match the manifest (${mismatched.slice(0, 5).join('; ')}); ` +
        `the backup is damaged (sluice verify ${backup.url}); the partial restore at ${target.url} should be deleted`,
    );
  }
  return summary(backup, target, result, null);
}

/** Options of `cloneTable`. */
export interface CloneOptions {
  /** The version to clone (default: the newest, moving on if files vanish mid-copy). */
  version?: number;
  concurrency?: number;
}

/**
 * Clone a table (deep clone): a new, independent table equal to the source at a version; towards a
 * target that already holds an earlier clone of the same table, only what changed is copied.
 *
 * @param source store rooted at the source table
 * @param target store rooted at the clone
 * @param options version
 * @returns what was copied
 * @throws BackupError when the target holds another table or a newer version, or files are missing
 */
export async function cloneTable(source: ObjectStore, target: ObjectStore, options: CloneOptions = {}): Promise<CopyTableResult> {
  let held: Map<string, HeldFile> | undefined;
  let previousVersion: number | null = null;
  if (await holdsTable(target)) {
    const existing = await loadSnapshot(target);
    const wanted = await loadSnapshot(source, options.version === undefined ? {} : { version: options.version });
    if (existing.metadata.id !== wanted.metadata.id) {
      throw new BackupError(
        `clone to ${target.url} refused: it holds table ${existing.metadata.id}, not a clone of ${source.url} (table ${wanted.metadata.id})`,
      );
    }
    if (existing.version > wanted.version) {
      throw new BackupError(`clone to ${target.url} refused: it is at version ${existing.version}, newer than version ${wanted.version} of ${source.url}`);
    }
    previousVersion = existing.version;
    held = new Map();
    for await (const info of target.list('')) held.set(info.path, { size: info.size, ...(info.contentMd5 ? { md5: info.contentMd5 } : {}) });
  }
  const result = await copyTableVersion(source, target, {
    ...(options.version === undefined ? { followLatest: true } : { version: options.version }),
    ...(held ? { held, logUpTo: previousVersion! } : {}),
    concurrency: options.concurrency,
  });
  return summary(source, target, result, previousVersion);
}

function summary(
  source: ObjectStore,
  target: ObjectStore,
  result: Awaited<ReturnType<typeof copyTableVersion>>,
  previousVersion: number | null,
): CopyTableResult {
  return {
    source: source.url,
    target: target.url,
    version: result.version,
    previousVersion,
    copied: result.copied,
    bytesCopied: result.bytesCopied,
    reused: result.reused,
    files: result.files.length,
    methods: result.methods,
  };
}

async function holdsTable(store: ObjectStore): Promise<boolean> {
  for await (const info of store.list('_delta_log/')) if (/\.(json|parquet)$/.test(info.path)) return true;
  return false;
}

/**
 * Bring the backup files a restore needs out of Archive (an archived blob cannot be copied): one
 * listing finds them, the rehydration asks storage for Hot, then waits up to `waitMs` checking every
 * `pollMs`. Nothing is copied while any of them is offline.
 *
 * @param backup the backup store
 * @param files the files the restore needs, with their sizes
 * @param options priority and how long to wait
 * @throws BackupError naming how many files are still offline, and how to go on
 */
async function rehydrateArchived(
  backup: ObjectStore,
  files: readonly { path: string; size: number }[],
  options: NonNullable<RestoreOptions['rehydrate']>,
): Promise<void> {
  const needed = new Set(files.map((f) => f.path));
  const archived: { path: string; size: number }[] = [];
  for await (const info of backup.list('')) if (needed.has(info.path) && info.accessTier === 'Archive') archived.push({ path: info.path, size: info.size });
  if (!archived.length) return;
  const priority = options.priority ?? DEFAULT_REHYDRATION_PRIORITY;
  const deadline = Date.now() + (options.waitMs ?? 0);
  for (;;) {
    const progress = await advanceRehydration(backup, archived, priority);
    if (progress.missing.length)
      throw new BackupError(
        `restore from ${backup.url}: ${progress.missing.length} archived file(s) it needs are gone: ${progress.missing.slice(0, 5).join(', ')}`,
      );
    if (progress.online === progress.total) return;
    if (Date.now() >= deadline) {
      throw new BackupError(
        `restore from ${backup.url}: ${archived.length} file(s) it needs were in the Archive tier; their rehydration to Hot (${priority} priority) ` +
          `is under way: ${progressLine({ ...progress, files: progress.total })}. Nothing was copied; restore again once they are online, or with --wait`,
      );
    }
    await new Promise((r) => setTimeout(r, Math.max(1, Math.min(options.pollMs ?? 300_000, deadline - Date.now()))));
  }
}
