/** The lake's catalog: entries kept by commits, their store, listing and search, and the rebuild. */
export { Catalog, matching } from './catalog';
export type { CatalogOptions } from './catalog';
export { definitionAnnotations } from './annotations';
export { describeCatalogEntry } from './entry';
export { rebuildCatalog } from './rebuild';
export type { RebuildResult } from './rebuild';
export { CatalogStore, searchTextOf, summaryOf } from './store';
export * from './types';
export { listTablesResponse, showTableResponse } from './api';
export type { CatalogResponse } from './api';
