/**
 * Snapshots: the state of a table at one version, loaded from the newest usable checkpoint plus the
 * commits after it, with time travel by version or by timestamp.
 *
 * Timestamp time travel uses each commit file's last-modified time as the storage service reports it
 * (Azure's `Last-Modified`, the file's mtime locally), made monotonic the way Spark does it (a commit
 * never counts as older than its predecessor). Copying a table rewrites those times, so after a copy
 * timestamps name copy times; version numbers are unaffected.
 */
import type { ObjectStore } from '../storage/types';
import type { Action, AddFile, Metadata, Protocol, RemoveFile, Txn } from './actions';
import { readCheckpoint } from './checkpoint';
import { CorruptLogError, VersionNotFoundError } from './errors';
import { latestStateFromHint } from './log-tail';
import { commitPath, listLog, listLogFrom, LogListing, readCommit, readCommitIfExists, readLastCheckpoint, requireContiguous } from './log';
import { checkReadSupport } from './protocol';
import { applyActions, cloneState, emptyState, TableState } from './replay';
import { DeltaStruct, parseSchema } from './schema';

/** Which version to load. */
export interface SnapshotOptions {
  /** Exact version (time travel). */
  version?: number;
  /** Latest version committed at or before this instant (time travel). */
  timestamp?: Date;
  /** Skip the reader protocol check (used only by commands that must describe refused tables). */
  skipProtocolCheck?: boolean;
}

/** A loaded table version. */
export interface Snapshot {
  /** Store rooted at the table. */
  store: ObjectStore;
  /** The table's URL, for messages. */
  table: string;
  version: number;
  protocol: Protocol;
  metadata: Metadata;
  schema: DeltaStruct;
  partitionColumns: string[];
  /** The reconciled state (live files, tombstones, txns, domains). */
  state: TableState;
  /** The checkpoint version the load started from, or null. */
  checkpointVersion: number | null;
}

/**
 * Load a table at its latest version, or at the version or timestamp asked for.
 *
 * @param store store rooted at the table
 * @param options version or timestamp to travel to
 * @returns the snapshot
 */
export async function loadSnapshot(store: ObjectStore, options: SnapshotOptions = {}): Promise<Snapshot> {
  let listing: LogListing | null = null;
  if (options.version === undefined && !options.timestamp) {
    // Latest version: the checkpoint the hint names and the commits after it, read by name
    // (log-tail.ts); when that cannot be trusted, list only from the hint's window on.
    const hint = await readLastCheckpoint(store);
    if (hint) {
      const latest = await latestStateFromHint(store, hint);
      if (latest) return toSnapshot(store, latest, options.skipProtocolCheck);
      listing = await listLogFrom(store, hint.version);
    }
  }
  listing ??= await listLog(store);
  let target: number;
  if (options.version !== undefined) {
    target = options.version;
  } else if (options.timestamp) {
    target = await versionAtTimestamp(store, listing, options.timestamp);
  } else {
    target = latestVersion(listing);
  }
  const state = await buildState(store, listing, target);
  return toSnapshot(store, state, options.skipProtocolCheck);
}

/**
 * Bring a snapshot up to the latest version (or `untilVersion`) by reading only newer commits.
 *
 * @param snapshot a loaded snapshot
 * @param untilVersion stop at this version
 * @returns a new snapshot (the given one is not changed), or the same one if nothing is newer
 */
export async function refreshSnapshot(snapshot: Snapshot, untilVersion?: number): Promise<Snapshot> {
  const store = snapshot.store;
  let state: TableState | undefined;
  for (let v = snapshot.version + 1; untilVersion === undefined || v <= untilVersion; v++) {
    let actions;
    try {
      actions = await readCommit(store, v);
    } catch (err) {
      if (err instanceof CorruptLogError && /is missing/.test(err.message) && untilVersion === undefined) break;
      throw err;
    }
    state ??= cloneState(snapshot.state);
    applyActions(state, actions, v);
  }
  return state ? toSnapshot(store, state) : snapshot;
}

