/**
 * OPTIMIZE: bin-pack small files of each partition into files near a target size, and rewrite every
 * file with a deletion vector without the rows it marks (its `remove` carries the DV). The rewrite is
 * committed with `dataChange=false` on both sides, so streaming readers skip it and concurrent appends
 * never conflict with it; a concurrent commit that removes one of the files being compacted does
 * conflict, and the compaction is dropped rather than resurrecting deleted rows.
 *
 * Its new files are claimed (claims.ts) before the first is written and until the commit: however
 * long the rewrite takes, a vacuum with a short retention never deletes them under it.
 */
import type { ObjectStore } from '../storage/types';
import { removeAction, type Action, type AddFile } from './actions';
import { columnMappingMode, physicalName, physicalSchema, toPhysicalBatch } from './column-mapping';
import { claimWrites } from './claims';
import { commitTransaction, CommitOptions } from './commit';
import { CommitConflictError } from './errors';
import { checkMaintenanceSupport } from './protocol';
import { scanTable } from './scan';
import { activeFiles, loadSnapshot, Snapshot } from './snapshot';
import { writeDataFiles } from './writer';

/**
 * Below this size a data file counts as small: optimize compacts it, and the metrics timer counts it.
 *
 * @param targetBytes the target file size of optimize
 * @returns the size under which a file is small
 */
export function smallFileBytes(targetBytes: number): number {
  return Math.floor(targetBytes * 0.75);
}

/** Options for optimize. */
export interface OptimizeOptions extends CommitOptions {
  /** Target size of output files in bytes (default 128 MiB). */
  targetFileBytes?: number;
  /** Files at or above this size are left alone (default: 75% of the target). */
  minFileBytes?: number;
  /** Only partitions matching this filter (column → serialised value). */
  partitionFilter?: Record<string, string | null>;
  /** Leave a partition alone unless it has at least this many small files (default 2); files with a deletion vector are rewritten regardless. */
  minFilesPerPartition?: number;
}

/** Target size of optimize's files when none is given: 128 MiB. */
export const DEFAULT_TARGET_FILE_BYTES = 128 * 1024 * 1024;

/** What optimize did. */
export interface OptimizeResult {
  /** Version committed, or null when there was nothing to compact. */
  version: number | null;
  filesRemoved: number;
  filesAdded: number;
  partitionsOptimized: number;
  bytesRemoved: number;
  bytesAdded: number;
}

/**
 * The bins optimize would rewrite: per partition, its small files (and every file with a deletion
 * vector) packed into groups near the target size; the dry run of maintenance reports these.
 *
 * @param snapshot the version to compact
 * @param options target size, small-file threshold, partition filter, fewest small files per partition
 * @returns the groups of files, each becoming new files of about the target size
 */
export function planCompaction(snapshot: Snapshot, options: Omit<OptimizeOptions, keyof CommitOptions> = {}): AddFile[][] {
  const target = options.targetFileBytes ?? DEFAULT_TARGET_FILE_BYTES;
  const small = options.minFileBytes ?? smallFileBytes(target);
  // Partition values are keyed by physical name under column mapping; the filter names logical columns.
  const physical = physicalPartitionColumns(snapshot);
  const keyOf = (column: string) => physical[snapshot.partitionColumns.indexOf(column)] ?? column;
  const byPartition = new Map<string, AddFile[]>();
  for (const file of activeFiles(snapshot)) {
    // A file with a deletion vector is rewritten whatever its size: that is what drops its deleted rows.
    if (file.size >= small && !file.deletionVector) continue;
    if (options.partitionFilter && !Object.entries(options.partitionFilter).every(([c, v]) => (file.partitionValues[keyOf(c)] ?? '') === (v ?? ''))) continue;
    const key = JSON.stringify(physical.map((c) => file.partitionValues[c] ?? null));
    byPartition.set(key, [...(byPartition.get(key) ?? []), file]);
  }
  const bins: AddFile[][] = [];
  for (const files of byPartition.values()) {
    // A partition qualifies by its count of small files, or by a file whose deleted rows to drop.
    if (files.length < Math.max(2, options.minFilesPerPartition ?? 2) && !files.some((f) => f.deletionVector)) continue;
    files.sort((a, b) => a.size - b.size);
    let bin: AddFile[] = [];
    let size = 0;
    for (const file of files) {
      if (bin.length && size + file.size > target) {
        bins.push(bin);
        bin = [];
        size = 0;
      }
      bin.push(file);
      size += file.size;
    }
    bins.push(bin);
  }
  return bins.filter((b) => b.length >= 2 || b.some((f) => f.deletionVector));
}

