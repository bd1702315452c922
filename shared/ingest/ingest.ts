/**
 * The bronze ingest stage for one landing file: stream it through the input reader into the table's
 * schema, add the metadata columns, write Parquet data files, commit them through the table's commit
 * lane (with new columns when the schema evolves), dead-letter what cannot be ingested, and record the
 * outcome in the ledger — exactly once per (blob path, ETag).
 *
 * Exactly once, step by step (fault points in brackets, see faults.ts):
 *
 * 1. The blob's current ETag is read; an event naming an older ETag is `superseded` (the newer version
 *    has its own event). A ledger entry that is `committed` or `deadlettered` means `duplicate`.
 * 2. The entry is created as `started` with `startVersion`, the table version before anything of this
 *    file can have been committed (kept across attempts). When it already existed, a previous attempt
 *    may have committed and died before updating the ledger: the commits after `startVersion` are read
 *    and if one carries this file's intent, the ledger is completed from the commit and the result is
 *    `duplicate`. Bounded: only commits since the first attempt are read.
 * 3. The file is read and written as new data files [afterRead, afterDataFiles]. A crash here leaves
 *    orphan files for vacuum; the retry writes new ones.
 * 4. The files go to the commit lane as an intent whose id is derived from (table, path, ETag)
 *    [afterLaneIntent, beforeCommit, afterCommit]. The lane commits at most one intent per id and
 *    treats an id already carried by a commit since the intent's base version (= `startVersion`) as
 *    landed, so two processes handling the same event, or a retry next to the crashed attempt's
 *    still-pending intent, commit the rows once. The commit's `commitInfo.sluiceLane.sources` names the
 *    file, ETag and counts, and keeps the reader's `inference` (types and why, date formats, the CSV
 *    dialect, and under `#columns` the input column names that had to change to be stored).
 * 5. The ledger entry becomes `committed` with the counts [beforeLedger].
 *
 * Schema evolution (`source.schemaEvolution`):
 * - `addNewColumns`: the intent carries the file's columns; new ones join the table schema in the same
 *   commit (lane + shared/delta/evolve.ts). When another file adds the same column concurrently with
 *   another type, the column gets the wider type and the file written with the narrower one is read
 *   and written again against the new schema (`SchemaChangedError`), so every data file has exactly
 *   the table's types, as the Delta protocol requires.
 * - `rescue`: the schema never changes; values of new columns go to `_rescued_data` (JSON by column).
 * - `failOnNewColumns`: a file with new columns is dead-lettered whole, with the columns in the reason.
 * - `none`: new columns are dropped.
 * The first file of a table creates it (its columns, `_rescued_data`, the metadata columns, partitioned
 * by `partitionBy`) in every mode.
 *
 * Accounting: rows read = rows written + rows dead-lettered, from the reader's counters; a mismatch is
 * recorded as the entry's `reason` rather than hidden.
 *
 * Claims and poison files: while an attempt runs it renews its `started` entry (ledger.ts,
 * `holdClaim`), so reconcile recognises a dead attempt within a minute. An attempt that fails for a
 * non-transient reason (an error no retry would fix: a reader bug, a stack overflow, a file that
 * breaks the writer) counts in the entry's `failures`, and is rethrown so the event's redelivery or
 * reconcile tries again; the `poisonAttempts`-th such failure (default 5, `SLUICE_POISON_ATTEMPTS`)
 * dead-letters the file whole, reason `poison: <last error>`, and the entry becomes `deadlettered`, so
 * nothing retries it forever and reconcile's watermark moves on. An attempt whose claim lapsed without
 * a recorded outcome (its process died: a file exhausting memory kills every attempt) counts as a
 * failure when the next attempt takes over. Transient errors (storage throttling, timeouts, network)
 * count nothing and are retried as long as it takes.
 *
 * Configuration errors (an unknown format, a bad CSV dialect character, a schema hint of an unknown
 * type, a partition column the file does not have) are not the file's fault: they throw
 * `IngestConfigError` naming the setting and the file, and leave no trace in the ledger — the reader's
 * options are checked before the entry is created, and an entry created before the error showed (the
 * partition columns are known only once the file is read) is removed. The file is then simply not
 * ingested yet: a retry of the event, or the next backfill, ingests it once the configuration is fixed.
 * Dead-lettering it instead would make the refusal final for a file that has nothing wrong with it.
 */
