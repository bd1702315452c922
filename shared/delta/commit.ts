/**
 * Committing a transaction: optimistic concurrency on put-if-absent commit files.
 *
 * The next version's commit file is created with create-if-absent. When another writer got that
 * version first, its commit is read and checked against ours (the protocol's conflict rules); if
 * nothing conflicts the commit is rebuilt on the new version and tried again, a bounded number of
 * times. A lost race whose winner turns out to be ourselves (a retried request whose first attempt
 * did land) is recognised by the commit's unique `txnId`.
 */
import { randomUUID } from 'node:crypto';
import type { ObjectStore } from '../storage/types';
import { ObjectAlreadyExistsError } from '../storage/types';
import { Action, CommitInfo, serialiseCommit } from './actions';
import { checkpointIfDue } from './checkpoint';
import { CommitConflictError, CommitRetriesExhaustedError, WriteRejectedError } from './errors';
import { faultPoint } from './faults';
import { commitPath, readCommitIfExists } from './log';
import { CREATE_PROTOCOL } from './protocol';
import { applyActions, cloneState, emptyState, TableState } from './replay';
import type { Snapshot } from './snapshot';
import { keepCommitted, latestSnapshot } from './latest';

/** Engine name written to `commitInfo.engineInfo`. */
export const ENGINE_INFO = 'sluice/0.1.0';

/**
 * What a transaction read, for conflict detection: `null` for a blind append, `'table'` when it read
 * the whole table, or a list of partition filters (each a map of partition column → serialised value).
 */
export type ReadPredicate = null | 'table' | Record<string, string | null>[];

/** A transaction to commit. */
export interface CommitRequest {
  /** File, txn, metadata and protocol actions (never commitInfo: it is added here). */
  actions: Action[];
  /** Operation name for history, e.g. `WRITE`, `CREATE TABLE`, `OPTIMIZE`. */
  operation: string;
  operationParameters?: Record<string, unknown>;
  /** What the transaction read. Default: null (blind append) when it only adds files, `'table'` otherwise. */
  readPredicate?: ReadPredicate;
  /** More keys for `commitInfo` (e.g. the lane's request ids). */
  commitInfo?: Record<string, unknown>;
}

/** Commit tuning. */
export interface CommitOptions {
  /** Attempts before giving up (default 100). */
  maxAttempts?: number;
  /** Checkpoint after versions divisible by this (default: the table's `delta.checkpointInterval`, else 10). */
  checkpointInterval?: number;
}

/** Outcome of a commit. */
export interface CommitResult {
  version: number;
  attempts: number;
  /** The state right after this commit. */
  state: TableState;
  /** Whether a checkpoint was written for this version. */
  checkpointed: boolean;
  txnId: string;
}

/**
 * Commit a transaction on top of a snapshot (or create the table when `snapshot` is null).
 *
 * @param store store rooted at the table
 * @param snapshot the version the transaction read, or null to create version 0
 * @param request actions and provenance
 * @param options retry and checkpoint settings
 * @returns the committed version and the state after it
 */
export async function commitTransaction(
  store: ObjectStore,
  snapshot: Snapshot | null,
  request: CommitRequest,
  options: CommitOptions = {},
): Promise<CommitResult> {
  const txnId = randomUUID();
  const readVersion = snapshot ? snapshot.version : -1;
  const blind = request.actions.every((a) => 'add' in a || 'txn' in a || 'commitInfo' in a);
  const predicate: ReadPredicate = request.readPredicate !== undefined ? request.readPredicate : blind ? null : 'table';
  let base: TableState = snapshot ? snapshot.state : emptyState();
  checkAppendOnly(base, request.actions, store.url);
  const maxAttempts = options.maxAttempts ?? 100;
  for (let attempt = 1; ; attempt++) {
    const version = base.version + 1;
    const commitInfo: CommitInfo = {
      timestamp: Date.now(),
      operation: request.operation,
      operationParameters: request.operationParameters ?? {},
      ...(readVersion >= 0 ? { readVersion } : {}),
      isBlindAppend: blind && predicate === null,
      engineInfo: ENGINE_INFO,
      txnId,
      ...request.commitInfo,
    };
    const text = serialiseCommit([{ commitInfo }, ...request.actions]);
    faultPoint('beforeCommit');
    try {
      await store.createIfAbsent(commitPath(version), text, { contentType: 'application/json' });
    } catch (err) {
      if (!(err instanceof ObjectAlreadyExistsError)) throw err;
      if (version === 0 && snapshot === null) {
        const existing = await readCommitIfExists(store, 0);
        if (ownCommit(existing, txnId)) return finish(store, base, request.actions, 0, attempt, txnId, options, null);
        throw new WriteRejectedError(`delta commit: table ${store.url} already exists (version 0 was created by another writer)`);
      }
      // Read every commit that landed since our base, then decide whether we may go on top of them.
      let next = version;
      for (;;) {
        const winner = await readCommitIfExists(store, next);
        if (!winner) break;
        if (ownCommit(winner, txnId)) return finish(store, base, request.actions, next, attempt, txnId, options, null);
        checkConflict(winner, next, request.actions, predicate, store.url);
        base = cloneState(base);
        applyActions(base, winner, next);
        next++;
      }
      if (attempt >= maxAttempts) {
        throw new CommitRetriesExhaustedError(
          `delta commit: gave up on ${store.url} after ${attempt} attempts; the table is busy (last version ${base.version})`,
        );
      }
      await backoff(attempt);
      continue;
    }
    return finish(store, base, request.actions, version, attempt, txnId, options, text);
  }
}

