/**
 * The maintenance options the settings give, in one place for the timer's activity and the command.
 */
import type { MaintenanceSettings } from '../config/settings';
import type { MaintainOptions } from './maintain';

/**
 * Maintenance options from the validated settings.
 *
 * @param settings the maintenance settings
 * @param checkpointInterval `SLUICE_CHECKPOINT_INTERVAL` when the caller has the full settings (the command uses the default, 10)
 * @returns the options (no clock: now)
 */
export function maintenanceOptions(settings: MaintenanceSettings, checkpointInterval?: number): MaintainOptions {
  return {
    targetFileBytes: settings.optimizeTargetBytes,
    minFilesPerPartition: settings.optimizeMinFiles,
    defaultRetentionHours: settings.vacuumRetentionHours,
    ...(checkpointInterval !== undefined ? { checkpointInterval } : {}),
  };
}
