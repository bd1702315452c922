/**
 * The commit lane: many writers (separate processes that share nothing but storage) hand their new
 * files to whoever commits next, so a burst of appends becomes a few commits instead of a storm of
 * conflicting ones.
 *
 * How it works (group commit on put-if-absent, no lock and no leader):
 *
 * 1. A writer stores an *intent* — its `add` actions (and optional `txn`) — as an immutable blob
 *    under `<table>/_sluice_lane/intents/`.
 * 2. It then tries to commit version v+1 itself, containing its own intent **and every other pending
 *    intent it can see**. The commit's `commitInfo.sluiceLane.intents` lists the intent ids it carries.
 * 3. Exactly one writer wins v+1 (create-if-absent). Every loser reads the winning commit; if its own
 *    intent is listed there, it is done; otherwise it tries v+2 with what is still pending.
 *
 * Put-if-absent remains the only correctness guarantee, so Spark, delta-rs or a Sluice writer that
 * bypasses the lane can commit to the same table at the same time. An intent is durable: once it is
 * stored, its rows land even if its writer dies — the next writer (or `flushLane`) commits it. An
 * intent that nobody commits within `maxIntentAgeMs` is abandoned and deleted; its data files become
 * orphans that vacuum removes. Files of pending intents are never vacuumed. A writer that finds its
 * own intent that old (it stalled) withdraws it instead of committing files vacuum may have taken.
 *
 * Intents with the same id are one request: at most one of them is ever committed (a writer that
 * retries after a crash, or two processes handling the same input, reuse the id), and an id already
 * carried by a commit after the intent's `baseVersion` counts as landed.
 *
 * Schema evolution (evolve.ts): an intent may list the `columns` its files were written with. New
 * columns join the table schema in the commit that carries the intent (one `metaData` action with the
 * union of the batch's new columns, widened); an intent whose files have a column the table has with
 * another type is never committed, and its writer gets `SchemaChangedError` to write the data again.
 */
import { randomUUID } from 'node:crypto';
import type { ObjectStore } from '../storage/types';
import { ObjectAlreadyExistsError, ObjectNotFoundError } from '../storage/types';
import { Action, AddFile, CommitInfo, serialiseCommit, Txn } from './actions';
import { checkpointIfDue } from './checkpoint';
import { ENGINE_INFO } from './commit';
import { CommitRetriesExhaustedError, DeltaError, SchemaChangedError } from './errors';
import { conflictingColumn, planSchemaMerge } from './evolve';
import { faultPoint } from './faults';
import { commitPath } from './log';
import { applyActions, cloneState, TableState } from './replay';
import { DeltaField, DeltaStruct, formatDeltaType, parseSchema } from './schema';
import { loadSnapshot, type Snapshot } from './snapshot';
import { keepCommitted, latestSnapshot, readKeptCommit } from './latest';

/** Pending intents older than this are abandoned by default. */
const DEFAULT_MAX_INTENT_AGE_MS = 15 * 60_000;

/** Folder of pending intents, relative to the table root. */
export const LANE_INTENTS = '_sluice_lane/intents/';

/** What a lane commit records in `commitInfo.sluiceLane`. */
export interface LaneCommitRecord {
  /** Ids of the intents the commit carries. */
  intents: string[];
  /** Provenance of each intent that had some (`LaneIntent.source`), each with its `intent` id. */
  sources: Record<string, unknown>[];
}

/**
 * The lane record of a commit, read from its actions: the one reader of `commitInfo.sluiceLane`
 * for every stage that asks which intents or sources a commit carried.
 *
 * @param actions the commit's actions (as read from the log)
 * @returns the record, or undefined when the commit was not made by the lane
 */
export function laneCommitRecord(actions: readonly unknown[]): LaneCommitRecord | undefined {
  for (const a of actions as Record<string, unknown>[]) {
    const info = a && typeof a === 'object' ? (a.commitInfo as { sluiceLane?: { intents?: unknown; sources?: unknown } } | undefined) : undefined;
    const lane = info?.sluiceLane;
    if (!lane || typeof lane !== 'object') continue;
    const intents = Array.isArray(lane.intents) ? lane.intents.filter((i): i is string => typeof i === 'string') : [];
    const sources = Array.isArray(lane.sources) ? lane.sources.filter((x): x is Record<string, unknown> => !!x && typeof x === 'object') : [];
    return { intents, sources };
  }
  return undefined;
}

