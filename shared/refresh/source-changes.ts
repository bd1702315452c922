/**
 * Which source rows an incremental refresh reads: the data files added by the source versions after
 * the last one applied to the target (the target's `txn` for `sluice-refresh:<source>` records it).
 *
 * - Commits whose files all have `dataChange=false` (compaction by optimize, which rewrites rows
 *   without changing them) are skipped: their rows were read from the original files.
 * - A commit that removes data with `dataChange=true` (a user's DELETE, an overwrite) cannot be applied
 *   incrementally; the refresh stops with an error naming the version and the full-refresh command.
 * - The first refresh of a target reads the source's live files at its current version.
 *
 * Files keep the order the source received them (version, then position in the commit), which is the
 * arrival order upserts use to break ties.
 */
import type { AddFile } from '../delta/actions';
import { activeFiles, type Snapshot } from '../delta';
import { latestSnapshot, readKeptCommit } from '../delta/latest';
import type { SourceFile } from '../sql/stage';
import type { ObjectStore } from '../storage/types';
import { fullRefreshCommand, RefreshError } from './errors';

/** The source rows a refresh reads. */
export interface SourceRead {
  /** Source name in the definition. */
  source: string;
  /** The source at the version being applied. */
  snapshot: Snapshot;
  /** Last version already applied (-1: none). */
  fromVersion: number;
  /** Version being applied (the source's latest). */
  toVersion: number;
  /** Data files to read, in arrival order. */
  files: SourceFile[];
  /** Versions skipped because they changed no data (compaction, metadata). */
  skippedVersions: number[];
  /** True when the whole source is read (first refresh or full refresh). */
  whole: boolean;
}

const PARALLEL_COMMITS = 16;

/**
 * Plan the read of a source's versions after `applied`.
 *
 * @param source source name
 * @param store store rooted at the source table
 * @param applied last source version applied to the target (-1: none, read everything)
 * @param target target table name, for messages
 * @param definitionFile the pipeline file, for the full-refresh command in messages
 * @returns the plan (no files when nothing is new)
 */
export async function planSourceRead(source: string, store: ObjectStore, applied: number, target: string, definitionFile?: string): Promise<SourceRead> {
  const snapshot = await latestSnapshot(store);
  const plan: SourceRead = { source, snapshot, fromVersion: applied, toVersion: snapshot.version, files: [], skippedVersions: [], whole: applied < 0 };
  if (snapshot.version <= applied) return plan;
  if (applied < 0) {
    plan.files = await liveFilesInArrivalOrder(store, snapshot);
    return plan;
  }
  const versions: number[] = [];
  for (let v = applied + 1; v <= snapshot.version; v++) versions.push(v);
  for (let i = 0; i < versions.length; i += PARALLEL_COMMITS) {
    const chunk = versions.slice(i, i + PARALLEL_COMMITS);
    const commits = await Promise.all(chunk.map((v) => readKeptCommit(store, v)));
    chunk.forEach((version, j) => {
      const actions = commits[j];
      if (!actions) {
        throw new RefreshError(
          'source-history-missing',
          target,
          `refresh ${target}: version ${version} of source ${source} (${store.url}) is no longer in its log, so the rows it added cannot be read incrementally; rebuild with \`${fullRefreshCommand(definitionFile, target)}\``,
        );
      }
      let added = 0;
      for (const action of actions) {
        if ('remove' in action && action.remove.dataChange) {
          const info = actions.find((a) => 'commitInfo' in a) as { commitInfo: { operation?: string } } | undefined;
          throw new RefreshError(
            'source-changed',
            target,
            `refresh ${target}: version ${version} of source ${source} (${store.url}${info?.commitInfo.operation ? `, operation ${info.commitInfo.operation}` : ''}) removed data (file ${action.remove.path}); ` +
              `only appended rows can be applied incrementally. Rebuild ${target} from the source's current version with \`${fullRefreshCommand(definitionFile, target)}\``,
          );
        }
        if ('add' in action && action.add.dataChange) {
          plan.files.push(toSourceFile(action.add, version));
          added++;
        }
      }
      if (added === 0) plan.skippedVersions.push(version);
    });
  }
  return plan;
}

function toSourceFile(add: AddFile, version: number | undefined): SourceFile {
  return {
    path: add.path,
    partitionValues: add.partitionValues ?? {},
    size: add.size,
    version,
    ...(add.deletionVector ? { deletionVector: add.deletionVector } : {}),
  };
}

/**
 * The live files of a snapshot, each with the version that added it when the log still has that
 * commit, ordered by that version (files from before the retained log first, by modification time).
 */
async function liveFilesInArrivalOrder(store: ObjectStore, snapshot: Snapshot): Promise<SourceFile[]> {
  const live = new Map(activeFiles(snapshot).map((f) => [f.path, f]));
  const addedIn = new Map<string, number>();
  for (let top = snapshot.version; top >= 0 && addedIn.size < live.size; top -= PARALLEL_COMMITS) {
    const chunk: number[] = [];
    for (let v = top; v > top - PARALLEL_COMMITS && v >= 0; v--) chunk.push(v);
    const commits = await Promise.all(chunk.map((v) => readKeptCommit(store, v)));
    let missing = false;
    chunk.forEach((version, j) => {
      if (!commits[j]) missing = true;
      for (const action of commits[j] ?? [])
        if ('add' in action && live.has(action.add.path) && !addedIn.has(action.add.path)) addedIn.set(action.add.path, version);
    });
    if (missing) break;
  }
  const files = [...live.values()].map((f) => toSourceFile(f, addedIn.get(f.path)));
  files.sort((a, b) => (a.version ?? -1) - (b.version ?? -1) || modified(live, a) - modified(live, b) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return files;
}

function modified(live: Map<string, AddFile>, file: SourceFile): number {
  return live.get(file.path)?.modificationTime ?? 0;
}
