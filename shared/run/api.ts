/**
 * The run API, host-agnostic (functions/pipelines.ts maps Functions requests onto it; the local host
 * serves the same functions):
 * - `POST /api/pipelines/{name}/runs` (JSON body or query: `fullRefresh` true or a list of tables,
 *   `reason`) → 202, `Location` = the run's status URL, body with the instance id, whether it was queued
 *   behind a running run, our links and the Durable management URLs; 404 for an unknown pipeline;
 *   400 for a bad body.
 * - `GET …/runs/{instanceId}` → 202 while running (with `Location`), 200 once finished: runtimeStatus,
 *   customStatus (progress), output (per-table metrics and totals); 404 when there is no such run of
 *   that pipeline.
 * - `POST …/runs/{instanceId}/terminate[?reason=]` → 202, 404, 410 when it is not running.
 * - `DELETE …/runs/{instanceId}` → 200 purged, 404, 409 while running.
 */
import type { PipelineDefinition } from '../pipeline/definition';
import { isActive, type RunClient } from './client';
import type { RefreshInput } from './orchestrator';
import { findPipeline, pipelineName, runInstanceId } from './plan';

/** A response to write. */
export interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** Where the request came to, for links. */
export interface ApiOrigin {
  /** Host root, e.g. `https://app.azurewebsites.net` or `http://127.0.0.1:7071`. */
  baseUrl: string;
  /** Function key of the request (`code`), carried into links so they work as given. */
  code?: string | null;
}

const notFound = (message: string): ApiResponse => ({ status: 404, body: { error: message } });

function runUrl(origin: ApiOrigin, pipeline: string, instanceId: string, suffix = ''): string {
  const base = `${origin.baseUrl.replace(/\/+$/, '')}/api/pipelines/${encodeURIComponent(pipeline)}/runs/${encodeURIComponent(instanceId)}${suffix}`;
  return origin.code ? `${base}?code=${encodeURIComponent(origin.code)}` : base;
}

/**
 * Read a start request's options from the JSON body and the query.
 *
 * @param body parsed JSON body (undefined when empty)
 * @param query the query string
 * @returns the options, or an error message
 */
export function startOptions(body: unknown, query: URLSearchParams): { fullRefresh?: boolean | string[]; reason?: string } | { error: string } {
  const out: { fullRefresh?: boolean | string[]; reason?: string } = {};
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) return { error: 'the body must be a JSON object such as {"fullRefresh": true, "reason": "…"}' };
  const b = (body ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => k !== 'fullRefresh' && k !== 'reason');
  if (unknown.length) return { error: `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (expected fullRefresh, reason)` };
  const full = b.fullRefresh ?? query.get('fullRefresh') ?? undefined;
  if (full === true || full === 'true') out.fullRefresh = true;
  else if (Array.isArray(full) && full.every((t) => typeof t === 'string')) out.fullRefresh = full as string[];
  else if (full !== undefined && full !== false && full !== 'false') return { error: 'fullRefresh must be true, false or a list of table names' };
  const reason = b.reason ?? query.get('reason') ?? undefined;
  if (reason !== undefined && typeof reason !== 'string') return { error: 'reason must be a string' };
  if (reason) out.reason = reason.slice(0, 500);
  return out;
}

/**
 * Start a run (or make the running one catch up).
 *
 * @param runs the run client
 * @param pipelines the loaded definitions
 * @param name the pipeline name from the route
 * @param options what startOptions returned
 * @param origin for links
 * @returns 202 with links, 404 or 400
 */
export async function startRunResponse(runs: RunClient, pipelines: readonly PipelineDefinition[], name: string, options: ReturnType<typeof startOptions>, origin: ApiOrigin): Promise<ApiResponse> {
  if ('error' in options) return { status: 400, body: { error: options.error } };
  const definition = findPipeline(pipelines, name);
  if (!definition) return notFound(`no pipeline named "${name}" (pipelines: ${pipelines.map(pipelineName).join(', ') || 'none'})`);
  if (Array.isArray(options.fullRefresh)) {
    const unknown = options.fullRefresh.filter((t) => !definition.tables[t]);
    if (unknown.length) return { status: 400, body: { error: `fullRefresh names unknown table${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (tables: ${Object.keys(definition.tables).join(', ')})` } };
  }
  const input: RefreshInput = { pipeline: name, ...options, reason: options.reason ?? 'requested over HTTP' };
  const started = await runs.startRun(input);
  const status = runUrl(origin, name, started.instanceId);
  return {
    status: 202,
    headers: { Location: status, 'Retry-After': '5' },
    body: {
      id: started.instanceId,
      pipeline: name,
      created: started.created,
      queued: started.queued,
      runtimeStatus: started.runtimeStatus,
      statusUrl: status,
      terminateUrl: runUrl(origin, name, started.instanceId, '/terminate'),
      purgeUrl: status,
      management: runs.managementUrls(started.instanceId, origin.baseUrl),
    },
  };
}

async function ownRun(runs: RunClient, name: string, instanceId: string) {
  const status = await runs.status(instanceId);
  // Only this pipeline's refresh instances are reachable under its route.
  if (!status || instanceId !== runInstanceId(name)) return undefined;
  return status;
}

/**
 * A run's status.
 *
 * @param runs the run client
 * @param name the pipeline from the route
 * @param instanceId the instance from the route
 * @param origin for the Location header
 * @returns 200/202 with the status, or 404
 */
export async function runStatusResponse(runs: RunClient, name: string, instanceId: string, origin: ApiOrigin): Promise<ApiResponse> {
  const status = await ownRun(runs, name, instanceId);
  if (!status) return notFound(`no run "${instanceId}" of pipeline "${name}"`);
  const running = isActive(status.runtimeStatus);
  return { status: running ? 202 : 200, ...(running ? { headers: { Location: runUrl(origin, name, instanceId), 'Retry-After': '5' } } : {}), body: { pipeline: name, ...status } };
}

/**
 * Terminate a run.
 *
 * @param runs the run client
 * @param name the pipeline
 * @param instanceId the instance
 * @param reason why
 * @returns 202, 404 or 410
 */
export async function terminateRunResponse(runs: RunClient, name: string, instanceId: string, reason: string): Promise<ApiResponse> {
  if (instanceId !== runInstanceId(name)) return notFound(`no run "${instanceId}" of pipeline "${name}"`);
  const result = await runs.terminate(instanceId, reason);
  if (result === 'not-found') return notFound(`no run "${instanceId}" of pipeline "${name}"`);
  if (result === 'not-running') return { status: 410, body: { error: `run "${instanceId}" is not running` } };
  return { status: 202, body: { id: instanceId, terminating: true } };
}

/**
 * Purge a finished run's history.
 *
 * @param runs the run client
 * @param name the pipeline
 * @param instanceId the instance
 * @returns 200, 404 or 409
 */
export async function purgeRunResponse(runs: RunClient, name: string, instanceId: string): Promise<ApiResponse> {
  if (instanceId !== runInstanceId(name)) return notFound(`no run "${instanceId}" of pipeline "${name}"`);
  const result = await runs.purge(instanceId);
  if (result === 'not-found') return notFound(`no run "${instanceId}" of pipeline "${name}"`);
  if (result === 'running') return { status: 409, body: { error: `run "${instanceId}" is still running; terminate it first` } };
  return { status: 200, body: { instancesDeleted: 1 } };
}
