/**
 * HTTP adapters, read-only, for dead-letter records (shared/ingest/deadletter-records.ts):
 * `GET /api/deadletter[?table=&since=&limit=]` lists them (heads only, as `sluice deadletter list
 * --json`), `GET /api/deadletter/{*id}` answers one record as stored (as `sluice deadletter show
 * --json`). Replaying stays with the command line: it writes.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { DeadLetterNotFoundError, listDeadLetters, readDeadLetterBytes, type DeadLetterEntry } from '../shared/ingest';
import { getRuntime } from '../shared/host';
import { DEAD_LETTER_FOLDER } from '../shared/storage/lake-layout';
import { internalError } from '../shared/host/http';
import { openLakeStore } from '../shared/storage/lake';

/** Entries one listing answers at most; the body says when it stopped there. */
export const DEAD_LETTER_LIST_MAX = 1000;
const TABLE_PATH = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$/;

function folder() {
  return openLakeStore(getRuntime().settings, DEAD_LETTER_FOLDER);
}

const bad = (error: string): HttpResponseInit => ({ status: 400, jsonBody: { error } });

/**
 * `GET /api/deadletter[?table=<layer>/<table>&since=<ISO-8601>&limit=N]`.
 *
 * @param request the HTTP request
 * @param context the invocation context
 * @returns `{ records, truncated }`
 */
export async function listDeadLettersHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const table = request.query.get('table') ?? undefined;
  const sinceText = request.query.get('since');
  const limitText = request.query.get('limit');
  if (table !== undefined && !TABLE_PATH.test(table))
    return bad(`table must be a table's path in the lake container, such as bronze/pos_sales, not '${table}'`);
  const since = sinceText === null ? undefined : new Date(sinceText);
  if (since && Number.isNaN(since.getTime())) return bad(`since must be an ISO-8601 time such as 2026-01-31T12:00:00Z, not '${sinceText}'`);
  const limit = limitText === null ? DEAD_LETTER_LIST_MAX : Number(limitText);
  if (!/^\d+$/.test(limitText ?? '1') || limit < 1 || limit > DEAD_LETTER_LIST_MAX)
    return bad(`limit must be a whole number from 1 to ${DEAD_LETTER_LIST_MAX}, not '${limitText}'`);
  try {
    const records: DeadLetterEntry[] = [];
    let truncated = false;
    for await (const entry of listDeadLetters(folder(), { table, since })) {
      if (records.length === limit) {
        truncated = true;
        break;
      }
      records.push(entry);
    }
    return { status: 200, jsonBody: { records, truncated } };
  } catch (err) {
    const answer = internalError('listDeadLetters', err, (line) => context.error(line));
    return { status: answer.status, jsonBody: answer.body };
  }
}

/**
 * `GET /api/deadletter/{*id}`: one record, as stored.
 *
 * @param request the HTTP request (`id` = the record's path under `_sluice/dead-letter/`)
 * @param context the invocation context
 * @returns the record's JSON, 404 when there is none
 */
export async function showDeadLetterHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  try {
    const bytes = await readDeadLetterBytes(folder(), id);
    return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: bytes };
  } catch (err) {
    if (err instanceof DeadLetterNotFoundError) return { status: 404, jsonBody: { error: err.message } };
    const answer = internalError(`showDeadLetter ${id}`, err, (line) => context.error(line));
    return { status: answer.status, jsonBody: answer.body };
  }
}
