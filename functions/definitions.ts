/**
 * The one list of Sluice's functions. `index.ts` registers it with the Azure Functions host; the local
 * host (`npm start`) serves the same list, so a function cannot exist in one and be missing in the
 * other. This module registers nothing itself.
 *
 * Binding options may name app settings as `%SETTING%`, the host's own syntax; whoever registers
 * resolves them with `resolveSettingReferences` over the runtime's validated values, so defaults apply
 * and the host never meets an unset setting.
 */
import type { FunctionResult, HttpMethod, HttpRequest, HttpResponse, HttpResponseInit, InvocationContext, RetryOptions, Timer } from '@azure/functions';
import type { OrchestrationHandler } from 'durable-functions';
import type { ActivityFunction } from '../shared/orchestration';
import { RUN_ACTIVITIES, RUN_ORCHESTRATORS, SCHEDULE_TICK, type RunClient } from '../shared/run';
import { blobCreatedHandler, eventHubIngestHandler, pipelineScheduleHandler, reconcileHandler } from './ingest';
import { pipelineAuditHttp, purgeRunHttp, requestStatusHttp, runStatusHttp, startRunHttp, tableUpdatesHttp, terminateRunHttp } from './pipelines';
import { describeTableHttp, tableHistoryHttp } from './tables';
import { listDeadLettersHttp, showDeadLetterHttp } from './deadletter';
import { lineageHttp } from './lineage';
import { dashboardHttp, dashboardSummaryHttp } from './dashboard';
import { healthHttp } from './health';
import { listCatalogTablesHttp, showCatalogTableHttp } from './catalog';
import { maintenanceTimerHandler } from './maintenance';
import { MAINTENANCE_ACTIVITIES, MAINTENANCE_ORCHESTRATORS } from '../shared/maintenance';
import { rehydrationStatusHttp, startRehydrationHttp } from './rehydrate';
import { REHYDRATE_ACTIVITIES, REHYDRATE_ORCHESTRATORS } from '../shared/tiering/rehydrate-orchestrator';
import { metricBreachesHttp, metricsTimerHandler, queryMetricsHttp } from './monitoring';
import { backupTimerHandler } from './backup';
import { tierLakeHandler } from './tiering';

/**
 * Functions with `durableClient: true` get a `RunClient` as their third argument: over the Durable
 * client in Azure (index.ts adds the binding), over the local engine on the local host. Others get
 * nothing there.
 */
export type WithRuns<T> = (input: T, context: InvocationContext, runs?: RunClient) => FunctionResult<unknown>;

/** An HTTP-triggered function. */
export interface HttpFunctionDefinition {
  kind: 'http';
  name: string;
  /** Route under `/api/`, with `{param}` placeholders. */
  route: string;
  methods: HttpMethod[];
  /** The handler needs a run client (third argument). */
  durableClient?: boolean;
  /** Reachable without a function key (`authLevel: 'anonymous'`); every other route needs one. */
  anonymous?: boolean;
  handler: (request: HttpRequest, context: InvocationContext, runs?: RunClient) => Promise<HttpResponseInit | HttpResponse>;
}

/** A timer-triggered function. */
export interface TimerFunctionDefinition {
  kind: 'timer';
  name: string;
  /** NCRONTAB schedule (six fields) or `%AppSetting%`. */
  schedule: string;
  durableClient?: boolean;
  handler: WithRuns<Timer>;
}

/** An Event Grid-triggered function (one event per invocation, Event Grid or CloudEvents schema). */
export interface EventGridFunctionDefinition {
  kind: 'eventGrid';
  name: string;
  durableClient?: boolean;
  handler: (event: unknown, context: InvocationContext, runs?: RunClient) => Promise<void>;
}

