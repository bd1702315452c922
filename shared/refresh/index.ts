/**
 * The silver/gold refresh stage: incremental upserts and appends from bronze, partition-scoped
 * recomputes of gold, expectations and quarantine, exactly once per source version.
 */
export { refreshTable } from './refresh';
export { refreshAppId } from './incremental';
export { ExpectationFailedError, fullRefreshCommand, RefreshError } from './errors';
export type { RefreshErrorCode } from './errors';
export type { BatchOutcome, Completeness, ExpectationCount, LakeTables, RefreshRequest, SourceVersions, TableUpdateMetrics } from './types';
export { BUCKETS_PROPERTY, HIDDEN_COLUMNS, KEY_BUCKET, KEY_HASH, KEYS_PROPERTY } from './contract';
export { QUARANTINE_SUFFIX } from './quarantine';
export { CHANGE_TYPE, CHANGES_DIR } from './upsert';
export { piiHash } from './pii';
export { checkPipelineSql } from './check';
export type { CheckOptions, CheckResult } from './check';
export { replayAppId, replayQuarantine } from './quarantine-replay';
export type { ReplayRequest, ReplayResult } from './types';
