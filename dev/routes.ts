/**
 * The local host's own HTTP routes, beside the app's HTTP functions:
 *
 * - `GET /api/health`: is Azurite reachable, is the orchestration engine running, which pipelines are
 *   loaded, with counts (landing watch, timers, orchestration instances); 200 when all is well, 503
 *   otherwise;
 * - `POST /api/dev/eventhubs/{hub}`: events (JSON array, object or NDJSON) for the Event Hubs function;
 * - `POST /runtime/webhooks/EventGrid?functionName=<name>`: the endpoint an Event Grid subscription
 *   posts to (the Functions host's), with the subscription validation handshake, so events built by
 *   hand or by another tool reach the `blobCreated` function as in Azure;
 * - `* /runtime/webhooks/durabletask/*`: the Durable Functions HTTP API over the local engine;
 * - `POST /admin/functions/{name}`: run a timer function now (the shape of the Functions host's
 *   admin API), e.g. the `reconcile` timer.
 */
import { durableWebhook, type OrchestrationEngine } from '../shared/orchestration';
import { internalError } from '../shared/host/http';
import type { SluiceRuntime } from '../shared/host';
import type { ObjectStore } from '../shared/storage/types';
import { EventsBodyError, type LocalEventHubs, parseEventsBody, PartialDeliveryError } from './eventhubs';
import type { BoundFunction } from './functions';
import type { BuiltinRoute, RouteResponse } from './http';
import { type DevLog, invokeFunction } from './invoke';
import type { LandingWatch } from './landing-watch';
import type { TimerScheduler } from './timers';

/** What the routes reach into. */
export interface RouteParts {
  runtime: SluiceRuntime;
  engine: OrchestrationEngine;
  engineRunning: () => boolean;
  /** Store rooted at the landing container (Azurite reachability). */
  landing: ObjectStore;
  /** Undefined when the app has no Event Hubs function. */
  eventHubs: LocalEventHubs | undefined;
  eventGrid: readonly BoundFunction<unknown>[];
  watch: () => LandingWatch | undefined;
  timers: () => TimerScheduler | undefined;
  /** Base URL of this host, e.g. `http://127.0.0.1:7071`. */
  baseUrl: () => string;
  log: DevLog;
}

const json = (status: number, body: unknown, headers?: Record<string, string>): RouteResponse => ({ status, body, ...(headers ? { headers } : {}) });

function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  return JSON.parse(body.toString('utf8'));
}

/**
 * The built-in routes.
 *
 * @param parts the host's parts
 * @returns the routes, for dev/http.ts
 */
