/**
 * The catalog of the running app: the `SluiceCatalog` table of the lake account over the lake
 * container, annotated by the served pipelines. Built on first use (a process that never commits or
 * serves the catalog opens nothing) and kept per runtime context.
 */
import { Catalog, CatalogStore } from '../catalog';
import { openLakeStore, openLakeTables } from '../storage/lake';
import { CATALOG_TABLE } from '../storage/lake-layout';
import type { SluiceRuntime } from './context';

const catalogs = new WeakMap<SluiceRuntime, Catalog>();

/**
 * The catalog of a runtime context.
 *
 * @param runtime the runtime context
 * @returns its catalog
 */
export function runtimeCatalog(runtime: SluiceRuntime): Catalog {
  let catalog = catalogs.get(runtime);
  if (!catalog) {
    catalog = new Catalog({
      store: new CatalogStore(openLakeTables(runtime.settings.lake)(CATALOG_TABLE)),
      lake: (path) => openLakeStore(runtime.settings, path),
      pipelines: () => runtime.pipelines,
    });
    catalogs.set(runtime, catalog);
  }
  return catalog;
}

/**
 * What a committing stage calls after committing to a table of the app's lake: record it in the
 * catalog; a failure is logged (as a warning) and does not fail the commit it follows.
 *
 * @param runtime the runtime context
 * @param path the table's path in the lake container
 * @returns the callback
 */
export function catalogAfterCommit(runtime: SluiceRuntime, path: string): () => Promise<void> {
  return async () => runtimeCatalog(runtime).afterCommit(path, (line) => console.warn(line))();
}
