/**
 * Rehydration of the archived files one table version needs: the stage functions the `rehydrate`
 * orchestration's activities, `sluice rehydrate` and the HTTP route share.
 *
 * Copy or set tier. Azure rehydrates an archived blob either by `Set Blob Tier` on the blob itself or
 * by copying it to a new blob in an online tier (Microsoft's usual advice, since the archived original
 * stays). A Delta version names its files by path, in commits nobody may rewrite: a copy under
 * another path is invisible to the version that needs it, and a copy onto the same path is not
 * possible while the source is archived. So Sluice sets the tier in place, to Hot: the path and the
 * ETag stay (our ledger keys files by path and ETag), the version reads as it was. The price is the
 * archived copy itself: moving a file out of Archive before its 180 days are up incurs the prorated
 * early-deletion charge, which a copy would avoid; the tiering plan counts that cost and the tiering
 * run does not archive files it expects to be read. Hot, not Cool: the file is read next, and the next
 * tiering run moves it down again once its hold (below) ends.
 *
 * Holds. Each request is recorded in the table's `_sluice/rehydration/` folder (hidden from readers and
 * vacuum, like `_delta_log`): the files, the version, the priority, when it was asked for, completed
 * and read. `heldForTiering` turns them into the files the tiering run must not move: a file being
 * rehydrated, or rehydrated and not yet read, is never archived again; after the read it stays for
 * `SLUICE_REHYDRATION_HOLD_DAYS`, and a rehydration nobody reads is released that many days after it
 * completed (or after its deadline, when it never did), so a forgotten request does not keep a table
 * Hot for ever.
 */
import { errorText } from '../errors';
import { loadSnapshot } from '../delta/snapshot';
import type { AccessTier, ObjectStore, RehydratePriority } from '../storage/types';
import { ObjectNotFoundError } from '../storage/types';
import { findArchivedFiles, formatBytes, listFileTiers, pendingRehydration, type ArchivedFile } from './archived-files';

/** Priority as users spell it (`--priority`, `?priority=`). */
export type RehydrationPriority = 'standard' | 'high';
/** The priorities, default first. */
export const REHYDRATION_PRIORITIES: readonly RehydrationPriority[] = ['standard', 'high'];
/** Default priority: Standard costs less; High is for data needed within the hour. */
export const DEFAULT_REHYDRATION_PRIORITY: RehydrationPriority = 'standard';

/** Longest a rehydration is waited for before it is reported failed (Azure: Standard up to 15 h). */
export const REHYDRATION_DEADLINE_HOURS = 48;

/** Where a table keeps its rehydration records, under its root. */
export const REHYDRATION_FOLDER = '_sluice/rehydration';

/** Parallel tier requests of one check. */
const PARALLEL_REQUESTS = 16;

/**
 * Azure's spelling of a priority.
 *
 * @param priority `standard` or `high`
 * @returns `Standard` or `High`
 */
export function storagePriority(priority: RehydrationPriority): RehydratePriority {
  return priority === 'high' ? 'High' : 'Standard';
}

/**
 * Read a priority as a user typed it.
 *
 * @param text the value
 * @returns the priority, or undefined when it is not one
 */
export function parsePriority(text: string): RehydrationPriority | undefined {
  const lower = text.trim().toLowerCase();
  return REHYDRATION_PRIORITIES.find((p) => p === lower);
}

/** What a version needs brought back. */
export interface RehydrationPlan {
  /** The table, as the store names it. */
  table: string;
  version: number;
  /** Files the version needs in all. */
  needed: number;
  /** The archived ones (with any rehydration already under way). */
  files: ArchivedFile[];
  bytes: number;
}

/**
 * The archived files a version (default: the latest) needs.
 *
 * @param store store rooted at the table
 * @param version the version (default latest)
 * @returns the plan
 */
