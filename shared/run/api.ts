/**
 * The run API, host-agnostic (functions/pipelines.ts maps Functions requests onto it; the local host
 * serves the same functions):
 * - `POST /api/pipelines/{name}/runs` (JSON body or query: `fullRefresh` true or a list of tables,
 *   `reason`) → 202, `Location` = the request's status URL, body with the request id, the instance id,
 *   whether a running run was asked to catch up instead (`queued`) and our pipeline-scoped links (request, status,
 *   terminate, purge); the Durable management URLs only when `SLUICE_EXPOSE_DURABLE_URLS` asks for
 *   them, since in Azure they carry the extension's system key, which controls every instance of every
 *   pipeline; 404 for an unknown pipeline; 400 for a bad body or a `fullRefresh` naming unknown tables.
 * - `GET …/requests/{requestId}` → the status of the run serving that request: 202 while it waits or
 *   runs, 200 once it ended, even after the instance has gone on to the next run (the outcome then
 *   comes from the event log); 404 for an unknown request. The instance status below shows whatever
 *   run the instance is on, which may no longer be the caller's.
 * - `GET …/runs/{instanceId}` → 202 while running (with `Location`), 200 once finished: runtimeStatus,
 *   customStatus (progress), output (per-table metrics and totals); 404 when there is no such run of
 *   that pipeline.
 * - `GET …/tables/{table}/updates[?limit=]` → the table's recorded updates, newest first: metrics,
 *   expectation counts, source versions → target version, and lineage down to landing files and
 *   event ranges; 404 for an unknown pipeline or table.
 * - `POST …/runs/{instanceId}/terminate[?reason=]` → 202, 404, 410 when it is not running.
 * - `DELETE …/runs/{instanceId}` → 200 purged, 404, 409 while running.
 * - `GET …/audit[?limit=]` → who started, terminated or purged the pipeline's runs, and when, newest
 *   first (./audit.ts says how the caller is named); 404 for an unknown pipeline.
 * Start, terminate and purge record their caller there once they took effect.
 *
 * Links never carry the caller's function key (`code`): a key in a URL ends up in logs, proxies and
 * browser history. Callers add it themselves (`?code=` or the `x-functions-key` header).
 */
import { randomUUID } from 'node:crypto';
import { tableNamed, type PipelineDefinition } from '../pipeline';
import { isActive, type RunClient } from './client';
import type { EventLog } from './event-log';
import type { RefreshInput } from './types';
import { requestProgress } from './outcome';
import { pipelineName } from '../pipeline/name';
import { findPipeline, runInstanceId } from './plan';
import { MAX_AUDIT, type AuditCaller, type AuditLog } from './audit';

/** Where an action is recorded, and who asked for it. */
export interface AuditContext {
  log: AuditLog;
  caller: AuditCaller;
}

/** The run an instance is on, from its status (progress while running, output once done). */
function currentRunId(status: { customStatus: unknown; output: unknown } | undefined): string | null {
  for (const value of [status?.customStatus, status?.output]) {
    const runId = (value as { runId?: unknown } | null | undefined)?.runId;
    if (typeof runId === 'string') return runId;
  }
  return null;
}

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
  /** Add the Durable management URLs to a start's answer (setting `SLUICE_EXPOSE_DURABLE_URLS`). */
  exposeDurableUrls?: boolean;
}

const notFound = (message: string): ApiResponse => ({ status: 404, body: { error: message } });
const unknownPipeline = (pipelines: readonly PipelineDefinition[], name: string): ApiResponse =>
  notFound(`no pipeline named "${name}" (pipelines: ${pipelines.map(pipelineName).join(', ') || 'none'})`);

function pipelineUrl(origin: ApiOrigin, pipeline: string, rest: string): string {
  return `${origin.baseUrl.replace(/\/+$/, '')}/api/pipelines/${encodeURIComponent(pipeline)}/${rest}`;
}

function runUrl(origin: ApiOrigin, pipeline: string, instanceId: string, suffix = ''): string {
  return pipelineUrl(origin, pipeline, `runs/${encodeURIComponent(instanceId)}${suffix}`);
}

function requestUrl(origin: ApiOrigin, pipeline: string, requestId: string): string {
  return pipelineUrl(origin, pipeline, `requests/${encodeURIComponent(requestId)}`);
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
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body)))
    return { error: 'the body must be a JSON object such as {"fullRefresh": true, "reason": "…"}' };
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
 * @param events where the request is recorded (null: no request URL)
 * @param audit where the start is recorded, with its caller
 * @returns 202 with links, 404 or 400
 */
