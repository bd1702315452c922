/**
 * The catalog of the lake: kept current by the commits themselves. After a bronze ingest commit and
 * after a silver/gold refresh commit, the committing stage calls `recordTable(path)` (through the
 * callback the host hands it), which describes the table at its latest version and writes its entry;
 * nothing scans the lake on a request. `rebuildCatalog` (./rebuild.ts) writes the same entries for a
 * lake that existed before, or after commits whose recording failed.
 *
 * Recording never fails the commit it follows: the commit is durable, and a catalog entry that could
 * not be written is written by the table's next commit or by a rebuild. The callback logs why.
 */
import type { PipelineDefinition } from '../pipeline';
import { errorText } from '../errors';
import type { ObjectStore } from '../storage/types';
import { definitionAnnotations } from './annotations';
import { describeCatalogEntry } from './entry';
import type { CatalogStore, ListedEntry } from './store';
import type { CatalogEntry, CatalogFilter, CatalogSummary, TableAnnotation } from './types';

/** Attempts of a write that keeps losing to other writers of the same row. */
const WRITE_ATTEMPTS = 6;

/** What a catalog is built from. */
export interface CatalogOptions {
  store: CatalogStore;
  /** Store rooted at a path of the lake container. */
  lake: (path: string) => ObjectStore;
  /** The served pipelines (read on each use, so a reload is seen). */
  pipelines: () => readonly PipelineDefinition[];
}

/** The catalog. */
export class Catalog {
  readonly store: CatalogStore;
  readonly lake: (path: string) => ObjectStore;
  private readonly pipelines: () => readonly PipelineDefinition[];
  private cached: { from: readonly PipelineDefinition[]; annotations: Map<string, TableAnnotation> } | undefined;

  constructor(options: CatalogOptions) {
    this.store = options.store;
    this.lake = options.lake;
    this.pipelines = options.pipelines;
  }

  /**
   * What the served pipelines say about each table path.
   *
   * @returns path → annotation
   */
  annotations(): Map<string, TableAnnotation> {
    const pipelines = this.pipelines();
    if (this.cached?.from !== pipelines) this.cached = { from: pipelines, annotations: definitionAnnotations(pipelines) };
    return this.cached.annotations;
  }

  /**
   * Describe a table at its latest version and write its entry, unless the catalog already holds
   * that version or a newer one of the same table.
   *
   * @param path path in the lake container
   * @param options `full`: describe it even when its version is recorded (after a change without a
   *   commit, such as access tiers set by tiering or files removed by vacuum)
   * @returns the entry now in the catalog
   */
  async recordTable(path: string, options: { full?: boolean } = {}): Promise<CatalogEntry> {
    const store = this.lake(path);
    const annotation = this.annotations().get(path);
    for (let attempt = 1; ; attempt++) {
      // Read beside the table's snapshot, not before it.
      const reading = this.store.get(path);
      const previous = reading.then((s) => s?.entry ?? null);
      // Awaited below; until then a failure must not count as unhandled.
      reading.catch(() => undefined);
      previous.catch(() => undefined);
      const entry = await describeCatalogEntry({ path, store, annotation, previous, ...(options.full ? { full: true } : {}) });
      const stored = await reading;
      if (stored && !replaces(entry, stored.entry)) return stored.entry;
      // Nothing to mark: the path was never a table the catalog knew.
      if (!stored && entry.status === 'missing') return entry;
      if (entry.status === 'missing' && stored) {
        entry.missingSince = stored.entry.missingSince ?? new Date().toISOString();
        entry.tableId = stored.entry.tableId;
      }
      if (await this.store.put(entry, stored ? stored.etag : null)) return entry;
      if (attempt >= WRITE_ATTEMPTS) throw new Error(`catalog: the entry of ${path} kept changing under ${WRITE_ATTEMPTS} attempts to write it`);
    }
  }

  /**
   * Write an entry a rebuild described, unless the catalog meanwhile holds a newer version of the same
   * table (a commit recorded it during the rebuild).
   *
   * @param entry the entry
   * @returns the entry now in the catalog
   */
  async writeFound(entry: CatalogEntry): Promise<CatalogEntry> {
    for (let attempt = 1; ; attempt++) {
      const stored = await this.store.get(entry.path);
      if (stored && !replaces(entry, stored.entry)) return stored.entry;
      if (await this.store.put(entry, stored ? stored.etag : null)) return entry;
      if (attempt >= WRITE_ATTEMPTS) throw new Error(`catalog: the entry of ${entry.path} kept changing under ${WRITE_ATTEMPTS} attempts to write it`);
    }
  }

  /**
   * The callback a committing stage calls: records the table, and on failure only logs.
   *
   * @param path path in the lake container
   * @param warn where a failure is told
   * @returns the callback
   */
  afterCommit(path: string, warn: (line: string) => void): () => Promise<void> {
    return async () => {
      try {
        await this.recordTable(path);
      } catch (err) {
        warn(`catalog: ${path} committed, but its catalog entry was not updated (its next commit or \`sluice catalog rebuild\` will): ${errorText(err)}`);
      }
    };
  }

  /**
   * Tables matching the filter, by path.
   *
   * @param filter text, layer, tag, owner
   * @returns the summaries
   */
  async list(filter: CatalogFilter = {}): Promise<CatalogSummary[]> {
    return matching(await this.store.list(), filter)
      .map((r) => r.summary)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /**
   * One table's entry.
   *
   * @param path path in the lake container
   * @returns the entry, or undefined
   */
  async get(path: string): Promise<CatalogEntry | undefined> {
    return (await this.store.get(path))?.entry;
  }
}

/**
 * Whether a freshly described entry should replace the stored one: never by an older version of the
 * same table; otherwise when anything differs.
 */
function replaces(entry: CatalogEntry, stored: CatalogEntry): boolean {
  if (entry.status === 'missing') return stored.status !== 'missing';
  if (stored.status !== 'missing' && entry.tableId === stored.tableId && (entry.version ?? -1) < (stored.version ?? -1)) return false;
  return JSON.stringify(entry) !== JSON.stringify(stored);
}

/**
 * The rows a filter keeps.
 *
 * @param rows listed rows
 * @param filter the filter
 * @returns those matching every condition given
 */
export function matching(rows: ListedEntry[], filter: CatalogFilter): ListedEntry[] {
  const words = (filter.q ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const layer = filter.layer?.toLowerCase();
  const tag = filter.tag?.toLowerCase();
  const owner = filter.owner?.toLowerCase();
  return rows.filter(({ summary, search }) => {
    if (layer && summary.layer.toLowerCase() !== layer) return false;
    if (tag && !summary.tags.some((t) => t.toLowerCase() === tag)) return false;
    if (owner && (summary.owner ?? '').toLowerCase() !== owner) return false;
    return words.every((w) => search.includes(w));
  });
}
