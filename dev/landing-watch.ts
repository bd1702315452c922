/**
 * The local stand-in for the Event Grid subscription: Azurite raises no storage events, so the local
 * host lists the landing container and turns every new blob version (path + ETag) into the
 * `Microsoft.Storage.BlobCreated` event Event Grid would deliver, handed to the `blobCreated`
 * function like the host would.
 *
 * Only the landing folders of the loaded sources are listed (a container can hold far more than
 * what Sluice reads), one folder level at a time, and each listing only compares with what was
 * already seen. How often a folder is listed follows its cost: a cheap one every interval (500 ms by
 * default), a costly one at most once per ten times its listing time, capped at a minute, so the
 * watch never keeps the emulator more than about a tenth busy per costly folder, and old files piling
 * up cannot slow the discovery of new folders and files elsewhere (or ingestion and refreshes, which
 * share the emulator). Cost is not the number of entries: Azurite reads every blob under a prefix to
 * list one level of it, so a level holding just `archive/` and `2026/` costs 220 ms when `archive/`
 * holds 10,000 blobs (8 ms for a folder of a few files beside it), and a crowded folder 4–6 s. A new
 * file or folder right inside a costly folder is found later.
 *
 * Deliveries are durable, as Event Grid's are (dev/deliveries.ts): each event is journaled before the
 * function gets it and forgotten once the function returned. A delivery that fails (the function
 * rethrew), or whose host died during it, is retried on Event Grid's schedule (10 s, 30 s, 1 min,
 * 5 min, …, at most 30 attempts within 24 h), by the next host when this one is gone; after that
 * the reconcile timer picks the file up. The first listing at start is a baseline: on the very first start, as for
 * a new Event Grid subscription, blobs already there are the reconcile timer's; on later starts the
 * blobs modified since the previous host last listed its folders get their events, as Event Grid
 * would have kept them for a function app that was down.
 */
import { randomUUID } from 'node:crypto';
import { BLOB_CREATED } from '../shared/host';
import type { ContainerClient } from '@azure/storage-blob';
import type { ObjectInfo } from '../shared/storage/types';
import { type DeliveryJournal, EVENT_GRID_MAX_ATTEMPTS, EVENT_GRID_TTL_MS, eventGridRetryDelay, type PendingDelivery } from './deliveries';
import type { DevLog } from './invoke';

/** Entries per listing request. */
const PAGE_SIZE = 1000;

/** An entry of a folder level: a blob, or a subfolder (its prefix, ending in `/`). */
export type LevelEntry = ObjectInfo | { folder: string };

/** Lists one level of a container (the Blob API's hierarchical listing with delimiter `/`). */
export interface LevelLister {
  listLevel(prefix: string): AsyncIterable<LevelEntry>;
}

/**
 * A lister over a Blob container.
 *
 * @param container the container client
 * @returns the lister
 */
export function containerLister(container: ContainerClient): LevelLister {
  return {
    async *listLevel(prefix: string) {
      // Pages of 1,000 rather than 5,000: Azurite answers one request at a time, so a crowded folder's
      // listing in big pages holds every other request (ingestion, refreshes, other folders) for
      // seconds; in small pages the others get in between, for the same total listing time.
      for await (const page of container.listBlobsByHierarchy('/', { prefix }).byPage({ maxPageSize: PAGE_SIZE })) {
        for (const item of page.segment.blobPrefixes ?? []) yield { folder: item.name };
        for (const item of page.segment.blobItems) {
          yield {
            path: item.name,
            size: item.properties.contentLength ?? 0,
            etag: (item.properties.etag ?? '').replace(/^"|"$/g, ''),
            lastModified: item.properties.lastModified,
          };
        }
      }
    },
  };
}

/** What the watch needs. */
export interface LandingWatchOptions {
  /** The landing container, listed one folder level at a time. */
  landing: LevelLister;
  /** Landing container name (for the event subject). */
  container: string;
  /** Blob endpoint of the account, e.g. `http://127.0.0.1:10000/devstoreaccount1` (for `data.url`). */
  blobEndpoint: string;
  /** Folders to list (the sources' landing folders; '' for the whole container). */
  prefixes: readonly string[];
  /** Pause between the end of one pass and the start of the next (default 500 ms). */
  intervalMs?: number;
  /** Events delivered at once (default 4; Event Grid delivers concurrently too). */
  concurrency?: number;
  /** Deliveries of a failing event before giving it up to reconcile (default 30, as Event Grid). */
  maxAttempts?: number;
  /** Pause after a failed attempt (default Event Grid's schedule, `eventGridRetryDelay`). */
  retryDelayMs?: (failedAttempt: number) => number;
  /** Where deliveries are kept across restarts (default: in memory only, lost with the process). */
  journal?: DeliveryJournal;
  /** Hands one event to the `blobCreated` function; rejects when the function failed. */
  deliver: (event: Record<string, unknown>) => Promise<void>;
  log: DevLog;
}

