/**
 * The runtime context of a Sluice process (settings → stores, ledger, dead-letter targets, loaded
 * pipelines, routing) and the ingestion work the triggers hand it.
 */
export { checkRefreshSettings, createRuntime, getRuntime, ingestSourceOf, loadRuntime } from './context';
export type { RuntimeOptions, SluiceRuntime, SourceRoute } from './context';
export { appRoot, checkPipelines, DEFAULT_PIPELINES, loadPipelines, matchFiles } from './pipelines';
export {
  bindingSettingValues,
  DEFAULT_CONSUMER_GROUP,
  DEFAULT_METRICS_SCHEDULE,
  DEFAULT_RECONCILE_SCHEDULE,
  readIngestTriggerSettings,
  resolveSettingReferences,
} from './settings';
export type { EventHubSettings, IngestTriggerSettings } from './settings';
export { BLOB_CREATED, parseBlobCreatedEvent } from './blob-event';
export type { BlobCreated, IgnoredEvent } from './blob-event';
export { HubMetadataError, hubBatchFromTrigger } from './hub-batch';
export type { HubBatch } from './hub-batch';
export { ingestHubBatch, ingestRoutedBlob, reconcileLanding, routeBlobCreatedEvent } from './ingestion';
export { catalogAfterCommit, runtimeCatalog } from './catalog';
export type { IgnoredBlob, RoutedBlob, SourceReconcile } from './ingestion';
export { errorText, isTransient } from '../errors';
