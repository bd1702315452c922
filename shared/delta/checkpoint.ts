/**
 * Classic single-part checkpoints: reading them (also multi-part sets and the older layouts Spark
 * wrote), and writing one for a version with the protocol's checkpoint schema.
 *
 * A checkpoint is created with create-if-absent: if another writer already checkpointed the same
 * version, its file stands and ours is dropped. `_last_checkpoint` is then overwritten, and it is only
 * ever a hint for readers.
 */
import * as arrow from 'apache-arrow';
import type { ObjectStore } from '../storage/types';
import { ObjectAlreadyExistsError } from '../storage/types';
import { Action, DeletionVector, normaliseAction, parseActionLines } from './actions';
import { decodedCheckpointRows, keepDecodedCheckpoint } from './decoded-checkpoints';
import { CorruptLogError } from './errors';
import { checkpointPath, LAST_CHECKPOINT, readLastCheckpoint, SIDECARS_DIR } from './log';
import { decodeParquetObjects, encodeParquetBuffer } from './parquet';
import { stateToActions, TableState } from './replay';

const ACTION_COLUMNS = ['txn', 'add', 'remove', 'metaData', 'protocol', 'domainMetadata', 'sidecar'];
/** A sidecar holds only file actions. */
const SIDECAR_COLUMNS = ['add', 'remove'];
/**
 * Checkpoints of fewer actions than this are written without dictionaries, compression or column
 * statistics. Every latest-version load decodes the checkpoint, and at a few dozen rows the cost of a
 * decode is the per-column work (two pages and a decompression for each of the ~50 leaf columns, and a
 * footer holding the statistics of each), not the rows: a 12-action checkpoint decodes in about 0.7 ms
 * instead of 1.0. Any Parquet reader reads such a file; larger checkpoints keep zstd and dictionaries,
 * whose savings in bytes then count.
 */
const SMALL_CHECKPOINT_ACTIONS = 100;

/**
 * Read the actions stored in a checkpoint: all parts of a classic or multi-part one, or a V2
 * checkpoint (JSON or Parquet) with the sidecar files it names.
 *
 * @param store store rooted at the table
 * @param paths the checkpoint's part files
 * @returns its actions
 */
export async function readCheckpoint(store: ObjectStore, paths: string[]): Promise<Action[]> {
  const actions: Action[] = [];
  const sidecars: string[] = [];
  const take = (rows: { value: Record<string, unknown>; where: string }[]) => {
    for (const { value, where } of rows) {
      const sidecar = value.sidecar as { path?: unknown } | null | undefined;
      if (sidecar) {
        if (typeof sidecar.path !== 'string') throw new CorruptLogError(`delta log: ${where}: sidecar action is missing required field "path"`);
        sidecars.push(sidecarPath(sidecar.path, where));
        continue;
      }
      const action = normaliseAction(value, where);
      if (action) actions.push(action);
    }
  };
  for (const path of paths) take(await readCheckpointRows(store, path, ACTION_COLUMNS));
  for (const path of sidecars) take(await readCheckpointRows(store, path, SIDECAR_COLUMNS));
  return actions;
}

/** Where a sidecar action's path points: a file of `_delta_log/_sidecars/`, however the path is written. */
function sidecarPath(path: string, where: string): string {
  try {
    return `${SIDECARS_DIR}${decodeURIComponent(path.slice(path.lastIndexOf('/') + 1))}`;
  } catch (err) {
    throw new CorruptLogError(`delta log: ${where}: sidecar path "${path}" is not a valid URI`, { cause: err });
  }
}

