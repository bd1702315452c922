/**
 * The `_delta_log/` directory: naming of commit and checkpoint files, listing what is there, and
 * reading single commits. Files that match no known pattern (Hadoop `.crc` litter, `.tmp/` folders,
 * compaction files, our own lane folder) are ignored, as real tables contain them.
 */
import type { ObjectInfo, ObjectStore } from '../storage/types';
import { ObjectNotFoundError } from '../storage/types';
import { Action, parseCommit } from './actions';
import { CorruptLogError, NotATableError } from './errors';

/** Folder of the log, relative to the table root. */
export const LOG_DIR = '_delta_log/';
/** Pointer to the newest checkpoint: a hint, never trusted blindly. */
export const LAST_CHECKPOINT = `${LOG_DIR}_last_checkpoint`;

const COMMIT_RE = /^(\d{20})\.json$/;
const CLASSIC_CHECKPOINT_RE = /^(\d{20})\.checkpoint\.parquet$/;
const MULTIPART_CHECKPOINT_RE = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;
/** V2 checkpoint with a unique name, JSON or Parquet (it may point to sidecar files). */
const UUID_CHECKPOINT_RE = /^(\d{20})\.checkpoint\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(json|parquet)$/i;
/** Folder of V2 checkpoints' sidecar files. */
export const SIDECARS_DIR = `${LOG_DIR}_sidecars/`;

/** A checkpoint usable for a version: one file (classic) or all parts (multi-part). */
export interface CheckpointFiles {
  version: number;
  paths: string[];
}

/** What a listing of `_delta_log/` found. */
export interface LogListing {
  /** Commit files by version. */
  commits: Map<number, ObjectInfo>;
  /** Complete checkpoints by version (a classic one is preferred when both kinds exist). */
  checkpoints: Map<number, CheckpointFiles>;
}

/**
 * Path of the commit file for a version.
 *
 * @param version table version
 * @returns `_delta_log/00000000000000000007.json` for 7
 */
export function commitPath(version: number): string {
  return `${LOG_DIR}${pad20(version)}.json`;
}

/**
 * Path of the classic checkpoint for a version.
 *
 * @param version table version
 * @returns `_delta_log/<version>.checkpoint.parquet`
 */
export function checkpointPath(version: number): string {
  return `${LOG_DIR}${pad20(version)}.checkpoint.parquet`;
}

/**
 * Zero-pad a version to the 20 digits log file names use.
 *
 * @param version table version
 * @returns the padded digits
 */
export function pad20(version: number): string {
  return String(version).padStart(20, '0');
}

/**
 * List the log: commits and complete checkpoints.
 *
 * @param store store rooted at the table
 * @returns the listing; throws `NotATableError` when neither commits nor checkpoints exist
 */
export async function listLog(store: ObjectStore): Promise<LogListing> {
  return collectListing(store, store.list(LOG_DIR));
}

/** Versions per listing window of `listLogFrom`: names sharing all but the last two digits. */
const WINDOW = 100;

/**
 * List only the part of the log at or after `fromVersion` (typically the `_last_checkpoint` hint),
 * window by window, so loading a long-lived table costs a few small listings instead of one of the
 * whole log. Returns null when the result cannot be trusted (no checkpoint at `fromVersion`, or a
 * commit after the last one listed exists); the caller then lists everything.
 *
 * @param store store rooted at the table
 * @param fromVersion a version that has a checkpoint
 * @returns the partial listing (versions ≥ the window holding `fromVersion`), or null
 */
export async function listLogFrom(store: ObjectStore, fromVersion: number): Promise<LogListing | null> {
  let nextWindow = 0;
  async function* windows(): AsyncGenerator<ObjectInfo> {
    for (let start = fromVersion - (fromVersion % WINDOW); ; start += WINDOW) {
      nextWindow = start + WINDOW;
      let lastInWindow = false;
      for await (const info of store.list(LOG_DIR + pad20(start).slice(0, 18))) {
        if (info.path.startsWith(commitPath(start + WINDOW - 1))) lastInWindow = true;
        yield info;
      }
      if (!lastInWindow) return;
    }
  }
  let listing: LogListing;
  try {
    listing = await collectListing(store, windows());
  } catch {
    return null;
  }
  if (!listing.checkpoints.has(fromVersion)) return null;
  // A commit in the window after the last one listed means a gap hid newer versions: do not trust them.
  if (await exists(store, commitPath(nextWindow))) return null;
  return listing;
}

async function exists(store: ObjectStore, path: string): Promise<boolean> {
  try {
    await store.properties(path);
    return true;
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return false;
    throw err;
  }
}

