/**
 * The activities of the `refresh` orchestration.
 *
 * - `refreshPlan` `{ pipeline, fullRefresh }` → the plan (tables by level). Unknown pipelines or
 *   full-refresh table names are terminal errors.
 * - `refreshTable` `{ pipeline, table, fullRefresh, runId }` → the table's `TableUpdateMetrics`: the
 *   pipeline is resolved by name in this process, `refreshTable` (shared/refresh) does the work exactly
 *   once per source version, and the update is recorded in the event log with its lineage.
 *
 * Errors: anything not transient (see shared/errors.ts) is marked `nonRetriable`, so RetryOptions
 * stop at once on the local engine. A failed update is recorded in the event log too. A table whose
 * inputs have no Delta table yet is `unchanged`, not failed: nothing has arrived to refresh from.
 *
 * At least once: when an attempt's result was lost after its commit (a host crash), the retry finds
 * its source versions applied and reports `unchanged` (or `skipped` when both raced); the activity then
 * returns the metrics the first attempt recorded in the event log for this run and table, so the
 * run's accounting stays whole. (If that attempt died between its commit and its event record, the
 * retry's `unchanged` metrics are what the run reports; the table itself is right either way.)
 *
 * When the services have a `tableRuns` reporter (OpenLineage), each update is reported as it starts
 * and as it completes or fails for good (a transient failure is retried and reported by the retry).
 */
import type { InvocationContext } from '@azure/functions';
import { errorText, isTransient } from '../errors';
import { tableNamed, type PipelineDefinition } from '../pipeline';
import { loadIfExists } from '../refresh/commit';
import { refreshTable } from '../refresh/refresh';
import { emptyMetrics } from '../refresh/metrics';
import type { LakeTables, TableUpdateMetrics } from '../refresh/types';
import type { TableUpdateEvent } from './event-log';
import { tableLineage } from './lineage';
import { TABLE_ACTIVITY, type TableActivityInput } from './fan-out';
import { tableUpdateLine } from './describe-update';
import { pipelineName } from '../pipeline/name';
import { findPipeline, planRefresh, type RefreshPlan } from './plan';
import type { RunServices } from './services';
import type { TableRunContext } from '../lineage';
import { inSpan, logLine, meter } from '../telemetry';

/** Input of `refreshPlan`. */
export interface PlanActivityInput {
  pipeline: string;
  fullRefresh?: boolean | string[];
  /** The run's id and the requests it serves: each request's record then names this run. */
  runId?: string;
  requests?: string[];
}

/** A failure no retry can fix. */
function terminal(message: string): Error {
  return Object.assign(new Error(message), { nonRetriable: true });
}

/** Mark a non-transient error non-retriable (RetryOptions then stop). */
function marked(err: unknown): unknown {
  if (err instanceof Error && !isTransient(err)) Object.assign(err, { nonRetriable: true });
  return err;
}

function resolve(services: RunServices, name: string) {
  const all = services.pipelines();
  const definition = findPipeline(all, name);
  if (!definition) throw terminal(`no pipeline named "${name}" is loaded (pipelines: ${all.map(pipelineName).join(', ') || 'none'}; check SLUICE_PIPELINES)`);
  return definition;
}

async function withRetries<T>(what: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await what();
    } catch (err) {
      if (i >= attempts || !isTransient(err)) throw err;
      await new Promise((r) => setTimeout(r, 250 * i));
    }
  }
}

/** The inputs of a table (bronze sources or tables) that have no Delta table yet. */
async function missingInputs(definition: PipelineDefinition, table: string, lake: LakeTables): Promise<string[]> {
  const from = definition.tables[table]?.from ?? [];
  const exists = await Promise.all(
    from.map(async (name) => (await loadIfExists(lake(definition.sources[name]?.table ?? definition.tables[name].table))) !== null),
  );
  return from.filter((_, i) => !exists[i]);
}

/**
 * The plan activity over some services.
 *
 * @param services where pipelines come from
 * @returns the activity function
 */
export function planActivity(services: () => RunServices): (input: PlanActivityInput) => Promise<RefreshPlan> {
  return async (input) => {
    const s = services();
    const definition = resolve(s, input.pipeline);
    const plan = planRefresh(definition);
    if (Array.isArray(input.fullRefresh)) {
      const unknown = input.fullRefresh.filter((t) => !tableNamed(definition, t));
      if (unknown.length)
        throw terminal(
          `full refresh of ${unknown.join(', ')}: no such table in pipeline ${input.pipeline} (tables: ${Object.keys(definition.tables).join(', ')})`,
        );
    }
    const { runId, requests } = input;
    if (s.events && runId && requests?.length) {
      const events = s.events;
      // Before any table runs, so that a request's record leads to the run's table updates from the start.
      await withRetries(() => Promise.all(requests.map((requestId) => events.recordRequest({ requestId, pipeline: input.pipeline, runId }))));
    }
    return plan;
  };
}

/**
 * The table activity over some services.
 *
 * @param services lake, pipelines, event log
 * @returns the activity function
 */
