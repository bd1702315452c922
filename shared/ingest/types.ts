/**
 * The ingest stage's contract: the shapes other folders hand to it (a source's read settings, the events
 * of an Event Hubs batch and the partition they came from). They live apart from the code that uses
 * them so that a caller, or a module of this folder, can name them without importing an implementation.
 */
import type { Compression, InputFormat, ReadOptions } from '../formats/types';
import type { SchemaEvolutionMode } from '../pipeline/definition';

/** How a source's files are read and evolve; defaults as in the pipeline definition. */
export interface IngestSource {
  /** Source name (recorded in the ledger and the commit). */
  name?: string;
  format?: InputFormat;
  compression?: Compression | 'auto';
  csv?: ReadOptions['csv'];
  schemaEvolution?: SchemaEvolutionMode;
  /** Column → Delta type name. */
  schemaHints?: Record<string, string>;
  /** Partition columns when the file creates the table (default `['_load_date']`). */
  partitionBy?: string[];
  /** Longest text record turned into a row (default 16 MiB; the app's `SLUICE_MAX_RECORD_MB`). */
  maxRecordBytes?: number;
}

/** One event as the Functions Event Hubs trigger (cardinality many) delivers it, metadata already zipped per event. */
export interface HubEvent {
  /** Object (already JSON-decoded by the host), string, Buffer/Uint8Array, or null. */
  body: unknown;
  sequenceNumber: number;
  /** String form (the host gives numbers or strings; the adapter passes String(x)). */
  offset: string;
  enqueuedTime: Date;
  partitionKey?: string | null;
  properties?: Record<string, unknown>;
}

/** Identity of the stream position a Delta txn is kept for. */
export interface HubPartition {
  namespace: string;
  hub: string;
  consumerGroup: string;
  partitionId: string;
}
