/**
 * HTTP adapters for looking at lake tables: `GET /api/tables/{layer}/{table}` describes a table
 * (the same JSON as `sluice describe --json`), `…/history` lists its commits. They only map the
 * request to a lake location, call the Delta layer and map errors to status codes.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getSettings } from '../shared/config';
import { describeSnapshot, loadSnapshot, tableHistory } from '../shared/delta';
import { internalError } from '../shared/host/http';
import { openLakeStore } from '../shared/storage/lake';
import type { ObjectStore } from '../shared/storage/types';

const LAYERS = new Set(['bronze', 'silver', 'gold']);
const TABLE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Most commits one history request lists: each costs a read of its commit file. */
export const MAX_HISTORY = 1000;
/** Commits listed when no limit is given. */
const DEFAULT_HISTORY = 100;

/** Resolve `{layer}/{table}` route parameters to a lake path, or an error response. */
export function tableLocation(request: HttpRequest): { path: string } | HttpResponseInit {
  const { layer, table } = request.params;
  if (!LAYERS.has(layer)) return { status: 400, jsonBody: { error: `layer must be bronze, silver or gold, not '${layer}'` } };
  if (!TABLE_NAME.test(table ?? '')) return { status: 400, jsonBody: { error: `'${table}' is not a table name (letters, digits, _ . -)` } };
  return { path: `${layer}/${table}` };
}

/**
 * Map Delta errors to HTTP: missing table 404, refused protocol 422, with their message naming the
 * table by its path in the lake rather than by its storage URL; anything else (a damaged log, storage
 * failing) 500 with an error id, the detail in the log.
 */
function errorResponse(err: unknown, store: ObjectStore, path: string, context: InvocationContext): HttpResponseInit {
  const e = err as Error;
  const message = () => e.message.split(store.url).join(path);
  if (e.name === 'NotATableError' || e.name === 'VersionNotFoundError') return { status: 404, jsonBody: { error: message() } };
  if (e.name === 'UnsupportedProtocolError') return { status: 422, jsonBody: { error: message() } };
  const answer = internalError(context.functionName || 'tables', err, (line) => context.error(line));
  return { status: answer.status, jsonBody: answer.body };
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
  const store = openLakeStore(getSettings(), location.path);
  try {
    const snapshot = await loadSnapshot(store, options);
    return { status: 200, jsonBody: await describeSnapshot(snapshot) };
  } catch (err) {
    return errorResponse(err, store, location.path, context);
  }
}

/**
 * `GET /api/tables/{layer}/{table}/history[?limit=N]`: commits, newest first (100 unless `limit`
 * says otherwise, at most MAX_HISTORY).
 *
 * @param request the HTTP request
 * @param context the invocation context
 * @returns the history as JSON
 */
export async function tableHistoryHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const location = tableLocation(request);
  if (!('path' in location)) return location;
  const limitText = request.query.get('limit');
  const limit = limitText === null ? DEFAULT_HISTORY : /^\d{1,7}$/.test(limitText) ? Number(limitText) : NaN;
  if (!(limit >= 1 && limit <= MAX_HISTORY))
    return { status: 400, jsonBody: { error: `limit must be a whole number from 1 to ${MAX_HISTORY} (the maximum), not '${limitText}'` } };
  const store = openLakeStore(getSettings(), location.path);
  try {
    const history = await tableHistory(store, limit);
    return { status: 200, jsonBody: history };
  } catch (err) {
    return errorResponse(err, store, location.path, context);
  }
}
