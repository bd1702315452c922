/**
 * Which files a table version needs that sit offline in the Archive tier, found with one listing.
 *
 * A data file in Archive cannot be read until it is rehydrated (Azure answers 409 `BlobArchived`), and a
 * scan reads files one after the other: without this check a read would print rows of the online files
 * and then fail, half done. So a reader asks first, and refuses the whole read when any file is
 * offline, naming the files, their bytes and the command that brings them back.
 *
 * One listing with tiers over the common prefix of the files (a partitioned table's `col=` folders,
 * an unpartitioned table's `part-` files) serves any number of files; a properties call per file would
 * cost one request per file, 100,000 for a large table.
 */
import type { AddFile } from '../delta/actions';
import { deletionVectorLocation } from '../delta/deletion-vectors';
import { DeltaError } from '../delta/errors';
import { decodeAddPath } from '../delta/partitions';
import { activeFiles, type Snapshot } from '../delta/snapshot';
import type { AccessTier, ObjectInfo, ObjectStore, RehydratePriority } from '../storage/types';

/** A file a version needs, relative to the table root. */
export interface NeededFile {
  path: string;
  /** Bytes, as the log records them (deletion-vector files: as the listing finds them, 0 when not listed). */
  size: number;
}

/** A rehydration Azure is carrying out for an archived file. */
export interface PendingRehydration {
  /** Tier the file is being rehydrated to. */
  to: AccessTier;
  /** Priority asked for, when the service reports it. */
  priority?: RehydratePriority;
  /** When the rehydration was requested (the tier-change time), ISO-8601, when the service reports it. */
  since?: string;
}

/** A file a version needs that is offline in the Archive tier. */
export interface ArchivedFile {
  path: string;
  size: number;
  /** Set while a rehydration is under way. */
  pending?: PendingRehydration;
}

/** The archived files of one table version. */
export interface ArchivedFiles {
  /** The table, as the store names it. */
  table: string;
  version: number;
  /** Files the read needs (data and deletion-vector files in the table). */
  needed: number;
  /** Archived files, in path order. */
  files: ArchivedFile[];
  /** Their bytes. */
  bytes: number;
  /** How many of them are being rehydrated. */
  pending: number;
}

/** The folders under a table root that hold no data file (vacuum skips them too). */
const NOT_DATA = /^(_delta_log|_sluice)\//;

/**
 * The files of the table a read of the snapshot needs: the data files of the given (default: all
 * live) files and their deletion-vector files. Files outside the table (absolute paths elsewhere)
 * are left out: Sluice does not read them.
 *
 * @param snapshot the version
 * @param files a subset of its live files (default all)
 * @returns the files, in path order
 */