function ownCommit(actions: Action[] | null, txnId: string): boolean {
  return !!actions?.some((a) => 'commitInfo' in a && a.commitInfo.txnId === txnId);
}

async function finish(
  store: ObjectStore,
  base: TableState,
  actions: Action[],
  version: number,
  attempts: number,
  txnId: string,
  options: CommitOptions,
  /** The commit file's content when this attempt wrote it (null: an earlier attempt did). */
  text: string | null,
): Promise<CommitResult> {
  faultPoint('afterCommit');
  const state = cloneState(base);
  applyActions(state, actions, version);
  if (text !== null) keepCommitted(store, state, text);
  const checkpointed = await checkpointIfDue(store, state, options.checkpointInterval);
  return { version, attempts, state, checkpointed, txnId };
}

/**
 * Check a concurrent winning commit against ours.
 *
 * @param winner actions of the commit that took the version
 * @param version its version
 * @param ours our actions
 * @param predicate what our transaction read
 * @param table table URL for messages
 */
export function checkConflict(winner: Action[], version: number, ours: Action[], predicate: ReadPredicate, table: string): void {
  const fail = (why: string) => {
    throw new CommitConflictError(`delta commit: conflict on ${table} with version ${version}: ${why}`, version);
  };
  const ourTxns = new Set(ours.flatMap((a) => ('txn' in a ? [a.txn.appId] : [])));
  const ourRemoves = new Set(ours.flatMap((a) => ('remove' in a ? [a.remove.path] : [])));
  for (const a of winner) {
    if ('metaData' in a) fail('the table metadata (schema, partitioning or properties) changed concurrently');
    if ('protocol' in a) fail('the table protocol changed concurrently');
    if ('txn' in a && ourTxns.has(a.txn.appId)) fail(`another writer committed for application id "${a.txn.appId}" concurrently`);
    if ('remove' in a && ourRemoves.has(a.remove.path)) fail(`file ${a.remove.path} was removed concurrently`);
    if (predicate === null) continue;
    if (('add' in a && a.add.dataChange) || ('remove' in a && a.remove.dataChange)) {
      const file = 'add' in a ? a.add : a.remove;
      if (predicate === 'table' || predicate.some((p) => matchesPartition(file.partitionValues ?? {}, p))) {
        fail(`${'add' in a ? 'rows were added to' : 'rows were removed from'} data this transaction read (file ${file.path})`);
      }
    }
  }
}

/**
 * Whether a file's partition values match a partition filter (every filter column equal).
 *
 * @param values the file's partition values
 * @param filter column → value ('' and null both mean null)
 * @returns true when the file is inside the filter
 */
export function matchesPartition(values: Record<string, string | null>, filter: Record<string, string | null>): boolean {
  return Object.entries(filter).every(([column, want]) => (values[column] ?? '') === (want ?? ''));
}

function checkAppendOnly(state: TableState, actions: Action[], table: string): void {
  if (state.metadata?.configuration?.['delta.appendOnly'] !== 'true') return;
  if (actions.some((a) => 'remove' in a && a.remove.dataChange)) {
    throw new WriteRejectedError(`delta commit: table ${table} is append-only (delta.appendOnly=true); this operation would delete data`);
  }
}

async function backoff(attempt: number): Promise<void> {
  const ms = Math.min(1000, 5 * 2 ** Math.min(attempt, 8)) * (0.5 + Math.random());
  await new Promise((r) => setTimeout(r, ms));
}

/**
 * Protocol and metadata actions for a new table.
 *
 * @param options schema string, partition columns, properties, name, description
 * @returns the two actions for version 0
 */
export function newTableActions(options: {
  schemaString: string;
  partitionColumns: string[];
  configuration?: Record<string, string>;
  name?: string;
  description?: string;
}): Action[] {
  return [
    { protocol: CREATE_PROTOCOL },
    {
      metaData: {
        id: randomUUID(),
        name: options.name ?? null,
        description: options.description ?? null,
        format: { provider: 'parquet', options: {} },
        schemaString: options.schemaString,
        partitionColumns: options.partitionColumns,
        configuration: options.configuration ?? {},
        createdTime: Date.now(),
      },
    },
  ];
}

/**
 * Load the latest snapshot, or null when no table exists yet. The process keeps the snapshot it
 * loaded last (latest.ts), so a table loaded again costs only the commits added since.
 *
 * @param store store rooted at the table
 * @returns the snapshot or null
 */
export async function loadSnapshotIfExists(store: ObjectStore): Promise<Snapshot | null> {
  try {
    return await latestSnapshot(store);
  } catch (err) {
    if ((err as Error).name === 'NotATableError') return null;
    throw err;
  }
}