export async function startRunResponse(
  runs: RunClient,
  pipelines: readonly PipelineDefinition[],
  name: string,
  options: ReturnType<typeof startOptions>,
  origin: ApiOrigin,
  events: EventLog | null = null,
  audit?: AuditContext,
): Promise<ApiResponse> {
  if ('error' in options) return { status: 400, body: { error: options.error } };
  const definition = findPipeline(pipelines, name);
  if (!definition) return unknownPipeline(pipelines, name);
  if (Array.isArray(options.fullRefresh)) {
    const unknown = options.fullRefresh.filter((t) => !tableNamed(definition, t));
    if (unknown.length)
      return {
        status: 400,
        body: {
          error: `fullRefresh names unknown table${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (tables: ${Object.keys(definition.tables).join(', ')})`,
        },
      };
  }
  const requestId = randomUUID();
  const input: RefreshInput = { pipeline: name, ...options, reason: options.reason ?? 'requested over HTTP', ...(events ? { requests: [requestId] } : {}) };
  // Recorded first: from the moment the client has the id, asking about it never gets a 404.
  if (events) await events.recordRequest({ requestId, pipeline: name, requestedAt: new Date().toISOString() });
  const started = await runs.startRun(input);
  if (audit)
    await audit.log.record({
      ...audit.caller,
      pipeline: name,
      action: 'start',
      at: new Date().toISOString(),
      instanceId: started.instanceId,
      runId: null,
      requestId: events ? requestId : null,
      reason: input.reason ?? null,
    });
  const status = runUrl(origin, name, started.instanceId);
  const mine = events ? requestUrl(origin, name, requestId) : undefined;
  return {
    status: 202,
    headers: { Location: mine ?? status, 'Retry-After': '5' },
    body: {
      ...(mine ? { requestId, requestUrl: mine } : {}),
      id: started.instanceId,
      pipeline: name,
      created: started.created,
      queued: started.queued,
      runtimeStatus: started.runtimeStatus,
      statusUrl: status,
      terminateUrl: runUrl(origin, name, started.instanceId, '/terminate'),
      // DELETE on the status URL.
      purgeUrl: status,
      ...(origin.exposeDurableUrls ? { management: runs.managementUrls(started.instanceId, origin.baseUrl) } : {}),
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
  return {
    status: running ? 202 : 200,
    ...(running ? { headers: { Location: runUrl(origin, name, instanceId), 'Retry-After': '5' } } : {}),
    body: { pipeline: name, ...status },
  };
}

/**
 * The status of the run serving a request: the instance's while it serves it, else the outcome the
 * event log recorded for the run that did.
 *
 * @param runs the run client
 * @param events the event log the requests are recorded in
 * @param pipelines the loaded definitions
 * @param name the pipeline from the route
 * @param requestId the request id from the route
 * @param origin for the Location header
 * @returns 202 while waiting or running, 200 once ended, 404 for an unknown pipeline or request
 */
export async function requestStatusResponse(
  runs: RunClient,
  events: EventLog | null,
  pipelines: readonly PipelineDefinition[],
  name: string,
  requestId: string,
  origin: ApiOrigin,
): Promise<ApiResponse> {
  const definition = findPipeline(pipelines, name);
  if (!definition) return unknownPipeline(pipelines, name);
  if (!events) return notFound('requests are not recorded here (no event log)');
  const tables = Object.keys(definition.tables).length;
  const progress = await requestProgress(runs, events, name, requestId, tables);
  const known = { pipeline: name, requestId, instanceId: runInstanceId(name) };
  const waiting = (body: Record<string, unknown>): ApiResponse => ({
    status: 202,
    headers: { Location: requestUrl(origin, name, requestId), 'Retry-After': '5' },
    body: { pipeline: name, requestId, ...body },
  });
  switch (progress.state) {
    case 'unknown':
      return notFound(`no request "${requestId}" of pipeline "${name}"`);
    case 'running':
      return waiting({ ...progress.status });
    case 'ended':
      return { status: 200, body: { pipeline: name, requestId, ...progress.status } };
    case 'waiting':
      return waiting({ runtimeStatus: 'Pending', instanceId: runInstanceId(name) });
    case 'lost':
      return {
        status: 200,
        body: {
          ...known,
          runtimeStatus: 'Canceled',
          error: `${progress.why}: the run it was raised on was terminated, failed or purged before taking it; ask again`,
        },
      };
    case 'recorded': {
      const fromLog = { ...known, runId: progress.runId, source: 'eventLog' };
      const { outcome } = progress;
      if (outcome.state === 'completed') return { status: 200, body: { ...fromLog, runtimeStatus: 'Completed', output: outcome.output } };
      return { status: 200, body: { ...fromLog, runtimeStatus: 'Failed', output: outcome.error, tables: outcome.output.tables } };
    }
    case 'stopped':
      return {
        status: 200,
        body: {
          ...known,
          runId: progress.runId,
          source: 'eventLog',
          runtimeStatus: 'Terminated',
          error: `run ${progress.runId} ended with ${progress.recorded} of ${tables} tables recorded: it was terminated, or stopped before the others`,
        },
      };
  }
}

/** Most updates one request returns. */
const MAX_UPDATES = 500;

/**
 * A table's recorded updates, newest first.
 *
 * @param events the event log
 * @param pipelines the loaded definitions
 * @param name the pipeline from the route
 * @param table the table from the route (`silver.sales`)
 * @param limit the `limit` query parameter (default 20, at most 500)
 * @returns 200 with the updates, 400 for a bad limit, 404 for an unknown pipeline or table
 */
export async function tableUpdatesResponse(
  events: EventLog | null,
  pipelines: readonly PipelineDefinition[],
  name: string,
  table: string,
  limit: string | null,
): Promise<ApiResponse> {
  const definition = findPipeline(pipelines, name);
  if (!definition) return unknownPipeline(pipelines, name);
  if (!tableNamed(definition, table)) return notFound(`no table "${table}" in pipeline "${name}" (tables: ${Object.keys(definition.tables).join(', ')})`);
  if (!events) return notFound('table updates are not recorded here (no event log)');
  const n = limit === null ? 20 : Number(limit);
  if (!Number.isInteger(n) || n < 1 || n > MAX_UPDATES)
    return { status: 400, body: { error: `limit must be a whole number from 1 to ${MAX_UPDATES}, not '${limit}'` } };
  return { status: 200, body: { pipeline: name, table, updates: await events.tableUpdates(name, table, n) } };
}

/**
 * Terminate a run.
 *
 * @param runs the run client
 * @param name the pipeline
 * @param instanceId the instance
 * @param reason why
 * @param audit where the termination is recorded, with its caller
 * @returns 202, 404 or 410
 */
export async function terminateRunResponse(runs: RunClient, name: string, instanceId: string, reason: string, audit?: AuditContext): Promise<ApiResponse> {
  if (instanceId !== runInstanceId(name)) return notFound(`no run "${instanceId}" of pipeline "${name}"`);
  const runId = audit ? currentRunId(await runs.status(instanceId)) : null;
  const result = await runs.terminate(instanceId, reason);
  if (result === 'not-found') return notFound(`no run "${instanceId}" of pipeline "${name}"`);
  if (result === 'not-running') return { status: 410, body: { error: `run "${instanceId}" is not running` } };
  if (audit)
    await audit.log.record({ ...audit.caller, pipeline: name, action: 'terminate', at: new Date().toISOString(), instanceId, runId, requestId: null, reason });
  return { status: 202, body: { id: instanceId, terminating: true } };
}

/**
 * Purge a finished run's history.
 *
 * @param runs the run client
 * @param name the pipeline
 * @param instanceId the instance
 * @param audit where the purge is recorded, with its caller
 * @returns 200, 404 or 409
 */
export async function purgeRunResponse(runs: RunClient, name: string, instanceId: string, audit?: AuditContext): Promise<ApiResponse> {
  if (instanceId !== runInstanceId(name)) return notFound(`no run "${instanceId}" of pipeline "${name}"`);
  const runId = audit ? currentRunId(await runs.status(instanceId)) : null;
  const result = await runs.purge(instanceId);
  if (result === 'not-found') return notFound(`no run "${instanceId}" of pipeline "${name}"`);
  if (result === 'running') return { status: 409, body: { error: `run "${instanceId}" is still running; terminate it first` } };
  if (audit)
    await audit.log.record({
      ...audit.caller,
      pipeline: name,
      action: 'purge',
      at: new Date().toISOString(),
      instanceId,
      runId,
      requestId: null,
      reason: null,
    });
  return { status: 200, body: { instancesDeleted: 1 } };
}

/**
 * Who started, terminated or purged the pipeline's runs, newest first.
 *
 * @param audit the audit log (null: not recorded here)
 * @param pipelines the loaded definitions
 * @param name the pipeline from the route
 * @param limit the `limit` query parameter (default 50, at most MAX_AUDIT)
 * @returns 200 with `{ pipeline, audit }`, 400 for a bad limit, 404 for an unknown pipeline
 */
export async function auditResponse(
  audit: AuditLog | null,
  pipelines: readonly PipelineDefinition[],
  name: string,
  limit: string | null,
): Promise<ApiResponse> {
  if (!findPipeline(pipelines, name)) return unknownPipeline(pipelines, name);
  if (!audit) return notFound('actions on runs are not recorded here (no event log)');
  const n = limit === null ? 50 : Number(limit);
  if (!Number.isInteger(n) || n < 1 || n > MAX_AUDIT)
    return { status: 400, body: { error: `limit must be a whole number from 1 to ${MAX_AUDIT}, not '${limit}'` } };
  return { status: 200, body: { pipeline: name, audit: await audit.list(name, n) } };
}
