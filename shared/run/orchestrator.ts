/**
 * The `refresh` orchestration: one run of a pipeline's silver/gold refresh.
 *
 * 1. The plan comes from an activity (`refreshPlan`), so the generator does no I/O and replays the
 *    same plan whatever the definition files do meanwhile. The same activity records which run serves
 *    the requests in the input (event-log.ts), so a client can find the run's outcome after the
 *    instance has moved on to the next run.
 * 2. Level by level (tables reading bronze first, then the tables reading them, gold last), the tables
 *    of a level run in parallel as `refreshTable` activities with RetryOptions. Activities receive
 *    references (pipeline name, table name, full refresh, run id), never rows, and return metrics.
 *    A level with more tables than the fan-out limit (`MAX_FAN_OUT`, 16, or `maxFanOut` in the input)
 *    is split into `refreshTables` sub-orchestrations (fan-out.ts); their outcomes are merged, so the
 *    output, custom status and failure rules below do not depend on the split.
 * 3. A failed table does not stop the tables that do not read it, directly or indirectly: they still
 *    run, so one bad table does not freeze a whole pipeline. The tables downstream of it are held back
 *    (`blocked`). Once everything that can run has run, the run fails naming each failed table and its
 *    reason; the metrics of the others are in the custom status and the event log.
 * 4. Retries are for transient errors (storage throttling, network, commit contention). The activity
 *    marks terminal errors (a definition problem, a non-append bronze change, a `fail` expectation)
 *    `nonRetriable`; the local engine stops retrying them at once. The Durable extension in Azure may
 *    retry them anyway up to `maxNumberOfAttempts`: harmless, because a refresh commits nothing when it
 *    fails and is exactly once per source version, only wasteful (a few more minutes before the run
 *    reports the failure).
 * 5. Catching up: one instance per pipeline (`refresh-<pipeline>`), on the local engine as in Azure.
 *    A trigger during a run raises the external event `catchUp` (client.ts). Events raised during the
 *    run are buffered, so before finishing the run takes a last look (`stage: catching-up`): every
 *    `catchUp` event buffered by then is merged into one continuation (catch-up.ts), and the run
 *    continues as new so the new bronze versions are applied by the same instance. An event raised
 *    after that look is not lost: its starter sees the run end without it and starts the next run
 *    or, when another trigger started or continued the run in the meantime, raises it again there.
 *    The look is a timer due at once: a buffered event is delivered before it, so no wait is needed.
 *
 * Custom status: `{ stage, level, levels, done, running, failed, total, tables }` where `tables` maps
 * each table to its state and, once done, its main counts (and completeness, for tables declaring
 * mandatory fields).
 */
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import type { TableUpdateMetrics } from '../refresh/types';
import { fanOutLimit, refreshTablesFanOut, tableRetry, type TableActivityInput, type TableOutcome } from './fan-out';
import { mergeCatchUp, type CatchUpRequest } from './catch-up';
import type { PlanActivityInput } from './activities';
import { blockedBy, type RefreshPlan } from './plan';
import { runTotals, type RunTotals } from './totals';
import type { RefreshInput } from './types';

/** Orchestrator name. */
export const REFRESH_ORCHESTRATOR = 'refresh';
/** Activity that plans the run. */
export const PLAN_ACTIVITY = 'refreshPlan';
/** External event that makes a running refresh catch up. */
export const CATCH_UP_EVENT = 'catchUp';
/** Most buffered `catchUp` events merged into one continuation (the rest wait for the next run). */
const MAX_DRAINED_EVENTS = 50;

/** A table that failed, and why. */
export interface TableFailure {
  table: string;
  reason: string;
}

/** Output of a completed run. */
export interface RefreshOutput {
  pipeline: string;
  runId: string;
  reason: string | null;
  /** Per table, in plan order. */
  tables: TableUpdateMetrics[];
  totals: RunTotals;
}

/** One table's line in the custom status. */
export interface TableProgress {
  state: 'pending' | 'running' | 'updated' | 'unchanged' | 'skipped' | 'failed' | 'blocked';
  targetVersion?: number | null;
  rowsRead?: number;
  inserted?: number;
  updated?: number;
  quarantined?: number;
  /** Share of the rows checked with every mandatory field (tables declaring some; see metrics.ts). */
  completenessPct?: number | null;
  error?: string;
}

/** The custom status of a run. */
export interface RefreshProgress {
  stage: 'planning' | 'refreshing' | 'catching-up' | 'completed' | 'failed';
  runId: string;
  level: number;
  levels: number;
  total: number;
  done: number;
  running: number;
  failed: number;
  tables: Record<string, TableProgress>;
}

function fullRefreshOf(input: RefreshInput, table: string): boolean {
  return Array.isArray(input.fullRefresh) ? input.fullRefresh.includes(table) : input.fullRefresh === true;
}

/**
 * The orchestrator (registered as `refresh`).
 *
 * @param context the orchestration context
 * @returns the run's metrics
 */