/** A running watch. */
export interface LandingWatch {
  /** Counters for `/api/health`. */
  stats(): {
    passes: number;
    folders: number;
    blobsSeen: number;
    eventsDelivered: number;
    eventsFailed: number;
    pending: number;
    resumed: number;
    lastPassMs: number;
  };
  /** Stop listing; deliveries under way finish. */
  stop(): Promise<void>;
}

/**
 * The BlobCreated event (Event Grid schema) Azure Storage raises for a new blob version.
 *
 * @param container the container
 * @param blob the blob's path, ETag and size
 * @param blobEndpoint the account's blob endpoint
 * @returns the event object, as the Event Grid trigger hands it to a function
 */
export function blobCreatedEvent(container: string, blob: Pick<ObjectInfo, 'path' | 'etag' | 'size'>, blobEndpoint: string): Record<string, unknown> {
  const account = new URL(blobEndpoint).pathname.split('/').filter(Boolean)[0] ?? 'devstoreaccount1';
  const url = `${blobEndpoint.replace(/\/+$/, '')}/${container}/${blob.path.split('/').map(encodeURIComponent).join('/')}`;
  return {
    id: randomUUID(),
    topic: `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/${account}`,
    subject: `/blobServices/default/containers/${container}/blobs/${blob.path}`,
    eventType: BLOB_CREATED,
    eventTime: new Date().toISOString(),
    dataVersion: '',
    metadataVersion: '1',
    data: {
      api: 'PutBlob',
      clientRequestId: randomUUID(),
      requestId: randomUUID(),
      eTag: blob.etag,
      contentType: 'application/octet-stream',
      contentLength: blob.size,
      blobType: 'BlockBlob',
      url,
      sequencer: Date.now().toString(16).padStart(32, '0'),
      storageDiagnostics: { batchId: randomUUID() },
    },
  };
}

/** Folders of which none lies inside another (listing a folder covers its subfolders). */
function outermost(prefixes: readonly string[]): string[] {
  const sorted = [...new Set(prefixes)].sort();
  return sorted.filter((p, i) => !sorted.slice(0, i).some((q) => p.startsWith(q)));
}

/** One folder level of the landing container as last listed. */
interface Folder {
  prefix: string;
  blobs: Map<string, string>;
  subfolders: Set<string>;
  nextDue: number;
  /** Start of its last completed listing (ms): every blob modified before it was seen. */
  listedAt: number;
  listing: boolean;
  lastMs: number;
  /** Its last few listing times, the cheapest of which is taken as its cost. */
  recentMs: number[];
}

const MAX_WAIT_MS = 60_000;
/** Blobs modified this long before the previous host's last listing are delivered again at start (clock steps, listing lag). */
const RESUME_MARGIN_MS = 2_000;
/** Listings remembered per folder to estimate its cost. */
const COST_WINDOW = 5;

/**
 * Take the baseline listing and start watching.
 *
 * @param options what to list and where events go
 * @returns the running watch
 */