/** A writer's request to append files. */
export interface LaneIntent {
  id: string;
  /** When it was created (ms, writer clock). */
  created: number;
  /** Table version the files were written against. */
  baseVersion: number;
  /** Table id (metaData.id) the files were written for. */
  tableId: string;
  /** Partition columns the files were laid out by. */
  partitionColumns: string[];
  adds: AddFile[];
  txn?: Txn;
  /** Provenance merged into the commit (e.g. the source file of an ingest). */
  source?: Record<string, unknown>;
  /**
   * The columns (partition columns included) the files were written with, when they may differ from
   * the table schema at `baseVersion`: columns the table lacks are added by the commit that carries
   * the intent. Omitted: the files have the table's columns.
   */
  columns?: DeltaField[];
}

/** Lane tuning. */
export interface LaneOptions {
  /** Attempts before giving up (default 200). */
  maxAttempts?: number;
  /** Intents per commit at most (default 1000). */
  maxIntentsPerCommit?: number;
  /** Pending intents older than this are abandoned (default 15 minutes). */
  maxIntentAgeMs?: number;
  /** Checkpoint interval (default: table's `delta.checkpointInterval`, else 10). */
  checkpointInterval?: number;
}

/** Outcome of a lane submission. */
export interface LaneResult {
  /** Version that carries the intent, or the current version when skipped. */
  version: number;
  /** True when the intent's `txn` was already applied (a duplicate batch): nothing was added. */
  skipped: boolean;
  /** Intents that went into the same commit (including this one). */
  batchedWith: number;
  attempts: number;
  /** True when this call's own commit carried the intent (so the commit records it as submitted). */
  committedHere?: boolean;
}

const INTENT_CACHE = new WeakMap<ObjectStore, Map<string, LaneIntent>>();

/**
 * The commit attempt of this process in flight on each table (by URL). Writers of one process take
 * turns: one racing another of the same process for the same version could only lose, having written
 * its commit for nothing, while the one in flight carries every intent stored before it listed them.
 * Put-if-absent still decides between processes; this only spares a process racing itself.
 */
const COMMITTING = new Map<string, Promise<void>>();

/**
 * Append files through the lane and wait until they are committed.
 *
 * @param store store rooted at the table
 * @param intent files (and txn) to append; `id` and `created` are filled in when missing
 * @param options lane tuning
 * @param known a snapshot of the table the caller loaded just before (at or after the intent's base
 *   version): the lane starts from it and reads only newer commits, instead of loading the table again
 * @returns the version that carries the files
 */
