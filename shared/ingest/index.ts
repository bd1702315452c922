/**
 * The bronze ingest stage: one landing file (or a reconcile pass over a landing folder) into its bronze
 * Delta table, exactly once, with metadata columns, schema evolution, rescued data and dead-lettering.
 */
export { ingestFile, findIntentCommit, IngestConfigError, sourceIntentId, tableKeyOf } from './ingest';
export type { IngestFileOptions } from './ingest';
export type {
  BackfillResult,
  DeadLetterEntry,
  DeadLetterRecord,
  DeadLetterTarget,
  EventBatchOutcome,
  FileCounts,
  HubEvent,
  HubPartition,
  IngestLedger,
  IngestOutcome,
  IngestSource,
  IngestStatus,
  LedgerEntry,
  LedgerStatus,
  Watermark,
} from './types';
export { backfill } from './backfill';
export type { BackfillOptions } from './backfill';
export { fileRowKey, StoreLedger, TableLedger, watermarkRowKey } from './ledger';
export { deadLetterPath, writeDeadLetter } from './deadletter';
export {
  checkDeadLetterId,
  DeadLetterNotFoundError,
  deadLetterLocation,
  deadLetterTable,
  listDeadLetters,
  readDeadLetter,
  readDeadLetterBytes,
  REPLAY_FOLDER,
} from './deadletter-records';
export type { DeadLetterFilter } from './deadletter-records';
export { DeadLetterReplayError, replayDeadLetter } from './deadletter-replay';
export type { DeadLetterReplayOptions, DeadLetterReplayResult } from './deadletter-replay';
export { dataSchema, FILE_METADATA_FIELDS, isSystemColumn, RESCUED_FIELD } from './columns';
export { formatsReader } from './reader';
export type { ReadInput } from './reader';
export { DEFAULT_CHUNK_BYTES, normaliseEtag, readObjectRanges, SourceChangedError } from './stream';
export { ingestFaultPoint } from './faults';
export type { IngestFaultPoint } from './faults';
export { EventBatchError, hubAppId, ingestEvents } from './events';
export type { IngestEventsOptions } from './events';
export { EVENT_METADATA_FIELDS } from './event-rows';