import { createHash, randomUUID } from 'node:crypto';
import type * as arrow from 'apache-arrow';
import { laneCommitRecord, LaneOptions, readCommitIfExists, SchemaChangedError, Snapshot, submitToLane, createTable, WriteRejectedError } from '../delta';
import type { AddFile } from '../delta/actions';
import { loadSnapshotIfExists } from '../delta/commit';
import { decodeAddPath } from '../delta/partitions';
import type { DeltaField, DeltaStruct } from '../delta/schema';
import { prepareDataFilesWrite, writeDataFiles, WriteFilesOptions } from '../delta/writer';
import { allBadRecords, badRecordCount } from '../formats/bad-records';
import type { BadRecord, RangedInput, ReadResult } from '../formats/types';
import { DEFAULT_POISON_ATTEMPTS } from '../config/settings';
import { errorText, isTransient } from '../errors';
import { ObjectInfo, ObjectNotFoundError, ObjectStore } from '../storage/types';
import { BatchConformer, creationSchema, fileMetadata, newColumns, writeSchema } from './columns';
import { deadLetterPath, writeDeadLetter } from './deadletter';
import { ingestFaultPoint } from './faults';
import { claimIsLive, holdClaim } from './ledger';
import { checkSourceOptions, formatsReader, IngestConfigError, readSource, ReadInput, sourceName } from './reader';
import { copyCsvIntoFiles, LocalInput, localInputOf, wantsCsvCopy } from './csv-copy';
import { normaliseEtag, rangedObject } from './stream';
import type { DeadLetterTarget, IngestLedger, IngestOutcome, IngestSource, IngestStatus, LedgerEntry } from './types';

// Part of this module's interface since before the reader settings moved to reader.ts.
export { IngestConfigError, sourceReadOptions } from './reader';

/** Everything `ingestFile` needs. */
export interface IngestFileOptions {
  /** Store rooted at the landing container (paths are container paths). */
  landing: ObjectStore;
  /** Blob path of the file in the landing store. */
  path: string;
  /** ETag the event named; when the blob has another one now, nothing is ingested (`superseded`). */
  etag?: string;
  /** Store rooted at the bronze table. */
  table: ObjectStore;
  /** Ledger key of the table (default: derived from the table URL, see `tableKeyOf`). */
  tableKey?: string;
  source?: IngestSource;
  ledger: IngestLedger;
  deadLetter: DeadLetterTarget;
  /** Clock for `_ingested_at` / `_load_date` and the ledger (default: now). */
  now?: Date;
  /** Reader (default: `readInput` of shared/formats). */
  reader?: ReadInput;
  /** Range size of blob reads (default 4 MiB). */
  chunkBytes?: number;
  /** Data file settings. */
  files?: WriteFilesOptions;
  /** Commit lane settings. */
  lane?: LaneOptions;
  /** Progress: bytes read of this file, rows written so far. */
  onProgress?: (progress: { bytesRead: number; rowsWritten: number }) => void;
  /** Non-transient failures after which the file is dead-lettered whole (default `DEFAULT_POISON_ATTEMPTS`). */
  poisonAttempts?: number;
  /**
   * Called once the file's rows are in a table version (committed now, or found committed by an
   * earlier attempt), e.g. to update the catalog. Its failure is its own to report: it must not throw.
   */
  onCommitted?: (version: number) => Promise<void>;
}

const MAX_ROUNDS = 8;

/**
 * The ledger key of a table: `<container>/<path>` for Blob locations (the same whichever endpoint
 * form reaches it), the `file://` URL for local ones.
 *
 * @param table store rooted at the table
 * @returns the key
 */
export function tableKeyOf(table: ObjectStore): string {
  const url = new URL(table.url);
  if (url.protocol === 'file:') return table.url.replace(/\/+$/, '');
  const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  // Path-style emulator URLs start with the account name.
  const hostStyle = /\.(blob|dfs)\./.test(url.hostname);
  return (hostStyle ? segments : segments.slice(1)).join('/');
}

/**
 * Id of the lane intent of one file version of one table: the same in every attempt and process.
 *
 * @param tableKey ledger key of the table
 * @param path blob path
 * @param etag normalised ETag
 * @returns the intent id
 */