export function tableActivity(services: () => RunServices): (input: TableActivityInput, context: InvocationContext) => Promise<TableUpdateMetrics> {
  const update = tableUpdate(services);
  return (input, context) =>
    inSpan('sluice.refresh.table', { pipeline: input.pipeline, table: input.table, runId: input.runId }, async (span) => {
      try {
        const metrics = await update(input, context);
        span.setAttributes({
          status: metrics.status,
          rowsIn: metrics.rowsRead,
          rowsOut: metrics.rowsOut,
          ...(metrics.targetVersion !== null ? { version: metrics.targetVersion } : {}),
        });
        countUpdate(input, metrics.status, metrics);
        return metrics;
      } catch (err) {
        countUpdate(input, 'failed');
        throw err;
      }
    });
}

/**
 * Count a table update in OpenTelemetry as it happens (the metrics timer stores the same figures from
 * the event log): `sluice.table.updates` by status (`failed` included), rows in and out.
 */
function countUpdate(input: TableActivityInput, status: string, metrics?: TableUpdateMetrics): void {
  const m = meter();
  const attributes = { pipeline: input.pipeline, table: input.table };
  m.createCounter('sluice.table.updates', { description: 'Table updates by status' }).add(1, { ...attributes, status });
  if (!metrics) return;
  m.createCounter('sluice.table.rowsIn', { unit: 'rows' }).add(metrics.rowsRead, attributes);
  m.createCounter('sluice.table.rowsOut', { unit: 'rows' }).add(metrics.rowsOut, attributes);
  m.createCounter('sluice.table.quarantinedRows', { unit: 'rows' }).add(metrics.quarantined, attributes);
  m.createCounter('sluice.table.droppedRows', { unit: 'rows' }).add(metrics.dropped, attributes);
}

function tableUpdate(services: () => RunServices): (input: TableActivityInput, context: InvocationContext) => Promise<TableUpdateMetrics> {
  return async (input, context) => {
    const s = services();
    const definition = resolve(s, input.pipeline);
    const base = { runId: input.runId, pipeline: input.pipeline, table: input.table };
    const reported: TableRunContext = {
      definition,
      table: input.table,
      runId: input.runId,
      lake: s.lake,
      log: (line) => context.warn(`${TABLE_ACTIVITY}: ${line}`),
    };
    // The reporter never throws: lineage out is a by-product of the update, not a condition of it.
    await s.tableRuns?.started(reported);
    let metrics: TableUpdateMetrics;
    try {
      metrics = await refreshTable({
        definition,
        table: input.table,
        lake: s.lake,
        fullRefresh: input.fullRefresh,
        ...(s.sql ? { sql: s.sql } : {}),
        ...(s.piiKey ? { piiKey: s.piiKey } : {}),
        ...(s.catalog ? { onCommitted: (path: string) => s.catalog!.afterCommit(path, (line) => context.warn(`${TABLE_ACTIVITY}: ${line}`))() } : {}),
      });
    } catch (err) {
      if ((err as Error).name === 'NotATableError') {
        const missing = await missingInputs(definition, input.table, s.lake);
        if (missing.length) {
          // Nothing to read yet (a new deployment, a schedule firing before the first file): not a failure.
          context.log(`${TABLE_ACTIVITY}: ${input.table}: nothing to refresh yet, ${missing.join(', ')} ${missing.length === 1 ? 'has' : 'have'} no table`);
          const empty = emptyMetrics(definition.tables[input.table], []);
          // Recorded like any update, so that the run's record is complete (outcome.ts counts tables).
          if (s.events)
            await withRetries(() => s.events!.record({ ...base, status: empty.status, recordedAt: new Date().toISOString(), metrics: empty })).catch((e) =>
              context.warn(`${TABLE_ACTIVITY}: ${input.table}: event not recorded: ${errorText(e)}`),
            );
          await s.tableRuns?.completed(reported, empty);
          return empty;
        }
      }
      if (!isTransient(err) && s.events) {
        await s.events
          .record({ ...base, status: 'failed', recordedAt: new Date().toISOString(), error: errorText(err) })
          .catch((e) => context.warn(`${TABLE_ACTIVITY}: ${input.table}: event not recorded: ${errorText(e)}`));
      }
      // A transient failure is retried, and the retry reports START again under the same run id.
      if (!isTransient(err)) await s.tableRuns?.failed(reported, errorText(err));
      throw marked(err);
    }
    if (metrics.status !== 'updated' && s.events) {
      // An earlier attempt of this run committed (its result was lost): report what it did.
      const earlier = (await s.events.runEvents(input.runId).catch(() => [] as TableUpdateEvent[])).find(
        (e) => e.table === input.table && e.metrics?.status === 'updated',
      );
      if (earlier?.metrics) {
        await s.tableRuns?.completed(reported, earlier.metrics);
        return earlier.metrics;
      }
    }
    if (s.events) {
      try {
        const lineage = await tableLineage(definition, metrics, s.lake);
        await withRetries(() => s.events!.record({ ...base, status: metrics.status, recordedAt: new Date().toISOString(), metrics, lineage }));
      } catch (err) {
        // The update is committed and its metrics reach the run's output; a missing record is logged, not worth failing the run.
        context.error(`${TABLE_ACTIVITY}: ${input.table} (run ${input.runId}): the update is committed but its event was not recorded: ${errorText(err)}`);
      }
    }
    await s.tableRuns?.completed(reported, metrics);
    logLine(context, 'information', `${TABLE_ACTIVITY}: ${tableUpdateLine(metrics)}`, {
      pipeline: input.pipeline,
      table: input.table,
      runId: input.runId,
      status: metrics.status,
      version: metrics.targetVersion,
    });
    return metrics;
  };
}
