/**
 * The rows of an upstream table that changed between two versions, for recomputing only the affected
 * partitions of a downstream table. Per upstream commit:
 *
 * - no data change (compaction, metadata): nothing changed;
 * - files added and none removed (an append, or an upsert that only inserted): the added files hold
 *   exactly the new rows;
 * - files removed with a Sluice change file named in `commitInfo.sluiceChanges` (an upsert that
 *   rewrote files): the change file holds the old and new versions of the changed rows (the rewritten
 *   files also hold unchanged rows, so they are not used);
 * - anything else (a delete or overwrite by another writer, a full refresh, a version no longer in the
 *   log): the changed rows are unknown and the downstream table is recomputed whole.
 */
import type { AddFile } from '../delta/actions';
import { readKeptCommit } from '../delta/latest';
import type { SourceFile } from '../sql/stage';
import type { ObjectStore } from '../storage/types';

/** Where an upstream table's changed rows are. */
export interface ChangedRows {
  /** Data files added by appends (read with the table's schema and partition values). */
  addedFiles: SourceFile[];
  /** Change files (all columns in the file; `_change_type` says which version a row is). */
  changeFiles: SourceFile[];
}

const PARALLEL_COMMITS = 16;

/**
 * Find the changed rows of versions `from+1 … to`.
 *
 * @param store store rooted at the upstream table
 * @param from last version applied downstream
 * @param to version being applied
 * @returns where the changed rows are, or null when they cannot be known (recompute everything)
 */
export async function changedRows(store: ObjectStore, from: number, to: number): Promise<ChangedRows | null> {
  const out: ChangedRows = { addedFiles: [], changeFiles: [] };
  const versions: number[] = [];
  for (let v = from + 1; v <= to; v++) versions.push(v);
  for (let i = 0; i < versions.length; i += PARALLEL_COMMITS) {
    const chunk = versions.slice(i, i + PARALLEL_COMMITS);
    const commits = await Promise.all(chunk.map((v) => readKeptCommit(store, v)));
    for (let j = 0; j < chunk.length; j++) {
      const actions = commits[j];
      if (!actions) return null;
      const adds: AddFile[] = [];
      let removes = 0;
      let changes: { files?: unknown } | undefined;
      for (const action of actions) {
        if ('add' in action && action.add.dataChange) adds.push(action.add);
        if ('remove' in action && action.remove.dataChange) removes++;
        if ('commitInfo' in action) changes = (action.commitInfo as { sluiceChanges?: { files?: unknown } }).sluiceChanges;
      }
      if (removes === 0) {
        for (const add of adds) out.addedFiles.push({ path: add.path, partitionValues: add.partitionValues ?? {}, size: add.size, version: chunk[j] });
        continue;
      }
      if (!changes || !Array.isArray(changes.files)) return null;
      for (const path of changes.files) {
        if (typeof path !== 'string') return null;
        out.changeFiles.push({ path, partitionValues: {}, version: chunk[j] });
      }
    }
  }
  return out;
}