export function sourceIntentId(tableKey: string, path: string, etag: string): string {
  return `ingest-${createHash('sha256').update(`${tableKey}\n${path}\n${etag}`).digest('hex').slice(0, 40)}`;
}

/**
 * Ingest one landing file into its bronze table, exactly once per (path, ETag).
 *
 * @param options landing file, table, source settings, ledger, dead-letter target
 * @returns what happened
 */
export async function ingestFile(options: IngestFileOptions): Promise<IngestOutcome> {
  const outcome = await ingestFileOnce(options);
  if (outcome.version !== undefined && options.onCommitted) await options.onCommitted(outcome.version);
  return outcome;
}

async function ingestFileOnce(options: IngestFileOptions): Promise<IngestOutcome> {
  const { landing, path, table, ledger } = options;
  const now = options.now ?? new Date();
  const tableKey = options.tableKey ?? tableKeyOf(table);
  const zero = { rowsRead: 0, rowsWritten: 0, rowsRescued: 0, rowsDeadLettered: 0 };
  // Before anything is recorded: a bad setting must not leave the file half-handled in the ledger.
  checkSourceOptions(options);

  let info;
  try {
    info = await landing.properties(path);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return { status: 'missing', path, ...zero, bytes: 0 };
    throw err;
  }
  const etag = normaliseEtag(info.etag);
  if (options.etag !== undefined && normaliseEtag(options.etag) !== etag) {
    return { status: 'superseded', path, etag, ...zero, bytes: info.size, reason: `the blob now has ETag ${etag}, not ${normaliseEtag(options.etag)}` };
  }

  let snapshot = await loadSnapshotIfExists(table);
  const intentId = sourceIntentId(tableKey, path, etag);
  // No read of the ledger first: creating the entry if absent claims a new file in one request, and
  // answers with the entry of a file seen before (a duplicate, or an attempt that did not finish).
  const started = await ledger.start({
    table: tableKey,
    path,
    etag,
    status: 'started',
    ...(options.source?.name ? { source: options.source.name } : {}),
    attempts: 1,
    startedAt: now.toISOString(),
    updatedAt: now.toISOString(),
    startVersion: snapshot?.version ?? -1,
    ...zero,
    bytes: info.size,
  });
  let entry = started.entry;
  if (!started.created) {
    if (entry.status !== 'started') return fromEntry('duplicate', entry);
    entry = await nextAttempt(ledger, entry, now);
  }
  if (entry.attempts > 1 && snapshot) {
    // A previous attempt may have committed and died before recording it.
    const done = await completedByCommit(table, ledger, entry, intentId, now);
    if (done) return fromEntry('duplicate', done);
  }
  // Attempts that died (a file that exhausts memory kills its process every time) count too.
  if ((entry.failures ?? 0) >= (options.poisonAttempts ?? DEFAULT_POISON_ATTEMPTS)) {
    return setAsidePoison(
      { ...options, now, tableKey },
      entry,
      etag,
      info.size,
      intentId,
      entry.failures!,
      entry.lastError ?? 'attempts stopped without an outcome',
    );
  }

  const read = options.reader ?? formatsReader();
  // Reads may keep bad records in a temporary file: closed once the file's outcome is recorded.
  const reads: ReadResult[] = [];
  const reader: ReadInput = async (...args) => {
    const result = await read(...args);
    reads.push(result);
    return result;
  };
  const claim = holdClaim(ledger, entry);
  const held = { ...options, ledger: claim.ledger, now, tableKey };
  let local: LocalInput | null = null;
  try {
    const engine = options.source?.csvEngine ?? 'auto';
    if (engine !== 'reader' && wantsCsvCopy(path, options.source?.format, info.size, engine === 'duckdb')) {
      local = await localInputOf(landing, path, info.size, etag, options.chunkBytes);
    }
    for (let round = 1; ; round++) {
      try {
        const outcome = await attempt(held, snapshot, entry, etag, info, intentId, reader, local);
        return local?.readBy ? { ...outcome, readBy: local.readBy } : outcome;
      } catch (err) {
        if (err instanceof IngestConfigError) {
          // Nothing of this file was committed (config errors come before any commit): the file is as
          // good as never seen, so the next event or backfill ingests it once the setting is fixed.
          await claim.ledger.remove(entry);
          throw err;
        }
        // The table was created, or a column this file adds was added with another type, concurrently:
        // read the file again against the table as it is now.
        if ((err instanceof TableChangedError || err instanceof SchemaChangedError) && round < MAX_ROUNDS) {
          snapshot = await loadSnapshotIfExists(table);
          continue;
        }
        if (isTransient(err)) {
          // Give the claim up so the next delivery or reconcile does not wait for it to expire; the
          // storage that just failed may fail this write too, which only delays the retry.
          const at = new Date().toISOString();
          await claim.ledger.put({ ...entry, failedAt: at, updatedAt: at }).catch(() => undefined);
          throw err;
        }
        return await failedAttempt(held, entry, etag, info.size, intentId, err);
      }
    }
  } finally {
    await claim.release();
    for (const result of reads) result.moreBadRecords?.dispose();
    await local?.dispose();
  }
}

