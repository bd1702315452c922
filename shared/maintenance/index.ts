/**
 * Maintenance: of each table (optimize, checkpoint, vacuum, log cleanup) and of Sluice's own state
 * (Durable history, event log, ledger), run by the nightly `maintenance` timer and `sluice maintain`.
 */
export { maintainTable, maintenanceFailed, maintenanceLines, MAINTENANCE_DEFAULTS, MAINTENANCE_STEPS, planMaintenance } from './maintain';
export type { MaintainOptions, MaintenanceReport, StepReport, StepStatus } from './maintain';
export { acquireMaintenanceLease, LEASE_FOLDER, LEASE_MS, MaintenanceBusyError } from './lease';
export type { MaintenanceLease } from './lease';
export { maintenanceOptions } from './options';
export {
  MAINTAIN_TABLE_ACTIVITY,
  MAINTENANCE_ACTIVITIES,
  MAINTENANCE_INSTANCE,
  MAINTENANCE_ORCHESTRATOR,
  MAINTENANCE_ORCHESTRATORS,
  MAINTENANCE_PLAN_ACTIVITY,
  MAINTENANCE_WAVE,
  maintenanceRegistry,
  PRUNE_STATE_ACTIVITY,
  servedTables,
} from './orchestrator';
export type { MaintenanceInput, MaintenanceOutput, MaintenanceProgress, MaintenanceTarget, StatePruned } from './orchestrator';
export { runtimeMaintenanceServices } from './services';
export type { MaintenanceServices } from './services';
export { DAY_MS, pruneEventLog, pruneLedger } from './state-retention';
export { durableControl, engineControl, maintenanceControl, runMaintenanceTick } from './timer';
export type { MaintenanceControl, MaintenanceTick } from './timer';
