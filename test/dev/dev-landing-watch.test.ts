/**
 * The local host's landing watch (the stand-in for Event Grid) over a lister whose folders cost what
 * Azurite's do: listing a folder takes time in proportion to the blobs under it, not to the entries
 * at its level. Checked: new files are delivered once each, blobs present at start are not; a costly
 * folder is listed seldom while a cheap one beside it keeps being listed; one slow listing of a
 * cheap folder (the emulator busy elsewhere) does not make it wait. Deliveries: a failed one is retried
 * and stays journaled until the function handled it (Event Grid's schedule, randomised); a restarted
 * watch delivers what the journal kept and the blobs modified since the previous host's last listing.
 */
import { describe, expect, it } from 'vitest';
import { type DeliveryJournal, EVENT_GRID_RETRY_MS, eventGridRetryDelay, type PendingDelivery } from '../../dev/deliveries';
import { startLandingWatch, type LevelEntry, type LevelLister } from '../../dev/landing-watch';

/** A landing container in memory; `delayMs` gives each folder's listing time. */
function fakeLanding(delayMs: (prefix: string, listing: number) => number) {
  const blobs = new Map<string, string>();
  const listings = new Map<string, number>();
  const modified = new Map<string, Date>();
  const lister: LevelLister = {
    async *listLevel(prefix: string): AsyncIterable<LevelEntry> {
      const n = (listings.get(prefix) ?? 0) + 1;
      listings.set(prefix, n);
      await new Promise((r) => setTimeout(r, delayMs(prefix, n)));
      const folders = new Set<string>();
      for (const [path, etag] of [...blobs].sort()) {
        if (!path.startsWith(prefix)) continue;
        const rest = path.slice(prefix.length);
        const slash = rest.indexOf('/');
        if (slash >= 0) folders.add(prefix + rest.slice(0, slash + 1));
        else yield { path, size: 1, etag, lastModified: modified.get(path) ?? new Date() };
      }
      for (const folder of folders) yield { folder };
    },
  };
  return { blobs, listings, modified, lister };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('landing watch', () => {
  it('lists a costly folder seldom, a cheap one beside it often, and delivers each new blob once', async () => {
    // in/ holds old/ (like a folder over 10,000 archived blobs, slow to list) and new/ (cheap).
    const landing = fakeLanding((prefix, n) => (prefix === 'in/' || prefix === 'in/old/' ? 150 : prefix === 'in/new/' && n === 2 ? 400 : 0));
    landing.blobs.set('in/old/a.csv', '1');
    landing.blobs.set('in/new/b.csv', '1');
    const delivered: string[] = [];
    const watch = await startLandingWatch({
      landing: landing.lister,
      container: 'landing',
      blobEndpoint: 'http://127.0.0.1:10000/devstoreaccount1',
      prefixes: ['in/'],
      intervalMs: 50,
      deliver: async (event) => {
        delivered.push((event.subject as string).replace(/^.*\/blobs\//, ''));
      },
      log: () => undefined,
    });
    try {
      const before = new Map(landing.listings);
      landing.blobs.set('in/new/c.csv', '1');
      await wait(2500);
      const listed = (prefix: string) => (landing.listings.get(prefix) ?? 0) - (before.get(prefix) ?? 0);
      // 150 ms per listing: at most one listing per 1.5 s.
      expect(listed('in/')).toBeGreaterThanOrEqual(1);
      expect(listed('in/')).toBeLessThanOrEqual(3);
      expect(listed('in/old/')).toBeLessThanOrEqual(3);
      // Cheap (one slow listing of 400 ms aside): every 50 ms, about 40 times in 2.5 s.
      expect(listed('in/new/')).toBeGreaterThanOrEqual(10);
      expect(delivered).toEqual(['in/new/c.csv']);

      // A new subfolder of the costly folder is found at its next listing.
      landing.blobs.set('in/2026/d.csv', '1');
      const deadline = Date.now() + 10_000;
      while (!delivered.includes('in/2026/d.csv') && Date.now() < deadline) await wait(50);
      expect(delivered).toEqual(['in/new/c.csv', 'in/2026/d.csv']);
      expect(watch.stats()).toMatchObject({ eventsDelivered: 2, eventsFailed: 0 });
    } finally {
      await watch.stop();
    }
  });

  it('retries a failed delivery on the schedule, keeping it in the journal until the function handled it', async () => {
    // Event Grid's documented schedule, randomised by at most 5 %.
    expect(EVENT_GRID_RETRY_MS.slice(0, 4)).toEqual([10_000, 30_000, 60_000, 300_000]);
    expect(eventGridRetryDelay(1, () => 0)).toBe(9_500);
    expect(eventGridRetryDelay(1, () => 0.999)).toBeLessThanOrEqual(10_500);
    expect(eventGridRetryDelay(25, () => 0.5)).toBe(12 * 3_600_000);

    const journal = memoryJournal();
    const landing = fakeLanding(() => 0);
    const failures = new Map<string, number>([['in/x.csv', 2]]);
    const delivered: string[] = [];
    const seenInJournal: number[] = [];
    const watch = await startLandingWatch({
      landing: landing.lister,
      container: 'landing',
      blobEndpoint: 'http://127.0.0.1:10000/devstoreaccount1',
      prefixes: ['in/'],
      intervalMs: 20,
      journal,
      retryDelayMs: () => 50,
      deliver: async (event) => {
        const path = (event.subject as string).replace(/^.*\/blobs\//, '');
        seenInJournal.push(...[...journal.rows.values()].filter((d) => d.path === path).map((d) => d.attempt));
        const left = failures.get(path) ?? 0;
        failures.set(path, left - 1);
        if (left > 0) throw new Error('transient');
        delivered.push(path);
      },
      log: () => undefined,
    });
    try {
      landing.blobs.set('in/x.csv', '1');
      const deadline = Date.now() + 5_000;
      while (!delivered.includes('in/x.csv') && Date.now() < deadline) await wait(20);
      expect(delivered).toEqual(['in/x.csv']);
      // Before each attempt the journal holds the retry that follows should the host die in it; the handled delivery is forgotten.
      expect(seenInJournal).toEqual([2, 3, 4]);
      await wait(50);
      expect(journal.rows.size).toBe(0);
    } finally {
      await watch.stop();
    }
  });

  it('at a restart, delivers what the journal kept and the blobs that arrived while no host watched', async () => {
    const journal = memoryJournal();
    const landing = fakeLanding(() => 0);
    const old = new Date(Date.now() - 60_000);
    landing.blobs.set('in/old.csv', '1');
    landing.modified.set('in/old.csv', old);
    // The previous host listed the folder 30 s ago and died while delivering in/kept.csv.
    await journal.setListedUntil(Date.now() - 30_000);
    landing.blobs.set('in/kept.csv', '1');
    landing.modified.set('in/kept.csv', new Date(Date.now() - 40_000));
    await journal.keep({ path: 'in/kept.csv', etag: '1', size: 1, attempt: 2, dueAt: Date.now() - 21_000, raisedAt: Date.now() - 31_000 });
    landing.blobs.set('in/while-down.csv', '1');
    const delivered: string[] = [];
    const watch = await startLandingWatch({
      landing: landing.lister,
      container: 'landing',
      blobEndpoint: 'http://127.0.0.1:10000/devstoreaccount1',
      prefixes: ['in/'],
      intervalMs: 20,
      journal,
      deliver: async (event) => void delivered.push((event.subject as string).replace(/^.*\/blobs\//, '')),
      log: () => undefined,
    });
    try {
      const deadline = Date.now() + 5_000;
      while (delivered.length < 2 && Date.now() < deadline) await wait(20);
      await wait(100);
      expect(delivered.sort()).toEqual(['in/kept.csv', 'in/while-down.csv']);
      expect(journal.rows.size).toBe(0);
      expect(watch.stats()).toMatchObject({ resumed: 1, eventsDelivered: 2 });
    } finally {
      await watch.stop();
    }
    expect(await journal.listedUntil()).toBeGreaterThan(Date.now() - 5_000);
  });
});

/** A journal in memory, for the watch's own logic (the table one is exercised by test/dev/dev-host-crash.test.ts). */
function memoryJournal(): DeliveryJournal & { rows: Map<string, PendingDelivery> } {
  const rows = new Map<string, PendingDelivery>();
  let listed: number | null = null;
  return {
    rows,
    pending: async () => [...rows.values()],
    keep: async (d) => void rows.set(`${d.path}!${d.etag}`, { ...d }),
    forget: async (d) => void rows.delete(`${d.path}!${d.etag}`),
    listedUntil: async () => listed,
    setListedUntil: async (time) => void (listed = time),
  };
}
