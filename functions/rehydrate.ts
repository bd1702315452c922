/**
 * HTTP adapters of rehydration from Archive (shared/tiering/rehydrate-api.ts holds the logic):
 * `POST /api/tables/{layer}/{table}/rehydrate` starts the `rehydrate` orchestration, `GET
 * …/rehydrations/{instanceId}` reports its progress. Each takes the run client functions/index.ts
 * passes over the Durable client (the local host: over its engine) and reaches the orchestration
 * instances through it.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getSettings } from '../shared/config';
import { internalError } from '../shared/host/http';
import { DurableRunClient, EngineRunClient, type RunClient } from '../shared/run';
import { openLakeStore } from '../shared/storage/lake';
import { rehydrationStatusResponse, startRehydrationResponse, type OrchestrationInstances, type RehydrationAnswer } from '../shared/tiering/rehydrate-api';
import { tableLocation } from './tables';

/**
 * The orchestration instances behind a run client: the Durable client's, or the local engine's.
 *
 * @param runs the run client the host passed
 * @returns start and status of any orchestration
 */
export function orchestrationInstances(runs: RunClient): OrchestrationInstances {
  const start =
    runs instanceof DurableRunClient
      ? async (name: string, instanceId: string, input: unknown) => void (await runs.client.startNew(name, { instanceId, input }))
      : runs instanceof EngineRunClient
        ? async (name: string, instanceId: string, input: unknown) => void (await runs.engine.startNew(name, { instanceId, input }))
        : undefined;
  if (!start) throw new Error('rehydration needs the Durable client or the local engine behind the run client');
  return { start, status: (id) => runs.status(id) };
}

function reply(answer: RehydrationAnswer): HttpResponseInit {
  return { status: answer.status, headers: answer.headers, jsonBody: answer.body };
}

function withInstances(name: string, body: (request: HttpRequest, instances: OrchestrationInstances, path: string) => Promise<RehydrationAnswer>) {
  return async (request: HttpRequest, context: InvocationContext, runs?: RunClient): Promise<HttpResponseInit> => {
    if (!runs) return { status: 500, jsonBody: { error: `${name}: no Durable client was passed to the handler (the function must declare durableClient)` } };
    const location = tableLocation(request);
    if (!('path' in location)) return location;
    try {
      return reply(await body(request, orchestrationInstances(runs), location.path));
    } catch (err) {
      const answer = internalError(name, err, (line) => context.error(line));
      return { status: answer.status, jsonBody: answer.body };
    }
  };
}

/** `POST /api/tables/{layer}/{table}/rehydrate[?version=N][&priority=standard|high]`: 202 with `Location`. */
export const startRehydrationHttp = withInstances('rehydrateTable', (request, instances, path) => {
  const settings = getSettings();
  return startRehydrationResponse(
    instances,
    {
      layer: request.params.layer,
      table: request.params.table,
      store: openLakeStore(settings, path),
      version: request.query.get('version'),
      priority: request.query.get('priority'),
      pollSeconds: settings.rehydrationPollSeconds,
    },
    new URL(request.url).origin,
  );
});

/** `GET /api/tables/{layer}/{table}/rehydrations/{instanceId}`: 202 while running, 200 once ended. */
export const rehydrationStatusHttp = withInstances('rehydrationStatus', (request, instances) =>
  rehydrationStatusResponse(instances, request.params.layer, request.params.table, request.params.instanceId, new URL(request.url).origin),
);
