/**
 * The Delta Lake layer's public surface: everything other stages (ingest, pipeline, ops, the CLI)
 * may use. Modules not re-exported here are internal.
 */
export * from './errors';
export type { Action, AddFile, RemoveFile, Metadata, Protocol, Txn, CommitInfo } from './actions';
export { parseSchema, deltaToArrowSchema, deltaToArrowType, arrowToDeltaSchema, formatDeltaType } from './schema';
export type { DeltaStruct, DeltaField, DeltaType } from './schema';
export { loadSnapshot, refreshSnapshot, activeFiles, tombstones, txnVersion } from './snapshot';
export type { Snapshot, SnapshotOptions } from './snapshot';
export { scanTable, readTable } from './scan';
export type { ScanOptions } from './scan';
export { createTable, writeTable, tableHistory } from './table';
export type { CreateTableOptions, WriteOptions, WriteResult, HistoryEntry, TxnMarker } from './table';
export { commitTransaction } from './commit';
export type { CommitRequest, CommitResult, ReadPredicate } from './commit';
export { submitToLane, flushLane, laneCommitRecord } from './lane';
export type { LaneCommitRecord, LaneIntent, LaneOptions, LaneResult } from './lane';
export { widenType, sameDeltaType } from './evolve';
export { readCommitIfExists } from './log';
export { DEFAULT_TARGET_FILE_BYTES, optimizeTable, planCompaction } from './optimize';
export type { OptimizeOptions, OptimizeResult } from './optimize';
export { RetentionTooShortError, vacuumTable } from './vacuum';
export { claimWrites, CLAIMS_FOLDER } from './claims';
export type { WriteClaim } from './claims';
export type { VacuumOptions, VacuumResult } from './vacuum';
export { writeCheckpoint } from './checkpoint';
export { describeSnapshot, checkpointTable } from './describe';
export type { TableDescription } from './describe';
export { batchToRows, encodeValue, stringifyJson } from './rows';
export { buildVector, readValues } from './values';
export { cleanupExpiredLog, DEFAULT_LOG_RETENTION_MS } from './log-cleanup';
export type { LogCleanupOptions, LogCleanupResult } from './log-cleanup';