/**
 * Record an attempt that failed for a non-transient reason. Below the poison limit the failure is
 * counted and rethrown (the trigger or reconcile tries again); at the limit the file is dead-lettered
 * whole, unless its rows turn out to have been committed after all.
 *
 * @returns the outcome once the file is poison
 * @throws the failure, while attempts remain
 */
async function failedAttempt(
  options: IngestFileOptions & { now: Date; tableKey: string },
  entry: LedgerEntry,
  etag: string,
  size: number,
  intentId: string,
  err: unknown,
): Promise<IngestOutcome> {
  const { ledger } = options;
  const limit = options.poisonAttempts ?? DEFAULT_POISON_ATTEMPTS;
  const failures = (entry.failures ?? 0) + 1;
  // Bounded: a message can carry a whole record or a stack of causes.
  const lastError = errorText(err).slice(0, 2000);
  const at = new Date().toISOString();
  if (failures < limit) {
    await ledger.put({ ...entry, failures, lastError, failedAt: at, updatedAt: at });
    throw err;
  }
  return setAsidePoison(options, entry, etag, size, intentId, failures, lastError);
}

/** Dead-letter a poison file whole, unless its rows turn out to have been committed after all. */
async function setAsidePoison(
  options: IngestFileOptions & { now: Date; tableKey: string },
  entry: LedgerEntry,
  etag: string,
  size: number,
  intentId: string,
  failures: number,
  lastError: string,
): Promise<IngestOutcome> {
  const { ledger } = options;
  const committed = await completedByCommit(options.table, ledger, entry, intentId, new Date());
  if (committed) return fromEntry('committed', committed);
  const at = new Date().toISOString();
  const reason = `poison: ${lastError}`;
  const path = deadLetterPath(options.deadLetter, entry.startedAt, options.path, etag);
  await writeDeadLetter(options.deadLetter, path, {
    table: options.tableKey,
    source: { landing: options.landing.url, path: options.path, etag, size },
    reason: `${reason} (failed ${failures} times; the whole file is set aside, no row of it is in the table)`,
    counts: { rowsRead: 0, rowsWritten: 0, rowsDeadLettered: 0 },
    createdAt: at,
    records: [],
  });
  const done: LedgerEntry = {
    ...entry,
    status: 'deadlettered',
    failures,
    lastError,
    failedAt: at,
    updatedAt: at,
    rowsRead: 0,
    rowsWritten: 0,
    rowsRescued: 0,
    rowsDeadLettered: 0,
    bytes: size,
    deadLetter: path,
    reason,
  };
  await ledger.put(done);
  return fromEntry('deadlettered', done);
}

/** The ledger entry completed from the commit carrying this file's intent, if an attempt made one. */
async function completedByCommit(table: ObjectStore, ledger: IngestLedger, entry: LedgerEntry, intentId: string, now: Date): Promise<LedgerEntry | null> {
  const found = await findIntentCommit(table, entry.startVersion, intentId);
  if (!found) return null;
  const done: LedgerEntry = { ...entry, ...countsFrom(found.source), status: 'committed', version: found.version, updatedAt: now.toISOString() };
  await ledger.put(done);
  return done;
}

/** The table appeared (created by a concurrent ingestion) while this one wanted to create it. */
class TableChangedError extends Error {}