export async function submitToLane(
  store: ObjectStore,
  intent: Omit<LaneIntent, 'id' | 'created'> & Partial<Pick<LaneIntent, 'id' | 'created'>>,
  options: LaneOptions = {},
  known?: Snapshot,
): Promise<LaneResult> {
  const own: LaneIntent = { ...intent, id: intent.id ?? randomUUID(), created: intent.created ?? Date.now() };
  const path = intentPath(own);
  await store.createIfAbsent(path, JSON.stringify(own), { contentType: 'application/json' });
  faultPoint('afterLaneIntent');
  // This writer's own intent need not be read back from storage by its next listing.
  intentCache(store).set(path, own);
  const view = await LaneView.open(store, own.baseVersion, known);
  const maxAttempts = options.maxAttempts ?? 200;
  for (let attempt = 1; ; attempt++) {
    // The view was opened at the latest version a moment ago (its load read the next commit and found
    // none), or at the snapshot the caller had just loaded: a commit since makes the first attempt's
    // create-if-absent lose, and the next round reads it.
    if (attempt > 1) await view.catchUp();
    const landed = view.versionOf(own.id);
    if (landed !== undefined) {
      await store.delete(path);
      return { version: landed, skipped: false, batchedWith: view.batchSize(landed), attempts: attempt };
    }
    if (own.txn && (view.state.txns.get(own.txn.appId)?.version ?? -1) >= own.txn.version) {
      await store.delete(path);
      return { version: view.state.version, skipped: true, batchedWith: 0, attempts: attempt };
    }
    // Past this age other writers delete the intent as abandoned and vacuum no longer keeps its
    // files: committing it now could reference deleted files, so withdraw it and let the caller
    // write the data again. Its files become orphans.
    const maxAge = options.maxIntentAgeMs ?? DEFAULT_MAX_INTENT_AGE_MS;
    if (Date.now() - own.created > maxAge) {
      await store.delete(path);
      throw new DeltaError(
        `delta lane: intent ${own.id} on ${store.url} was not committed within ${maxAge / 60_000} min of its creation, after which it counts as abandoned ` +
          'and its files may be vacuumed; it was withdrawn and nothing was committed: write the data again',
        { transient: true },
      );
    }
    try {
      checkCompatible(own, view.state, store.url);
    } catch (err) {
      // Never committable on this table any more: withdraw it so that nobody waits for it.
      if (err instanceof SchemaChangedError) await store.delete(path);
      throw err;
    }
    const inFlight = COMMITTING.get(store.url);
    if (inFlight) {
      // Another writer of this process is committing: its commit likely carries this intent too.
      await inFlight;
      continue;
    }
    let endTurn!: () => void;
    const turn = new Promise<void>((resolve) => (endTurn = resolve));
    COMMITTING.set(store.url, turn);
    let committed: TableState | null;
    let batch: LaneIntent[];
    try {
      const pending = await pendingBatch(store, view, own, options);
      batch = pending.batch;
      committed = await view.tryCommit(batch, pending.schema);
    } finally {
      COMMITTING.delete(store.url);
      endTurn();
    }
    if (committed) {
      await checkpointIfDue(store, committed, options.checkpointInterval);
      await Promise.allSettled(batch.map((i) => store.delete(intentPath(i))));
      // Left out because a concurrent intent widened a column it adds: the next round reports it.
      if (batch.includes(own)) return { version: view.state.version, skipped: false, batchedWith: batch.length, attempts: attempt, committedHere: true };
      continue;
    }
    if (attempt >= maxAttempts) {
      throw new CommitRetriesExhaustedError(
        `delta lane: intent ${own.id} on ${store.url} not committed after ${attempt} attempts; it stays pending and the next writer or 'sluice flush' commits it`,
      );
    }
    await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 5 * attempt)));
  }
}

/**
 * Commit whatever intents are pending (e.g. left by writers that died after storing them).
 *
 * @param store store rooted at the table
 * @param options lane tuning
 * @returns number of intents committed and the versions used
 */
export async function flushLane(store: ObjectStore, options: LaneOptions = {}): Promise<{ intents: number; versions: number[] }> {
  const snapshot = await loadSnapshot(store);
  const view = await LaneView.open(store, snapshot.version);
  const versions: number[] = [];
  let intents = 0;
  for (let attempt = 0; attempt < (options.maxAttempts ?? 200); attempt++) {
    await view.catchUp();
    const { batch, schema } = await pendingBatch(store, view, null, options);
    if (batch.length === 0 && !schema) break;
    const committed = await view.tryCommit(batch, schema);
    if (committed) {
      await checkpointIfDue(store, committed, options.checkpointInterval);
      intents += batch.length;
      versions.push(view.state.version);
      await Promise.allSettled(batch.map((i) => store.delete(intentPath(i))));
    }
  }
  return { intents, versions };
}

/**
 * Data file paths referenced by pending intents (vacuum must keep them).
 *
 * @param store store rooted at the table
 * @returns decoded storage paths… as logged (URI-encoded) add paths
 */
export async function pendingIntentFiles(store: ObjectStore): Promise<Set<string>> {
  const out = new Set<string>();
  for (const intent of await readIntents(store)) for (const add of intent.adds) out.add(add.path);
  return out;
}

function intentPath(intent: LaneIntent): string {
  return `${LANE_INTENTS}${String(intent.created).padStart(15, '0')}-${intent.id}.json`;
}

