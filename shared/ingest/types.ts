/**
 * The ingest stage's contract: the shapes other folders hand to it (a source's read settings, the events
 * of an Event Hubs batch and the partition they came from, the ledger and dead-letter target to use) and
 * get back (the outcome of a file, a batch or a backfill; dead-letter records). They live apart from the
 * code so that a caller, or a module of this folder, can name them without importing an implementation.
 */
import type { BadRecord, Compression, InputFormat, ReadOptions } from '../formats/types';
import type { ObjectStore } from '../storage/types';
import type { SchemaEvolutionMode } from '../pipeline';

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
  /**
   * Who reads CSV and TSV files (the app's `SLUICE_CSV_ENGINE`): `auto` (default) DuckDB for files of
   * `CSV_COPY_MIN_BYTES` and more where it reads them exactly as the reader would (csv-copy.ts), else
   * the reader; `duckdb` the same for files of any size; `reader` always the reader.
   */
  csvEngine?: 'auto' | 'duckdb' | 'reader';
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

/** What happened to one file. */
export type IngestStatus =
  /** Rows committed (possibly with some dead-lettered), or an input without rows. */
  | 'committed'
  /** Nothing could be ingested; the dead-letter record says why. */
  | 'deadlettered'
  /** This (path, ETag) was already ingested (or dead-lettered) before: nothing done. */
  | 'duplicate'
  /** The blob has a newer ETag than the event named: that version has its own event. */
  | 'superseded'
  /** The blob no longer exists. */
  | 'missing';

/** Outcome of `ingestFile`. */
export interface IngestOutcome extends FileCounts {
  status: IngestStatus;
  path: string;
  etag?: string;
  /** Table version carrying the rows (committed or duplicate of a commit). */
  version?: number;
  /** Columns this file added to the table schema. */
  newColumns?: string[];
  /** Attempt number recorded in the ledger. */
  attempts?: number;
  /**
   * For a CSV or TSV file DuckDB was asked to copy (see `csvEngine`): `duckdb` when it did, else
   * `reader` and why DuckDB gave it back, e.g. `reader (a value the reader rescues)`.
   */
  readBy?: string;
}

/** What happened to the rows of one file: read = written + dead-lettered. */
export interface FileCounts {
  rowsRead: number;
  rowsWritten: number;
  /** Rows written with at least one value in `_rescued_data`. */
  rowsRescued: number;
  rowsDeadLettered: number;
  /** Bytes of the input file. */
  bytes: number;
  /** Path of the dead-letter record (in the dead-letter store), when one was written. */
  deadLetter?: string;
  /** Why the file (or part of it) was dead-lettered, or what went wrong with the accounting. */
  reason?: string;
}

/** Where an ingestion stands. */
export type LedgerStatus = 'started' | 'committed' | 'deadlettered';

/** One landing file version (path + ETag) of one table. */
export interface LedgerEntry extends FileCounts {
  /** Table key (PartitionKey). */
  table: string;
  /** Blob path in the landing container. */
  path: string;
  /** ETag, normalised (no quotes). */
  etag: string;
  status: LedgerStatus;
  /** Source name from the pipeline definition, when known. */
  source?: string;
  /** Attempts made (1 for the first). */
  attempts: number;
  /** First attempt (ISO-8601); also dates the dead-letter record. */
  startedAt: string;
  updatedAt: string;
  /** Table version when the first attempt started (-1: no table yet): commits for this file can only be later. */
  startVersion: number;
  /** Version whose commit carries the rows (status committed with rows). */
  version?: number;
  /** Attempts that failed for a non-transient reason; at the poison limit the file is dead-lettered whole. */
  failures?: number;
  /** The last such failure's message. */
  lastError?: string;
  /** When the last attempt failed, transient or not (ISO-8601): its claim ended then. */
  failedAt?: string;
}

/** The listing watermark of one landing folder. */
export interface Watermark {
  /** Every blob last modified before this time (ms), minus the safety margin, is done. */
  lastModified: number;
  updatedAt: string;
}