async function attempt(
  options: IngestFileOptions & { now: Date; tableKey: string },
  snapshot: Snapshot | null,
  entry: LedgerEntry,
  etag: string,
  info: ObjectInfo,
  intentId: string,
  reader: ReadInput,
  local: LocalInput | null,
): Promise<IngestOutcome> {
  const { landing, path, table, now } = options;
  const size = info.size;
  const source = options.source ?? {};
  const mode = source.schemaEvolution ?? 'addNewColumns';
  let bytesRead = 0;
  // A copy taken for DuckDB is read by the reader too (it was checked against the ETag when taken).
  const input = rangedObject(local?.spooled ? local.store : landing, local?.spooled ? local.name : path, size, {
    chunkBytes: options.chunkBytes,
    etag: local?.spooled ? undefined : etag,
    onBytes: (n) => {
      bytesRead = n;
      options.onProgress?.({ bytesRead, rowsWritten: conformer?.rowsWritten ?? 0 });
    },
  });
  let conformer: BatchConformer | undefined;
  // DuckDB's copy of a CSV writes its own files; every other large input gets its encoder started now.
  if (!local) prepareDataFilesWrite(size, options.files);
  const result = await readSource(reader, input, options, info.lastModified, snapshot);
  const iterator = result.batches[Symbol.asyncIterator]();
  let added = newColumns(result.schema, snapshot?.schema ?? null);
  // The first file of a new table, for DuckDB to copy: its sample has rows, so the table is created
  // from this read's schema and the copy goes on from the same read. The reader's way (below) reads
  // a first batch to learn that the file has rows, creates the table and reads the file again:
  // about 0.3 s of a 1M-row file. A column typed only on creation (no value in the sample) goes
  // that way too, read again against the table.
  let createdHere = false;
  if (!snapshot && local && (result.csv?.sampledRows ?? 0) > 0 && !result.schema.fields.some((f) => f.type === 'void')) {
    await createTableFor(options, result, iterator);
    snapshot = await loadSnapshotIfExists(table);
    if (!snapshot) throw new TableChangedError();
    added = newColumns(result.schema, snapshot.schema);
    createdHere = true;
  }

  if (snapshot && added.length && mode === 'failOnNewColumns') {
    await drain(iterator);
    const reason = `new column${added.length > 1 ? 's' : ''} ${added.map((f) => f.name).join(', ')} not in the table schema (schemaEvolution failOnNewColumns)`;
    return finish(options, entry, etag, size, result, { rowsWritten: 0, rowsRescued: 0, files: 0, fileReason: reason, deadLetterAll: true });
  }

  if (snapshot && local) {
    const copied = await copyWithDuckdb(options, snapshot, result, added, etag, local, input);
    if (copied) {
      await iterator.return?.();
      options.onProgress?.({ bytesRead: size, rowsWritten: copied.counts.rowsWritten });
      if (copied.files.length === 0) return finish(options, entry, etag, size, result, copied.counts);
      return commitFiles(options, snapshot, entry, etag, size, result, intentId, copied);
    }
    if (createdHere) {
      // Read by the reader after all: against the table just created, as every later file is.
      await iterator.return?.();
      throw new TableChangedError();
    }
  }

  const first = await iterator.next();
  if (first.done) {
    // No rows: nothing to commit (and no table to create).
    return finish(options, entry, etag, size, result, { rowsWritten: 0, rowsRescued: 0, files: 0 });
  }

  if (!snapshot) {
    await createTableFor(options, result, iterator);
    await iterator.return?.();
    // Read again against the table just created, so this first file goes the same way as all others.
    throw new TableChangedError();
  }

  const { schema, evolved } = writeSchema(snapshot.schema, mode === 'addNewColumns' ? added : []);
  conformer = new BatchConformer(schema, fileMetadata(now, path, etag), mode === 'rescue' ? added : []);
  const conform = conformer;
  async function* batches(): AsyncGenerator<arrow.RecordBatch> {
    yield conform.conform(first.value);
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      yield conform.conform(next.value);
      options.onProgress?.({ bytesRead, rowsWritten: conform.rowsWritten });
    }
    ingestFaultPoint('afterRead');
  }
  const files = await writeDataFiles({ store: table, schema, partitionColumns: snapshot.partitionColumns }, batches(), options.files);
  ingestFaultPoint('afterDataFiles');
  const counts = { rowsWritten: conform.rowsWritten, rowsRescued: conform.rowsRescued, files: files.length };
  if (files.length === 0) return finish(options, entry, etag, size, result, counts);
  return commitFiles(options, snapshot, entry, etag, size, result, intentId, { files, counts, schema, evolved, added: mode === 'addNewColumns' ? added : [] });
}