async function collectListing(store: ObjectStore, infos: AsyncIterable<ObjectInfo>): Promise<LogListing> {
  const commits = new Map<number, ObjectInfo>();
  const multipart = new Map<number, Map<number, string[]>>();
  const checkpoints = new Map<number, CheckpointFiles>();
  const uuidNamed = new Map<number, CheckpointFiles>();
  for await (const info of infos) {
    const name = info.path.slice(LOG_DIR.length);
    if (name.includes('/')) continue; // sub-folders: .tmp/, _sidecars/, _staged_commits/
    let m = COMMIT_RE.exec(name);
    if (m) {
      commits.set(Number(m[1]), info);
      continue;
    }
    m = CLASSIC_CHECKPOINT_RE.exec(name);
    if (m) {
      checkpoints.set(Number(m[1]), { version: Number(m[1]), paths: [info.path] });
      continue;
    }
    m = UUID_CHECKPOINT_RE.exec(name);
    if (m) {
      // Written in one piece, so complete; several for one version are equivalent, the first listed is used.
      if (!uuidNamed.has(Number(m[1]))) uuidNamed.set(Number(m[1]), { version: Number(m[1]), paths: [info.path] });
      continue;
    }
    m = MULTIPART_CHECKPOINT_RE.exec(name);
    if (m) {
      const version = Number(m[1]);
      const parts = Number(m[3]);
      const byParts = multipart.get(version) ?? new Map<number, string[]>();
      multipart.set(version, byParts);
      const list = byParts.get(parts) ?? [];
      list.push(info.path);
      byParts.set(parts, list);
    }
  }
  for (const [version, files] of uuidNamed) if (!checkpoints.has(version)) checkpoints.set(version, files);
  for (const [version, byParts] of multipart) {
    if (checkpoints.has(version)) continue;
    for (const [parts, paths] of byParts) {
      // A multi-part set with missing parts was never completed; ignore it.
      if (paths.length === parts) checkpoints.set(version, { version, paths: paths.sort() });
    }
  }
  if (commits.size === 0 && checkpoints.size === 0) throw new NotATableError(store.url);
  return { commits, checkpoints };
}

/**
 * Read and parse the commit file of one version.
 *
 * @param store store rooted at the table
 * @param version table version
 * @returns its actions
 */
export async function readCommit(store: ObjectStore, version: number): Promise<Action[]> {
  const path = commitPath(version);
  let bytes: Uint8Array;
  try {
    bytes = await store.read(path);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) {
      throw new CorruptLogError(`delta log: commit file ${store.url}/${path} for version ${version} is missing`, { cause: err });
    }
    throw err;
  }
  return parseCommitBytes(store, version, bytes);
}

function parseCommitBytes(store: ObjectStore, version: number, bytes: Uint8Array): Action[] {
  const path = commitPath(version);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new CorruptLogError(`delta log: ${store.url}/${path} is not valid UTF-8`, { cause: err });
  }
  if (!text.trim()) throw new CorruptLogError(`delta log: ${store.url}/${path} is empty`);
  return parseCommit(text, `${store.url}/${path}`);
}

/** Content of `_last_checkpoint` that we use. */
export interface LastCheckpointHint {
  version: number;
  size?: number;
  parts?: number;
}

/**
 * Read `_last_checkpoint` if it exists and parses; returns null otherwise (it is only a hint).
 *
 * @param store store rooted at the table
 * @returns the hint or null
 */
export async function readLastCheckpoint(store: ObjectStore): Promise<LastCheckpointHint | null> {
  try {
    const value = JSON.parse(new TextDecoder().decode(await store.read(LAST_CHECKPOINT)));
    return typeof value?.version === 'number' ? value : null;
  } catch {
    return null;
  }
}

/**
 * Check that the commits `from..to` all exist, naming the first missing ones otherwise.
 *
 * @param listing the log listing
 * @param from first version needed
 * @param to last version needed
 * @param table table URL for the message
 */
export function requireContiguous(listing: LogListing, from: number, to: number, table: string): void {
  for (let v = from; v <= to; v++) {
    if (!listing.commits.has(v)) {
      let end = v;
      while (end + 1 <= to && !listing.commits.has(end + 1)) end++;
      const missing = end === v ? `${commitPath(v)}` : `${commitPath(v)} … ${commitPath(end)}`;
      throw new CorruptLogError(
        `delta log: gap in the log of ${table}: version${end === v ? '' : 's'} ${v}${end === v ? '' : `–${end}`} missing (${missing}) ` +
          `while reading up to version ${to}`,
      );
    }
  }
}

/**
 * Read a commit if it exists: null when the version has not been committed (yet).
 *
 * @param store store rooted at the table
 * @param version table version
 * @returns its actions, or null
 */
export async function readCommitIfExists(store: ObjectStore, version: number): Promise<Action[] | null> {
  try {
    return parseCommitBytes(store, version, await store.read(commitPath(version)));
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return null;
    throw err;
  }
}
