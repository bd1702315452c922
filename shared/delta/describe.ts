/**
 * A table's description for people and tools: version, schema, partitioning, files, rows, bytes.
 * Row counts come from file statistics; for files written without them (older Spark), from the
 * Parquet footer, which is read with two small range requests.
 */
import type { AccessTier, ObjectStore } from '../storage/types';
import { ObjectNotFoundError } from '../storage/types';
import type { AddFile, DeletionVector } from './actions';
import { DEFAULT_RETENTION_MS, parseInterval, writeCheckpoint } from './checkpoint';
import { deletionVectorLocation } from './deletion-vectors';
import { readParquetMetadata } from './parquet';
import { decodeAddPath } from './partitions';
import { checkMaintenanceSupport } from './protocol';
import { DeltaType } from './schema';
import { activeFiles, loadSnapshot, Snapshot } from './snapshot';
import { parseStats } from './stats';

/** The stable JSON shape of `sluice describe --json`. */
export interface TableDescription {
  table: string;
  version: number;
  id: string;
  name: string | null;
  description: string | null;
  protocol: { minReaderVersion: number; minWriterVersion: number; readerFeatures?: string[]; writerFeatures?: string[] };
  schema: { name: string; type: DeltaType; nullable: boolean }[];
  partitionColumns: string[];
  configuration: Record<string, string>;
  createdTime: number | null;
  checkpointVersion: number | null;
  numFiles: number;
  /** Rows in the live files net of deletion vectors; null when some file has no stats and its footer cannot be read. */
  numRecords: number | null;
  /** Rows the live files' deletion vectors mark as deleted (their cardinalities). */
  numDeletedRecords: number;
  /** Live files with a deletion vector. */
  numDeletionVectors: number;
  sizeBytes: number;
  /** Bytes of the live files per access tier (one listing of the table; a store without tiers counts Hot). */
  sizeBytesByTier: Record<AccessTier, number>;
  tombstones: number;
  txns: { appId: string; version: number; lastUpdated: number | null }[];
  files: {
    path: string;
    size: number;
    /** Rows of the logical file: the data file's rows less those its deletion vector marks. */
    numRecords: number | null;
    partitionValues: Record<string, string | null>;
    modificationTime: number;
    /** The file's deletion vector as logged, with `file`, where it is stored (null when inline), or null. */
    deletionVector: (DeletionVector & { file: string | null }) | null;
    /** Its access tier as listed (null when the listing does not hold it); `archiveStatus` while it rehydrates. */
    tier: AccessTier | null;
    archiveStatus?: string;
  }[];
}

/**
 * Describe a loaded snapshot.
 *
 * @param snapshot the table version
 * @returns the description
 */
export async function describeSnapshot(snapshot: Snapshot): Promise<TableDescription> {
  const files = activeFiles(snapshot).sort((a, b) => (a.path < b.path ? -1 : 1));
  const [physical, listed] = await Promise.all([mapLimit(files, 16, (f) => fileRecords(snapshot, f)), listTiers(snapshot.store)]);
  const stored = files.map((f) => listed.get(decodeAddPath(f.path, snapshot.table)));
  const counts = physical.map((n, i) => (n === null ? null : n - deletedRows(files[i].deletionVector)));
  const known = counts.every((c) => c !== null);
  return {
    table: snapshot.table,
    version: snapshot.version,
    id: snapshot.metadata.id,
    name: snapshot.metadata.name ?? null,
    description: snapshot.metadata.description ?? null,
    protocol: snapshot.protocol,
    schema: snapshot.schema.fields.map((f) => ({ name: f.name, type: f.type, nullable: f.nullable })),
    partitionColumns: snapshot.partitionColumns,
    configuration: snapshot.metadata.configuration ?? {},
    createdTime: snapshot.metadata.createdTime ?? null,
    checkpointVersion: snapshot.checkpointVersion,
    numFiles: files.length,
    numRecords: known ? counts.reduce((n: number, c) => n + (c as number), 0) : null,
    numDeletedRecords: files.reduce((n, f) => n + deletedRows(f.deletionVector), 0),
    numDeletionVectors: files.filter((f) => f.deletionVector).length,
    sizeBytes: files.reduce((n, f) => n + f.size, 0),
    sizeBytesByTier: files.reduce((by, f, i) => ((by[stored[i]?.tier ?? 'Hot'] += f.size), by), { Hot: 0, Cool: 0, Cold: 0, Archive: 0 } as Record<
      AccessTier,
      number
    >),
    tombstones: snapshot.state.tombstones.size,
    txns: [...snapshot.state.txns.values()].map((t) => ({ appId: t.appId, version: t.version, lastUpdated: t.lastUpdated ?? null })),
    files: files.map((f, i) => ({
      path: f.path,
      size: f.size,
      numRecords: counts[i],
      partitionValues: f.partitionValues,
      modificationTime: f.modificationTime,
      deletionVector: f.deletionVector ? { ...f.deletionVector, file: deletionVectorFile(f.deletionVector, snapshot.table) } : null,
      tier: stored[i]?.tier ?? null,
      ...(stored[i]?.archiveStatus ? { archiveStatus: stored[i]!.archiveStatus } : {}),
    })),
  };
}

