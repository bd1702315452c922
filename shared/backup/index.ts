/**
 * Backups of the lake: consistent, incremental copies of Delta tables (each itself a Delta table),
 * restore to any backed-up version, verification of tables and backups, clones, and the scheduled
 * backup of the whole platform (tables, definitions, Table Storage state) with its retention.
 */
export { BackupError } from './errors';
export { backupTable } from './backup';
export type { BackupOptions, BackupResult } from './backup';
export { cloneTable, restoreBackup } from './restore';
export type { CloneOptions, CopyTableResult, RestoreOptions } from './restore';
export { verifyBackup, verifyLocation, verifyTable } from './verify';
export type { VerifyResult } from './verify';
export { BACKUP_FOLDER, backedUpFiles, isBackedUpPredicate, manifestVersions, readManifest } from './manifest';
export type { BackupManifest, FileChecksum, FileKind, ManifestFile } from './manifest';
export { pruneBackup } from './retention';
export type { PruneResult, RetentionPolicy } from './retention';
export {
  backupPlatform,
  DEFAULT_BACKUP_COPY_CONCURRENCY,
  DEFAULT_BACKUP_TABLE_CONCURRENCY,
  platformRuns,
  platformTableLevels,
  platformTables,
  readPlatformRun,
  restorePlatform,
  STATE_TABLES,
  tableBackup,
} from './platform';
export type { PlatformBackupOptions, PlatformLake, PlatformRestoreResult, PlatformRun, RunTable } from './platform';
export { exportTableEntities, importTableEntities } from './table-storage';
