/**
 * The latest state of a table from its `_last_checkpoint` hint, without listing `_delta_log/`.
 *
 * A listing costs what the folder holds, not what the load needs: the local disk reads the whole
 * directory (every commit since the table was created, until log cleanup), Azurite scans every blob
 * of the container, and Azure bills a listing at the write-operation rate. With a checkpoint, the latest
 * version needs only the checkpoint the hint names and the commits after it, and the names of both
 * are known: so read the checkpoint and, at the same time, the next commits by name, until the first
 * version that does not exist. The load then costs the same after 10 commits as after 10,000.
 *
 * Anything unexpected — the checkpoint the hint names is missing, incomplete or unreadable, a commit
 * exists past a missing one (a gap, or a writer racing the probe), more commits than one listing window
 * follow the hint than its checkpoint interval allows (the hint is stale, or a checkpoint was not
 * written: a listing finds the newest one) — returns null, and the
 * caller loads through the listing, which reports real damage with its usual errors.
 */
import type { ObjectStore } from '../storage/types';
import type { Action } from './actions';
import { readCheckpoint } from './checkpoint';
import { checkpointPath, type LastCheckpointHint, LOG_DIR, pad20, readCommitIfExists } from './log';
import { applyActions, emptyState, type TableState } from './replay';

/**
 * Commits read by name beside the checkpoint: with the default interval of 10, at most 9 commits
 * follow the newest checkpoint, and the probe reaches two versions past the tenth so that a gap shows.
 */
const FIRST_PROBE = 11;
/** A table checkpointing less often than this is loaded through the listing. */
const MAX_INTERVAL = 100;

/**
 * The files of the checkpoint a hint names: the classic file, or all parts of a multi-part one.
 *
 * @param hint `_last_checkpoint`'s content
 * @returns the paths, or null for a kind whose names only a listing gives (V2, UUID-named)
 */
function checkpointFiles(hint: LastCheckpointHint & { v2Checkpoint?: unknown }): string[] | null {
  if (hint.v2Checkpoint !== undefined) return null;
  if (hint.parts === undefined || hint.parts === null) return [checkpointPath(hint.version)];
  if (!Number.isInteger(hint.parts) || hint.parts < 1) return null;
  const parts = String(hint.parts).padStart(10, '0');
  return Array.from({ length: hint.parts }, (_, i) => `${LOG_DIR}${pad20(hint.version)}.checkpoint.${String(i + 1).padStart(10, '0')}.${parts}.parquet`);
}

/**
 * Build the latest state from the checkpoint a hint names and the commits after it, read by name.
 *
 * @param store store rooted at the table
 * @param hint `_last_checkpoint`'s content
 * @returns the state (with `fromCheckpoint` set), or null when a listing must decide
 */
export async function latestStateFromHint(store: ObjectStore, hint: LastCheckpointHint): Promise<TableState | null> {
  const paths = checkpointFiles(hint);
  if (!paths || !Number.isInteger(hint.version) || hint.version < 0) return null;
  const probe = (from: number, count: number) => Promise.all(Array.from({ length: count }, (_, i) => readCommitIfExists(store, from + i)));
  let checkpoint: Action[];
  let commits: (Action[] | null)[];
  try {
    [checkpoint, commits] = await Promise.all([readCheckpoint(store, paths), probe(hint.version + 1, FIRST_PROBE)]);
    // A commit at or past hint + interval means a newer checkpoint is due: the hint is stale, or that
    // checkpoint was not written; a listing finds the newest one there is.
    const metadata = checkpoint.find((a) => 'metaData' in a) as { metaData: { configuration?: Record<string, string> } } | undefined;
    const interval = Number(metadata?.metaData.configuration?.['delta.checkpointInterval']) || 10;
    if (!Number.isInteger(interval) || interval > MAX_INTERVAL) return null;
    if (commits.length < interval + 1) commits.push(...(await probe(hint.version + 1 + commits.length, interval + 1 - commits.length)));
    const missing = commits.indexOf(null);
    if (missing === -1 || missing >= interval) return null;
    // A commit past a missing one is a gap (or a writer racing the probe): the listing path tells which.
    if (commits.slice(missing).some((c) => c !== null)) return null;
    commits = commits.slice(0, missing);
  } catch {
    return null;
  }
  const state = emptyState();
  applyActions(state, checkpoint, hint.version);
  (state as TableState & { fromCheckpoint?: number }).fromCheckpoint = hint.version;
  commits.forEach((actions, i) => applyActions(state, actions!, hint.version + 1 + i));
  return state;
}
