/**
 * Table operations built on the layers below: create, append, overwrite (whole table or
 * partitions), idempotent writes with `txn`, and history.
 */
import * as arrow from 'apache-arrow';
import type { ObjectStore } from '../storage/types';
import { removeAction, type Action, type AddFile, type CommitInfo } from './actions';
import { CommitConflictError, WriteRejectedError } from './errors';
import { commitTransaction, CommitOptions, CommitResult, loadSnapshotIfExists, matchesPartition, newTableActions, ReadPredicate } from './commit';
import { faultPoint } from './faults';
import { LaneOptions, submitToLane } from './lane';
import { listLog, readCommit } from './log';
import { checkWriteSupport } from './protocol';
import { arrowToDeltaSchema, DeltaStruct, formatDeltaType } from './schema';
import { activeFiles, commitTimestamps, Snapshot, txnVersion } from './snapshot';
import { writeDataFiles, WriteFilesOptions } from './writer';

/** Options for creating a table. */
export interface CreateTableOptions {
  schema: DeltaStruct;
  partitionColumns?: string[];
  /** Table properties (`delta.*` and `sluice.*`). */
  configuration?: Record<string, string>;
  name?: string;
  description?: string;
}

/**
 * Create an empty table (version 0: protocol (1,2) and metadata). Fails if a table exists.
 *
 * @param store store rooted at the new table
 * @param options schema, partitioning, properties
 * @returns the commit result
 */
export async function createTable(store: ObjectStore, options: CreateTableOptions): Promise<CommitResult> {
  const partitionColumns = options.partitionColumns ?? [];
  checkPartitionColumns(options.schema, partitionColumns);
  const actions = newTableActions({
    schemaString: JSON.stringify(options.schema),
    partitionColumns,
    configuration: options.configuration,
    name: options.name,
    description: options.description,
  });
  return commitTransaction(store, null, {
    actions,
    operation: 'CREATE TABLE',
    operationParameters: { partitionBy: JSON.stringify(partitionColumns), properties: JSON.stringify(options.configuration ?? {}) },
  });
}

function checkPartitionColumns(schema: DeltaStruct, partitionColumns: string[]): void {
  for (const column of partitionColumns) {
    const field = schema.fields.find((f) => f.name === column);
    if (!field) throw new WriteRejectedError(`delta create: partition column "${column}" is not in the schema`);
    if (typeof field.type !== 'string' || field.type === 'binary' || field.type === 'void') {
      throw new WriteRejectedError(`delta create: column "${column}" of type ${formatDeltaType(field.type)} cannot be a partition column`);
    }
  }
  if (partitionColumns.length && partitionColumns.length === schema.fields.length) {
    throw new WriteRejectedError('delta create: at least one column must not be a partition column');
  }
}

function checkPartitionFilters(snapshot: Snapshot, filters: Record<string, string | null>[]): void {
  for (const filter of filters) {
    for (const column of Object.keys(filter)) {
      if (!snapshot.partitionColumns.includes(column))
        throw new WriteRejectedError(`delta write: replacePartitions names "${column}", which is not a partition column of ${snapshot.table}`);
    }
  }
}

function countRows(files: AddFile[]): number {
  return files.reduce((n, f) => n + (JSON.parse(f.stats!).numRecords as number), 0);
}

/** Idempotent writer identity: skip the write when `version` ≤ what `appId` already committed. */
export interface TxnMarker {
  appId: string;
  version: number;
}

/** Options for writing rows. */
export interface WriteOptions extends WriteFilesOptions, CommitOptions {
  /** `append` (default) or `overwrite`. */
  mode?: 'append' | 'overwrite';
  /** With `overwrite`: replace only partitions matching one of these filters (column → serialised value). */
  replacePartitions?: Record<string, string | null>[];
  /** Partition columns when the write creates the table. */
  partitionColumns?: string[];
  /** Table properties when the write creates the table. */
  configuration?: Record<string, string>;
  /** Idempotent writer marker. */
  txn?: TxnMarker;
  /** Provenance added to commitInfo. */
  commitInfo?: Record<string, unknown>;
  /** Appends only: hand the files to the table's commit lane (see lane.ts) instead of committing alone. */
  lane?: boolean | LaneOptions;
}

/** Outcome of a write. */
export interface WriteResult {
  /** Version committed, or the current version when the write was skipped. */
  version: number;
  /** True when `txn` showed this batch was already committed: nothing was written. */
  skipped: boolean;
  files: AddFile[];
  rows: number;
}