/**
 * Create the table a file's rows go to, from the file's schema (its data columns, `_rescued_data`,
 * the metadata columns) and the source's partition columns.
 *
 * @throws IngestConfigError when a partition column is not a column of the file
 * @throws TableChangedError when another ingestion created the table first
 */
async function createTableFor(options: IngestFileOptions, result: ReadResult, iterator: AsyncIterator<arrow.RecordBatch>): Promise<void> {
  const { landing, path, table } = options;
  const source = options.source ?? {};
  const schema = creationSchema(result.schema);
  const partitionColumns = source.partitionBy ?? ['_load_date'];
  const missing = partitionColumns.filter((c) => !schema.fields.some((f) => f.name === c));
  if (missing.length) {
    await iterator.return?.();
    const file = `${landing.url.replace(/\/+$/, '')}/${path}`;
    throw new IngestConfigError(
      `ingest: ${file} not ingested: setting partitionBy of ${sourceName(source)}: partition column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${table.url} not in the columns of the file (${schema.fields.map((f) => f.name).join(', ')})`,
      'partitionBy',
      file,
    );
  }
  try {
    await createTable(table, { schema, partitionColumns });
  } catch (err) {
    await iterator.return?.();
    if (err instanceof WriteRejectedError && /already exists/.test(err.message)) throw new TableChangedError();
    throw err;
  }
}

/** Data files written for a file, not yet committed. */
interface WrittenFiles {
  files: AddFile[];
  counts: { rowsWritten: number; rowsRescued: number; files: number };
  /** The schema they were written in, and whether it adds columns to the table's. */
  schema: DeltaStruct;
  evolved: boolean;
  /** New columns added to the table (addNewColumns). */
  added: DeltaField[];
}

/**
 * Copy a CSV file with DuckDB (csv-copy.ts) when it reads it exactly as the reader would; null when it
 * does not (the reader, which has only taken its sample, goes on).
 */
async function copyWithDuckdb(
  options: IngestFileOptions & { now: Date; tableKey: string },
  snapshot: Snapshot,
  result: ReadResult,
  added: DeltaField[],
  etag: string,
  local: LocalInput,
  input: RangedInput,
): Promise<WrittenFiles | null> {
  const mode = options.source?.schemaEvolution ?? 'addNewColumns';
  // New columns are refused, or moved into `_rescued_data`, by the reader's path.
  if (added.length && mode !== 'addNewColumns') {
    local.readBy = `reader (new columns in schemaEvolution ${mode})`;
    return null;
  }
  const { schema, evolved } = writeSchema(snapshot.schema, added);
  const copy = await copyCsvIntoFiles({
    localPath: local.path,
    read: result,
    schema,
    partitionColumns: snapshot.partitionColumns,
    metadata: fileMetadata(options.now, options.path, etag),
    table: options.table,
    files: options.files,
  });
  local.readBy = copy.copied ? 'duckdb' : `reader (${copy.reason})`;
  if (!copy.copied) return null;
  try {
    // The reader checks at its end that the file was not replaced meanwhile; so does the copy.
    if (!local.spooled) await input.verify?.();
  } catch (err) {
    await Promise.allSettled(copy.adds.map((a) => options.table.delete(decodeAddPath(a.path))));
    throw err;
  }
  ingestFaultPoint('afterRead');
  ingestFaultPoint('afterDataFiles');
  result.stats.rowsRead = copy.rows;
  result.stats.rowsEmitted = copy.rows;
  result.stats.rowsWithRescued = copy.rowsRescued;
  result.stats.bytesRead = input.size;
  return { files: copy.adds, counts: { rowsWritten: copy.rows, rowsRescued: copy.rowsRescued, files: copy.adds.length }, schema, evolved, added };
}

