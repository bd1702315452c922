/**
 * Building a table's catalog entry from the table itself: its latest snapshot (version, protocol,
 * schema, partition columns, files, rows, bytes), its log (schema history, last commit), one listing
 * of its folder (bytes by access tier) and what the served pipelines say about it.
 *
 * Schema history is read from the `metaData` actions of the commits: the first one adds every column,
 * each later one adds, changes (type widening, nullability) or drops columns. Given the entry of an
 * earlier version of the same table (same Delta table id), only the commits since are read, so the
 * commit path reads one or two commit files; a rebuild reads them all and reaches the same history.
 * Where log cleanup removed the commits before the oldest checkpoint, the columns of that checkpoint
 * count as added at its version, marked `exact: false`.
 *
 * A table whose protocol Sluice refuses is still described as far as its log allows, with the reason;
 * a log that cannot be read at all gives an `unreadable` entry naming the error.
 */
import { describeSnapshot, formatDeltaType, loadSnapshot, parseSchema, type Snapshot, type TableDescription } from '../delta';
import { latestSnapshot, readKeptCommit } from '../delta/latest';
import { parseStats } from '../delta/stats';
import type { Action, CommitInfo } from '../delta';
import { listLog } from '../delta/log';
import { decodeAddPath } from '../delta/partitions';
import { activeFiles } from '../delta/snapshot';
import type { AccessTier, ObjectStore } from '../storage/types';
import type { CatalogColumn, CatalogEntry, CatalogStatus, SchemaChange, TableAnnotation } from './types';

/** Commit files read at once. */
const READ_CONCURRENCY = 16;

/** What building an entry takes. */
export interface EntrySubject {
  /** Path in the lake container. */
  path: string;
  /** Store rooted at the table. */
  store: ObjectStore;
  /** What a served pipeline says about it. */
  annotation?: TableAnnotation;
  /** The catalog's entry of an earlier version, whose history is extended instead of read again (awaited once the table is loaded). */
  previous?: CatalogEntry | null | Promise<CatalogEntry | null>;
  /** Describe the table even when `previous` has its version (tiers or files changed without a commit). */
  full?: boolean;
}

/**
 * The layer of a path: the annotation's, else the first segment.
 *
 * @param path path in the lake container
 * @param annotation what a pipeline says
 * @returns the layer
 */
export function layerOf(path: string, annotation?: TableAnnotation): string {
  return annotation?.layer ?? path.split('/')[0];
}

/**
 * An entry with nothing read yet: the fields every status has.
 *
 * @param path path in the lake container
 * @param location the table's URL
 * @param status the status
 * @param reason why it is not live
 * @param annotation what a pipeline says
 * @returns the entry
 */
export function bareEntry(path: string, location: string, status: CatalogStatus, reason: string | null, annotation?: TableAnnotation): CatalogEntry {
  return {
    path,
    status,
    reason,
    layer: layerOf(path, annotation),
    name: annotation?.name ?? path.split('/').pop()!,
    pipeline: annotation?.pipeline ?? null,
    location,
    format: null,
    protocol: null,
    tableId: null,
    version: null,
    lastCommit: null,
    lastOperation: null,
    schema: [],
    schemaHistory: [],
    partitionColumns: [],
    rows: null,
    files: null,
    bytes: null,
    bytesByTier: null,
    description: annotation?.description ?? null,
    owner: annotation?.owner ?? null,
    tags: annotation?.tags ?? [],
    classification: [],
    missingSince: null,
  };
}

/**
 * Describe a Delta table for the catalog.
 *
 * @param subject the table, its annotation, the previous entry
 * @returns the entry; `missing` when the folder holds no Delta log
 */
