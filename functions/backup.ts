/**
 * The `backup` timer (schedule `SLUICE_BACKUP_SCHEDULE`): the platform backup of every served
 * pipeline to `SLUICE_BACKUP_LOCATION` (shared/host/backup.ts); off, with one log line, while the
 * location is unset. A run with problems is recorded in the backup's index and then fails the
 * invocation, so it shows in monitoring.
 */
import type { InvocationContext, Timer } from '@azure/functions';
import { backupServedPipelines, getRuntime } from '../shared/host';

/**
 * Timer handler.
 *
 * @param _timer the timer (unused: each run backs up the current versions)
 * @param context the invocation context
 */
export async function backupTimerHandler(_timer: Timer, context: InvocationContext): Promise<void> {
  const run = await backupServedPipelines(getRuntime());
  if (!run) {
    context.log('backup: off (SLUICE_BACKUP_LOCATION is not set)');
    return;
  }
  const backedUp = run.tables.filter((t) => t.version !== null);
  const copied = backedUp.reduce((n, t) => n + t.copied, 0);
  context.log(
    `backup: run ${run.run}: ${backedUp.length} table(s) at ${backedUp.map((t) => `${t.path}@${t.version}`).join(', ') || 'none'}; ` +
      `${copied} file(s) copied; ${run.state.map((s) => `${s.table} ${s.entities} entities`).join(', ')}; ${run.definitions.length} definition file(s)`,
  );
  if (!run.complete) throw new Error(`backup: run ${run.run} had ${run.problems.length} problem(s): ${run.problems.join('; ')}`);
}
