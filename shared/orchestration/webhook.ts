/**
 * The Durable HTTP API (`/runtime/webhooks/durabletask/…`) over the local engine, host-agnostic: the
 * local host maps a request to `{ method, path, query, body }` and writes back `{ status, headers,
 * body }`. Routes and status codes follow
 * https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-http-api:
 * - `GET instances/{id}` (showHistory, showHistoryOutput, showInput): 200 finished, 202 running, 404;
 * - `GET instances` (runtimeStatus, createdTimeFrom, createdTimeTo): 200 with a list;
 * - `POST instances/{id}/raiseEvent/{name}` (JSON body) and `POST instances/{id}/terminate?reason=`:
 *   202, 404, 410 when finished;
 * - `DELETE instances/{id}`: 200 with `instancesDeleted`, 404 when none, 409 while running;
 * - `POST orchestrators/{name}[/{id}]` (JSON body = input): 202 with the management URLs, 409 when
 *   the id is running.
 * Function-key checks are the host's business.
 */
import type { OrchestrationEngine } from './engine';
import type { RuntimeStatus } from './types';
import { managementUrls, OrchestrationStateError, statusHttpCode } from './status';

/** A webhook request as the host parsed it. */
export interface WebhookRequest {
  method: string;
  /** Path after `/runtime/webhooks/durabletask/`, e.g. `instances/abc`. */
  path: string;
  query: URLSearchParams;
  /** Parsed JSON body, if any. */
  body?: unknown;
  /** Host root for management URLs, e.g. `http://127.0.0.1:7071`. */
  baseUrl: string;
}

/** The response to write. */
export interface WebhookResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

const flag = (q: URLSearchParams, name: string) => q.get(name)?.toLowerCase() === 'true';

/**
 * Serve one Durable HTTP API request.
 *
 * @param engine the engine
 * @param request the request
 * @returns the response (404 with a message for unknown routes)
 */
export async function durableWebhook(engine: OrchestrationEngine, request: WebhookRequest): Promise<WebhookResponse> {
  const parts = request.path.split('/').filter(Boolean).map(decodeURIComponent);
  const method = request.method.toUpperCase();
  try {
    if (parts[0] === 'instances' && parts.length === 1 && method === 'GET') {
      const statuses = request.query.get('runtimeStatus')?.split(',').filter(Boolean) as RuntimeStatus[] | undefined;
      const time = (name: string) => (request.query.get(name) ? new Date(request.query.get(name)!) : undefined);
      return {
        status: 200,
        body: await engine.listInstances({ runtimeStatus: statuses, createdTimeFrom: time('createdTimeFrom'), createdTimeTo: time('createdTimeTo') }),
      };
    }
    if (parts[0] === 'instances' && parts.length >= 2) {
      const id = parts[1];
      if (parts.length === 2 && method === 'GET') {
        const q = request.query;
        const status = await engine.getStatus(id, {
          showHistory: flag(q, 'showHistory'),
          showHistoryOutput: flag(q, 'showHistoryOutput'),
          showInput: q.get('showInput')?.toLowerCase() !== 'false',
        });
        if (!status) return { status: 404, body: { message: `no orchestration instance "${id}"` } };
        const code = statusHttpCode(status);
        return { status: code, body: status, headers: code === 202 ? { Location: managementUrls(request.baseUrl, id).statusQueryGetUri } : undefined };
      }
      if (parts.length === 2 && method === 'DELETE') {
        const result = await engine.purge(id);
        return { status: result.instancesDeleted ? 200 : 404, body: result };
      }
      if (parts.length === 4 && parts[2] === 'raiseEvent' && method === 'POST') {
        await engine.raiseEvent(id, parts[3], request.body);
        return { status: 202 };
      }
      if (parts.length === 3 && parts[2] === 'terminate' && method === 'POST') {
        await engine.terminate(id, request.query.get('reason') ?? '');
        return { status: 202 };
      }
    }
    if (parts[0] === 'orchestrators' && (parts.length === 2 || parts.length === 3) && method === 'POST') {
      const started = await engine.startNew(parts[1], { instanceId: parts[2], input: request.body, ifRunning: 'throw' });
      const urls = managementUrls(request.baseUrl, started.instanceId);
      return { status: 202, headers: { Location: urls.statusQueryGetUri }, body: urls };
    }
    return { status: 404, body: { message: `no Durable HTTP API route for ${method} ${request.path}` } };
  } catch (err) {
    if (err instanceof OrchestrationStateError) return { status: err.statusCode, body: { message: err.message } };
    if (err instanceof Error && /no orchestrator function named/.test(err.message)) return { status: 400, body: { message: err.message } };
    throw err;
  }
}
