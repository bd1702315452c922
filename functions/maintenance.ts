/**
 * Trigger adapter of the `maintenance` timer (`SLUICE_MAINTENANCE_SCHEDULE`): one tick of
 * shared/maintenance/timer.ts (purge old Durable history, start the `maintainLake` orchestration),
 * logged in one line. A failure is rethrown so it shows in monitoring; the next tick tries again.
 */
import type { InvocationContext, Timer } from '@azure/functions';
import { getRuntime } from '../shared/host';
import { maintenanceControl, runMaintenanceTick } from '../shared/maintenance';
import type { RunClient } from '../shared/run';

/**
 * Timer trigger: start the nightly maintenance.
 *
 * @param timer the timer binding
 * @param context the invocation
 * @param runs the run client (the function declares the durable client)
 */
export async function maintenanceTimerHandler(timer: Timer, context: InvocationContext, runs?: RunClient): Promise<void> {
  if (!runs) throw new Error('maintenance: no run client was passed (the function must declare durableClient)');
  const { settings } = getRuntime();
  const tick = await runMaintenanceTick(maintenanceControl(runs), settings);
  context.log(
    `maintenance: ${tick.started ? `run ${tick.instanceId} started` : `run ${tick.instanceId} still running; nothing started`}; ` +
      `${tick.purged} finished instance(s) created before ${tick.purgedBefore} purged${timer.isPastDue ? ' (timer past due)' : ''}`,
  );
}
