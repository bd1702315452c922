/**
 * Fanning out the tables of one plan level, and splitting very large levels into sub-orchestrations.
 *
 * A Durable orchestration replays its whole history at every episode, so an instance that schedules
 * hundreds of activities replays hundreds of events each time one of them finishes. A level with more
 * tables than the fan-out limit (`MAX_FAN_OUT`, or `maxFanOut` in the run's input) is therefore split
 * into at most that many chunks of near-equal size, each run by the `refreshTables` sub-orchestration,
 * which refreshes its tables as activities (splitting again when a chunk is itself over the limit), and
 * returns one outcome per table. No instance ever has more than the limit of tasks in flight or in its
 * history per level, whatever the pipeline's size.
 *
 * Child ids are derived from the parent's id, the level and the chunk (`refresh-pos:L1:C0`, nested
 * `refresh-pos:L1:C0:C2`), so a replay schedules the same children and a later run of the same
 * pipeline replaces the finished children of the previous one instead of piling up instances.
 *
 * Progress: the parent's custom status shows a chunk's tables `running` until the chunk returns; the
 * child's own custom status (`{ total, done, failed, running }`) counts them as they finish.
 *
 * A table's failure is an outcome, not a failure of the child: the child always completes with every
 * table's metrics or error, so the parent's failed/blocked logic is the same whether a table ran as an
 * activity of the parent or of a child. A child fails only when it cannot run at all; the usual cause
 * is a child of an earlier, terminated run still running under the same id (terminate does not
 * cascade), so the chunk is retried after a pause, and if it still fails its tables are reported failed
 * with the reason.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import type { TableUpdateMetrics } from '../refresh/types';

/** Tables of one level refreshed directly by one instance; beyond this, sub-orchestrations. */
export const MAX_FAN_OUT = 16;
/** Name of the sub-orchestration that refreshes a chunk of a level. */
export const REFRESH_TABLES_ORCHESTRATOR = 'refreshTables';
/** Activity that refreshes one table. */
export const TABLE_ACTIVITY = 'refreshTable';

/** Input of the `refreshTable` activity: references only. */
export interface TableActivityInput {
  pipeline: string;
  table: string;
  fullRefresh: boolean;
  runId: string;
}

/** What became of one table: its metrics, or the reason it failed. */
export interface TableOutcome {
  table: string;
  metrics?: TableUpdateMetrics;
  error?: string;
}

/** Input of the `refreshTables` sub-orchestration. */
export interface RefreshTablesInput {
  tables: TableActivityInput[];
  maxFanOut: number;
}

/** Output of the `refreshTables` sub-orchestration: one outcome per table, in completion order. */
export interface RefreshTablesOutput {
  tables: TableOutcome[];
}

/** Retries of a table activity: transient errors only (terminal ones are marked non-retriable). */
export function tableRetry(): df.RetryOptions {
  const retry = new df.RetryOptions(5_000, 5);
  retry.backoffCoefficient = 2;
  retry.maxRetryIntervalInMilliseconds = 60_000;
  return retry;
}

/** Retries of a chunk: long enough for an orphaned child of a terminated run to finish. */
function chunkRetry(): df.RetryOptions {
  const retry = new df.RetryOptions(30_000, 3);
  retry.backoffCoefficient = 2;
  return retry;
}

/**
 * The message of a failed task, without the stack the wire format may append.
 *
 * @param error what the task failed with
 * @returns one line
 */
export function failureReason(error: unknown): string {
  const details = (error as { failureDetails?: { errorMessage?: string } })?.failureDetails;
  const text = details?.errorMessage ?? (error instanceof Error ? error.message : String(error));
  return text
    .split(/\s\n\s/)[0]
    .trim()
    .slice(0, 2_000);
}

/**
 * Check a fan-out limit from an orchestration input.
 *
 * @param value the input's `maxFanOut` (undefined: the default)
 * @returns the limit
 * @throws Error when it is not an integer of at least 2 (1 could never split a level)
 */
export function fanOutLimit(value: unknown): number {
  if (value === undefined || value === null) return MAX_FAN_OUT;
  if (!Number.isInteger(value) || (value as number) < 2) throw new Error(`refresh: maxFanOut must be an integer of at least 2; got ${JSON.stringify(value)}`);
  return value as number;
}