export async function startLandingWatch(options: LandingWatchOptions): Promise<LandingWatch> {
  const interval = options.intervalMs ?? 500;
  const maxAttempts = options.maxAttempts ?? EVENT_GRID_MAX_ATTEMPTS;
  const retryDelay = options.retryDelayMs ?? eventGridRetryDelay;
  const journal = options.journal;
  const folders = new Map<string, Folder>();
  const queue: PendingDelivery[] = [];
  const retries = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  const counts = { passes: 0, eventsDelivered: 0, eventsFailed: 0, resumed: 0, lastPassMs: 0 };
  let stopped = false;
  const where = (d: Pick<PendingDelivery, 'path'>) => `${options.container}/${d.path}`;

  // The journal is a safety net: when Azurite refuses a write, the delivery still goes ahead.
  const keep = (d: PendingDelivery) =>
    journal
      ?.keep(d)
      .catch((err) => options.log(`[landing] ${where(d)}: delivery not journaled (${(err as Error).message}); a crash now would leave it to reconcile`));
  const handled = (d: PendingDelivery) =>
    journal
      ?.forget(d)
      .catch((err) =>
        options.log(`[landing] ${where(d)}: handled delivery not removed from the journal (${(err as Error).message}); it may be delivered again`),
      );
  /**
   * Journal what follows if this attempt never ends (the host dies in it): as for Event Grid, an
   * invocation that does not answer is a failed attempt, retried on the schedule, so a file that
   * kills the host is not delivered again at once at every start, and is given up after the last
   * attempt.
   */
  const beforeAttempt = (d: PendingDelivery) => keep({ ...d, attempt: d.attempt + 1, dueAt: Date.now() + retryDelay(d.attempt) });
  const raise = async (blob: ObjectInfo): Promise<void> => {
    const now = Date.now();
    const delivery: PendingDelivery = { path: blob.path, etag: blob.etag, size: blob.size, attempt: 1, dueAt: now, raisedAt: now };
    await beforeAttempt(delivery);
    queue.push(delivery);
  };

  // Where the previous host left off, and what it had not delivered yet.
  const resumeFrom = journal ? await journal.listedUntil() : null;
  const kept = journal ? await journal.pending() : [];
  const keptKeys = new Set(kept.map((d) => `${d.path}\n${d.etag}`));
  let listedUntil = resumeFrom ?? 0;
  let saving: Promise<void> | undefined;

  /** Record how far every folder has been listed, at most about once a second. */
  const saveListedUntil = () => {
    if (!journal || saving || folders.size === 0) return;
    const time = Math.min(...[...folders.values()].map((f) => f.listedAt));
    if (time < listedUntil + 1000) return;
    saving = journal
      .setListedUntil(time)
      .then(() => void (listedUntil = time))
      .catch((err) => options.log(`[landing] listing time not journaled: ${(err as Error).message}`))
      .finally(() => (saving = undefined));
  };

  /** Whether a blob present at start arrived while no host was watching (and is young enough for Event Grid to have kept its event). */
  const arrivedWhileStopped = (info: ObjectInfo): boolean => {
    if (resumeFrom === null || keptKeys.has(`${info.path}\n${info.etag}`)) return false;
    const modified = info.lastModified.getTime();
    return modified >= resumeFrom - RESUME_MARGIN_MS && Date.now() - modified < EVENT_GRID_TTL_MS;
  };

  /** List one folder level; new or changed blobs get their event (in the baseline, only those that arrived while stopped). */
  const list = async (folder: Folder, baseline: boolean): Promise<void> => {
    const started = Date.now();
    const present = new Map<string, ObjectInfo>();
    const subfolders = new Set<string>();
    folder.listing = true;
    try {
      for await (const entry of options.landing.listLevel(folder.prefix)) {
        if ('folder' in entry) subfolders.add(entry.folder);
        else present.set(entry.path, entry);
      }
    } finally {
      folder.listing = false;
    }
    const fresh: ObjectInfo[] = [];
    for (const [path, info] of present) {
      if (folder.blobs.get(path) !== info.etag && (baseline ? arrivedWhileStopped(info) : true)) fresh.push(info);
      folder.blobs.set(path, info.etag);
    }
    await Promise.all(fresh.map(raise));
    // Forget deleted blobs and folders, so one written again under the same name is new again.
    for (const path of folder.blobs.keys()) if (!present.has(path)) folder.blobs.delete(path);
    for (const sub of folder.subfolders) if (!subfolders.has(sub)) forget(sub);
    const added = [...subfolders].filter((sub) => !folder.subfolders.has(sub));
    folder.subfolders = subfolders;
    folder.lastMs = Date.now() - started;
    folder.listedAt = started;
    // The cheapest recent listing is the folder's own cost; a slower one was the emulator busy with
    // something else (another listing, ingestion), and backing off for that would hide new files.
    folder.recentMs = [...folder.recentMs.slice(1 - COST_WINDOW), folder.lastMs];
    const cost = Math.min(...folder.recentMs);
    folder.nextDue = Date.now() + Math.min(MAX_WAIT_MS, Math.max(interval, 10 * cost));
    counts.passes++;
    counts.lastPassMs = folder.lastMs;
    // A new folder's files are all new, except in the baseline.
    await Promise.all(added.map((sub) => list(track(sub), baseline)));
  };

  const track = (prefix: string): Folder => {
    const folder: Folder = { prefix, blobs: new Map(), subfolders: new Set(), nextDue: 0, listedAt: 0, listing: false, lastMs: 0, recentMs: [] };
    folders.set(prefix, folder);
    return folder;
  };
  const forget = (prefix: string) => {
    for (const key of folders.keys()) if (key.startsWith(prefix)) folders.delete(key);
  };

  const pump = () => {
    while (!stopped && inFlight.size < (options.concurrency ?? 4) && queue.length) {
      const delivery = queue.shift()!;
      const job = deliver(delivery).finally(() => {
        inFlight.delete(job);
        pump();
      });
      inFlight.add(job);
    }
  };

  /** Queue a delivery when it falls due. */
  const schedule = (delivery: PendingDelivery) => {
    const handle = setTimeout(
      () => {
        retries.delete(handle);
        queue.push(delivery);
        pump();
      },
      Math.max(0, delivery.dueAt - Date.now()),
    );
    retries.add(handle);
  };

  const giveUp = async (delivery: PendingDelivery, failed: number): Promise<void> => {
    counts.eventsFailed++;
    options.log(`[landing] ${where(delivery)}: BlobCreated failed ${failed} times; the reconcile timer will pick the file up`);
    await handled(delivery);
  };

  const deliver = async (delivery: PendingDelivery): Promise<void> => {
    // A journaled retry may be past the limits already (attempts that died with their host).
    if (delivery.attempt > maxAttempts || Date.now() - delivery.raisedAt >= EVENT_GRID_TTL_MS) return giveUp(delivery, delivery.attempt - 1);
    if (delivery.attempt > 1) await beforeAttempt(delivery);
    try {
      await options.deliver(blobCreatedEvent(options.container, delivery, options.blobEndpoint));
      counts.eventsDelivered++;
      await handled(delivery);
    } catch {
      const now = Date.now();
      if (delivery.attempt >= maxAttempts || now - delivery.raisedAt >= EVENT_GRID_TTL_MS) return giveUp(delivery, delivery.attempt);
      const next = { ...delivery, attempt: delivery.attempt + 1, dueAt: now + retryDelay(delivery.attempt) };
      // Journaled even while stopping: the next start delivers it when it falls due.
      await keep(next);
      if (!stopped) schedule(next);
    }
  };

  const roots = outermost(options.prefixes);
  const started = Date.now();
  await Promise.all(roots.map((prefix) => list(track(prefix), true)));
  const arrived = queue.length;
  for (const delivery of kept) schedule(delivery);
  counts.resumed = kept.length;
  saveListedUntil();
  pump();
  const known = [...folders.values()].reduce((n, f) => n + f.blobs.size, 0);
  const resumed =
    resumeFrom === null
      ? 'left to the reconcile timer'
      : `${arrived} of them arrived since the last listing and get their event, ${kept.length} undelivered event${kept.length === 1 ? '' : 's'} delivered again when due`;
  options.log(
    `[landing] watching ${roots.map((p) => `${options.container}/${p}`).join(', ') || '(no landing folders)'}: ${known} blobs in ${folders.size} folders already there, ${resumed} (listed in ${Date.now() - started} ms)`,
  );

  const loop = (async () => {
    while (!stopped) {
      await new Promise((resolve) => setTimeout(resolve, interval));
      if (stopped) break;
      const due = [...folders.values()].filter((f) => !f.listing && f.nextDue <= Date.now());
      for (const folder of due) {
        // Folders are listed side by side: a slow one does not hold the others back.
        void list(folder, false)
          .catch((err) => options.log(`[landing] listing ${options.container}/${folder.prefix} failed (trying again): ${(err as Error).message}`))
          .finally(() => {
            saveListedUntil();
            pump();
          });
      }
    }
  })();

  return {
    stats: () => ({
      ...counts,
      folders: folders.size,
      blobsSeen: [...folders.values()].reduce((n, f) => n + f.blobs.size, 0),
      pending: queue.length + inFlight.size + retries.size,
    }),
    stop: async () => {
      stopped = true;
      for (const handle of retries) clearTimeout(handle);
      await loop;
      while ([...folders.values()].some((f) => f.listing)) await new Promise((r) => setTimeout(r, 20));
      await Promise.all([...inFlight]);
      await saving;
    },
  };
}