/**
 * Bring a snapshot up to the latest version by reading the commits after it until one is missing
 * (one read answered 404 when nothing is new), giving up when there are more than `maxNew`.
 *
 * @param snapshot a loaded snapshot
 * @param maxNew most commits worth reading one by one
 * @param onCommit told of each commit read
 * @returns the newer snapshot, the same one when nothing is newer, or null beyond `maxNew` new commits
 */
export async function advanceSnapshot(snapshot: Snapshot, maxNew: number, onCommit?: (version: number, actions: Action[]) => void): Promise<Snapshot | null> {
  const store = snapshot.store;
  let state: TableState | undefined;
  for (let v = snapshot.version + 1; ; v++) {
    const actions = await readCommitIfExists(store, v);
    if (!actions) break;
    if (v > snapshot.version + maxNew) return null;
    onCommit?.(v, actions);
    state ??= cloneState(snapshot.state);
    applyActions(state, actions, v);
  }
  return state ? toSnapshot(store, state) : snapshot;
}

/**
 * A snapshot of a state this process built (e.g. the state right after its own commit).
 *
 * @param store store rooted at the table
 * @param state the state (not copied: the caller must not change it afterwards)
 * @returns the snapshot
 */
export function snapshotOfState(store: ObjectStore, state: TableState): Snapshot {
  return toSnapshot(store, state);
}

function toSnapshot(store: ObjectStore, state: TableState, skipProtocolCheck = false): Snapshot {
  const where = `${store.url} version ${state.version}`;
  if (!state.protocol) throw new CorruptLogError(`delta log: ${where} has no protocol action`);
  if (!state.metadata) throw new CorruptLogError(`delta log: ${where} has no metaData action`);
  if (!skipProtocolCheck) checkReadSupport(state.protocol, state.metadata, store.url);
  const schema = parseSchema(state.metadata.schemaString, where);
  for (const column of state.metadata.partitionColumns) {
    if (!schema.fields.some((f) => f.name === column)) {
      throw new CorruptLogError(`delta log: ${where}: partition column "${column}" is not in the schema`);
    }
  }
  return {
    store,
    table: store.url,
    version: state.version,
    protocol: state.protocol,
    metadata: state.metadata,
    schema,
    partitionColumns: state.metadata.partitionColumns,
    state,
    checkpointVersion: (state as TableState & { fromCheckpoint?: number }).fromCheckpoint ?? null,
  };
}

/** The newest version the log lists (a loop: a long log has more versions than a call takes arguments). */
function latestVersion(listing: LogListing): number {
  let latest = -Infinity;
  for (const v of listing.commits.keys()) latest = Math.max(latest, v);
  for (const v of listing.checkpoints.keys()) latest = Math.max(latest, v);
  return latest;
}

async function buildState(store: ObjectStore, listing: LogListing, target: number): Promise<TableState> {
  const table = store.url;
  const latest = latestVersion(listing);
  if (!Number.isInteger(target) || target < 0 || target > latest) {
    throw new VersionNotFoundError(`delta: version ${target} of ${table} does not exist (latest is ${latest})`);
  }
  const start = [...listing.checkpoints.keys()].filter((v) => v <= target).sort((a, b) => b - a)[0];
  if (start === undefined) {
    let earliest = Infinity;
    for (const v of listing.commits.keys()) earliest = Math.min(earliest, v);
    if (earliest > 0) {
      throw new VersionNotFoundError(
        `delta: version ${target} of ${table} cannot be reconstructed: the log starts at version ${earliest} and has no checkpoint at or below ${target}`,
      );
    }
    requireContiguous(listing, 0, target, table);
  } else {
    requireContiguous(listing, start + 1, target, table);
  }
  const state = emptyState();
  if (start !== undefined) {
    applyActions(state, await readCheckpoint(store, listing.checkpoints.get(start)!.paths), start);
    (state as TableState & { fromCheckpoint?: number }).fromCheckpoint = start;
  }
  // Fetch commits with bounded parallelism; apply strictly in order.
  const from = start === undefined ? 0 : start + 1;
  const versions: number[] = [];
  for (let v = from; v <= target; v++) versions.push(v);
  const PARALLEL = 16;
  for (let i = 0; i < versions.length; i += PARALLEL) {
    const chunk = versions.slice(i, i + PARALLEL);
    const commits = await Promise.all(chunk.map((v) => readCommit(store, v)));
    chunk.forEach((v, j) => applyActions(state, commits[j], v));
  }
  return state;
}

