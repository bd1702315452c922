/**
 * The one list of Sluice's functions. `index.ts` registers it with the Azure Functions host; the local
 * host (`npm start`) serves the same list, so a function cannot exist in one and be missing in the
 * other. This module registers nothing itself.
 *
 * Binding options may name app settings as `%SETTING%`, the host's own syntax; whoever registers
 * resolves them with `resolveSettingReferences` over the runtime's validated values, so defaults apply
 * and the host never meets an unset setting.
 */
import type { EventHubHandler, HttpHandler, HttpMethod, InvocationContext, RetryOptions, TimerHandler } from '@azure/functions';
import { blobCreatedHandler, eventHubIngestHandler, reconcileHandler } from './ingest';
import { describeTableHttp, tableHistoryHttp } from './tables';

/** An HTTP-triggered function. */
export interface HttpFunctionDefinition {
  kind: 'http';
  name: string;
  /** Route under `/api/`, with `{param}` placeholders. */
  route: string;
  methods: HttpMethod[];
  handler: HttpHandler;
}

/** A timer-triggered function. */
export interface TimerFunctionDefinition {
  kind: 'timer';
  name: string;
  /** NCRONTAB schedule (six fields) or `%AppSetting%`. */
  schedule: string;
  handler: TimerHandler;
}

/** An Event Grid-triggered function (one event per invocation, Event Grid or CloudEvents schema). */
export interface EventGridFunctionDefinition {
  kind: 'eventGrid';
  name: string;
  handler: (event: unknown, context: InvocationContext) => Promise<void>;
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
  handler: EventHubHandler;
}

/** Any function definition. */
export type FunctionDefinition = HttpFunctionDefinition | TimerFunctionDefinition | EventGridFunctionDefinition | EventHubFunctionDefinition;

/** Every function of the app. */
export const FUNCTIONS: readonly FunctionDefinition[] = [
  { kind: 'http', name: 'describeTable', route: 'tables/{layer}/{table}', methods: ['GET'], handler: describeTableHttp },
  { kind: 'http', name: 'tableHistory', route: 'tables/{layer}/{table}/history', methods: ['GET'], handler: tableHistoryHttp },
  // infra/app/event-grid.bicep subscribes this name to BlobCreated events of the landing container.
  { kind: 'eventGrid', name: 'blobCreated', handler: blobCreatedHandler },
  {
    kind: 'eventHub',
    name: 'eventHubIngest',
    connection: 'SLUICE_EVENTHUB',
    eventHubName: '%SLUICE_EVENTHUB_NAME%',
    consumerGroup: '%SLUICE_EVENTHUB_CONSUMER_GROUP%',
    cardinality: 'many',
    // No limit: an exception would otherwise let the checkpoint move past the batch once retries run out.
    retry: { strategy: 'exponentialBackoff', maxRetryCount: -1, minimumInterval: { seconds: 10 }, maximumInterval: { minutes: 15 } },
    handler: eventHubIngestHandler,
  },
  { kind: 'timer', name: 'reconcile', schedule: '%SLUICE_RECONCILE_SCHEDULE%', handler: reconcileHandler },
];
