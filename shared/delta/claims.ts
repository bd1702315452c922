/**
 * Write claims: how a writer tells vacuum "the data files I am writing now will be committed; keep
 * them, however old they look".
 *
 * Vacuum deletes a file no version references once it is older than the retention (and at least an
 * hour): that is how the files of writers that died before committing go away. A writer that takes
 * longer than that between its first file and its commit — an optimize of a large table, a process
 * that stalls — would otherwise see its files deleted under it when the retention is short, and its
 * commit would then reference missing files. So a long-running writer first stores a claim, a small
 * blob under `_sluice_claims/` (vacuum and Delta readers skip folders starting with `_`), and only
 * then writes. The claim covers every file written since it was created, by the storage service's
 * clock (the same clock that stamps the data files, so writer and vacuum clocks never meet): vacuum
 * keeps every never-committed file at least as new as a live claim, whatever its retention. This is
 * coarser than naming the files (a concurrent writer's young orphans wait too) but needs no file
 * name known in advance, and it errs only towards keeping.
 *
 * The writer renews the claim while it works and deletes it once its commit is done or given up. A
 * claim not renewed for `CLAIM_LEASE_MS` belongs to a writer that died: vacuum deletes it, and the
 * files it covered become ordinary orphans. The lease is long (a day) because vacuum judges it by
 * its own clock, which may run ahead of the storage clock; it costs only that a dead writer's
 * orphans wait a day.
 */
import { randomUUID } from 'node:crypto';
import { ObjectNotFoundError, type ObjectInfo, type ObjectStore } from '../storage/types';

/** Folder of the claims, relative to the table root. */
export const CLAIMS_FOLDER = '_sluice_claims/';

/** A claim not renewed for this long is dead (its writer stopped without releasing it). */
export const CLAIM_LEASE_MS = 24 * 3_600_000;

/** How often a live writer renews its claim by default: well inside the lease. */
const RENEW_EVERY_MS = 3_600_000;

/**
 * Files this much older than a claim are still covered: last-modified times have a resolution of a
 * second, and on local disk two processes may stamp files with clocks a little apart.
 */
export const CLAIM_CLOCK_MARGIN_MS = 60_000;

/** A claim held by this process. */
export interface WriteClaim {
  readonly id: string;
  /** Storage-clock time the claim was created; files written after it are covered. */
  readonly since: number;
  /** Stop renewing and delete the claim (files committed meanwhile no longer need it). */
  release(): Promise<void>;
}

/** The claims vacuum found. */
export interface ClaimsFound {
  /** Storage-clock time from which live claims cover files (the earliest claim, minus the margin), or null when none is live. */
  coversFrom: number | null;
  live: number;
  /** Paths of dead claims (not renewed within the lease). */
  dead: string[];
}

/**
 * Claim the files this process is about to write to a table, until `release`.
 *
 * @param store store rooted at the table
 * @param operation what is writing (for whoever lists the claims)
 * @param options renewal interval (default one hour)
 * @returns the claim
 */
export async function claimWrites(store: ObjectStore, operation: string, options: { renewEveryMs?: number } = {}): Promise<WriteClaim> {
  const id = randomUUID();
  const path = `${CLAIMS_FOLDER}${id}.json`;
  const body = (since: string | null) => JSON.stringify({ id, operation, pid: process.pid, since });
  const created = await store.createIfAbsent(path, body(null), { contentType: 'application/json' });
  const since = created.lastModified.getTime();
  // A renewal rewrites the blob, which moves its last-modified time: the creation time goes inside.
  const renewal = body(new Date(since).toISOString());
  let renewing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = store.write(path, renewal, { contentType: 'application/json' }).catch(() => undefined);
  }, options.renewEveryMs ?? RENEW_EVERY_MS);
  timer.unref();
  let released = false;
  return {
    id,
    since,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await renewing;
      // A claim left behind only delays the cleanup of orphans until its lease ends.
      await store.delete(path).catch(() => undefined);
    },
  };
}

/**
 * The claims of a table as vacuum sees them at `now` (its clock).
 *
 * @param store store rooted at the table
 * @param now vacuum's clock
 * @returns from when live claims cover files, and the dead claims
 */
export async function findClaims(store: ObjectStore, now: number): Promise<ClaimsFound> {
  const infos: ObjectInfo[] = [];
  for await (const info of store.list(CLAIMS_FOLDER)) infos.push(info);
  const found: ClaimsFound = { coversFrom: null, live: 0, dead: [] };
  for (const info of infos) {
    if (now - info.lastModified.getTime() > CLAIM_LEASE_MS) {
      found.dead.push(info.path);
      continue;
    }
    const since = await claimSince(store, info);
    if (since === undefined) continue; // released while we looked
    found.live++;
    found.coversFrom = Math.min(found.coversFrom ?? Infinity, since - CLAIM_CLOCK_MARGIN_MS);
  }
  return found;
}

/** When a claim was created: in its body once renewed, else its own last-modified time. */
async function claimSince(store: ObjectStore, info: ObjectInfo): Promise<number | undefined> {
  let text: string;
  try {
    text = new TextDecoder().decode(await store.read(info.path));
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
  try {
    const since = Date.parse((JSON.parse(text) as { since?: string | null }).since ?? '');
    return Number.isNaN(since) ? info.lastModified.getTime() : since;
  } catch {
    // Unreadable: keep everything a claim could cover rather than guess.
    return -Infinity;
  }
}