/**
 * Monotonic commit timestamps from the listing (ms since epoch), by version.
 *
 * @param listing the log listing
 * @returns version → timestamp, ascending by version
 */
export function commitTimestamps(listing: LogListing): Map<number, number> {
  const out = new Map<number, number>();
  let previous = -Infinity;
  for (const version of [...listing.commits.keys()].sort((a, b) => a - b)) {
    const ts = Math.max(listing.commits.get(version)!.lastModified.getTime(), previous + 1);
    out.set(version, ts);
    previous = ts;
  }
  return out;
}

/**
 * The latest version committed at or before an instant. With in-commit timestamps enabled
 * (`delta.enableInCommitTimestamps`), the versions from the enablement version on are dated by their
 * `commitInfo.inCommitTimestamp` (the writer's clock, which survives copies), found by binary search
 * since they increase; earlier versions, and tables without them, by the commit files' times.
 */
async function versionAtTimestamp(store: ObjectStore, listing: LogListing, at: Date): Promise<number> {
  const latest = Math.max(...listing.commits.keys(), ...listing.checkpoints.keys());
  const config = (await buildState(store, listing, latest)).metadata?.configuration ?? {};
  if (config['delta.enableInCommitTimestamps'] === 'true') {
    const enabledFrom = Math.max(Number(config['delta.inCommitTimestampEnablementVersion'] ?? 0), Math.min(...listing.commits.keys()));
    const enabledAt = await inCommitTimestamp(store, enabledFrom);
    if (at.getTime() >= enabledAt) {
      let found = enabledFrom;
      let high = latest;
      while (found < high) {
        const mid = Math.ceil((found + high) / 2);
        if ((await inCommitTimestamp(store, mid)) <= at.getTime()) found = mid;
        else high = mid - 1;
      }
      return found;
    }
    const before = new Map([...listing.commits].filter(([v]) => v < enabledFrom));
    return versionByFileTimes({ commits: before, checkpoints: listing.checkpoints }, at, store.url);
  }
  return versionByFileTimes(listing, at, store.url);
}

async function inCommitTimestamp(store: ObjectStore, version: number): Promise<number> {
  const info = (await readCommit(store, version)).find((a) => 'commitInfo' in a) as { commitInfo: { inCommitTimestamp?: unknown } } | undefined;
  const ict = info?.commitInfo.inCommitTimestamp;
  if (typeof ict !== 'number') {
    throw new CorruptLogError(
      `delta log: ${store.url}/${commitPath(version)} has no commitInfo.inCommitTimestamp, though the table has delta.enableInCommitTimestamps=true`,
    );
  }
  return ict;
}

function versionByFileTimes(listing: LogListing, at: Date, table: string): number {
  const stamps = commitTimestamps(listing);
  let found: number | undefined;
  for (const [version, ts] of stamps) if (ts <= at.getTime()) found = version;
  if (found === undefined) {
    const first = stamps.entries().next().value;
    throw new VersionNotFoundError(
      `delta: no version of ${table} was committed at or before ${at.toISOString()}` +
        (first ? ` (the earliest retained commit, version ${first[0]}, is from ${new Date(first[1]).toISOString()})` : ''),
    );
  }
  return found;
}

/**
 * The live files of a snapshot.
 *
 * @param snapshot a snapshot
 * @returns its add actions
 */
export function activeFiles(snapshot: Snapshot): AddFile[] {
  return [...snapshot.state.files.values()];
}

/**
 * The tombstones of a snapshot.
 *
 * @param snapshot a snapshot
 * @returns its remove actions
 */
export function tombstones(snapshot: Snapshot): RemoveFile[] {
  return [...snapshot.state.tombstones.values()];
}

/**
 * The version an idempotent writer last committed, or -1.
 *
 * @param snapshot a snapshot
 * @param appId the writer's application id
 * @returns its last committed batch version
 */
export function txnVersion(snapshot: Snapshot, appId: string): number {
  const txn: Txn | undefined = snapshot.state.txns.get(appId);
  return txn ? txn.version : -1;
}
