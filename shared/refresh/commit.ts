/**
 * Committing a refresh's writes to a table: data files added and removed, the schema grown by new
 * columns, and one `txn` per source recording the source version applied — all in one commit, so a
 * target either has an update with its txn or neither.
 *
 * The txn check happens twice: before any work (the caller compares the target's txn with the source
 * version) and on commit: if another attempt of the same refresh committed meanwhile (a retried
 * activity racing its first attempt), the commit conflicts on the txn, the table is re-read, and when
 * its txn already covers our versions the update reports itself as skipped; our data files are then
 * orphans for vacuum.
 */
import { removeAction, type Action, type AddFile, type Txn } from '../delta/actions';
import {
  CommitConflictError,
  commitTransaction,
  createTable,
  type DeltaStruct,
  loadSnapshot,
  NotATableError,
  type ReadPredicate,
  type Snapshot,
  txnVersion,
  WriteRejectedError,
} from '../delta';
import { checkWriteSupport } from '../delta/protocol';
import type { ObjectStore } from '../storage/types';
import { latestSnapshot } from '../delta/latest';

/** One table update to commit. */
export interface TableUpdate {
  /** The version the update read (its files to remove come from it). */
  snapshot: Snapshot;
  /** The schema after the update (the snapshot's, or with columns added). */
  schema: DeltaStruct;
  adds: AddFile[];
  /** Live files the update replaces. */
  removes: AddFile[];
  /** appId → source version applied. */
  txns: Record<string, number>;
  operation: string;
  operationParameters?: Record<string, unknown>;
  /** What the update read (conflict detection); default: the whole table when it removes files. */
  readPredicate?: ReadPredicate;
  commitInfo?: Record<string, unknown>;
  /** A rebuild: commit even when the txns are already recorded, with this partitioning and these properties. */
  rebuild?: { partitionColumns: string[]; configuration: Record<string, string> };
}

/** Outcome of a commit. */
export interface UpdateResult {
  /** The version committed, or the table's version when skipped. */
  version: number;
  /** Another attempt already applied these source versions; nothing was committed. */
  skipped: boolean;
}

/**
 * Load a table, creating it empty when it does not exist.
 *
 * @param store store rooted at the table
 * @param schema schema for a new table
 * @param partitionColumns partitioning for a new table
 * @param configuration properties for a new table
 * @returns the latest snapshot
 */
export async function openOrCreate(
  store: ObjectStore,
  schema: DeltaStruct,
  partitionColumns: string[],
  configuration: Record<string, string> = {},
): Promise<Snapshot> {
  const existing = await loadIfExists(store);
  if (existing) return existing;
  try {
    await createTable(store, { schema, partitionColumns, configuration });
  } catch (err) {
    // Another attempt created it first: use theirs.
    if (!(err instanceof WriteRejectedError)) throw err;
  }
  return loadSnapshot(store);
}

/**
 * Load a table's latest snapshot, or null when there is no table.
 *
 * @param store store rooted at the table
 * @returns the snapshot or null
 */
export async function loadIfExists(store: ObjectStore): Promise<Snapshot | null> {
  try {
    return await latestSnapshot(store);
  } catch (err) {
    if (err instanceof NotATableError) return null;
    throw err;
  }
}

/**
 * Whether every txn of an update is already recorded in a snapshot.
 *
 * @param snapshot the table version
 * @param txns appId → version
 * @returns true when nothing is left to apply
 */
export function alreadyApplied(snapshot: Snapshot, txns: Record<string, number>): boolean {
  return Object.entries(txns).every(([appId, version]) => txnVersion(snapshot, appId) >= version);
}

/**
 * Commit an update.
 *
 * @param store store rooted at the table
 * @param update files, schema, txns and provenance
 * @returns the version, or skipped when another attempt applied the same source versions
 */
export async function commitUpdate(store: ObjectStore, update: TableUpdate): Promise<UpdateResult> {
  const { snapshot } = update;
  checkWriteSupport(snapshot.protocol, snapshot.metadata, update.schema, store.url);
  if (!update.rebuild && alreadyApplied(snapshot, update.txns)) return { version: snapshot.version, skipped: true };
  const now = Date.now();
  const actions: Action[] = [];
  const { rebuild } = update;
  const metadataChanged =
    JSON.stringify(update.schema) !== JSON.stringify(snapshot.schema) ||
    (rebuild &&
      (JSON.stringify(rebuild.partitionColumns) !== JSON.stringify(snapshot.partitionColumns) ||
        JSON.stringify(rebuild.configuration) !== JSON.stringify(snapshot.metadata.configuration ?? {})));
  if (metadataChanged) {
    actions.push({ metaData: { ...snapshot.metadata, schemaString: JSON.stringify(update.schema), ...(rebuild ?? {}) } });
  }
  for (const add of update.adds) actions.push({ add });
  for (const file of update.removes) {
    actions.push(removeAction(file, true, now));
  }
  for (const [appId, version] of Object.entries(update.txns)) actions.push({ txn: { appId, version, lastUpdated: now } satisfies Txn });
  try {
    const result = await commitTransaction(store, snapshot, {
      actions,
      operation: update.operation,
      operationParameters: update.operationParameters,
      readPredicate: update.readPredicate ?? (update.removes.length || actions.some((a) => 'metaData' in a) ? 'table' : null),
      commitInfo: update.commitInfo,
    });
    return { version: result.version, skipped: false };
  } catch (err) {
    if (!(err instanceof CommitConflictError)) throw err;
    const latest = await loadSnapshot(store);
    if (!rebuild && alreadyApplied(latest, update.txns)) return { version: latest.version, skipped: true };
    throw err;
  }
}
