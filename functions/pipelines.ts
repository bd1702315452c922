/**
 * HTTP adapters of pipeline runs (shared/run/api.ts holds the logic): start a run, the status of a
 * request's run, a run's status, terminate, purge. Each handler takes the `RunClient` explicitly: functions/index.ts passes one over
 * the Durable client of the invocation, the local host one over its engine.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getSettings } from '../shared/config';
import { internalError, isJsonContentType, notJsonAnswer } from '../shared/host/http';
import {
  auditLogOf,
  auditResponse,
  callerOf,
  purgeRunResponse,
  requestStatusResponse,
  runStatusResponse,
  runtimeServices,
  tableUpdatesResponse,
  startOptions,
  startRunResponse,
  terminateRunResponse,
  type ApiOrigin,
  type ApiResponse,
  type AuditContext,
  type RunClient,
} from '../shared/run';

/** An HTTP handler that needs the run client. */
export type RunHttpHandler = (request: HttpRequest, context: InvocationContext, runs?: RunClient) => Promise<HttpResponseInit>;

function origin(request: HttpRequest): ApiOrigin {
  return { baseUrl: new URL(request.url).origin, exposeDurableUrls: getSettings().exposeDurableUrls };
}

/** Where a start, terminate or purge is recorded, and who asked (App Service authentication, a key, the local host). */
function audit(request: HttpRequest): AuditContext | undefined {
  const events = runtimeServices().events;
  return events ? { log: auditLogOf(events), caller: callerOf(request.headers) } : undefined;
}

function reply(response: ApiResponse): HttpResponseInit {
  return { status: response.status, headers: response.headers, jsonBody: response.body };
}

/** An unexpected failure: logged with an id, answered with the id only. */
function failed(name: string, err: unknown, context: InvocationContext): HttpResponseInit {
  return reply(internalError(name, err, (line) => context.error(line)));
}

/** Wrap a handler: no client → 500 naming the wiring problem; unexpected errors → 500 with an error id, logged. */
function withRuns(name: string, body: (request: HttpRequest, runs: RunClient) => Promise<ApiResponse>): RunHttpHandler {
  return async (request, context, runs) => {
    if (!runs) return { status: 500, jsonBody: { error: `${name}: no Durable client was passed to the handler (the function must declare durableClient)` } };
    try {
      return reply(await body(request, runs));
    } catch (err) {
      return failed(name, err, context);
    }
  };
}

/** `POST /api/pipelines/{name}/runs`: start a run (202 with status URLs) or make the running one catch up; 415 for a body not sent as JSON. */
export const startRunHttp = withRuns('startPipelineRun', async (request, runs) => {
  const text = await request.text();
  let body: unknown;
  if (text.trim()) {
    const type = request.headers.get('content-type');
    if (!isJsonContentType(type)) return notJsonAnswer(type);
    try {
      body = JSON.parse(text);
    } catch {
      return { status: 400, body: { error: 'the body is not JSON' } };
    }
  }
  const services = runtimeServices();
  return startRunResponse(runs, services.pipelines(), request.params.name, startOptions(body, request.query), origin(request), services.events, audit(request));
});

/** `GET /api/pipelines/{name}/requests/{requestId}`: the run serving a start request, even once the instance has moved on. */
export const requestStatusHttp = withRuns('pipelineRequestStatus', (request, runs) => {
  const services = runtimeServices();
  return requestStatusResponse(runs, services.events, services.pipelines(), request.params.name, request.params.requestId, origin(request));
});

/** `GET /api/pipelines/{name}/tables/{table}/updates[?limit=]`: the table's recorded updates with lineage, newest first. */
export async function tableUpdatesHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const services = runtimeServices();
    return reply(await tableUpdatesResponse(services.events, services.pipelines(), request.params.name, request.params.table, request.query.get('limit')));
  } catch (err) {
    return failed('pipelineTableUpdates', err, context);
  }
}

/** `GET /api/pipelines/{name}/runs/{instanceId}`: status, progress and metrics. */
export const runStatusHttp = withRuns('pipelineRunStatus', (request, runs) =>
  runStatusResponse(runs, request.params.name, request.params.instanceId, origin(request)),
);

/** `POST /api/pipelines/{name}/runs/{instanceId}/terminate[?reason=]`. */
export const terminateRunHttp = withRuns('terminatePipelineRun', (request, runs) =>
  terminateRunResponse(runs, request.params.name, request.params.instanceId, request.query.get('reason') ?? 'terminated over HTTP', audit(request)),
);

/** `DELETE /api/pipelines/{name}/runs/{instanceId}`: purge a finished run's history. */
export const purgeRunHttp = withRuns('purgePipelineRun', (request, runs) =>
  purgeRunResponse(runs, request.params.name, request.params.instanceId, audit(request)),
);

/** `GET /api/pipelines/{name}/audit[?limit=]`: who started, terminated or purged the pipeline's runs, newest first. */
export async function pipelineAuditHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const services = runtimeServices();
    return reply(await auditResponse(services.events && auditLogOf(services.events), services.pipelines(), request.params.name, request.query.get('limit')));
  } catch (err) {
    return failed('pipelineAudit', err, context);
  }
}
