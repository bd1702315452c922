/**
 * Retention of a table's backup: keep the backed-up versions of the last `keepDays` days, and at
 * least the newest `keepMin` whatever their age. A version given up loses its manifest; then every
 * data or deletion-vector file no kept manifest lists is deleted. The log stays whole (commits are
 * small, and every kept manifest lists the commits up to its version), so the backup remains a valid
 * Delta table, readable at every kept version.
 *
 * Manifests go first: a crash half-way leaves files no manifest lists (deleted next time), never a
 * manifest listing a deleted file. Deletions an immutability policy refuses are reported, not fatal:
 * they are retried on the next run, after the policy's period.
 */
import type { ObjectStore } from '../storage/types';
import { forEachLimit } from './copy-version';
import { BACKUP_FOLDER, manifestPath, manifestVersions, readManifest } from './manifest';

/** A retention policy. */
export interface RetentionPolicy {
  /** Keep versions backed up within this many days. */
  keepDays: number;
  /** Keep at least this many of the newest versions (≥ 1). */
  keepMin: number;
}

/** What `pruneBackup` did. */
export interface PruneResult {
  kept: number[];
  removed: number[];
  filesDeleted: number;
  /** Deletions refused (e.g. by an immutability policy), with the reason. */
  refused: string[];
}

/**
 * Apply a retention policy to one table's backup.
 *
 * @param backup store rooted at the backup table
 * @param policy days and minimum count
 * @param now the time to judge ages at
 * @returns the versions kept and removed
 */
export async function pruneBackup(backup: ObjectStore, policy: RetentionPolicy, now: Date = new Date()): Promise<PruneResult> {
  const versions = await manifestVersions(backup);
  const manifests = await Promise.all(versions.map((v) => readManifest(backup, v)));
  const cutoff = now.getTime() - policy.keepDays * 86_400_000;
  const newest = new Set(versions.slice(-Math.max(1, policy.keepMin)));
  const kept = manifests.filter((m) => newest.has(m.version) || Date.parse(m.createdAt) >= cutoff);
  const removed = manifests.filter((m) => !kept.includes(m));
  const refused: string[] = [];
  if (!removed.length) return { kept: kept.map((m) => m.version), removed: [], filesDeleted: 0, refused };

  const tryDelete = async (path: string) => {
    try {
      await backup.delete(path);
      return true;
    } catch (err) {
      refused.push(`${path}: ${(err as Error).message}`);
      return false;
    }
  };
  for (const m of removed) await tryDelete(manifestPath(m.version));

  const referenced = new Set(kept.flatMap((m) => m.files.map((f) => f.path)));
  const doomed: string[] = [];
  for await (const info of backup.list('')) {
    if (info.path.startsWith(`${BACKUP_FOLDER}/`) || info.path.startsWith('_delta_log/')) continue;
    if (!referenced.has(info.path)) doomed.push(info.path);
  }
  let filesDeleted = 0;
  await forEachLimit(doomed, 16, async (path) => {
    if (await tryDelete(path)) filesDeleted++;
  });
  return { kept: kept.map((m) => m.version), removed: removed.map((m) => m.version), filesDeleted, refused };
}
