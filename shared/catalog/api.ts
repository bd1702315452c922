/**
 * The catalog's HTTP API, host-agnostic (functions/catalog.ts maps Functions requests onto it; the
 * local host serves the same functions):
 * - `GET /api/catalog/tables[?q=&layer=&tag=&owner=]` → `{ tables: [summary…] }`, by path; `q` matches
 *   table and column names, descriptions, column comments and tags (every word must appear), the
 *   others compare whole values without regard to case;
 * - `GET /api/catalog/tables/{*path}` → the table's entry with its schema, schema history and
 *   classification; 404 naming the path.
 * Both answer from the catalog table alone: nothing in the lake is read on a request.
 */
import type { Catalog } from './catalog';
import type { CatalogFilter } from './types';

/** A response to write. */
export interface CatalogResponse {
  status: number;
  body: unknown;
}

/** Longest filter value accepted. */
const MAX_FILTER = 200;
const FILTERS = ['q', 'layer', 'tag', 'owner'] as const;
const TABLE_PATH = /^[A-Za-z0-9_][A-Za-z0-9_.=-]*(\/[A-Za-z0-9_][A-Za-z0-9_.=-]*)*$/;

/**
 * The listing, filtered by the query.
 *
 * @param catalog the catalog
 * @param query the request's query
 * @returns 200 with `{ tables }`, or 400 naming the bad parameter
 */
export async function listTablesResponse(catalog: Catalog, query: URLSearchParams): Promise<CatalogResponse> {
  const filter: CatalogFilter = {};
  for (const name of FILTERS) {
    const value = query.get(name);
    if (value === null || value.trim() === '') continue;
    if (value.length > MAX_FILTER) return { status: 400, body: { error: `${name} is longer than ${MAX_FILTER} characters` } };
    filter[name] = value.trim();
  }
  return { status: 200, body: { tables: await catalog.list(filter) } };
}

/**
 * One table's entry.
 *
 * @param catalog the catalog
 * @param path the path from the route
 * @returns 200 with the entry, 400 for a path that cannot be a table's, 404 naming it
 */
export async function showTableResponse(catalog: Catalog, path: string): Promise<CatalogResponse> {
  const clean = path.replace(/^\/+|\/+$/g, '');
  if (!TABLE_PATH.test(clean) || clean.split('/').some((s) => s === '.' || s === '..'))
    return { status: 400, body: { error: `'${path}' is not a table's path in the lake container, such as bronze/pos_sales or silver/sales` } };
  const entry = await catalog.get(clean);
  if (!entry)
    return {
      status: 404,
      body: {
        error: `no table ${clean} in the catalog (a table is listed after its first commit; \`sluice catalog rebuild\` adds tables that existed before)`,
      },
    };
  return { status: 200, body: entry };
}