export async function describeCatalogEntry(subject: EntrySubject): Promise<CatalogEntry> {
  const { path, store, annotation } = subject;
  let snapshot: Snapshot;
  let status: CatalogStatus = 'live';
  let reason: string | null = null;
  try {
    // The committing stage loaded the table a moment ago: its kept snapshot costs only the new commits.
    snapshot = await latestSnapshot(store);
  } catch (err) {
    const e = err as Error;
    if (e.name === 'NotATableError') return bareEntry(path, store.url, 'missing', `no Delta log at ${path}`, annotation);
    if (e.name !== 'UnsupportedProtocolError') return bareEntry(path, store.url, 'unreadable', messageFor(e, store, path), annotation);
    status = 'refused';
    reason = messageFor(e, store, path);
    try {
      snapshot = await loadSnapshot(store, { skipProtocolCheck: true });
    } catch (again) {
      return bareEntry(path, store.url, 'refused', `${reason}; ${messageFor(again as Error, store, path)}`, annotation);
    }
  }
  const metadata = snapshot.metadata;
  const given = (await subject.previous) ?? null;
  const previous = given?.tableId === metadata.id && given.status !== 'missing' ? given : null;
  if (!subject.full && previous && previous.version === snapshot.version && previous.status === status) {
    // Already recorded at this version (another writer's commit came first): only the definition may have changed.
    return withDefinition({ ...previous, schema: previous.schema.map((c) => ({ ...c })) }, snapshot, annotation);
  }
  const entry = bareEntry(path, store.url, status, reason, annotation);
  entry.format = 'delta';
  entry.protocol = { ...snapshot.protocol };
  entry.tableId = metadata.id;
  entry.version = snapshot.version;
  entry.partitionColumns = [...snapshot.partitionColumns];
  const [walk, description, tiers] = await Promise.all([
    walkLog(store, snapshot, previous),
    counts(snapshot).catch((err: Error): Pick<TableDescription, 'numRecords' | 'numFiles' | 'sizeBytes'> | Error => err),
    bytesByTier(store, snapshot),
  ]);
  entry.schemaHistory = walk.history;
  entry.lastCommit = walk.lastCommit;
  entry.lastOperation = walk.lastOperation;
  if (description instanceof Error) {
    entry.reason = [entry.reason, `files not counted: ${messageFor(description, store, path)}`].filter(Boolean).join('; ');
  } else {
    entry.rows = description.numRecords;
    entry.files = description.numFiles;
    entry.bytes = description.sizeBytes;
  }
  entry.bytesByTier = tiers;
  entry.schema = snapshot.schema.fields.map((f): CatalogColumn => ({
    name: f.name,
    type: formatDeltaType(f.type),
    nullable: f.nullable,
    partition: snapshot.partitionColumns.includes(f.name),
    comment: null,
    classification: null,
  }));
  return withDefinition(entry, snapshot, annotation);
}

/**
 * Rows, files and bytes of the live files: from the files' statistics when each has its row count (what
 * Sluice and most writers record), without the listing and footer reads `describeSnapshot` makes.
 */
async function counts(snapshot: Snapshot): Promise<Pick<TableDescription, 'numRecords' | 'numFiles' | 'sizeBytes'>> {
  const files = activeFiles(snapshot);
  let numRecords = 0;
  for (const f of files) {
    const rows = parseStats(f.stats)?.numRecords;
    if (typeof rows !== 'number') return describeSnapshot(snapshot);
    numRecords += rows - (f.deletionVector ? Number(f.deletionVector.cardinality) : 0);
  }
  return { numRecords, numFiles: files.length, sizeBytes: files.reduce((n, f) => n + f.size, 0) };
}

/** Name, layer, pipeline, description, owner, tags, column comments and classification: what the definition says, else the table's metadata. */
function withDefinition(entry: CatalogEntry, snapshot: Snapshot, annotation: TableAnnotation | undefined): CatalogEntry {
  const metadata = snapshot.metadata;
  const bare = bareEntry(entry.path, entry.location, entry.status, entry.reason, annotation);
  entry.layer = bare.layer;
  entry.pipeline = bare.pipeline;
  entry.owner = bare.owner;
  entry.tags = bare.tags;
  entry.name = annotation?.name ?? metadata.name ?? bare.name;
  entry.description = annotation?.description ?? metadata.description ?? null;
  const fields = new Map(snapshot.schema.fields.map((f) => [f.name, f]));
  for (const c of entry.schema) {
    const own = fields.get(c.name)?.metadata?.comment;
    c.comment = annotation?.comments[c.name] ?? (typeof own === 'string' ? own : null);
    c.classification = annotation?.classification[c.name] ?? null;
  }
  entry.classification = entry.schema.filter((c) => c.classification).map((c) => ({ column: c.name, ...c.classification! }));
  return entry;
}

/** An error's message with the table's storage URL replaced by its path in the lake. */
function messageFor(err: Error, store: ObjectStore, path: string): string {
  return err.message.split(store.url).join(path);
}

interface LogWalk {
  history: SchemaChange[];
  lastCommit: string | null;
  lastOperation: string | null;
}

type Columns = Map<string, { type: string; nullable: boolean }>;

