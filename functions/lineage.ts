/**
 * HTTP adapter of the lineage graph (shared/run/lineage-api.ts holds the logic):
 * `GET /api/lineage/{*path}[?version=&direction=up|down|both&depth=]`.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { internalError } from '../shared/host/http';
import { lineageResponse, runtimeServices } from '../shared/run';

/**
 * `GET /api/lineage/{*path}`: the lineage of a table, or of one of its versions.
 *
 * @param request the HTTP request (`path` = the table's path in the lake container)
 * @param context the invocation context
 * @returns `{ nodes, edges }`, 400 for a bad parameter, 404 for an unknown path or version
 */
export async function lineageHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const services = runtimeServices();
    const answer = await lineageResponse(
      { pipelines: services.pipelines(), events: services.events, lake: services.lake, ...(services.sql ? { sql: services.sql } : {}) },
      request.params.path ?? '',
      new URLSearchParams(request.query),
    );
    return { status: answer.status, jsonBody: answer.body };
  } catch (err) {
    const answer = internalError('lineage', err, (line) => context.error(line));
    return { status: answer.status, jsonBody: answer.body };
  }
}
