/**
 * The rehydration API, host-agnostic (functions/rehydrate.ts maps Functions requests onto it; the
 * local host serves the same functions), in the shape of the run API (shared/run/api.ts):
 *
 * - `POST /api/tables/{layer}/{table}/rehydrate[?version=N][&priority=standard|high]` → 202 with
 *   `Location` = the status URL below and the instance id; the version defaults to the latest. One
 *   instance per table, version and priority: asking again while it runs answers with the same
 *   instance, asking with `high` while a `standard` one runs starts a second that raises the pending
 *   files' priority. 400 for a bad version or priority, 404 for a missing table or version.
 * - `GET /api/tables/{layer}/{table}/rehydrations/{instanceId}` → 202 (with `Location`) while it runs,
 *   200 once it ended: runtimeStatus, customStatus (files online / total, bytes, pending, refused),
 *   output; 404 for an instance that is not a rehydration of that table.
 *
 * Links never carry the caller's function key.
 */
import { loadSnapshot } from '../delta/snapshot';
import type { ObjectStore } from '../storage/types';
import { holdId, parsePriority, REHYDRATION_PRIORITIES, DEFAULT_REHYDRATION_PRIORITY, type RehydrationPriority } from './rehydrate';
import { REHYDRATE_ORCHESTRATOR, type RehydrateInput, type TableRef } from './rehydrate-orchestrator';

/** A response to write (the run API's shape). */
export interface RehydrationAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** An orchestration instance's status, as the run client reports it. */
export interface InstanceStatus {
  instanceId: string;
  name: string;
  runtimeStatus: string;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
}

/** Starting and reading orchestration instances: the Durable client in Azure, the local engine elsewhere. */
export interface OrchestrationInstances {
  /** Start (or restart, when it has ended) an instance. */
  start(name: string, instanceId: string, input: unknown): Promise<void>;
  status(instanceId: string): Promise<InstanceStatus | undefined>;
}

/** What a start request names. */
export interface RehydrationRequest {
  /** The lake layer and table from the route. */
  layer: string;
  table: string;
  /** Store rooted at the table. */
  store: ObjectStore;
  /** The `version` query parameter (null: latest). */
  version: string | null;
  /** The `priority` query parameter (null: standard). */
  priority: string | null;
  /** `SLUICE_REHYDRATION_POLL_SECONDS`. */
  pollSeconds: number;
}

const ACTIVE = ['Pending', 'Running', 'ContinuedAsNew', 'Suspended'];

function statusUrl(baseUrl: string, layer: string, table: string, instanceId: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/api/tables/${encodeURIComponent(layer)}/${encodeURIComponent(table)}/rehydrations/${encodeURIComponent(instanceId)}`;
}

/**
 * The instance id of a table version's rehydration at a priority (instance ids may not hold `/`).
 *
 * @param layer the layer
 * @param table the table
 * @param version the version
 * @param priority the priority
 * @returns e.g. `rehydrate-bronze-sales-v3-standard`
 */
export function rehydrationInstanceId(layer: string, table: string, version: number, priority: RehydrationPriority): string {
  return `${instancePrefix(layer, table)}${holdId(version, priority)}`;
}

function instancePrefix(layer: string, table: string): string {
  return `rehydrate-${layer}-${table}-`;
}

/**
 * Start the rehydration of a table version (see this file's header).
 *
 * @param instances the orchestration client
 * @param request the route, query and table
 * @param baseUrl the host root the request came to, for links
 * @returns 202 with `Location`, 400 or 404
 */
export async function startRehydrationResponse(instances: OrchestrationInstances, request: RehydrationRequest, baseUrl: string): Promise<RehydrationAnswer> {
  const bad = (error: string): RehydrationAnswer => ({ status: 400, body: { error } });
  const priority = parsePriority(request.priority ?? DEFAULT_REHYDRATION_PRIORITY);
  if (!priority) return bad(`priority must be ${REHYDRATION_PRIORITIES.join(' or ')}, not '${request.priority}'`);
  if (request.version !== null && !/^\d{1,15}$/.test(request.version)) return bad(`version must be a whole number, not '${request.version}'`);
  const name = `${request.layer}/${request.table}`;
  let version: number;
  try {
    version = (await loadSnapshot(request.store, request.version === null ? {} : { version: Number(request.version) })).version;
  } catch (err) {
    const e = err as Error;
    if (e.name === 'NotATableError' || e.name === 'VersionNotFoundError')
      return { status: 404, body: { error: e.message.split(request.store.url).join(name) } };
    throw err;
  }
  const instanceId = rehydrationInstanceId(request.layer, request.table, version, priority);
  const location = statusUrl(baseUrl, request.layer, request.table, instanceId);
  const current = await instances.status(instanceId);
  const running = current !== undefined && ACTIVE.includes(current.runtimeStatus);
  if (!running) {
    const table: TableRef = { lake: name };
    const input: RehydrateInput = {
      table,
      tableName: name,
      version,
      priority,
      pollSeconds: request.pollSeconds,
      holdId: holdId(version, priority),
      by: `POST /api/tables/${name}/rehydrate (instance ${instanceId})`,
    };
    await instances.start(REHYDRATE_ORCHESTRATOR, instanceId, input);
  }
  return {
    status: 202,
    headers: { Location: location, 'Retry-After': String(Math.min(request.pollSeconds, 60)) },
    body: { id: instanceId, table: name, version, priority, alreadyRunning: running, statusUrl: location },
  };
}

/**
 * A rehydration's status.
 *
 * @param instances the orchestration client
 * @param layer the layer from the route
 * @param table the table from the route
 * @param instanceId the instance from the route
 * @param baseUrl for the `Location` header
 * @returns 202 while running, 200 once ended, 404 when it is not a rehydration of that table
 */
export async function rehydrationStatusResponse(
  instances: OrchestrationInstances,
  layer: string,
  table: string,
  instanceId: string,
  baseUrl: string,
): Promise<RehydrationAnswer> {
  const notFound: RehydrationAnswer = { status: 404, body: { error: `no rehydration "${instanceId}" of table ${layer}/${table}` } };
  // Only this table's rehydrations are reachable under its route.
  const prefix = instancePrefix(layer, table);
  if (!instanceId.startsWith(prefix) || !/^v\d+-(standard|high)$/.test(instanceId.slice(prefix.length))) return notFound;
  const status = await instances.status(instanceId);
  if (!status || status.name !== REHYDRATE_ORCHESTRATOR) return notFound;
  const running = ACTIVE.includes(status.runtimeStatus);
  return {
    status: running ? 202 : 200,
    ...(running ? { headers: { Location: statusUrl(baseUrl, layer, table, instanceId), 'Retry-After': '10' } } : {}),
    body: { table: `${layer}/${table}`, ...status },
  };
}