/** The ledger operations the stage needs. */
export interface IngestLedger {
  /** For messages, e.g. `Azure Table SluiceLedger` or a folder URL. */
  readonly description: string;
  get(table: string, path: string, etag: string): Promise<LedgerEntry | null>;
  /** Create the entry if none exists; returns the stored entry and whether this call created it. */
  start(entry: LedgerEntry): Promise<{ entry: LedgerEntry; created: boolean }>;
  /** Replace the entry. */
  put(entry: LedgerEntry): Promise<void>;
  /** Delete the entry (no error when it is gone): the file counts as never seen. */
  remove(entry: LedgerEntry): Promise<void>;
  /**
   * Renew the claim of a `started` entry: set its `updatedAt`, unless the stored entry is no longer
   * `started` (another attempt finished it), which is then left as it is.
   *
   * @returns whether the entry was renewed
   */
  renew(entry: LedgerEntry, at: string): Promise<boolean>;
  getWatermark(table: string, folder: string): Promise<Watermark | null>;
  setWatermark(table: string, folder: string, watermark: Watermark): Promise<void>;
}

/** Where dead-letter records of one table go. */
export interface DeadLetterTarget {
  store: ObjectStore;
  /** Path prefix inside the store, `''` or ending with `/` (e.g. `bronze/pos_sales/`). */
  prefix: string;
}

/** What happened to one batch (see the module doc for how the counts add up). */
export interface EventBatchOutcome {
  /**
   * `committed`: a commit carries the batch's new events (rows and/or the txn); `duplicate`: every
   * event was already applied; `empty`: nothing to commit (no events, or no event yielded a row while
   * the table does not exist yet: they are dead-lettered).
   */
  status: 'committed' | 'duplicate' | 'empty';
  /** Table version carrying the rows. */
  version?: number;
  eventsReceived: number;
  /** At or below the txn's last applied sequence number (or repeated within the batch). */
  eventsSkipped: number;
  /** Events with at least one row in the table. */
  eventsWritten: number;
  /** Events none of whose rows are in the table. */
  eventsDeadLettered: number;
  rowsRead: number;
  rowsWritten: number;
  /** Rows written with a non-null `_rescued_data`. */
  rowsRescued: number;
  rowsDeadLettered: number;
  /** Path of the dead-letter record (in the dead-letter store), when any. */
  deadLetter?: string;
  /** Highest sequence number applied. */
  lastSequenceNumber?: number;
  /**
   * Sequence numbers between the last one applied before and the first new one of this batch, which
   * this table never received (expired from the hub before they were read, or delivered out of
   * order); the adapter should log it.
   */
  sequenceGap?: { from: number; to: number };
  newColumns?: string[];
}

/** What a backfill run did. */
export interface BackfillResult {
  /** Blobs listed under the prefix (after the filter). */
  listed: number;
  /** Blobs at or after the watermark, looked up in the ledger. */
  checked: number;
  /** Of those, already committed or dead-lettered. */
  done: number;
  /** Started recently by someone else: left alone this time. */
  inProgress: number;
  /** Ingestions run. */
  outcomes: IngestOutcome[];
  failures: { path: string; error: Error }[];
  watermark: { before: number | null; after: number | null };
}

/** One record as a listing gives it: where it is, and its head (no bad records). */
export interface DeadLetterEntry {
  /** Path under the dead-letter folder: what `show` and `replay` take. */
  id: string;
  /** The table's path in the lake container (`bronze/pos_sales`). */
  table: string;
  /** `<container>/<folder>/<id>`, the record's place in the lake. */
  location: string;
  url: string;
  /** When the record was last written. */
  lastModified: string;
  size: number;
  source: DeadLetterRecord['source'];
  reason?: string;
  counts: DeadLetterRecord['counts'];
  createdAt: string;
}

/** One dead-letter document. */
export interface DeadLetterRecord {
  table: string;
  source: { landing: string; path: string; etag: string; size: number };
  /** File-level reason (unreadable input, new columns in failOnNewColumns mode, …). */
  reason?: string;
  counts: { rowsRead: number; rowsWritten: number; rowsDeadLettered: number };
  createdAt: string;
  records: BadRecord[];
}