function checkCompatible(intent: LaneIntent, state: TableState, table: string): void {
  if (state.metadata && state.metadata.id !== intent.tableId) {
    throw new DeltaError(
      `delta lane: table ${table} was replaced (id ${state.metadata.id}, intent ${intent.id} was written for ${intent.tableId}); rewrite the data`,
    );
  }
  if (state.metadata && JSON.stringify(state.metadata.partitionColumns) !== JSON.stringify(intent.partitionColumns)) {
    throw new DeltaError(`delta lane: partitioning of ${table} changed since intent ${intent.id} was written; rewrite the data`);
  }
  const conflict = state.metadata && intent.columns ? conflictingColumn(tableSchema(state), intent.columns) : null;
  if (conflict) {
    throw new SchemaChangedError(
      `delta lane: column "${conflict.column}" of ${table} is now ${formatDeltaType(conflict.table)}, but the files of intent ${intent.id} ` +
        `have it as ${formatDeltaType(conflict.has)} (added concurrently with another type); write the data again against the new schema`,
      conflict.column,
    );
  }
}

function tableSchema(state: TableState): DeltaStruct {
  return parseSchema(state.metadata!.schemaString, `version ${state.version}`);
}

function intentCache(store: ObjectStore): Map<string, LaneIntent> {
  let cache = INTENT_CACHE.get(store);
  if (!cache) INTENT_CACHE.set(store, (cache = new Map()));
  return cache;
}

async function readIntents(store: ObjectStore): Promise<LaneIntent[]> {
  const cache = intentCache(store);
  const seen = new Set<string>();
  const missing: string[] = [];
  for await (const info of store.list(LANE_INTENTS)) {
    seen.add(info.path);
    if (!cache.has(info.path)) missing.push(info.path);
  }
  for (let i = 0; i < missing.length; i += 16) {
    await Promise.all(
      missing.slice(i, i + 16).map(async (path) => {
        try {
          cache!.set(path, JSON.parse(new TextDecoder().decode(await store.read(path))));
        } catch (err) {
          if (!(err instanceof ObjectNotFoundError) && !(err instanceof SyntaxError)) throw err;
        }
      }),
    );
  }
  for (const path of cache.keys()) if (!seen.has(path)) cache.delete(path);
  return [...cache.entries()].filter(([p]) => seen.has(p)).map(([, i]) => i);
}

async function pendingBatch(
  store: ObjectStore,
  view: LaneView,
  own: LaneIntent | null,
  options: LaneOptions,
): Promise<{ batch: LaneIntent[]; schema: DeltaStruct | null }> {
  const maxAge = options.maxIntentAgeMs ?? DEFAULT_MAX_INTENT_AGE_MS;
  const now = Date.now();
  const intents = (await readIntents(store)).sort((a, b) => a.created - b.created);
  const minBase = Math.min(...intents.map((i) => i.baseVersion), view.state.version);
  await view.scanBack(minBase);
  const batch: LaneIntent[] = own ? [own] : [];
  const apps = new Set(own?.txn ? [own.txn.appId] : []);
  const ids = new Set(own ? [own.id] : []);
  const schema = view.state.metadata ? tableSchema(view.state) : null;
  for (const intent of intents) {
    if (batch.length >= (options.maxIntentsPerCommit ?? 1000)) break;
    if (ids.has(intent.id)) continue; // the same request stored twice (a retry): commit one of them
    // Age first: an intent committed by a writer that died before deleting it must expire too, or it
    // stays forever (every view scans back to its base version; vacuum keeps its files for good).
    if (now - intent.created > maxAge) {
      await store.delete(intentPath(intent)); // abandoned (its files become orphans for vacuum) or long committed
      continue;
    }
    if (view.versionOf(intent.id) !== undefined) continue; // committed, its writer has not cleaned up yet
    if (
      view.state.metadata &&
      (intent.tableId !== view.state.metadata.id || JSON.stringify(intent.partitionColumns) !== JSON.stringify(view.state.metadata.partitionColumns))
    )
      continue;
    if (schema && conflictingColumn(schema, intent.columns)) continue; // never committable: its writer rewrites it
    if (intent.txn) {
      if ((view.state.txns.get(intent.txn.appId)?.version ?? -1) >= intent.txn.version) continue; // duplicate batch
      if (apps.has(intent.txn.appId)) continue; // one txn per app per commit: next round
      apps.add(intent.txn.appId);
    }
    ids.add(intent.id);
    batch.push(intent);
  }
  if (!schema || !batch.some((i) => i.columns)) return { batch, schema: null };
  const plan = planSchemaMerge(schema, batch);
  const accepted = new Set(plan.accepted);
  return { batch: batch.filter((i) => accepted.has(i.id)), schema: plan.schema };
}