export function neededFiles(snapshot: Snapshot, files: readonly AddFile[] = activeFiles(snapshot)): NeededFile[] {
  const out = new Map<string, NeededFile>();
  for (const file of files) {
    const path = decodeAddPath(file.path, snapshot.table);
    if (/^[a-z][a-z0-9+.-]*:/i.test(path)) continue;
    out.set(path, { path, size: file.size });
  }
  for (const file of files) {
    if (!file.deletionVector) continue;
    let location;
    try {
      location = deletionVectorLocation(file.deletionVector, snapshot.table);
    } catch {
      // A descriptor that cannot be mapped is the scan's to report, naming the data file it belongs to.
      continue;
    }
    if (location.kind === 'table' && !out.has(location.path)) out.set(location.path, { path: location.path, size: 0 });
  }
  return [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * What storage says about each of the given files, from one listing over their common prefix.
 * Files the listing does not find are absent from the answer (the read reports them as missing).
 *
 * @param store store rooted at the table
 * @param paths file paths relative to the table
 * @returns path → listing entry
 */
export async function listFileTiers(store: ObjectStore, paths: readonly string[]): Promise<Map<string, ObjectInfo>> {
  const wanted = new Set(paths);
  const out = new Map<string, ObjectInfo>();
  if (wanted.size === 0) return out;
  const prefix = commonPrefix(paths);
  for await (const info of store.list(prefix)) {
    if (NOT_DATA.test(info.path)) continue;
    if (wanted.has(info.path)) out.set(info.path, info);
  }
  return out;
}

/**
 * The archived files a version needs.
 *
 * @param snapshot the version
 * @param files a subset of its live files (default all)
 * @returns the archived files, with their pending rehydrations
 */
export async function findArchivedFiles(snapshot: Snapshot, files?: readonly AddFile[]): Promise<ArchivedFiles> {
  const needed = neededFiles(snapshot, files);
  const listed = await listFileTiers(
    snapshot.store,
    needed.map((f) => f.path),
  );
  const archived: ArchivedFile[] = [];
  for (const file of needed) {
    const info = listed.get(file.path);
    if (info?.accessTier !== 'Archive') continue;
    const pending = pendingRehydration(info);
    archived.push({ path: file.path, size: file.size || info.size, ...(pending ? { pending } : {}) });
  }
  return {
    table: snapshot.table,
    version: snapshot.version,
    needed: needed.length,
    files: archived,
    bytes: archived.reduce((n, f) => n + f.size, 0),
    pending: archived.filter((f) => f.pending).length,
  };
}

/**
 * The rehydration under way for a listed file, if any (Azure's `archiveStatus`
 * `rehydrate-pending-to-<tier>`).
 *
 * @param info a listing entry
 * @returns the pending rehydration, or undefined
 */
export function pendingRehydration(info: ObjectInfo): PendingRehydration | undefined {
  const match = /^rehydrate-pending-to-(hot|cool|cold)$/i.exec(info.archiveStatus ?? '');
  if (!match) return undefined;
  const to = (match[1][0].toUpperCase() + match[1].slice(1).toLowerCase()) as AccessTier;
  return {
    to,
    ...(info.rehydratePriority ? { priority: info.rehydratePriority } : {}),
    ...(info.accessTierChangedOn ? { since: info.accessTierChangedOn.toISOString() } : {}),
  };
}

/**
 * A read refused because the version needs files that are offline in the Archive tier. Nothing was
 * read. Not transient: reading again fails the same way until the files are rehydrated.
 */
export class ArchivedFilesError extends DeltaError {
  readonly table: string;
  readonly version: number;
  readonly files: readonly ArchivedFile[];
  readonly bytes: number;
  /** The command that rehydrates the files. */
  readonly command: string;
  constructor(archived: ArchivedFiles, command: string) {
    super(archivedMessage(archived, command));
    this.name = 'ArchivedFilesError';
    this.table = archived.table;
    this.version = archived.version;
    this.files = archived.files;
    this.bytes = archived.bytes;
    this.command = command;
  }
}

/** Archived files named in the message; the rest are counted. */
const NAMED_FILES = 5;

function archivedMessage(archived: ArchivedFiles, command: string): string {
  const n = archived.files.length;
  const head = `delta read: version ${archived.version} of ${archived.table} needs ${n} file${n === 1 ? '' : 's'} (${formatBytes(archived.bytes)}) that ${n === 1 ? 'is' : 'are'} offline in the Archive tier; nothing was read`;
  const pending = archived.files.filter((f) => f.pending);
  const waiting = pending.length ? `; ${pending.length} of them ${pending.length === 1 ? 'is' : 'are'} being rehydrated (${describePending(pending)})` : '';
  const named = archived.files
    .slice(0, NAMED_FILES)
    .map((f) => `${f.path}${f.pending ? ' (pending)' : ''}`)
    .join(', ');
  const more = n > NAMED_FILES ? ` and ${n - NAMED_FILES} more` : '';
  const todo = pending.length === n ? `. Wait for it to finish, or follow it with: ${command} --wait` : `. Rehydrate them with: ${command}`;
  return `${head}${waiting}: ${named}${more}${todo}`;
}

/** Pending rehydrations grouped by target tier and priority, with the earliest request time. */
function describePending(pending: readonly ArchivedFile[]): string {
  const groups = new Map<string, { count: number; since?: string }>();
  for (const f of pending) {
    const key = `pending to ${f.pending!.to}, priority ${f.pending!.priority ?? 'unknown'}`;
    const group = groups.get(key) ?? { count: 0 };
    group.count++;
    const since = f.pending!.since;
    if (since && (!group.since || since < group.since)) group.since = since;
    groups.set(key, group);
  }
  return [...groups].map(([key, g]) => `${pending.length > 1 ? `${g.count} ` : ''}${key}${g.since ? `, since ${g.since}` : ''}`).join('; ');
}

/**
 * The command that rehydrates what a version of a table needs, as a user types it.
 *
 * @param table the table as the user named it (a location, as for `sluice read`)
 * @param version the version
 * @returns e.g. `sluice rehydrate azurite://lake/bronze/sales --version 3`
 */
export function rehydrateCommand(table: string, version: number): string {
  return `sluice rehydrate ${shellWord(table)} --version ${version}`;
}

/**
 * Refuse a read before it starts when the version needs archived files.
 *
 * @param snapshot the version to read
 * @param table the table as the user named it, for the command in the error
 * @param files the files the read will take (default all live files)
 * @throws ArchivedFilesError naming the files, their bytes and `sluice rehydrate <table> --version N`
 */
export async function requireOnline(snapshot: Snapshot, table: string, files?: readonly AddFile[]): Promise<void> {
  const archived = await findArchivedFiles(snapshot, files);
  if (archived.files.length > 0) throw new ArchivedFilesError(archived, rehydrateCommand(table, snapshot.version));
}

/** A word the shell passes on as it is: quoted when it holds anything but safe characters. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The longest string prefix all paths share. */
function commonPrefix(paths: readonly string[]): string {
  let prefix = paths[0];
  for (const p of paths) {
    let i = 0;
    while (i < prefix.length && i < p.length && prefix[i] === p[i]) i++;
    prefix = prefix.slice(0, i);
    if (!prefix) break;
  }
  return prefix;
}

/**
 * Bytes as people read them.
 *
 * @param n bytes
 * @returns e.g. `12.5 MiB`
 */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}
