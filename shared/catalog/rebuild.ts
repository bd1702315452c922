/**
 * Rebuilding the catalog from the lake: for a lake that existed before the catalog, after commits
 * whose recording failed, or to find tables that disappeared.
 *
 * One listing of the lake container finds every Delta table (a folder holding `_delta_log/`) and every
 * folder of files that is not inside one; Sluice's own folder `_sluice/` and any path segment starting
 * with `_` at the top are skipped, as no table path starts with `_`. Each table is described from
 * scratch (its whole log read, so its schema history is the one the commits built), with what the
 * served pipelines say about it. A folder of files without a Delta log is listed as `notDelta`, a table
 * whose protocol Sluice refuses as `refused`, each with its reason; neither stops the rebuild. An entry
 * of the catalog whose table is no longer found is kept and marked `missing`, with the time it was
 * first found gone.
 *
 * A table committed to during the rebuild keeps the newer entry its commit recorded.
 *
 * A folder of stray files is named by its shallowest folder of at least two segments
 * (`landing-copy/2026`) that holds no Delta table; files lying directly in a folder that holds tables
 * (`gold/readme.txt`) are listed under that folder.
 */
import type { ObjectStore } from '../storage/types';
import { bareEntry, describeCatalogEntry } from './entry';
import type { Catalog } from './catalog';
import type { CatalogEntry } from './types';

/** Tables described at once. */
const DESCRIBE_CONCURRENCY = 8;
const LOG_SEGMENT = '_delta_log';

/** What a rebuild did. */
export interface RebuildResult {
  /** Entries written, by status. */
  tables: number;
  notDelta: number;
  refused: number;
  unreadable: number;
  /** Entries newly marked missing (and those already marked). */
  missing: number;
  entries: CatalogEntry[];
}

/**
 * Rebuild the catalog from the lake container.
 *
 * @param catalog the catalog (its store and lake)
 * @param container store rooted at the lake container
 * @param onEntry called with each entry written
 * @returns counts and the entries
 */
export async function rebuildCatalog(catalog: Catalog, container: ObjectStore, onEntry?: (entry: CatalogEntry) => void): Promise<RebuildResult> {
  const found = await scanLake(container);
  const annotations = catalog.annotations();
  const tables = [...found.tables].sort();
  const entries: CatalogEntry[] = new Array(tables.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(DESCRIBE_CONCURRENCY, tables.length) }, async () => {
      while (next < tables.length) {
        const i = next++;
        const path = tables[i];
        entries[i] = await describeCatalogEntry({ path, store: catalog.lake(path), annotation: annotations.get(path) });
      }
    }),
  );
  for (const [path, files] of [...found.strays].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const bytes = files.reduce((n, f) => n + f.size, 0);
    const entry = bareEntry(
      path,
      catalog.lake(path).url,
      'notDelta',
      `not a Delta table: no _delta_log; ${files.length} file${files.length === 1 ? '' : 's'} (${bytes} bytes), e.g. ${files[0].path}`,
      annotations.get(path),
    );
    entry.files = files.length;
    entry.bytes = bytes;
    entries.push(entry);
  }
  const seen = new Set(entries.map((e) => e.path));
  const stored = await catalog.store.entries();
  const now = new Date().toISOString();
  for (const { entry: old } of stored) {
    if (seen.has(old.path)) continue;
    entries.push({
      ...old,
      status: 'missing',
      reason: `no table at ${old.path} any more (found by a catalog rebuild)`,
      missingSince: old.status === 'missing' ? (old.missingSince ?? now) : now,
    });
  }
  for (let i = 0; i < entries.length; i++) {
    entries[i] = await catalog.writeFound(entries[i]);
    onEntry?.(entries[i]);
  }
  const count = (status: CatalogEntry['status']) => entries.filter((e) => e.status === status).length;
  return {
    tables: count('live'),
    notDelta: count('notDelta'),
    refused: count('refused'),
    unreadable: count('unreadable'),
    missing: count('missing'),
    entries,
  };
}

/** Table folders, and folders of files outside any table. */
async function scanLake(container: ObjectStore): Promise<{ tables: Set<string>; strays: Map<string, { path: string; size: number }[]> }> {
  const tables = new Set<string>();
  const files: { path: string; size: number }[] = [];
  for await (const info of container.list('')) {
    const segments = info.path.split('/');
    if (segments[0].startsWith('_') || info.path.endsWith('/')) continue;
    const log = segments.indexOf(LOG_SEGMENT);
    if (log > 0) tables.add(segments.slice(0, log).join('/'));
    else if (log < 0) files.push({ path: info.path, size: info.size });
  }
  // Each folder a table lies in or under, so that a file's folders are checked in time of its depth.
  const ancestors = new Set<string>();
  for (const t of tables) {
    const parts = t.split('/');
    for (let i = 1; i <= parts.length; i++) ancestors.add(parts.slice(0, i).join('/'));
  }
  const strays = new Map<string, { path: string; size: number }[]>();
  for (const file of files) {
    const dirs = file.path.split('/').slice(0, -1);
    const prefixes = dirs.map((_, i) => dirs.slice(0, i + 1).join('/'));
    if (prefixes.some((p) => tables.has(p))) continue;
    let folder = prefixes.slice(Math.min(2, prefixes.length) - 1).find((p) => !ancestors.has(p));
    // A file directly in a folder holding tables (or at the top of the container) is listed under that folder.
    folder ??= dirs.join('/') || file.path;
    const group = strays.get(folder) ?? [];
    group.push(file);
    strays.set(folder, group);
  }
  return { tables, strays };
}
