/**
 * The backup timer's work for this app: the platform backup (shared/backup/platform.ts) of every
 * pipeline the app serves, to `SLUICE_BACKUP_LOCATION`, reached with the lake connection's identity
 * (in Azure the app's managed identity, which the Bicep grants Blob Data Contributor on the backup
 * account and nothing else), with the retention the settings give.
 */
import { backupPlatform, type PlatformLake, type PlatformRun } from '../backup';
import type { SluiceSettings } from '../config/settings';
import { lakeCredential, openLakeStore, openLakeTables } from '../storage/lake';
import { openStore } from '../storage/location';
import type { ObjectStore } from '../storage/types';
import type { SluiceRuntime } from './context';
import { appRoot } from './pipelines';

/**
 * The lake and Table Storage the settings name, as a platform backup or restore sees them.
 *
 * @param settings validated settings
 * @returns the lake
 */
export function platformLake(settings: SluiceSettings): PlatformLake {
  const tables = openLakeTables(settings.lake);
  return { lake: (path) => openLakeStore(settings, path), tables };
}

/**
 * Open a backup location with the lake connection's identity (Azure), or the emulator's key.
 *
 * @param settings validated settings (the lake connection)
 * @param location the location URI
 * @param env where emulator connection strings are looked up
 * @returns the store
 */
export function openBackupLocation(settings: SluiceSettings, location: string, env: Record<string, string | undefined> = process.env): ObjectStore {
  const credential = lakeCredential(settings.lake);
  return openStore(location, { env, ...(credential ? { credential } : {}) });
}

/**
 * Run the platform backup now, when `SLUICE_BACKUP_LOCATION` is set.
 *
 * @param runtime the app's runtime context
 * @param now clock (tests)
 * @returns the run's index record, or null when backups are off
 */
export async function backupServedPipelines(runtime: SluiceRuntime, now?: () => Date): Promise<PlatformRun | null> {
  const { backup } = runtime;
  if (!backup.location) return null;
  return backupPlatform(platformLake(runtime.settings), openBackupLocation(runtime.settings, backup.location), {
    pipelines: runtime.pipelines,
    appRoot: appRoot(),
    retention: { keepDays: backup.retentionDays, keepMin: backup.minVersions },
    concurrency: backup.copyConcurrency,
    tableConcurrency: backup.tableConcurrency,
    ...(now ? { now } : {}),
  });
}