export async function planRehydration(store: ObjectStore, version?: number): Promise<RehydrationPlan> {
  const snapshot = await loadSnapshot(store, version === undefined ? {} : { version });
  const archived = await findArchivedFiles(snapshot);
  return { table: archived.table, version: archived.version, needed: archived.needed, files: archived.files, bytes: archived.bytes };
}

/** A file whose tier request storage refused, with its reason (retried at the next check). */
export interface RefusedFile {
  path: string;
  reason: string;
}

/** Where a rehydration stands after one check. */
export interface RehydrationProgress {
  /** Files of the request. */
  total: number;
  /** Of them, online now. */
  online: number;
  /** Still archived with a rehydration under way. */
  pending: number;
  bytes: number;
  bytesOnline: number;
  /** Rehydrations asked for by this check (files archived with none under way). */
  requested: number;
  /** Pending Standard rehydrations raised to High by this check. */
  raised: number;
  /** Tier requests storage refused this time. */
  refused: RefusedFile[];
  /** Files of the request no longer in storage (vacuumed since): they cannot come back. */
  missing: string[];
  /** When the check listed the files, ISO-8601. */
  checkedAt: string;
}

/**
 * One round of a rehydration: list the files (one listing), ask storage to rehydrate every file still
 * archived with nothing under way (so a refused or lost request is asked again at the next round),
 * raise pending Standard ones when High is asked, and count what is online. When the round asked
 * for anything, a second listing counts: a store that rehydrates at once (the local disk, Azurite)
 * then reports the files online, Azure reports them pending.
 *
 * @param store store rooted at the table
 * @param files the files to bring online (paths relative to the table, with sizes)
 * @param priority the priority asked for
 * @param now the time of the check
 * @returns the progress
 */
export async function advanceRehydration(
  store: ObjectStore,
  files: readonly { path: string; size: number }[],
  priority: RehydrationPriority,
  now: Date = new Date(),
): Promise<RehydrationProgress> {
  const paths = files.map((f) => f.path);
  let listed = await listFileTiers(store, paths);
  const asked = { requested: 0, raised: 0, refused: [] as RefusedFile[], missing: new Set<string>(), paths: new Set<string>() };
  const asks: (() => Promise<void>)[] = [];
  for (const file of files) {
    const info = listed.get(file.path);
    if (!info || info.accessTier !== 'Archive') continue;
    const pending = pendingRehydration(info);
    // Azure lets a pending Standard rehydration be raised to High (same target tier), never lowered.
    if (pending && priority === 'high' && info.rehydratePriority === 'Standard') asks.push(() => ask(store, file.path, pending.to, priority, asked, 'raised'));
    else if (!pending) asks.push(() => ask(store, file.path, 'Hot', priority, asked, 'requested'));
  }
  for (let i = 0; i < asks.length; i += PARALLEL_REQUESTS) await Promise.all(asks.slice(i, i + PARALLEL_REQUESTS).map((a) => a()));
  if (asked.requested + asked.raised > 0) listed = await listFileTiers(store, paths);

  const progress: RehydrationProgress = {
    total: files.length,
    online: 0,
    pending: 0,
    bytes: files.reduce((n, f) => n + f.size, 0),
    bytesOnline: 0,
    requested: asked.requested,
    raised: asked.raised,
    refused: asked.refused,
    missing: [],
    checkedAt: now.toISOString(),
  };
  for (const file of files) {
    const info = listed.get(file.path);
    if (!info || asked.missing.has(file.path)) progress.missing.push(file.path);
    else if (info.accessTier !== 'Archive') {
      progress.online++;
      progress.bytesOnline += file.size;
    } else if (pendingRehydration(info) || asked.paths.has(file.path)) progress.pending++;
  }
  return progress;
}

async function ask(
  store: ObjectStore,
  path: string,
  tier: AccessTier,
  priority: RehydrationPriority,
  asked: { requested: number; raised: number; refused: RefusedFile[]; missing: Set<string>; paths: Set<string> },
  count: 'requested' | 'raised',
): Promise<void> {
  try {
    await store.setAccessTier(path, tier, { rehydratePriority: storagePriority(priority) });
    asked[count]++;
    asked.paths.add(path);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) asked.missing.add(path);
    // A lease, a policy, a throttled account: reported, and asked again at the next check.
    else asked.refused.push({ path, reason: errorText(err) });
  }
}

