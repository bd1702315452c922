/**
 * HTTP adapters for looking at lake tables: `GET /api/tables/{layer}/{table}` describes a table
 * (the same JSON as `sluice describe --json`), `…/history` lists its commits. They only map the
 * request to a lake location, call the Delta layer and map errors to status codes.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getSettings } from '../shared/config';
import { describeSnapshot, loadSnapshot, tableHistory } from '../shared/delta';
import { openLakeStore } from '../shared/storage/lake';

const LAYERS = new Set(['bronze', 'silver', 'gold']);
const TABLE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Resolve `{layer}/{table}` route parameters to a store, or an error response. */
function tableLocation(request: HttpRequest): { path: string } | HttpResponseInit {
  const { layer, table } = request.params;
  if (!LAYERS.has(layer)) return { status: 400, jsonBody: { error: `layer must be bronze, silver or gold, not '${layer}'` } };
  if (!TABLE_NAME.test(table ?? '')) return { status: 400, jsonBody: { error: `'${table}' is not a table name (letters, digits, _ . -)` } };
  return { path: `${layer}/${table}` };
}

/** Map Delta errors to HTTP: missing table 404, refused protocol 422, damaged log 500 with the reason. */
function errorResponse(err: unknown, context: InvocationContext): HttpResponseInit {
  const e = err as Error;
  if (e.name === 'NotATableError' || e.name === 'VersionNotFoundError') return { status: 404, jsonBody: { error: e.message } };
  if (e.name === 'UnsupportedProtocolError') return { status: 422, jsonBody: { error: e.message } };
  context.error(e);
  return { status: 500, jsonBody: { error: e.message } };
}

function travel(request: HttpRequest): { version?: number; timestamp?: Date } | { error: HttpResponseInit } {
  const version = request.query.get('version');
  const timestamp = request.query.get('timestamp');
  const bad = (message: string) => ({ error: { status: 400, jsonBody: { error: message } } });
  if (version !== null) return /^\d+$/.test(version) ? { version: Number(version) } : bad(`version must be a whole number, not '${version}'`);
  if (timestamp !== null) {
    const at = new Date(timestamp);
    return Number.isNaN(at.getTime()) ? bad(`timestamp must be ISO-8601, not '${timestamp}'`) : { timestamp: at };
  }
  return {};
}

/**
 * `GET /api/tables/{layer}/{table}[?version=N|timestamp=T]`: the table's description.
 *
 * @param request the HTTP request
 * @param context the invocation context
 * @returns the description as JSON
 */
export async function describeTableHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const location = tableLocation(request);
  if (!('path' in location)) return location;
  const options = travel(request);
  if ('error' in options) return options.error;
  try {
    const snapshot = await loadSnapshot(openLakeStore(getSettings(), location.path), options);
    return { status: 200, jsonBody: await describeSnapshot(snapshot) };
  } catch (err) {
    return errorResponse(err, context);
  }
}

/**
 * `GET /api/tables/{layer}/{table}/history[?limit=N]`: commits, newest first.
 *
 * @param request the HTTP request
 * @param context the invocation context
 * @returns the history as JSON
 */
export async function tableHistoryHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const location = tableLocation(request);
  if (!('path' in location)) return location;
  const limitText = request.query.get('limit');
  if (limitText !== null && !/^\d+$/.test(limitText)) return { status: 400, jsonBody: { error: `limit must be a whole number, not '${limitText}'` } };
  try {
    const history = await tableHistory(openLakeStore(getSettings(), location.path), limitText === null ? 100 : Number(limitText));
    return { status: 200, jsonBody: history };
  } catch (err) {
    return errorResponse(err, context);
  }
}
