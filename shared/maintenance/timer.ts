/**
 * What the `maintenance` timer does at each tick (`SLUICE_MAINTENANCE_SCHEDULE`, nightly by default):
 *
 * 1. purge the Durable history of finished instances created more than `SLUICE_HISTORY_RETENTION_DAYS`
 *    ago (the run API's status of such an old run then answers 404; its table updates stay in the
 *    event log until `SLUICE_EVENTS_RETENTION_DAYS`);
 * 2. start the `maintainLake` orchestration (orchestrator.ts), unless the previous one still runs.
 *
 * The same code runs in Azure (the Durable client) and on the local host (its engine), behind
 * `MaintenanceControl`; the adapter is chosen from the run client the function is given.
 */
import type { DurableClient } from 'durable-functions';
import * as df from 'durable-functions';
import type { MaintenanceSettings } from '../config/settings';
import type { OrchestrationEngine } from '../orchestration/engine';
import { DurableRunClient, EngineRunClient, isActive, type RunClient } from '../run/client';
import { MAINTENANCE_INSTANCE, MAINTENANCE_ORCHESTRATOR, type MaintenanceInput } from './orchestrator';
import { DAY_MS } from './state-retention';

/** Starting maintenance and purging history, over the Durable client or the local engine. */
export interface MaintenanceControl {
  /** Start the orchestration as `MAINTENANCE_INSTANCE` unless it is running; whether it started. */
  start(input: MaintenanceInput): Promise<{ instanceId: string; started: boolean }>;
  /** Purge finished instances created before the cutoff; how many were purged. */
  purgeHistory(createdBefore: Date): Promise<number>;
}

const FINISHED = ['Completed', 'Failed', 'Terminated'] as const;

/**
 * The control of the local engine.
 *
 * @param engine the engine (its registry must hold the maintenance orchestrator and activities)
 * @returns the control
 */
export function engineControl(engine: OrchestrationEngine): MaintenanceControl {
  return {
    async start(input) {
      const r = await engine.startNew(MAINTENANCE_ORCHESTRATOR, { instanceId: MAINTENANCE_INSTANCE, input, ifRunning: 'return' });
      return { instanceId: r.instanceId, started: r.created };
    },
    async purgeHistory(createdBefore) {
      let purged = 0;
      for (const instance of await engine.listInstances({ createdTimeTo: createdBefore, runtimeStatus: [...FINISHED] })) {
        purged += (await engine.purge(instance.instanceId)).instancesDeleted;
      }
      return purged;
    },
  };
}

/**
 * The control of the Durable Functions extension.
 *
 * @param client `df.getClient(context)`
 * @returns the control
 */
export function durableControl(client: DurableClient): MaintenanceControl {
  return {
    async start(input) {
      const running = await client.getStatus(MAINTENANCE_INSTANCE).catch(() => undefined);
      if (running?.runtimeStatus && isActive(running.runtimeStatus)) return { instanceId: MAINTENANCE_INSTANCE, started: false };
      await client.startNew(MAINTENANCE_ORCHESTRATOR, { instanceId: MAINTENANCE_INSTANCE, input });
      return { instanceId: MAINTENANCE_INSTANCE, started: true };
    },
    async purgeHistory(createdBefore) {
      const result = await client.purgeInstanceHistoryBy({
        createdTimeFrom: new Date(0),
        createdTimeTo: createdBefore,
        runtimeStatus: [df.OrchestrationRuntimeStatus.Completed, df.OrchestrationRuntimeStatus.Failed, df.OrchestrationRuntimeStatus.Terminated],
      });
      return result.instancesDeleted;
    },
  };
}

/**
 * The control behind the run client a function was given.
 *
 * @param runs the run client (the Durable client's in Azure, the engine's on the local host)
 * @returns the control
 * @throws Error for a run client of neither kind
 */
export function maintenanceControl(runs: RunClient): MaintenanceControl {
  if (runs instanceof EngineRunClient) return engineControl(runs.engine);
  if (runs instanceof DurableRunClient) return durableControl(runs.client);
  throw new Error('maintenance: the run client is neither the Durable client nor the local engine');
}

/** What a tick did. */
export interface MaintenanceTick {
  instanceId: string;
  /** False: the previous maintenance run still runs; nothing was started. */
  started: boolean;
  /** Finished instances purged, and the cutoff. */
  purged: number;
  purgedBefore: string;
}

/**
 * One tick of the maintenance timer.
 *
 * @param control the Durable back end
 * @param settings the retention settings
 * @param options the clock (tests simulate the passing of days), and the orchestration input's clock
 * @returns what it did
 */
export async function runMaintenanceTick(
  control: MaintenanceControl,
  settings: Pick<MaintenanceSettings, 'historyRetentionDays'>,
  options: { now?: number; input?: MaintenanceInput } = {},
): Promise<MaintenanceTick> {
  const now = options.now ?? Date.now();
  const before = new Date(now - settings.historyRetentionDays * DAY_MS);
  const purged = await control.purgeHistory(before);
  const start = await control.start({ reason: `maintenance timer ${new Date(now).toISOString()}`, ...options.input });
  return { ...start, purged, purgedBefore: before.toISOString() };
}