/** Tier (and rehydration state) of every stored file, from one listing rather than a call per file. */
async function listTiers(store: ObjectStore): Promise<Map<string, { tier: AccessTier; archiveStatus?: string }>> {
  const out = new Map<string, { tier: AccessTier; archiveStatus?: string }>();
  for await (const info of store.list('')) {
    if (info.path.startsWith('_delta_log/')) continue;
    out.set(info.path, { tier: info.accessTier ?? 'Hot', ...(info.archiveStatus ? { archiveStatus: info.archiveStatus } : {}) });
  }
  return out;
}

function deletedRows(dv: DeletionVector | null | undefined): number {
  return dv ? Number(dv.cardinality) : 0;
}

/** Where a DV is stored, for people: a path relative to the table, a URL, or null when inline. */
function deletionVectorFile(dv: DeletionVector, table: string): string | null {
  try {
    const location = deletionVectorLocation(dv, table);
    return location.kind === 'table' ? location.path : location.kind === 'external' ? location.url : null;
  } catch (err) {
    // Describing must work on a table whose DV a read would refuse; the reason is the answer.
    return `unreadable: ${(err as Error).message}`;
  }
}

async function fileRecords(snapshot: Snapshot, file: AddFile): Promise<number | null> {
  const stats = parseStats(file.stats);
  if (typeof stats?.numRecords === 'number') return stats.numRecords;
  try {
    const path = decodeAddPath(file.path, snapshot.table);
    const size = file.size;
    const tail = await snapshot.store.read(path, { offset: Math.max(0, size - 8), length: 8 });
    const footerLength = new DataView(tail.buffer, tail.byteOffset, 8).getUint32(0, true);
    const footer = await snapshot.store.read(path, { offset: Math.max(0, size - 8 - footerLength) });
    // hyparquet wants the file's tail including the magic number; a prefix of zeros is not needed.
    const metadata = await readParquetMetadata(footer);
    return Number(metadata.num_rows);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return null;
    return null;
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

/**
 * Write a checkpoint for the latest version of a table now (the `checkpoint` command).
 *
 * @param store store rooted at the table
 * @returns the version checkpointed and whether this call wrote it
 */
export async function checkpointTable(store: ObjectStore): Promise<{ version: number; created: boolean }> {
  const snapshot = await loadSnapshot(store);
  checkMaintenanceSupport(snapshot.protocol, snapshot.metadata, store.url);
  const retention = parseInterval(snapshot.metadata.configuration['delta.deletedFileRetentionDuration']) ?? DEFAULT_RETENTION_MS;
  const created = await writeCheckpoint(store, snapshot.state, { tombstoneCutoff: Date.now() - retention });
  return { version: snapshot.version, created };
}
