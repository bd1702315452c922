/**
 * The local host's landing watch (the stand-in for Event Grid) over a lister whose folders cost what
 * Azurite's do: listing a folder takes time in proportion to the blobs under it, not to the entries
 * at its level. Checked: new files are delivered once each, blobs present at start are not; a costly
 * folder is listed seldom while a cheap one beside it keeps being listed; one slow listing of a
 * cheap folder (the emulator busy elsewhere) does not make it wait.
 */
import { describe, expect, it } from 'vitest';
import { startLandingWatch, type LevelEntry, type LevelLister } from '../dev/landing-watch';

/** A landing container in memory; `delayMs` gives each folder's listing time. */
function fakeLanding(delayMs: (prefix: string, listing: number) => number) {
  const blobs = new Map<string, string>();
  const listings = new Map<string, number>();
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
        else yield { path, size: 1, etag, lastModified: new Date() };
      }
      for (const folder of folders) yield { folder };
    },
  };
  return { blobs, listings, lister };
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
});