export const refreshOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput() as RefreshInput;
  if (!input || typeof input.pipeline !== 'string' || !input.pipeline) throw new Error('refresh: the input must name a pipeline ({ "pipeline": "<name>" })');
  const maxFanOut = fanOutLimit(input.maxFanOut);
  const runId = `${context.df.instanceId}@${context.df.currentUtcDateTime.toISOString()}`;
  const progress: RefreshProgress = { stage: 'planning', runId, level: 0, levels: 0, total: 0, done: 0, running: 0, failed: 0, tables: {} };
  const show = () => context.df.setCustomStatus(progress);
  show();

  const planInput: PlanActivityInput = {
    pipeline: input.pipeline,
    fullRefresh: input.fullRefresh ?? false,
    ...(input.requests?.length ? { runId, requests: input.requests } : {}),
  };
  const plan = (yield context.df.callActivityWithRetry(PLAN_ACTIVITY, tableRetry(), planInput)) as RefreshPlan;
  const order = plan.levels.flat();
  Object.assign(progress, { stage: 'refreshing', levels: plan.levels.length, total: order.length });
  for (const table of order) progress.tables[table] = { state: 'pending' };
  const results = new Map<string, TableUpdateMetrics>();
  const failures: TableFailure[] = [];

  for (let level = 0; level < plan.levels.length; level++) {
    const blocked = blockedBy(
      plan,
      failures.map((f) => f.table),
    );
    const runnable = plan.levels[level].filter((t) => !blocked.has(t));
    for (const t of plan.levels[level]) if (blocked.has(t)) progress.tables[t] = { state: 'blocked' };
    progress.level = level + 1;
    // An empty level (everything in it held back) schedules nothing: Task.any/all([]) would throw.
    if (runnable.length === 0) continue;
    const inputs: TableActivityInput[] = runnable.map((table) => ({ pipeline: input.pipeline, table, fullRefresh: fullRefreshOf(input, table), runId }));
    for (const table of runnable) progress.tables[table] = { state: 'running' };
    progress.running = runnable.length;
    show();
    yield* refreshTablesFanOut(
      context,
      inputs,
      maxFanOut,
      (chunk) => `${context.df.instanceId}:L${level + 1}:C${chunk}`,
      (outcome: TableOutcome, running: number) => {
        if (outcome.metrics) {
          const m = outcome.metrics;
          results.set(outcome.table, m);
          progress.tables[outcome.table] = {
            state: m.status,
            targetVersion: m.targetVersion,
            rowsRead: m.rowsRead,
            inserted: m.inserted,
            updated: m.updated,
            quarantined: m.quarantined,
            ...(m.completeness ? { completenessPct: m.completeness.pct } : {}),
          };
          progress.done++;
        } else {
          const reason = outcome.error ?? 'no result';
          failures.push({ table: outcome.table, reason });
          progress.tables[outcome.table] = { state: 'failed', error: reason.slice(0, 300) };
          progress.failed++;
        }
        progress.running = running;
        show();
      },
    );
  }

  if (failures.length > 0) {
    progress.stage = 'failed';
    show();
    const blocked = [
      ...blockedBy(
        plan,
        failures.map((f) => f.table),
      ),
    ].filter((t) => !failures.some((f) => f.table === t));
    const held = blocked.length ? `; not run because they read a failed table: ${blocked.join(', ')}` : '';
    throw new Error(`refresh of pipeline ${input.pipeline} (run ${runId}) failed: ${failures.map((f) => `${f.table}: ${f.reason}`).join(' | ')}${held}`);
  }

  const tables = order.map((t) => results.get(t)!);
  const output: RefreshOutput = { pipeline: input.pipeline, runId, reason: input.reason ?? null, tables, totals: runTotals(tables) };

  progress.stage = 'catching-up';
  show();
  // Several triggers during the run: their events are buffered; one run serves them all, merged.
  let asked: CatchUpRequest | undefined;
  for (let drained = 0; drained < MAX_DRAINED_EVENTS; drained++) {
    const event = context.df.waitForExternalEvent(CATCH_UP_EVENT);
    const now = context.df.createTimer(context.df.currentUtcDateTime);
    if (((yield context.df.Task.any([event, now])) as Task) !== event) break;
    if (!now.isCompleted) now.cancel();
    const data: CatchUpRequest = { fullRefresh: false, ...((event.result ?? {}) as CatchUpRequest) };
    asked = asked ? mergeCatchUp(asked, data) : { reason: 'catch-up after a trigger during the run', ...data };
  }
  if (asked) {
    const { fullRefresh, reason, requests } = asked;
    const { pipeline, maxFanOut } = input;
    context.df.continueAsNew({
      pipeline,
      fullRefresh,
      ...(reason !== undefined ? { reason } : {}),
      ...(requests ? { requests } : {}),
      ...(maxFanOut !== undefined ? { maxFanOut } : {}),
    } satisfies RefreshInput);
    return output;
  }
  progress.stage = 'completed';
  show();
  return output;
};