/**
 * Write record batches to a table: create it if missing (schema from the first batch), append or
 * overwrite, as one commit.
 *
 * @param store store rooted at the table
 * @param batches rows in the table schema
 * @param options mode, partitions, txn, file and commit settings
 * @returns version, files and rows written
 */
export async function writeTable(
  store: ObjectStore,
  batches: AsyncIterable<arrow.RecordBatch> | Iterable<arrow.RecordBatch>,
  options: WriteOptions = {},
): Promise<WriteResult> {
  let snapshot = await loadSnapshotIfExists(store);
  let files: AddFile[];
  if (!snapshot) {
    // Create the table with its first data in version 0, as Spark's first write does.
    const [first, rest] = await peek(batches);
    if (!first) throw new WriteRejectedError(`delta write: table ${store.url} does not exist and the input has no rows to take a schema from`);
    const schema = arrowToDeltaSchema(first.schema);
    const partitionColumns = options.partitionColumns ?? [];
    checkPartitionColumns(schema, partitionColumns);
    files = await writeDataFiles({ store, schema, partitionColumns }, rest, options);
    faultPoint('afterDataFiles');
    const actions: Action[] = [
      ...newTableActions({ schemaString: JSON.stringify(schema), partitionColumns, configuration: options.configuration }),
      ...files.map((add) => ({ add })),
      ...(options.txn ? [{ txn: { ...options.txn, lastUpdated: Date.now() } }] : []),
    ];
    try {
      const result = await commitTransaction(
        store,
        null,
        {
          actions,
          operation: 'CREATE TABLE AS SELECT',
          operationParameters: { partitionBy: JSON.stringify(partitionColumns), properties: JSON.stringify(options.configuration ?? {}) },
          commitInfo: options.commitInfo,
        },
        options,
      );
      return { version: result.version, skipped: false, files, rows: countRows(files) };
    } catch (err) {
      if (!(err instanceof WriteRejectedError)) throw err;
      // Another writer created the table meanwhile: append to it if it has the same shape.
      snapshot = (await loadSnapshotIfExists(store))!;
      if (JSON.stringify(snapshot.schema) !== JSON.stringify(schema) || JSON.stringify(snapshot.partitionColumns) !== JSON.stringify(partitionColumns)) {
        throw new WriteRejectedError(`delta write: table ${store.url} was created concurrently with another schema or partitioning; nothing was committed`);
      }
    }
    checkWriteSupport(snapshot.protocol, snapshot.metadata, snapshot.schema, store.url);
  } else {
    checkWriteSupport(snapshot.protocol, snapshot.metadata, snapshot.schema, store.url);
    if (options.txn && txnVersion(snapshot, options.txn.appId) >= options.txn.version) {
      return { version: snapshot.version, skipped: true, files: [], rows: 0 };
    }
    const filters = options.mode === 'overwrite' ? options.replacePartitions : undefined;
    if (filters) checkPartitionFilters(snapshot, filters);
    const acceptPartition = filters
      ? (values: Record<string, string | null>) => {
          if (!filters.some((p) => matchesPartition(values, p))) {
            throw new WriteRejectedError(
              `delta write: overwrite of partitions ${JSON.stringify(filters)} got rows for partition ${JSON.stringify(values)}; nothing was written`,
            );
          }
        }
      : undefined;
    files = await writeDataFiles({ store, schema: snapshot.schema, partitionColumns: snapshot.partitionColumns }, batches, { ...options, acceptPartition });
    faultPoint('afterDataFiles');
  }
  const rows = countRows(files);
  if (options.lane && options.mode !== 'overwrite') {
    const result = await submitToLane(
      store,
      {
        baseVersion: snapshot.version,
        tableId: snapshot.metadata.id,
        partitionColumns: snapshot.partitionColumns,
        adds: files,
        txn: options.txn && { ...options.txn },
        source: options.commitInfo,
      },
      options.lane === true ? { checkpointInterval: options.checkpointInterval } : options.lane,
    );
    return { version: result.version, skipped: result.skipped, files: result.skipped ? [] : files, rows: result.skipped ? 0 : rows };
  }
  for (let round = 0; ; round++) {
    const { actions, predicate } = planWrite(snapshot, files, options);
    try {
      const result = await commitTransaction(
        store,
        snapshot,
        {
          actions,
          operation: 'WRITE',
          operationParameters: {
            mode: options.mode === 'overwrite' ? 'Overwrite' : 'Append',
            partitionBy: JSON.stringify(snapshot.partitionColumns),
            ...(options.replacePartitions ? { replaceWhere: JSON.stringify(options.replacePartitions) } : {}),
          },
          readPredicate: predicate,
          commitInfo: options.commitInfo,
        },
        options,
      );
      return { version: result.version, skipped: false, files, rows };
    } catch (err) {
      // A txn conflict means another instance of the same writer committed: maybe this very batch.
      if (!(err instanceof CommitConflictError) || !options.txn || round >= 3) throw err;
      snapshot = (await loadSnapshotIfExists(store))!;
      if (txnVersion(snapshot, options.txn.appId) >= options.txn.version) return { version: snapshot.version, skipped: true, files: [], rows: 0 };
    }
  }
}