/** Commit the data files written for a file through the table's lane, then complete its ledger entry. */
async function commitFiles(
  options: IngestFileOptions & { now: Date; tableKey: string },
  snapshot: Snapshot,
  entry: LedgerEntry,
  etag: string,
  size: number,
  result: ReadResult,
  intentId: string,
  written: WrittenFiles,
): Promise<IngestOutcome> {
  const { landing, path, table, ledger, tableKey } = options;
  const source = options.source ?? {};
  const { files, counts, schema, evolved, added } = written;

  // Dead-letter record first: once the commit exists, a retry only completes the ledger.
  const deadLetter = await deadLetterFor(options, entry, etag, size, result, counts.rowsWritten);
  const sourceInfo = {
    kind: 'file',
    intent: intentId,
    table: tableKey,
    file: path,
    etag,
    landing: landing.url,
    ...(source.name ? { source: source.name } : {}),
    attempt: randomUUID(),
    rowsRead: result.stats.rowsRead,
    rowsWritten: counts.rowsWritten,
    rowsRescued: counts.rowsRescued,
    rowsDeadLettered: badRecordCount(result),
    bytes: size,
    ...(deadLetter ? { deadLetter } : {}),
    // How the reader decided, kept with the rows it describes: each column's type and why (date
    // formats, leading zeros), the CSV dialect, and under `#columns` the input names that had to change.
    inference: result.inference,
  };
  const landed = await submitToLane(
    table,
    {
      id: intentId,
      baseVersion: Math.min(entry.startVersion, snapshot.version),
      tableId: snapshot.metadata.id,
      partitionColumns: snapshot.partitionColumns,
      adds: files,
      source: sourceInfo,
      ...(evolved ? { columns: schema.fields } : {}),
    },
    options.lane,
  );
  ingestFaultPoint('beforeLedger');
  // The rows that landed may be another attempt's (same file, same counts): take the commit's word.
  let committed: Record<string, unknown> = sourceInfo;
  const carried = landed.committedHere ? null : await readCommitIfExists(table, landed.version);
  const recorded = carried && laneCommitRecord(carried)?.sources.find((s) => s.intent === intentId);
  if (recorded) committed = recorded;
  const done: LedgerEntry = {
    ...entry,
    ...countsFrom(committed),
    status: 'committed',
    version: landed.version,
    updatedAt: new Date().toISOString(),
    ...(deadLetter ? { deadLetter } : {}),
    ...accounting(result, counts.rowsWritten),
  };
  await ledger.put(done);
  return { ...fromEntry('committed', done), ...(evolved && added.length ? { newColumns: added.map((f) => f.name) } : {}) };
}

/** Record an outcome without a commit (no rows written): dead-lettered, or an input without rows. */
async function finish(
  options: IngestFileOptions & { now: Date; tableKey: string },
  entry: LedgerEntry,
  etag: string,
  size: number,
  result: ReadResult,
  counts: { rowsWritten: number; rowsRescued: number; files: number; fileReason?: string; deadLetterAll?: boolean },
): Promise<IngestOutcome> {
  const deadLetter = await deadLetterFor(options, entry, etag, size, result, counts.rowsWritten, counts.fileReason, counts.deadLetterAll);
  const rowsDeadLettered = counts.deadLetterAll ? result.stats.rowsRead : badRecordCount(result);
  const failed = !!deadLetter;
  const done: LedgerEntry = {
    ...entry,
    status: failed ? 'deadlettered' : 'committed',
    rowsRead: result.stats.rowsRead,
    rowsWritten: 0,
    rowsRescued: 0,
    rowsDeadLettered,
    bytes: size,
    updatedAt: new Date().toISOString(),
    ...(deadLetter ? { deadLetter } : {}),
    ...(counts.deadLetterAll ? {} : accounting(result, 0)),
  };
  const reason =
    counts.fileReason ??
    result.fatal?.reason ??
    (failed ? `no record could be read (${rowsDeadLettered} dead-lettered; the first: ${result.badRecords[0]?.reason})` : undefined);
  if (reason && !done.reason?.startsWith('accounting')) done.reason = reason;
  ingestFaultPoint('beforeLedger');
  await options.ledger.put(done);
  return fromEntry(done.status as 'committed' | 'deadlettered', done);
}

async function deadLetterFor(
  options: IngestFileOptions & { tableKey: string },
  entry: LedgerEntry,
  etag: string,
  size: number,
  result: ReadResult,
  rowsWritten: number,
  fileReason?: string,
  all = false,
): Promise<string | undefined> {
  const reason = fileReason ?? result.fatal?.reason;
  if (!reason && badRecordCount(result) === 0) return undefined;
  const path = deadLetterPath(options.deadLetter, entry.startedAt, options.path, etag);
  await writeDeadLetter(options.deadLetter, path, {
    table: options.tableKey,
    source: { landing: options.landing.url, path: options.path, etag, size },
    ...(reason ? { reason } : {}),
    counts: { rowsRead: result.stats.rowsRead, rowsWritten, rowsDeadLettered: all ? result.stats.rowsRead : badRecordCount(result) },
    createdAt: new Date().toISOString(),
    records: withFatal(result),
  });
  return path;
}

