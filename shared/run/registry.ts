/**
 * The durable functions of pipeline runs, as one list: `functions/definitions.ts` registers these with
 * `df.app.orchestration` / `df.app.activity`, and `orchestrationRegistry` hands the same functions to
 * the local engine (local host, CLI, tests), so Azure and local runs execute identical code.
 */
import type { OrchestrationHandler } from 'durable-functions';
import type { ActivityFunction, OrchestrationRegistry } from '../orchestration/types';
import { planActivity, tableActivity } from './activities';
import { REFRESH_TABLES_ORCHESTRATOR, refreshTablesOrchestrator, TABLE_ACTIVITY } from './fan-out';
import { PLAN_ACTIVITY, REFRESH_ORCHESTRATOR, refreshOrchestrator } from './orchestrator';
import { runtimeServices, type RunServices } from './services';

/** `refreshPlan` over the process's runtime (settings and SLUICE_PIPELINES). */
export const refreshPlanActivity = planActivity(runtimeServices);
/** `refreshTable` over the process's runtime. */
export const refreshTableActivity = tableActivity(runtimeServices);

/** Orchestrators of pipeline runs, by name: the run, and the sub-orchestration of large levels. */
export const RUN_ORCHESTRATORS: readonly { name: string; handler: OrchestrationHandler }[] = [
  { name: REFRESH_ORCHESTRATOR, handler: refreshOrchestrator },
  { name: REFRESH_TABLES_ORCHESTRATOR, handler: refreshTablesOrchestrator },
];
/** Activities of pipeline runs, by name. */
export const RUN_ACTIVITIES: readonly { name: string; handler: ActivityFunction }[] = [
  { name: PLAN_ACTIVITY, handler: refreshPlanActivity },
  { name: TABLE_ACTIVITY, handler: refreshTableActivity },
];

/**
 * The registry an `OrchestrationEngine` runs pipeline refreshes with.
 *
 * @param services where the activities find pipelines, the lake and the event log (default: the
 *   process's runtime, exactly the functions the Functions app registers)
 * @returns orchestrators and activities by name
 */
export function orchestrationRegistry(services?: RunServices | (() => RunServices)): OrchestrationRegistry {
  const orchestrators = Object.fromEntries(RUN_ORCHESTRATORS.map((o) => [o.name, o.handler]));
  if (!services) return { orchestrators, activities: Object.fromEntries(RUN_ACTIVITIES.map((a) => [a.name, a.handler])) };
  const get = typeof services === 'function' ? services : () => services;
  return { orchestrators, activities: { [PLAN_ACTIVITY]: planActivity(get), [TABLE_ACTIVITY]: tableActivity(get) } };
}