/** An Event Hubs-triggered function. */
export interface EventHubFunctionDefinition {
  kind: 'eventHub';
  name: string;
  /** Prefix of the connection settings (`X` or `X__fullyQualifiedNamespace`). */
  connection: string;
  /** Event Hub name or `%AppSetting%`. */
  eventHubName: string;
  /** Consumer group or `%AppSetting%`. */
  consumerGroup: string;
  cardinality: 'many';
  /** Re-runs a failed batch while the partition's checkpoint waits. */
  retry: RetryOptions;
  durableClient?: boolean;
  handler: WithRuns<unknown>;
}

/** A Durable orchestrator function (`df.app.orchestration`). */
export interface OrchestrationFunctionDefinition {
  kind: 'orchestration';
  name: string;
  handler: OrchestrationHandler;
}

/** A Durable activity function (`df.app.activity`). */
export interface ActivityFunctionDefinition {
  kind: 'activity';
  name: string;
  handler: ActivityFunction;
}

/** Any function definition. */
export type FunctionDefinition =
  | HttpFunctionDefinition
  | TimerFunctionDefinition
  | EventGridFunctionDefinition
  | EventHubFunctionDefinition
  | OrchestrationFunctionDefinition
  | ActivityFunctionDefinition;

/** Every function of the app. */
export const FUNCTIONS: readonly FunctionDefinition[] = [
  // Deployment checks and probes; the local host answers /api/health itself (dev/routes.ts).
  { kind: 'http', name: 'health', route: 'health', methods: ['GET'], anonymous: true, handler: healthHttp },
  { kind: 'http', name: 'describeTable', route: 'tables/{layer}/{table}', methods: ['GET'], handler: describeTableHttp },
  { kind: 'http', name: 'tableHistory', route: 'tables/{layer}/{table}/history', methods: ['GET'], handler: tableHistoryHttp },
  // Rehydration from Archive (shared/tiering): start, progress, the orchestration and its activities.
  { kind: 'http', name: 'rehydrateTable', route: 'tables/{layer}/{table}/rehydrate', methods: ['POST'], durableClient: true, handler: startRehydrationHttp },
  {
    kind: 'http',
    name: 'rehydrationStatus',
    route: 'tables/{layer}/{table}/rehydrations/{instanceId}',
    methods: ['GET'],
    durableClient: true,
    handler: rehydrationStatusHttp,
  },
  ...REHYDRATE_ORCHESTRATORS.map((o) => ({ kind: 'orchestration' as const, name: o.name, handler: o.handler })),
  ...REHYDRATE_ACTIVITIES.map((a) => ({ kind: 'activity' as const, name: a.name, handler: a.handler })),
  // infra/app/event-grid.bicep subscribes this name to BlobCreated events of the landing container.
  { kind: 'eventGrid', name: 'blobCreated', durableClient: true, handler: blobCreatedHandler },
  {
    kind: 'eventHub',
    name: 'eventHubIngest',
    connection: 'SLUICE_EVENTHUB',
    eventHubName: '%SLUICE_EVENTHUB_NAME%',
    consumerGroup: '%SLUICE_EVENTHUB_CONSUMER_GROUP%',
    cardinality: 'many',
    durableClient: true,
    // No limit: an exception would otherwise let the checkpoint move past the batch once retries run out.
    retry: { strategy: 'exponentialBackoff', maxRetryCount: -1, minimumInterval: { seconds: 10 }, maximumInterval: { minutes: 15 } },
    handler: eventHubIngestHandler,
  },
  // Dead-letter records, read-only (replay is `sluice deadletter replay`).
  { kind: 'http', name: 'listDeadLetters', route: 'deadletter', methods: ['GET'], handler: listDeadLettersHttp },
  { kind: 'http', name: 'showDeadLetter', route: 'deadletter/{*id}', methods: ['GET'], handler: showDeadLetterHttp },
  // The dashboard page and the numbers it draws.
  { kind: 'http', name: 'dashboard', route: 'dashboard', methods: ['GET'], handler: dashboardHttp },
  { kind: 'http', name: 'dashboardSummary', route: 'dashboard/summary', methods: ['GET'], handler: dashboardSummaryHttp },
  // Monitoring (shared/monitoring): the metrics timer and its read-only API.
  { kind: 'timer', name: 'metrics', schedule: '%SLUICE_METRICS_SCHEDULE%', handler: metricsTimerHandler },
  { kind: 'http', name: 'queryMetrics', route: 'metrics', methods: ['GET'], handler: queryMetricsHttp },
  { kind: 'http', name: 'metricBreaches', route: 'metrics/breaches', methods: ['GET'], handler: metricBreachesHttp },
  // The catalog (shared/catalog), kept by the commits; read-only here (rebuild is `sluice catalog rebuild`).
  { kind: 'http', name: 'listCatalogTables', route: 'catalog/tables', methods: ['GET'], handler: listCatalogTablesHttp },
  { kind: 'http', name: 'showCatalogTable', route: 'catalog/tables/{*path}', methods: ['GET'], handler: showCatalogTableHttp },
  { kind: 'timer', name: 'reconcile', schedule: '%SLUICE_RECONCILE_SCHEDULE%', durableClient: true, handler: reconcileHandler },
  // Storage tiering of every served table and the landing container (shared/tiering).
  { kind: 'timer', name: 'tierLake', schedule: '%SLUICE_TIERING_SCHEDULE%', handler: tierLakeHandler },
  // Pipeline runs (shared/run): the run API, the schedule timer, the orchestration and its activities.
  { kind: 'http', name: 'startPipelineRun', route: 'pipelines/{name}/runs', methods: ['POST'], durableClient: true, handler: startRunHttp },
  {
    kind: 'http',
    name: 'pipelineRequestStatus',
    route: 'pipelines/{name}/requests/{requestId}',
    methods: ['GET'],
    durableClient: true,
    handler: requestStatusHttp,
  },
  { kind: 'http', name: 'pipelineTableUpdates', route: 'pipelines/{name}/tables/{table}/updates', methods: ['GET'], handler: tableUpdatesHttp },
  { kind: 'http', name: 'pipelineRunStatus', route: 'pipelines/{name}/runs/{instanceId}', methods: ['GET'], durableClient: true, handler: runStatusHttp },
  {
    kind: 'http',
    name: 'terminatePipelineRun',
    route: 'pipelines/{name}/runs/{instanceId}/terminate',
    methods: ['POST'],
    durableClient: true,
    handler: terminateRunHttp,
  },
  { kind: 'http', name: 'purgePipelineRun', route: 'pipelines/{name}/runs/{instanceId}', methods: ['DELETE'], durableClient: true, handler: purgeRunHttp },
  { kind: 'http', name: 'lineage', route: 'lineage/{*path}', methods: ['GET'], handler: lineageHttp },
  { kind: 'http', name: 'pipelineAudit', route: 'pipelines/{name}/audit', methods: ['GET'], handler: pipelineAuditHttp },
  { kind: 'timer', name: 'pipelineSchedule', schedule: SCHEDULE_TICK, durableClient: true, handler: pipelineScheduleHandler },
  // Platform backup (shared/backup): does nothing until SLUICE_BACKUP_LOCATION is set.
  { kind: 'timer', name: 'backup', schedule: '%SLUICE_BACKUP_SCHEDULE%', handler: backupTimerHandler },
  ...RUN_ORCHESTRATORS.map((o) => ({ kind: 'orchestration' as const, name: o.name, handler: o.handler })),
  ...RUN_ACTIVITIES.map((a) => ({ kind: 'activity' as const, name: a.name, handler: a.handler })),
  // Nightly maintenance (shared/maintenance): the timer, its orchestration and activities.
  { kind: 'timer', name: 'maintenance', schedule: '%SLUICE_MAINTENANCE_SCHEDULE%', durableClient: true, handler: maintenanceTimerHandler },
  ...MAINTENANCE_ORCHESTRATORS.map((o) => ({ kind: 'orchestration' as const, name: o.name, handler: o.handler })),
  ...MAINTENANCE_ACTIVITIES.map((a) => ({ kind: 'activity' as const, name: a.name, handler: a.handler })),
];