/** The bad records of a read, then its fatal (the input lost from where reading stopped), if any. */
function* withFatal(result: ReadResult): Generator<BadRecord> {
  yield* allBadRecords(result);
  if (result.fatal) yield result.fatal;
}

function accounting(result: ReadResult, rowsWritten: number): { reason?: string } {
  const read = result.stats.rowsRead;
  const dead = badRecordCount(result);
  if (read === rowsWritten + dead) return result.fatal ? { reason: result.fatal.reason } : {};
  return {
    reason: `accounting mismatch: reader counted ${read} rows read, ${rowsWritten} were written and ${dead} dead-lettered${result.fatal ? `; ${result.fatal.reason}` : ''}`,
  };
}

async function nextAttempt(ledger: IngestLedger, entry: LedgerEntry, now: Date): Promise<LedgerEntry> {
  // A claim that lapsed without a recorded failure: the attempt's process died (or was stopped).
  const ended = entry.failedAt !== undefined && Date.parse(entry.failedAt) >= Date.parse(entry.updatedAt);
  const died = entry.status === 'started' && !ended && !claimIsLive(entry, Date.now());
  const next: LedgerEntry = {
    ...entry,
    attempts: entry.attempts + 1,
    updatedAt: now.toISOString(),
    ...(died
      ? {
          failures: (entry.failures ?? 0) + 1,
          lastError: `the attempt last seen at ${entry.updatedAt} stopped without an outcome (its process died or was stopped)`,
        }
      : {}),
  };
  await ledger.put(next);
  return next;
}

async function drain(iterator: AsyncIterator<unknown>): Promise<void> {
  for (;;) if ((await iterator.next()).done) return;
}

function countsFrom(
  source: Record<string, unknown>,
): Pick<LedgerEntry, 'rowsRead' | 'rowsWritten' | 'rowsRescued' | 'rowsDeadLettered'> & { deadLetter?: string } {
  return {
    rowsRead: Number(source.rowsRead ?? 0),
    rowsWritten: Number(source.rowsWritten ?? 0),
    rowsRescued: Number(source.rowsRescued ?? 0),
    rowsDeadLettered: Number(source.rowsDeadLettered ?? 0),
    ...(typeof source.deadLetter === 'string' ? { deadLetter: source.deadLetter } : {}),
  };
}

function fromEntry(status: IngestStatus, entry: LedgerEntry): IngestOutcome {
  return {
    status,
    path: entry.path,
    etag: entry.etag,
    ...(entry.version !== undefined ? { version: entry.version } : {}),
    rowsRead: entry.rowsRead,
    rowsWritten: entry.rowsWritten,
    rowsRescued: entry.rowsRescued,
    rowsDeadLettered: entry.rowsDeadLettered,
    bytes: entry.bytes,
    ...(entry.deadLetter ? { deadLetter: entry.deadLetter } : {}),
    ...(entry.reason ? { reason: entry.reason } : {}),
    attempts: entry.attempts,
  };
}

/**
 * Find the commit after `fromVersion` that carries an intent (reads only the commits since then).
 *
 * @param table store rooted at the table
 * @param fromVersion the table version before the intent could have been committed
 * @param intentId the intent id
 * @returns the version and the source record the commit lists for it, or null
 */
export async function findIntentCommit(
  table: ObjectStore,
  fromVersion: number,
  intentId: string,
): Promise<{ version: number; source: Record<string, unknown> } | null> {
  for (let v = Math.max(0, fromVersion + 1); ; v += 16) {
    const versions = Array.from({ length: 16 }, (_, i) => v + i);
    const commits = await Promise.all(versions.map((version) => readCommitIfExists(table, version)));
    for (let i = 0; i < versions.length; i++) {
      const actions = commits[i];
      if (!actions) return null;
      const lane = laneCommitRecord(actions);
      if (lane?.intents.includes(intentId)) return { version: versions[i], source: lane.sources.find((s) => s.intent === intentId) ?? {} };
    }
  }
}