/** The schema history up to the snapshot's version, and its last commit's time and operation. */
async function walkLog(store: ObjectStore, snapshot: Snapshot, previous: CatalogEntry | null): Promise<LogWalk> {
  const target = snapshot.version;
  let history: SchemaChange[] = [];
  let columns: Columns = new Map();
  let from = 0;
  if (previous && previous.version !== null && previous.version <= target) {
    history = [...previous.schemaHistory];
    columns = new Map(previous.schema.map((c) => [c.name, { type: c.type, nullable: c.nullable }]));
    from = previous.version + 1;
  }
  let commits = await readCommits(store, from, target);
  if (commits.some((c) => c === null)) {
    // The commits since the previous entry, or since version 0, are gone: start from a checkpoint.
    const start = await oldestReadableStart(store, target);
    history = [];
    columns = new Map();
    from = start.version + 1;
    if (start.checkpoint) {
      const base = await loadSnapshot(store, { version: start.version, skipProtocolCheck: true });
      for (const f of base.schema.fields) {
        const type = formatDeltaType(f.type);
        columns.set(f.name, { type, nullable: f.nullable });
        history.push({ version: start.version, column: f.name, change: 'added', type, nullable: f.nullable, exact: false });
      }
    } else from = start.version;
    commits = await readCommits(store, from, target);
    if (commits.some((c) => c === null)) throw new Error(`the log of ${store.url} misses commits between ${from} and ${target}`);
  }
  commits.forEach((actions, i) => {
    const version = from + i;
    for (const action of actions!) {
      if (!('metaData' in action)) continue;
      const fields = parseSchema(action.metaData.schemaString, `${store.url} version ${version}`).fields;
      const next: Columns = new Map(fields.map((f) => [f.name, { type: formatDeltaType(f.type), nullable: f.nullable }]));
      for (const [name, now] of next) {
        const before = columns.get(name);
        if (!before) history.push({ version, column: name, change: 'added', type: now.type, nullable: now.nullable, exact: true });
        else if (before.type !== now.type || before.nullable !== now.nullable)
          history.push({ version, column: name, change: 'changed', type: now.type, previousType: before.type, nullable: now.nullable, exact: true });
      }
      for (const [name, before] of columns)
        if (!next.has(name)) history.push({ version, column: name, change: 'dropped', type: before.type, nullable: before.nullable, exact: true });
      columns = next;
    }
  });
  const latest = commits.length ? commits[commits.length - 1] : await readKeptCommit(store, target);
  const info = (latest?.find((a) => 'commitInfo' in a) as { commitInfo: CommitInfo } | undefined)?.commitInfo;
  let lastCommit: string | null = null;
  const stamp = typeof info?.inCommitTimestamp === 'number' ? info.inCommitTimestamp : typeof info?.timestamp === 'number' ? info.timestamp : null;
  if (stamp !== null) lastCommit = new Date(stamp).toISOString();
  else if (latest) lastCommit = (await store.properties(`_delta_log/${String(target).padStart(20, '0')}.json`)).lastModified.toISOString();
  return { history, lastCommit, lastOperation: typeof info?.operation === 'string' ? info.operation : null };
}

/** Commits `from..to`, null where a commit file is gone. */
async function readCommits(store: ObjectStore, from: number, to: number): Promise<(Action[] | null)[]> {
  const versions = Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
  const out: (Action[] | null)[] = new Array(versions.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(READ_CONCURRENCY, versions.length) }, async () => {
      while (next < versions.length) {
        const i = next++;
        out[i] = await readKeptCommit(store, versions[i]);
      }
    }),
  );
  return out;
}

/** Where a history can start: version 0 when its commit exists, else the oldest checkpoint followed by every commit. */
async function oldestReadableStart(store: ObjectStore, target: number): Promise<{ version: number; checkpoint: boolean }> {
  const listing = await listLog(store);
  if (listing.commits.has(0)) {
    let v = 0;
    while (v < target && listing.commits.has(v + 1)) v++;
    if (v === target) return { version: 0, checkpoint: false };
  }
  const usable = [...listing.checkpoints.keys()]
    .filter((c) => c <= target)
    .sort((a, b) => a - b)
    .find((c) => {
      for (let v = c + 1; v <= target; v++) if (!listing.commits.has(v)) return false;
      return true;
    });
  if (usable === undefined) throw new Error(`the log of ${store.url} has neither version 0 nor a checkpoint followed by every commit to ${target}`);
  return { version: usable, checkpoint: true };
}

/**
 * Bytes of the live files by access tier, from one listing of the table's folder (a page per 5,000
 * objects, no request per file). Null when some live file reports no tier (the local file system).
 */
async function bytesByTier(store: ObjectStore, snapshot: Snapshot): Promise<Partial<Record<AccessTier, number>> | null> {
  const live = new Map<string, number>();
  for (const f of activeFiles(snapshot)) {
    const path = decodeAddPath(f.path, snapshot.table);
    // Files outside the table's folder (absolute URLs, shallow clones) are not in its listing.
    if (/^[a-z][a-z0-9+.-]*:/i.test(path)) return null;
    live.set(path, f.size);
  }
  const out: Partial<Record<AccessTier, number>> = {};
  let seen = 0;
  for await (const info of store.list('')) {
    if (!live.has(info.path)) continue;
    if (!info.accessTier) return null;
    out[info.accessTier] = (out[info.accessTier] ?? 0) + live.get(info.path)!;
    seen++;
  }
  return seen === live.size ? out : null;
}
