/**
 * The maintenance lease of one table: never two maintenance runs on one table at once (the nightly
 * timer's activity and someone's `sluice maintain`, or two hosts of the local timer).
 *
 * Ingestion takes no lease and never waits for one: maintenance and writers are kept apart by the
 * commit protocol itself (put-if-absent, optimize's `dataChange=false` rewrite, vacuum's re-read of
 * the log, the lane and the write claims). The lease only serialises maintenance with maintenance.
 *
 * It is a small blob under `<table>/_sluice_maintenance/` (a folder Delta readers and vacuum skip),
 * taken with create-if-absent, the one atomic primitive every store has: `lease-<generation>.json`.
 * The holder of the highest generation holds the lease while it renews it (rewrites it) within
 * `LEASE_MS`. A taker lists the folder: a live highest generation means busy; otherwise it creates
 * the next generation, and of several takers exactly one succeeds. A holder that stalled past the
 * lease finds a higher generation at its next step (`stillHeld`) and stops. The lease is judged by
 * real time, never by the injected clock tests use to simulate the passing of days.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ObjectAlreadyExistsError, type ObjectInfo, type ObjectStore } from '../storage/types';

/** Folder of the lease, relative to the table root. */
export const LEASE_FOLDER = '_sluice_maintenance/';
/** A lease not renewed for this long belongs to a run that died. */
export const LEASE_MS = 30 * 60_000;
/** How often a holder renews it. */
const RENEW_EVERY_MS = 60_000;

/** A held lease. */
export interface MaintenanceLease {
  readonly holder: string;
  readonly generation: number;
  /** Whether no other run has taken the lease over (ours is still the highest generation). */
  stillHeld(): Promise<boolean>;
  /** Stop renewing and delete the lease. */
  release(): Promise<void>;
}

/** Another maintenance run holds the table. */
export class MaintenanceBusyError extends Error {
  constructor(
    readonly table: string,
    readonly holder: string,
    readonly renewedAt: Date,
  ) {
    super(`maintenance of ${table} is already running (held by ${holder}, renewed ${renewedAt.toISOString()}); nothing was done`);
    this.name = 'MaintenanceBusyError';
  }
}

const NAME = /^lease-(\d{12})\.json$/;
const leasePath = (generation: number) => `${LEASE_FOLDER}lease-${String(generation).padStart(12, '0')}.json`;

/** The lease blobs, highest generation first. */
async function leases(store: ObjectStore): Promise<{ generation: number; info: ObjectInfo }[]> {
  const out: { generation: number; info: ObjectInfo }[] = [];
  for await (const info of store.list(LEASE_FOLDER)) {
    const m = NAME.exec(info.path.slice(LEASE_FOLDER.length));
    if (m) out.push({ generation: Number(m[1]), info });
  }
  return out.sort((a, b) => b.generation - a.generation);
}

async function holderOf(store: ObjectStore, path: string): Promise<string> {
  try {
    return String((JSON.parse(new TextDecoder().decode(await store.read(path))) as { holder?: unknown }).holder ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/**
 * Take the maintenance lease of a table.
 *
 * @param store store rooted at the table
 * @param options who takes it (shown to whoever finds it busy), clock for tests of expiry
 * @returns the lease, renewed in the background until released
 * @throws MaintenanceBusyError when another run holds it
 */
export async function acquireMaintenanceLease(store: ObjectStore, options: { holder?: string; clock?: () => number } = {}): Promise<MaintenanceLease> {
  const clock = options.clock ?? Date.now;
  const holder = options.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const found = await leases(store);
  const top = found[0];
  if (top && clock() - top.info.lastModified.getTime() < LEASE_MS) {
    throw new MaintenanceBusyError(store.url, await holderOf(store, top.info.path), top.info.lastModified);
  }
  const generation = (top?.generation ?? 0) + 1;
  const path = leasePath(generation);
  const body = JSON.stringify({ holder, generation });
  try {
    await store.createIfAbsent(path, body, { contentType: 'application/json' });
  } catch (err) {
    if (!(err instanceof ObjectAlreadyExistsError)) throw err;
    const info = await store.properties(path).catch(() => undefined);
    throw new MaintenanceBusyError(store.url, await holderOf(store, path), info?.lastModified ?? new Date(clock()));
  }
  // Older generations are expired or released: clear them so the folder holds one blob.
  await Promise.all(found.map((f) => store.delete(f.info.path).catch(() => undefined)));

  const stillHeld = async () => (await leases(store))[0]?.generation === generation;
  let released = false;
  let renewing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = (async () => {
      // Never rewrite a lease another run took over: that would resurrect a stale generation.
      if (released || !(await stillHeld())) return;
      await store.write(path, body, { contentType: 'application/json' });
    })().catch(() => undefined);
  }, RENEW_EVERY_MS);
  timer.unref();
  return {
    holder,
    generation,
    stillHeld,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await renewing;
      // A lease left behind only blocks maintenance of this table until it expires.
      await store.delete(path).catch(() => undefined);
    },
  };
}