/** What one process knows of the table: state, and which commit carried which intent. */
class LaneView {
  private readonly carried = new Map<string, number>();
  private readonly sizes = new Map<number, number>();
  private scannedFrom: number;

  private constructor(
    readonly store: ObjectStore,
    public state: TableState,
  ) {
    this.scannedFrom = state.version + 1;
  }

  static async open(store: ObjectStore, baseVersion: number, known?: Snapshot): Promise<LaneView> {
    // A snapshot the caller just loaded is as good a start as a fresh one: catchUp reads what is newer.
    const snapshot = known && known.store.url === store.url ? known : await latestSnapshot(store);
    const view = new LaneView(store, cloneState(snapshot.state));
    await view.scanBack(Math.min(baseVersion, snapshot.version));
    return view;
  }

  versionOf(id: string): number | undefined {
    return this.carried.get(id);
  }

  batchSize(version: number): number {
    return this.sizes.get(version) ?? 1;
  }

  private record(actions: Action[], version: number): void {
    const ids = laneCommitRecord(actions)?.intents;
    if (ids) {
      for (const id of ids) this.carried.set(id, version);
      this.sizes.set(version, ids.length);
    }
  }

  /** Read commits after `fromVersion` that the view has not seen, to learn which intents they carried. */
  async scanBack(fromVersion: number): Promise<void> {
    const from = Math.max(0, fromVersion + 1);
    const versions: number[] = [];
    for (let v = from; v < this.scannedFrom; v++) versions.push(v);
    for (let i = 0; i < versions.length; i += 16) {
      const chunk = versions.slice(i, i + 16);
      const commits = await Promise.all(chunk.map((v) => readKeptCommit(this.store, v)));
      chunk.forEach((v, j) => commits[j] && this.record(commits[j]!, v));
    }
    this.scannedFrom = Math.min(this.scannedFrom, from);
  }

  /** Apply every commit newer than the view's state. */
  async catchUp(): Promise<void> {
    for (;;) {
      const next = this.state.version + 1;
      // The commit another writer of this process just made is in memory (commits never change).
      const actions = await readKeptCommit(this.store, next);
      if (!actions) return;
      applyActions(this.state, actions, next);
      this.record(actions, next);
    }
  }

  /**
   * Try to commit a batch of intents as the next version (with a `metaData` action when `schema`, the
   * evolved table schema, is given).
   *
   * @returns a copy of the state at the new version (for a checkpoint), or null when another writer
   *   took the version
   */
  async tryCommit(batch: LaneIntent[], schema: DeltaStruct | null): Promise<TableState | null> {
    const version = this.state.version + 1;
    const actions: Action[] = [];
    if (schema) actions.push({ metaData: { ...this.state.metadata!, schemaString: JSON.stringify(schema) } });
    for (const intent of batch) {
      for (const add of intent.adds) actions.push({ add });
      if (intent.txn) actions.push({ txn: { ...intent.txn, lastUpdated: Date.now() } });
    }
    const commitInfo: CommitInfo = {
      timestamp: Date.now(),
      operation: 'WRITE',
      operationParameters: {
        mode: 'Append',
        partitionBy: JSON.stringify(this.state.metadata?.partitionColumns ?? []),
        ...(schema ? { mergeSchema: true } : {}),
      },
      readVersion: this.state.version,
      isBlindAppend: !schema,
      engineInfo: ENGINE_INFO,
      txnId: randomUUID(),
      sluiceLane: { intents: batch.map((i) => i.id), sources: batch.map((i) => i.source).filter(Boolean) },
    };
    faultPoint('beforeCommit');
    const text = serialiseCommit([{ commitInfo }, ...actions]);
    try {
      await this.store.createIfAbsent(commitPath(version), text, { contentType: 'application/json' });
    } catch (err) {
      if (err instanceof ObjectAlreadyExistsError) return null;
      throw err;
    }
    faultPoint('afterCommit');
    applyActions(this.state, actions, version);
    this.record([{ commitInfo }], version);
    keepCommitted(this.store, this.state, text);
    return cloneState(this.state);
  }
}
