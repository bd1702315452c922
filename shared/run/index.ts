/**
 * Pipeline runs: the `refresh` Durable orchestration and its activities, the run client (Azure's
 * Durable client or the local engine behind one interface), the event log of table updates with
 * lineage, the run API, and the triggers (after a bronze commit, on a schedule).
 */
export { refreshOrchestrator, REFRESH_ORCHESTRATOR, PLAN_ACTIVITY, CATCH_UP_EVENT } from './orchestrator';
export { mergeCatchUp, mergeFullRefresh } from './catch-up';
export type { CatchUpRequest } from './catch-up';
export type { RefreshOutput, RefreshProgress, TableFailure, TableProgress } from './orchestrator';
export type { RefreshInput } from './types';
export { chunkTables, failureReason, fanOutLimit, MAX_FAN_OUT, REFRESH_TABLES_ORCHESTRATOR, refreshTablesOrchestrator, TABLE_ACTIVITY } from './fan-out';
export type { RefreshTablesInput, RefreshTablesOutput, TableActivityInput, TableOutcome } from './fan-out';
export { planActivity, tableActivity } from './activities';
export type { PlanActivityInput } from './activities';
export { orchestrationRegistry, refreshPlanActivity, refreshTableActivity, RUN_ACTIVITIES, RUN_ORCHESTRATORS } from './registry';
export { DurableRunClient, EngineRunClient, isActive } from './client';
export type { PurgeResult, RunClient, RunRuntimeStatus, RunStart, RunStatus, TerminateResult } from './client';
export { blockedBy, findPipeline, pipelineOfInstance, planRefresh, runInstanceId, tablesReadingSource } from './plan';
export type { RefreshPlan } from './plan';
export { EventLog } from './event-log';
export type { RunRequestRecord, TableUpdateEvent } from './event-log';
export { recordedOutcome, requestProgress } from './outcome';
export { tableUpdateLine, tableUpdateReport } from './describe-update';
export type { RecordedOutcome, RequestProgress } from './outcome';
export { tableLineage, MAX_COMMITS } from './lineage';
export type { BronzeInput, SourceLineage, TableLineage } from './lineage';
export { runtimeServices } from './services';
export type { RunServices } from './services';
export { runTotals } from './totals';
export type { RunTotals } from './totals';
export { AuditLog, auditLogOf, callerOf, markLocalHost, MAX_AUDIT } from './audit';
export type { AuditAction, AuditCaller, AuditRecord } from './audit';
export {
  auditResponse,
  purgeRunResponse,
  requestStatusResponse,
  runStatusResponse,
  startOptions,
  startRunResponse,
  tableUpdatesResponse,
  terminateRunResponse,
} from './api';
export type { ApiOrigin, ApiResponse, AuditContext } from './api';
export { ScheduledStartError, startRunAfterBronze, startRunAfterTableCommit, startScheduledRuns } from './triggers';
export { sweepUnappliedBronze, unappliedSources, unservedBronzeVersion, SWEEP_SKEW_MS } from './sweep';
export type { SweepResult, UnappliedSource } from './sweep';
export type { BronzeCommit, TableCommit } from './triggers';
export { duePipelines, MAX_SCHEDULE_CATCH_UP_MS, SCHEDULE_TICK, scheduleSince } from './schedule';
export { lineageGraph, MAX_LINEAGE_NODES, TableGraph, tableId, UnknownLineagePathError, UnknownLineageVersionError } from './lineage-graph';
export type { LineageDirection, LineageEdge, LineageGraph, LineageNode, LineageNodeKind, LineageRequest } from './lineage-graph';
export { lineageOptions, lineageResponse } from './lineage-api';
export type { LineageOptions, LineageSources } from './lineage-api';