/**
 * Split tables into at most `limit` chunks of near-equal size (order kept).
 *
 * @param tables the tables of a level
 * @param limit the fan-out limit
 * @returns the chunks (one chunk when the tables fit the limit)
 */
export function chunkTables<T>(tables: readonly T[], limit: number): T[][] {
  if (tables.length <= limit) return [tables.slice()];
  const count = Math.min(limit, Math.ceil(tables.length / limit));
  const out: T[][] = [];
  for (let i = 0, start = 0; i < count; i++) {
    const size = Math.floor(tables.length / count) + (i < tables.length % count ? 1 : 0);
    out.push(tables.slice(start, start + size));
    start += size;
  }
  return out;
}

/**
 * Refresh tables from an orchestrator: as activities when they fit the limit, else as chunks run by
 * `refreshTables` sub-orchestrations with the ids `childId(chunk)`. Waits task by task (Task.all would
 * fail at the first failure and abandon the rest), reporting each table's outcome as it arrives.
 *
 * @param context the orchestration context
 * @param tables activity inputs
 * @param limit the fan-out limit
 * @param childId the instance id of a chunk's sub-orchestration
 * @param report called with each outcome and the number of tables still running
 */
export function* refreshTablesFanOut(
  context: OrchestrationContext,
  tables: readonly TableActivityInput[],
  limit: number,
  childId: (chunk: number) => string,
  report: (outcome: TableOutcome, running: number) => void,
): Generator<Task, void, unknown> {
  // Task.any([]) would throw: nothing to wait for.
  if (tables.length === 0) return;
  const pending = new Map<Task, { tables: string[]; chunk: boolean }>();
  if (tables.length <= limit) {
    for (const t of tables) pending.set(context.df.callActivityWithRetry(TABLE_ACTIVITY, tableRetry(), t), { tables: [t.table], chunk: false });
  } else {
    chunkTables(tables, limit).forEach((chunk, i) => {
      const input: RefreshTablesInput = { tables: chunk, maxFanOut: limit };
      pending.set(context.df.callSubOrchestratorWithRetry(REFRESH_TABLES_ORCHESTRATOR, chunkRetry(), input, childId(i)), {
        tables: chunk.map((t) => t.table),
        chunk: true,
      });
    });
  }
  let running = tables.length;
  while (pending.size > 0) {
    const finished = (yield context.df.Task.any([...pending.keys()])) as Task;
    const what = pending.get(finished)!;
    pending.delete(finished);
    let outcomes: TableOutcome[];
    if (finished.isFaulted) {
      const reason = failureReason(finished.result);
      outcomes = what.tables.map((table) => ({ table, error: what.chunk ? `the sub-orchestration refreshing it failed: ${reason}` : reason }));
    } else if (what.chunk) {
      outcomes = (finished.result as RefreshTablesOutput).tables;
    } else {
      outcomes = [{ table: what.tables[0], metrics: finished.result as TableUpdateMetrics }];
    }
    for (const outcome of outcomes) report(outcome, --running);
  }
}

/**
 * The `refreshTables` sub-orchestration: refreshes a chunk of one level and returns every table's
 * outcome. Its custom status counts its tables done, failed and running.
 *
 * @param context the orchestration context
 * @returns `{ tables: TableOutcome[] }`
 */
export const refreshTablesOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput() as RefreshTablesInput;
  if (!input || !Array.isArray(input.tables)) throw new Error('refreshTables: the input must list the tables ({ "tables": [...], "maxFanOut": n })');
  const limit = fanOutLimit(input.maxFanOut);
  const progress = { total: input.tables.length, done: 0, failed: 0, running: input.tables.length };
  context.df.setCustomStatus(progress);
  const outcomes: TableOutcome[] = [];
  yield* refreshTablesFanOut(
    context,
    input.tables,
    limit,
    (i) => `${context.df.instanceId}:C${i}`,
    (outcome, running) => {
      outcomes.push(outcome);
      if (outcome.error !== undefined) progress.failed++;
      else progress.done++;
      progress.running = running;
      context.df.setCustomStatus(progress);
    },
  );
  return { tables: outcomes } satisfies RefreshTablesOutput;
};