async function readCheckpointRows(store: ObjectStore, path: string, columns: string[]): Promise<{ value: Record<string, unknown>; where: string }[]> {
  const where = `${store.url}/${path}`;
  let bytes: Uint8Array;
  try {
    bytes = await store.read(path);
  } catch (err) {
    throw new CorruptLogError(`delta log: checkpoint file ${where} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  if (path.endsWith('.json')) {
    const text = new TextDecoder().decode(bytes);
    return parseActionLines(text, where).map(({ value, line }) => ({ value, where: `${where} line ${line}` }));
  }
  let rows = decodedCheckpointRows(where, columns, bytes);
  if (!rows) {
    try {
      rows = await decodeParquetObjects(bytes, columns);
    } catch (err) {
      throw new CorruptLogError(`delta log: checkpoint ${where} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    keepDecodedCheckpoint(where, columns, bytes, rows);
  }
  return rows.map((row, i) => ({ value: bigintsToNumbers(row) as Record<string, unknown>, where: `${where} row ${i}` }));
}

function bigintsToNumbers(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(bigintsToNumbers);
  if (value && typeof value === 'object' && !(value instanceof Uint8Array) && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = bigintsToNumbers(v);
    return out;
  }
  return value;
}

const str = () => new arrow.Utf8();
const i64 = () => new arrow.Int64();
const i32 = () => new arrow.Int32();
const bool = () => new arrow.Bool();
const f = (name: string, type: arrow.DataType, nullable = true) => new arrow.Field(name, type, nullable);
const stringMap = (): arrow.DataType => {
  const entries = new arrow.Struct([f('key', str(), false), f('value', str(), true)]);
  return new arrow.Map_(new arrow.Field('key_value', entries, false) as never, false);
};
const stringList = () => new arrow.List(f('element', str(), true));
const deletionVector = () =>
  new arrow.Struct([f('storageType', str()), f('pathOrInlineDv', str()), f('offset', i32()), f('sizeInBytes', i32()), f('cardinality', i64())]);

/** The checkpoint schema Sluice writes (field order as Spark writes it). */
export const CHECKPOINT_SCHEMA = new arrow.Schema([
  f('txn', new arrow.Struct([f('appId', str()), f('version', i64()), f('lastUpdated', i64())])),
  f(
    'add',
    new arrow.Struct([
      f('path', str()),
      f('partitionValues', stringMap()),
      f('size', i64()),
      f('modificationTime', i64()),
      f('dataChange', bool()),
      f('stats', str()),
      f('tags', stringMap()),
      f('deletionVector', deletionVector()),
    ]),
  ),
  f(
    'remove',
    new arrow.Struct([
      f('path', str()),
      f('deletionTimestamp', i64()),
      f('dataChange', bool()),
      f('extendedFileMetadata', bool()),
      f('partitionValues', stringMap()),
      f('size', i64()),
      f('tags', stringMap()),
      f('deletionVector', deletionVector()),
    ]),
  ),
  f(
    'metaData',
    new arrow.Struct([
      f('id', str()),
      f('name', str()),
      f('description', str()),
      f('format', new arrow.Struct([f('provider', str()), f('options', stringMap())])),
      f('schemaString', str()),
      f('partitionColumns', stringList()),
      f('configuration', stringMap()),
      f('createdTime', i64()),
    ]),
  ),
  f(
    'protocol',
    new arrow.Struct([f('minReaderVersion', i32()), f('minWriterVersion', i32()), f('readerFeatures', stringList()), f('writerFeatures', stringList())]),
  ),
  f('domainMetadata', new arrow.Struct([f('domain', str()), f('configuration', str()), f('removed', bool())])),
]);

const big = (v: number | null | undefined) => (v === null || v === undefined ? null : BigInt(Math.trunc(v)));
const asMap = (v: Record<string, string | null> | null | undefined) => (v ? new Map(Object.entries(v)) : null);
const asDeletionVector = (dv: DeletionVector | null | undefined) =>
  dv
    ? {
        storageType: dv.storageType,
        pathOrInlineDv: dv.pathOrInlineDv,
        offset: dv.offset ?? null,
        sizeInBytes: dv.sizeInBytes,
        cardinality: big(dv.cardinality),
      }
    : null;

/** Turn actions into checkpoint rows: one row per action, only that action's column set. */
function actionsToTable(actions: Action[]): arrow.Table {
  const columns: Record<string, unknown[]> = Object.fromEntries(CHECKPOINT_SCHEMA.fields.map((fl) => [fl.name, []]));
  for (const a of actions) {
    for (const name of Object.keys(columns)) columns[name].push(null);
    const row = columns;
    const last = (name: string, value: unknown) => (row[name][row[name].length - 1] = value);
    if ('txn' in a) last('txn', { appId: a.txn.appId, version: big(a.txn.version), lastUpdated: big(a.txn.lastUpdated) });
    else if ('add' in a) {
      last('add', {
        path: a.add.path,
        partitionValues: asMap(a.add.partitionValues) ?? new Map(),
        size: big(a.add.size),
        modificationTime: big(a.add.modificationTime),
        dataChange: a.add.dataChange,
        stats: a.add.stats ?? null,
        tags: asMap(a.add.tags),
        deletionVector: asDeletionVector(a.add.deletionVector),
      });
    } else if ('remove' in a) {
      last('remove', {
        path: a.remove.path,
        deletionTimestamp: big(a.remove.deletionTimestamp),
        dataChange: a.remove.dataChange,
        extendedFileMetadata: a.remove.extendedFileMetadata ?? null,
        partitionValues: asMap(a.remove.partitionValues),
        size: big(a.remove.size),
        tags: asMap(a.remove.tags),
        deletionVector: asDeletionVector(a.remove.deletionVector),
      });
    } else if ('metaData' in a) {
      const m = a.metaData;
      last('metaData', {
        id: m.id,
        name: m.name ?? null,
        description: m.description ?? null,
        format: { provider: m.format.provider, options: asMap(m.format.options ?? {}) },
        schemaString: m.schemaString,
        partitionColumns: m.partitionColumns,
        configuration: asMap(m.configuration ?? {}),
        createdTime: big(m.createdTime),
      });
    } else if ('protocol' in a) {
      const p = a.protocol;
      last('protocol', {
        minReaderVersion: p.minReaderVersion,
        minWriterVersion: p.minWriterVersion,
        readerFeatures: p.readerFeatures ?? null,
        writerFeatures: p.writerFeatures ?? null,
      });
    } else if ('domainMetadata' in a) {
      last('domainMetadata', { ...a.domainMetadata });
    }
  }
  const vectors: Record<string, arrow.Vector> = {};
  for (const field of CHECKPOINT_SCHEMA.fields) vectors[field.name] = arrow.vectorFromArray(columns[field.name], field.type);
  return new arrow.Table(vectors);
}

/** Options for writing a checkpoint. */
export interface CheckpointOptions {
  /** Tombstones deleted before this time (ms since epoch) are left out; default: keep all. */
  tombstoneCutoff?: number;
}

/**
 * Write the classic checkpoint for a state's version, then point `_last_checkpoint` at it.
 *
 * @param store store rooted at the table
 * @param state the reconciled state (its commit file must already exist)
 * @param options tombstone expiry
 * @returns whether this call created the checkpoint (false: one existed already)
 */
export async function writeCheckpoint(store: ObjectStore, state: TableState, options: CheckpointOptions = {}): Promise<boolean> {
  const actions = stateToActions(state, options.tombstoneCutoff ?? 0);
  const small = actions.length < SMALL_CHECKPOINT_ACTIONS;
  const bytes = await encodeParquetBuffer(actionsToTable(actions), small ? { dictionary: false, compression: false, statistics: false } : {});
  let created = true;
  try {
    await store.createIfAbsent(checkpointPath(state.version), bytes);
  } catch (err) {
    if (!(err instanceof ObjectAlreadyExistsError)) throw err;
    created = false;
  }
  // Never move the hint backwards: a slow writer may finish an older checkpoint after a newer one.
  const current = await readLastCheckpoint(store);
  if (!current || current.version < state.version) {
    const hint = { version: state.version, size: actions.length, sizeInBytes: bytes.length, numOfAddFiles: state.files.size };
    await store.write(LAST_CHECKPOINT, JSON.stringify(hint), { contentType: 'application/json' });
  }
  return created;
}

/**
 * Write a checkpoint when a freshly committed version falls on the table's checkpoint interval.
 * A failure is swallowed: the commit stands, and a missing checkpoint only costs readers time.
 *
 * @param store store rooted at the table
 * @param state the state right after the commit
 * @param interval checkpoint every this many versions (default: `delta.checkpointInterval`, else 10)
 * @returns whether a checkpoint was written
 */
export async function checkpointIfDue(store: ObjectStore, state: TableState, interval?: number): Promise<boolean> {
  const config = state.metadata?.configuration ?? {};
  const every = interval ?? (Number(config['delta.checkpointInterval']) || 10);
  if (state.version <= 0 || state.version % every !== 0) return false;
  const retention = parseInterval(config['delta.deletedFileRetentionDuration']) ?? DEFAULT_RETENTION_MS;
  try {
    await writeCheckpoint(store, state, { tombstoneCutoff: Date.now() - retention });
    return true;
  } catch {
    return false;
  }
}

/** Default `delta.deletedFileRetentionDuration`: one week. */
export const DEFAULT_RETENTION_MS = 7 * 86_400_000;

/**
 * Parse a Delta interval property such as `interval 7 days` to milliseconds.
 *
 * @param text the property value
 * @returns milliseconds, or undefined when absent or unreadable
 */
export function parseInterval(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const m = /^\s*(?:interval\s+)?(\d+(?:\.\d+)?)\s*(millisecond|second|minute|hour|day|week)s?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = { millisecond: 1, second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000 }[m[2].toLowerCase() as 'day'];
  return Number(m[1]) * unit;
}