function planWrite(snapshot: Snapshot, files: AddFile[], options: WriteOptions): { actions: Action[]; predicate: ReadPredicate } {
  const actions: Action[] = files.map((add) => ({ add }));
  if (options.txn) actions.push({ txn: { appId: options.txn.appId, version: options.txn.version, lastUpdated: Date.now() } });
  if (options.mode !== 'overwrite') return { actions, predicate: null };
  const filters = options.replacePartitions;
  if (filters) {
    checkPartitionFilters(snapshot, filters);
    const outside = files.find((f) => !filters.some((p) => matchesPartition(f.partitionValues, p)));
    if (outside)
      throw new WriteRejectedError(
        `delta write: overwrite of partitions ${JSON.stringify(filters)} got rows for partition ${JSON.stringify(outside.partitionValues)}`,
      );
  }
  const now = Date.now();
  for (const file of activeFiles(snapshot)) {
    if (filters && !filters.some((p) => matchesPartition(file.partitionValues, p))) continue;
    actions.push(removeAction(file, true, now));
  }
  return { actions, predicate: filters ?? 'table' };
}

async function peek<T>(items: AsyncIterable<T> | Iterable<T>): Promise<[T | undefined, AsyncIterable<T>]> {
  const iterator =
    Symbol.asyncIterator in items
      ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (async function* () {
          yield* items as Iterable<T>;
        })();
  const first = await iterator.next();
  async function* rest(): AsyncGenerator<T> {
    if (first.done) return;
    yield first.value;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return [first.done ? undefined : first.value, rest()];
}

/** One entry of a table's history. */
export interface HistoryEntry {
  version: number;
  /**
   * Commit time used for time travel, ISO-8601: the commit's `inCommitTimestamp` when it has one,
   * else the storage last-modified time, made monotonic.
   */
  timestamp: string;
  operation?: string;
  operationParameters?: Record<string, unknown>;
  readVersion?: number;
  isBlindAppend?: boolean;
  engineInfo?: string;
  txnId?: string;
  /** Files added and removed, rows added (from stats where present). */
  metrics: { numAddedFiles: number; numRemovedFiles: number; numOutputRows: number | null };
}

/**
 * The commits still in the log, newest first.
 *
 * @param store store rooted at the table
 * @param limit at most this many entries
 * @returns history entries
 */
export async function tableHistory(store: ObjectStore, limit = Infinity): Promise<HistoryEntry[]> {
  const listing = await listLog(store);
  const stamps = commitTimestamps(listing);
  const versions = [...listing.commits.keys()].sort((a, b) => b - a).slice(0, limit);
  const out: HistoryEntry[] = [];
  for (let i = 0; i < versions.length; i += 16) {
    const chunk = versions.slice(i, i + 16);
    const commits = await Promise.all(chunk.map((v) => readCommit(store, v)));
    chunk.forEach((version, j) => {
      const info = (commits[j].find((a) => 'commitInfo' in a) as { commitInfo: CommitInfo } | undefined)?.commitInfo ?? {};
      let added = 0;
      let removed = 0;
      let rows: number | null = 0;
      for (const a of commits[j]) {
        if ('add' in a) {
          added++;
          const n = a.add.stats ? JSON.parse(a.add.stats).numRecords : undefined;
          rows = rows === null || typeof n !== 'number' ? null : rows + n;
        }
        if ('remove' in a) removed++;
      }
      out.push({
        version,
        timestamp: new Date(typeof info.inCommitTimestamp === 'number' ? info.inCommitTimestamp : stamps.get(version)!).toISOString(),
        operation: info.operation,
        operationParameters: info.operationParameters,
        readVersion: info.readVersion,
        isBlindAppend: info.isBlindAppend,
        engineInfo: info.engineInfo,
        txnId: info.txnId,
        metrics: { numAddedFiles: added, numRemovedFiles: removed, numOutputRows: added ? rows : 0 },
      });
    });
  }
  return out;
}