/**
 * One line of a rehydration's progress, for logs and `sluice rehydrate`.
 *
 * @param s the status
 * @returns e.g. `3 of 4 files online (1.2 MiB of 1.6 MiB), 1 pending`
 */
export function progressLine(s: {
  files: number;
  online: number;
  pending: number;
  bytes: number;
  bytesOnline: number;
  refused: readonly RefusedFile[];
}): string {
  const refused = s.refused.length ? `, ${s.refused.length} refused by storage (${s.refused[0].path}: ${s.refused[0].reason})` : '';
  return `${s.online} of ${s.files} files online (${formatBytes(s.bytesOnline)} of ${formatBytes(s.bytes)}), ${s.pending} pending${refused}`;
}

// ---------------------------------------------------------------------------------------------------
// Holds

/** One rehydration request of a table, as recorded under `_sluice/rehydration/`. */
export interface RehydrationHold {
  /** `v<version>-<priority>`: asking again for the same version and priority renews the record. */
  id: string;
  version: number;
  priority: RehydrationPriority;
  /** Files of the request, relative to the table root, with their bytes. */
  files: { path: string; size: number }[];
  bytes: number;
  /** Who asked: `sluice rehydrate`, `POST /api/tables/…/rehydrate` (with the instance id). */
  by: string;
  requestedAt: string;
  /** When every file was online. */
  completedAt?: string;
  /** When a read through Sluice last took the files. */
  readAt?: string;
}

/** Why the tiering run must leave a file where it is. */
export interface TieringHold {
  holdId: string;
  version: number;
  /** `rehydrating`: not all online yet; `awaiting-read`: online, not read yet; `read`: read, inside the hold period. */
  state: 'rehydrating' | 'awaiting-read' | 'read';
  /** When the hold ends, ISO-8601. */
  until: string;
}

/** Default of `SLUICE_REHYDRATION_HOLD_DAYS`. */
export const DEFAULT_REHYDRATION_HOLD_DAYS = 7;

const DAY_MS = 86_400_000;

/**
 * The id of the hold of a version and priority.
 *
 * @param version the version
 * @param priority the priority
 * @returns e.g. `v3-standard`
 */
export function holdId(version: number, priority: RehydrationPriority): string {
  return `v${version}-${priority}`;
}

function holdPath(id: string): string {
  return `${REHYDRATION_FOLDER}/${id}.json`;
}

/**
 * Record (or renew) a rehydration request: from now on its files are held from tiering.
 *
 * @param store store rooted at the table
 * @param hold the request; `completedAt` and `readAt` are cleared
 */
export async function recordHold(store: ObjectStore, hold: Omit<RehydrationHold, 'completedAt' | 'readAt'>): Promise<void> {
  await store.write(holdPath(hold.id), JSON.stringify(hold), { contentType: 'application/json' });
}

/**
 * A recorded request.
 *
 * @param store store rooted at the table
 * @param id its id
 * @returns the record, or undefined when there is none
 */
export async function readHold(store: ObjectStore, id: string): Promise<RehydrationHold | undefined> {
  try {
    return JSON.parse(new TextDecoder().decode(await store.read(holdPath(id)))) as RehydrationHold;
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
}

/**
 * Every recorded request of a table (a record that cannot be parsed is skipped: it holds nothing).
 *
 * @param store store rooted at the table
 * @returns the records
 */
export async function listHolds(store: ObjectStore): Promise<RehydrationHold[]> {
  const out: RehydrationHold[] = [];
  for await (const info of store.list(`${REHYDRATION_FOLDER}/`)) {
    if (!info.path.endsWith('.json')) continue;
    try {
      const hold = JSON.parse(new TextDecoder().decode(await store.read(info.path))) as RehydrationHold;
      if (typeof hold.id === 'string' && Array.isArray(hold.files)) out.push(hold);
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError) && !(err instanceof SyntaxError)) throw err;
    }
  }
  return out;
}