export function builtinRoutes(parts: RouteParts): BuiltinRoute[] {
  return [
    { method: 'GET', path: '/api/health', quiet: true, handle: () => health(parts) },
    {
      method: 'POST',
      path: '/api/dev/eventhubs/{hub}',
      handle: async ({ params, body }) => {
        const runtime = parts.runtime;
        if (!parts.eventHubs) return json(404, { error: 'the app has no Event Hubs function' });
        const route = runtime.routeHub(params.hub);
        if (!route)
          return json(404, {
            error: `no source of the loaded pipelines reads Event Hub "${params.hub}" (sources with eventHub: ${runtime.hubSources.map((r) => `${r.source.name} → ${r.source.eventHub!.name}`).join(', ') || 'none'})`,
          });
        let bodies: unknown[];
        try {
          bodies = parseEventsBody(body.toString('utf8'));
        } catch (err) {
          if (err instanceof EventsBodyError) return json(400, { error: err.message });
          throw err;
        }
        const hub = runtime.triggers.eventHub!;
        try {
          return json(
            200,
            await parts.eventHubs.post({ namespace: hub.namespace, name: route.source.eventHub!.name, consumerGroup: hub.consumerGroup }, bodies),
          );
        } catch (err) {
          const partial = err instanceof PartialDeliveryError ? { delivered: err.delivered, total: err.total } : { delivered: 0 };
          // The detail (storage URLs included) goes to the log under the id the answer gives.
          const logged = internalError(`POST /api/dev/eventhubs/${params.hub}`, err, parts.log).body;
          return json(503, { error: `events not ingested: ${logged.error}`, errorId: logged.errorId, ...partial });
        }
      },
    },
    {
      method: 'POST',
      path: '/runtime/webhooks/EventGrid',
      handle: async ({ url, headers, body }) => {
        const name = url.searchParams.get('functionName') ?? '';
        const definition = parts.eventGrid.find((d) => d.name.toLowerCase() === name.toLowerCase());
        if (!definition)
          return json(404, { error: `functionName=${name || '(missing)'} names no Event Grid function (${parts.eventGrid.map((d) => d.name).join(', ')})` });
        let parsed: unknown;
        try {
          parsed = parseJsonBody(body);
        } catch (err) {
          return json(400, { error: `the body is not JSON: ${(err as Error).message}` });
        }
        const events = [parsed].flat() as Record<string, unknown>[];
        const validation = events.find((e) => e?.eventType === 'Microsoft.EventGrid.SubscriptionValidationEvent');
        if (validation || headers['aeg-event-type'] === 'SubscriptionValidation') {
          return json(200, { validationResponse: (validation?.data as { validationCode?: string } | undefined)?.validationCode ?? '' });
        }
        for (const event of events) await invokeFunction(definition.name, parts.log, (context) => definition.call(event, context));
        return { status: 202 };
      },
    },
    {
      method: '*',
      path: '/runtime/webhooks/durabletask/*',
      quiet: true,
      handle: async ({ method, url, params, body }) => {
        let parsed: unknown;
        try {
          parsed = parseJsonBody(body);
        } catch (err) {
          return json(400, { message: `the body is not JSON: ${(err as Error).message}` });
        }
        const answer = await durableWebhook(parts.engine, { method, path: params.rest, query: url.searchParams, body: parsed, baseUrl: parts.baseUrl() });
        return { status: answer.status, body: answer.body, ...(answer.headers ? { headers: answer.headers } : {}) };
      },
    },
    {
      method: 'POST',
      path: '/admin/functions/{name}',
      handle: async ({ params }) => {
        const timers = parts.timers();
        if (!timers) return json(503, { error: 'timers are not running' });
        const known = Object.keys(timers.next());
        const name = known.find((n) => n.toLowerCase() === params.name.toLowerCase());
        if (!name) return json(404, { error: `no timer function named ${params.name} (timers: ${known.join(', ') || 'none'})` });
        // The host answers 202 and runs the function in the background; its lines go to the log.
        void timers.runNow(name);
        return { status: 202 };
      },
    },
  ];
}

async function health(parts: RouteParts): Promise<RouteResponse> {
  let azurite: { reachable: boolean; error?: string };
  try {
    for await (const _ of parts.landing.list('')) break;
    azurite = { reachable: true };
  } catch (err) {
    azurite = { reachable: false, error: (err as Error).message };
  }
  let instances: Record<string, number> | { error: string };
  try {
    const all = await parts.engine.listInstances();
    instances = all.reduce<Record<string, number>>((acc, i) => ({ ...acc, [i.runtimeStatus]: (acc[i.runtimeStatus] ?? 0) + 1 }), {});
  } catch (err) {
    instances = { error: (err as Error).message };
  }
  const runtime = parts.runtime;
  const engineRunning = parts.engineRunning();
  const ok = azurite.reachable && engineRunning && runtime.pipelines.length > 0;
  return json(ok ? 200 : 503, {
    status: ok ? 'healthy' : 'unhealthy',
    azurite,
    engine: { running: engineRunning, instances },
    pipelines: runtime.pipelines.map((p) => ({
      name: p.name,
      file: p.file,
      sources: Object.keys(p.sources).length,
      tables: Object.keys(p.tables).length,
      trigger: p.trigger,
    })),
    landing: { container: runtime.settings.landingContainer, watch: parts.watch()?.stats() ?? null },
    lake: { container: runtime.settings.lakeContainer },
    timers: parts.timers()?.next() ?? null,
    warnings: runtime.warnings,
  });
}
