/**
 * The `maintainLake` Durable orchestration the nightly timer starts (timer.ts), and its activities:
 *
 * - `maintenancePlan` → the tables of the served pipelines (bronze tables of the sources, silver and
 *   gold tables), each once;
 * - `maintainTable` `{ pipeline, name, path, now? }` → that table's `MaintenanceReport`, one activity
 *   per table, `MAINTENANCE_WAVE` at a time (a lake of hundreds of tables never has hundreds of
 *   rewrites in flight on one instance). A table that cannot be maintained is reported skipped with
 *   its reason and the rest proceed; the activity never fails for a table's sake;
 * - `pruneSluiceState` `{ now? }` → the event log rows deleted (state-retention.ts), and the ledger
 *   entries whose landing blob is gone.
 *
 * One instance at a time (`MAINTENANCE_INSTANCE`): a tick while the previous night's run still runs
 * starts nothing. The per-table lease (lease.ts) also keeps a `sluice maintain` and the timer apart.
 * The input's `now` is the clock of the retention cutoffs; the timer leaves it out (real time), tests
 * set it to simulate the passing of days.
 */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { errorText } from '../errors';
import { pipelineName } from '../pipeline/name';
import type { PipelineDefinition } from '../pipeline';
import type { ActivityFunction, OrchestrationRegistry } from '../orchestration/types';
import { maintainTable, maintenanceLines, type MaintenanceReport } from './maintain';
import { runtimeMaintenanceServices, type MaintenanceServices } from './services';
import { DAY_MS, pruneEventLog, pruneLedger } from './state-retention';

/** Orchestrator name. */
export const MAINTENANCE_ORCHESTRATOR = 'maintainLake';
/** Activity listing the tables. */
export const MAINTENANCE_PLAN_ACTIVITY = 'maintenancePlan';
/** Activity maintaining one table. */
export const MAINTAIN_TABLE_ACTIVITY = 'maintainTable';
/** Activity pruning the event log and the ledger. */
export const PRUNE_STATE_ACTIVITY = 'pruneSluiceState';
/** The one instance id: never two maintenance runs at once. */
export const MAINTENANCE_INSTANCE = 'sluice-maintenance';
/** Tables maintained at once by one run. */
export const MAINTENANCE_WAVE = 8;

/** Input of the orchestration. */
export interface MaintenanceInput {
  /** Clock of the retention cutoffs (ms); absent: each activity's real time. */
  now?: number;
  /** Why it started (the timer's tick), for the status. */
  reason?: string;
}

/** One table to maintain. */
export interface MaintenanceTarget {
  pipeline: string;
  /** `bronze` source name or silver/gold table name. */
  name: string;
  /** Table path in the lake container. */
  path: string;
}

/** What `pruneSluiceState` did. */
export interface StatePruned {
  /** Event log rows recorded before `eventsBefore` deleted. */
  events: number;
  eventsBefore: string;
  /** Ledger entries whose landing blob is gone deleted (null: the ledger was left alone). */
  ledger: number | null;
}

/** Output of the orchestration. */
export interface MaintenanceOutput {
  tables: (MaintenanceReport & MaintenanceTarget)[];
  state: StatePruned;
}

/** Progress in the custom status. */
export interface MaintenanceProgress {
  total: number;
  done: number;
}

/**
 * The tables of pipelines, each path once, in definition order.
 *
 * @param pipelines the served pipelines
 * @returns the targets
 */
export function servedTables(pipelines: readonly PipelineDefinition[]): MaintenanceTarget[] {
  const out = new Map<string, MaintenanceTarget>();
  for (const p of pipelines) {
    const pipeline = pipelineName(p);
    for (const s of Object.values(p.sources)) if (!out.has(s.table)) out.set(s.table, { pipeline, name: s.name, path: s.table });
    for (const t of Object.values(p.tables)) if (!out.has(t.table)) out.set(t.table, { pipeline, name: t.name, path: t.table });
  }
  return [...out.values()];
}