/**
 * Mark a request completed: every file is online. Other open requests of the table for no other
 * files (the same version asked at another priority) are completed with it.
 *
 * @param store store rooted at the table
 * @param id its id
 * @param at when
 */
export async function completeHold(store: ObjectStore, id: string, at: Date): Promise<void> {
  const holds = await listHolds(store);
  const done = holds.find((h) => h.id === id);
  if (!done) return;
  const online = new Set(done.files.map((f) => f.path));
  for (const hold of holds) {
    if (hold.completedAt || !hold.files.every((f) => online.has(f.path))) continue;
    await store.write(holdPath(hold.id), JSON.stringify({ ...hold, completedAt: at.toISOString() }), { contentType: 'application/json' });
  }
}

/**
 * Note that a read took the files of requests, which starts their hold period. A request whose files
 * were all read is completed too: its files were online, whoever waited for them (or nobody).
 *
 * @param store store rooted at the table
 * @param paths the files the read took
 * @param at when
 * @returns the ids of the requests marked
 */
export async function markHoldsRead(store: ObjectStore, paths: Iterable<string>, at: Date): Promise<string[]> {
  const read = new Set(paths);
  const marked: string[] = [];
  for (const hold of await listHolds(store)) {
    if (!hold.files.some((f) => read.has(f.path))) continue;
    const completedAt = hold.completedAt ?? (hold.files.every((f) => read.has(f.path)) ? at.toISOString() : undefined);
    if (!completedAt) continue;
    await store.write(holdPath(hold.id), JSON.stringify({ ...hold, completedAt, readAt: at.toISOString() }), { contentType: 'application/json' });
    marked.push(hold.id);
  }
  return marked;
}

/**
 * The files of a table the tiering run must not move at `now`, and why (see this file's header).
 * The tiering plan leaves these where they are, so a file being rehydrated, or rehydrated and not yet
 * read, is never archived again by the next run.
 *
 * @param store store rooted at the table
 * @param now the instant the plan is for (the tiering run's clock, or `--as-of`)
 * @param holdDays `SLUICE_REHYDRATION_HOLD_DAYS`
 * @returns file path (relative to the table) → the hold that keeps it
 */
export async function heldForTiering(store: ObjectStore, now: Date, holdDays = DEFAULT_REHYDRATION_HOLD_DAYS): Promise<Map<string, TieringHold>> {
  const out = new Map<string, TieringHold>();
  for (const hold of await listHolds(store)) {
    const held = holdState(hold, now, holdDays);
    if (!held) continue;
    for (const f of hold.files) {
      const other = out.get(f.path);
      if (!other || other.until < held.until) out.set(f.path, held);
    }
  }
  return out;
}

/**
 * Whether one request still holds its files at `now`, and until when.
 *
 * @param hold the record
 * @param now the instant
 * @param holdDays the hold period
 * @returns the hold, or undefined once it has ended
 */
export function holdState(hold: RehydrationHold, now: Date, holdDays: number): TieringHold | undefined {
  const period = holdDays * DAY_MS;
  const from = (iso: string) => new Date(iso).getTime();
  let state: TieringHold['state'];
  let until: number;
  if (hold.readAt && hold.completedAt) {
    state = 'read';
    until = from(hold.readAt) + period;
  } else if (hold.completedAt) {
    state = 'awaiting-read';
    until = from(hold.completedAt) + period;
  } else {
    state = 'rehydrating';
    until = from(hold.requestedAt) + REHYDRATION_DEADLINE_HOURS * 3_600_000 + period;
  }
  if (!(now.getTime() < until)) return undefined;
  return { holdId: hold.id, version: hold.version, state, until: new Date(until).toISOString() };
}