/**
 * Compact small files of a table.
 *
 * @param store store rooted at the table
 * @param options target size, partition filter, commit settings
 * @returns counts and the version committed
 */
export async function optimizeTable(store: ObjectStore, options: OptimizeOptions = {}): Promise<OptimizeResult> {
  const snapshot = await loadSnapshot(store);
  checkMaintenanceSupport(snapshot.protocol, snapshot.metadata, store.url);
  const target = options.targetFileBytes ?? DEFAULT_TARGET_FILE_BYTES;
  const work = planCompaction(snapshot, options);
  const result: OptimizeResult = { version: null, filesRemoved: 0, filesAdded: 0, partitionsOptimized: 0, bytesRemoved: 0, bytesAdded: 0 };
  if (work.length === 0) return result;
  const claim = await claimWrites(store, 'OPTIMIZE');
  try {
    result.version = await rewrite(store, snapshot, work, target, result, options);
  } finally {
    await claim.release();
  }
  return result;
}

/** Write each bin's rows as new files and commit them in place of the bin's files; the version committed. */
async function rewrite(
  store: ObjectStore,
  snapshot: Snapshot,
  work: AddFile[][],
  target: number,
  result: OptimizeResult,
  options: OptimizeOptions,
): Promise<number> {
  const actions: Action[] = [];
  const now = Date.now();
  const partitions = new Set<string>();
  // Files are written as the table's own writers write them: under column mapping, with physical
  // names (and field ids), partition values and statistics keyed by physical names.
  const mode = columnMappingMode(snapshot.metadata, snapshot.table);
  const schema = physicalSchema(snapshot.schema, mode);
  const partitionColumns = physicalPartitionColumns(snapshot);
  async function* rows(bin: AddFile[]) {
    for await (const batch of scanTable(snapshot, { files: bin })) yield mode === 'none' ? batch : toPhysicalBatch(batch, schema);
  }
  for (const bin of work) {
    const added = await writeDataFiles({ store, schema, partitionColumns }, rows(bin), { targetFileBytes: target });
    for (const add of added) {
      actions.push({ add: { ...add, dataChange: false } });
      result.filesAdded++;
      result.bytesAdded += add.size;
    }
    for (const file of bin) {
      actions.push(removeAction(file, false, now));
      result.filesRemoved++;
      result.bytesRemoved += file.size;
      partitions.add(JSON.stringify(file.partitionValues));
    }
  }
  result.partitionsOptimized = partitions.size;
  try {
    const committed = await commitTransaction(
      store,
      snapshot,
      {
        actions,
        operation: 'OPTIMIZE',
        operationParameters: { predicate: JSON.stringify(options.partitionFilter ? [options.partitionFilter] : []), targetSize: String(target) },
        readPredicate: null,
      },
      options,
    );
    return committed.version;
  } catch (err) {
    if (err instanceof CommitConflictError) {
      throw new CommitConflictError(
        `${err.message}; optimize wrote nothing that readers see (its new files are orphans for vacuum) — run it again`,
        err.version,
      );
    }
    throw err;
  }
}

/** The partition columns under the names partition values and file paths use. */
function physicalPartitionColumns(snapshot: Snapshot): string[] {
  const mode = columnMappingMode(snapshot.metadata, snapshot.table);
  return snapshot.partitionColumns.map((c) =>
    physicalName(
      snapshot.schema.fields.find((f) => f.name === c)!,
      mode,
    ),
  );
}