/** The maintenance orchestrator. */
export const maintenanceOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = (context.df.getInput() ?? {}) as MaintenanceInput;
  const clock = input.now === undefined ? {} : { now: input.now };
  const targets = (yield context.df.callActivity(MAINTENANCE_PLAN_ACTIVITY, clock)) as MaintenanceTarget[];
  const tables: MaintenanceOutput['tables'] = [];
  const progress: MaintenanceProgress = { total: targets.length, done: 0 };
  context.df.setCustomStatus(progress);
  for (let i = 0; i < targets.length; i += MAINTENANCE_WAVE) {
    const wave = targets.slice(i, i + MAINTENANCE_WAVE);
    const reports = (yield context.df.Task.all(wave.map((t) => context.df.callActivity(MAINTAIN_TABLE_ACTIVITY, { ...t, ...clock })))) as (MaintenanceReport &
      MaintenanceTarget)[];
    tables.push(...reports);
    progress.done = tables.length;
    context.df.setCustomStatus(progress);
  }
  // Pruning touches two Azure Tables and the landing listing: a transient storage error is retried
  // rather than failing a run whose tables are already maintained.
  const retry = new df.RetryOptions(10_000, 3);
  retry.backoffCoefficient = 2;
  const state = (yield context.df.callActivityWithRetry(PRUNE_STATE_ACTIVITY, retry, clock)) as StatePruned;
  const output: MaintenanceOutput = { tables, state };
  return output;
};

/**
 * `maintenancePlan` over a process's services.
 *
 * @param services the services (or how to get them)
 * @returns the activity
 */
export function planActivity(services: () => MaintenanceServices): ActivityFunction {
  return () => servedTables(services().pipelines());
}

/**
 * `maintainTable` over a process's services.
 *
 * @param services the services (or how to get them)
 * @returns the activity
 */
export function tableActivity(services: () => MaintenanceServices): ActivityFunction {
  return async (input: MaintenanceTarget & { now?: number }, context: InvocationContext) => {
    const s = services();
    const target = { pipeline: input.pipeline, name: input.name, path: input.path };
    let report: MaintenanceReport;
    try {
      report = await maintainTable(s.lake(input.path), {
        ...s.options,
        ...(input.now === undefined ? {} : { now: input.now }),
        holder: `maintenance timer (${context.invocationId})`,
      });
    } catch (err) {
      report = { table: input.path, dryRun: false, skipped: `maintenance failed: ${errorText(err)}` };
    }
    // Optimize commits a version: the catalog follows, as after any commit.
    if (s.catalog && report.versionAfter !== undefined && report.versionAfter !== report.versionBefore)
      await s.catalog.afterCommit(input.path, (line) => context.warn(`maintainTable: ${line}`))();
    for (const line of maintenanceLines(report)) context.log(`maintainTable: ${input.pipeline}/${input.name}: ${line}`);
    return { ...report, ...target };
  };
}

/**
 * `pruneSluiceState` over a process's services.
 *
 * @param services the services (or how to get them)
 * @returns the activity
 */
export function pruneActivity(services: () => MaintenanceServices): ActivityFunction {
  return async (input: { now?: number }, context: InvocationContext): Promise<StatePruned> => {
    const s = services();
    const before = new Date((input.now ?? Date.now()) - s.eventsRetentionDays * DAY_MS);
    const events = await pruneEventLog(s.events, before);
    const ledger = s.ledger ? await pruneLedger(s.ledger.table, s.ledger.landing) : null;
    context.log(
      `pruneSluiceState: ${events} event log row(s) recorded before ${before.toISOString()} deleted; ${ledger ?? 'no'} ledger entr(ies) of deleted landing blobs deleted`,
    );
    return { events, eventsBefore: before.toISOString(), ledger };
  };
}

/** Orchestrators of maintenance, by name (functions/definitions.ts registers them). */
export const MAINTENANCE_ORCHESTRATORS: readonly { name: string; handler: OrchestrationHandler }[] = [
  { name: MAINTENANCE_ORCHESTRATOR, handler: maintenanceOrchestrator },
];
/** Activities of maintenance over the process's runtime, by name. */
export const MAINTENANCE_ACTIVITIES: readonly { name: string; handler: ActivityFunction }[] = [
  { name: MAINTENANCE_PLAN_ACTIVITY, handler: planActivity(runtimeMaintenanceServices) },
  { name: MAINTAIN_TABLE_ACTIVITY, handler: tableActivity(runtimeMaintenanceServices) },
  { name: PRUNE_STATE_ACTIVITY, handler: pruneActivity(runtimeMaintenanceServices) },
];

/**
 * The registry an `OrchestrationEngine` runs maintenance with, over given services (tests).
 *
 * @param services the services
 * @returns orchestrators and activities by name
 */
export function maintenanceRegistry(services: MaintenanceServices): OrchestrationRegistry {
  const get = () => services;
  return {
    orchestrators: { [MAINTENANCE_ORCHESTRATOR]: maintenanceOrchestrator },
    activities: { [MAINTENANCE_PLAN_ACTIVITY]: planActivity(get), [MAINTAIN_TABLE_ACTIVITY]: tableActivity(get), [PRUNE_STATE_ACTIVITY]: pruneActivity(get) },
  };
}
