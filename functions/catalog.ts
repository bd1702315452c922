/**
 * HTTP adapters of the catalog (shared/catalog/api.ts holds the logic): `GET /api/catalog/tables`
 * lists and searches the lake's tables, `GET /api/catalog/tables/{*path}` shows one.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { listTablesResponse, showTableResponse, type CatalogResponse } from '../shared/catalog';
import { getRuntime, runtimeCatalog } from '../shared/host';
import { internalError } from '../shared/host/http';

function reply(response: CatalogResponse): HttpResponseInit {
  return { status: response.status, jsonBody: response.body };
}

/** `GET /api/catalog/tables[?q=&layer=&tag=&owner=]`. */
export async function listCatalogTablesHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    return reply(await listTablesResponse(runtimeCatalog(getRuntime()), request.query));
  } catch (err) {
    const answer = internalError('listCatalogTables', err, (line) => context.error(line));
    return { status: answer.status, jsonBody: answer.body };
  }
}

/** `GET /api/catalog/tables/{*path}`. */
export async function showCatalogTableHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    return reply(await showTableResponse(runtimeCatalog(getRuntime()), request.params.path ?? ''));
  } catch (err) {
    const answer = internalError('showCatalogTable', err, (line) => context.error(line));
    return { status: answer.status, jsonBody: answer.body };
  }
}
