/**
 * Metrics from the event log (shared/run/event-log.ts): each recorded table update becomes points at
 * the time it was recorded (rows in and out, quarantine and drop counts and rates, duration, each
 * expectation's pass rate, the lowest of them as `passRate`), and each run points at its start
 * (completed once every table is recorded, failed once one failed; duration from its start to its
 * last recorded update). Points carry the run id
 * as their key, so reading an update twice stores it once, and a run read again once more of its
 * tables were recorded replaces its earlier points.
 */
import type { PipelineDefinition } from '../pipeline';
import { pipelineName } from '../pipeline/name';
import type { EventLog, TableUpdateEvent } from '../run/event-log';
import type { MetricPoint } from './metric-store';
import { METRICS, runsSeries } from './names';

/** Updates read per table and collection, newest first. */
const MAX_UPDATES = 500;

/** The run start a run id carries (`<instance>@<ISO>`). */
export function runStart(runId: string): Date | null {
  const at = Date.parse(runId.slice(runId.lastIndexOf('@') + 1));
  return Number.isNaN(at) ? null : new Date(at);
}

/**
 * The lowest expectation pass rate of an update, over expectations that checked rows.
 *
 * @param event the update
 * @returns the rate from 0 to 1, or null when no expectation checked a row
 */
export function lowestPassRate(event: TableUpdateEvent): number | null {
  let lowest: number | null = null;
  for (const e of event.metrics?.expectations ?? []) {
    const checked = e.passed + e.failed;
    if (checked > 0) lowest = Math.min(lowest ?? 1, e.passed / checked);
  }
  return lowest;
}

/** Points of one table update. */
function updatePoints(pipeline: string, table: string, event: TableUpdateEvent): MetricPoint[] {
  const time = new Date(event.recordedAt);
  const point = (metric: string, value: number): MetricPoint => ({ table, metric, time, value, pipeline, key: event.runId });
  if (event.status === 'failed') return [point(METRICS.updateFailed, 1)];
  const m = event.metrics;
  if (!m) return [];
  const out = [
    point(METRICS.updateFailed, 0),
    point(METRICS.rowsIn, m.rowsRead),
    point(METRICS.rowsOut, m.rowsOut),
    point(METRICS.quarantinedRows, m.quarantined),
    point(METRICS.droppedRows, m.dropped),
    point(METRICS.updateDuration, m.durationMs / 1000),
  ];
  if (m.rowsOut > 0) out.push(point(METRICS.quarantineRate, m.quarantined / m.rowsOut), point(METRICS.dropRate, m.dropped / m.rowsOut));
  for (const e of m.expectations) {
    const checked = e.passed + e.failed;
    if (checked > 0) out.push(point(`${METRICS.expectationPassRate}.${e.name}`, e.passed / checked));
  }
  const lowest = lowestPassRate(event);
  if (lowest !== null) out.push(point(METRICS.passRate, lowest));
  return out;
}

/** One run as the event log shows it. */
export interface RunSummary {
  pipeline: string;
  runId: string;
  start: Date;
  /** When its last table update was recorded. */
  end: Date;
  failed: boolean;
  /** Tables recorded, and how many the pipeline has (a completed run records each once). */
  tablesRecorded: number;
  tableCount: number;
}

/** What the event log gave. */
export interface EventLogMetrics {
  points: MetricPoint[];
  /** Per table path, its newest update in which an expectation checked rows (for the pass-rate objective). */
  latest: Map<string, TableUpdateEvent>;
  /** The runs with an update recorded since the time asked for. */
  runs: RunSummary[];
}

/**
 * Points of the updates and runs recorded since a time.
 *
 * @param events the event log
 * @param pipelines the pipelines
 * @param since read updates recorded at or after this time
 * @returns points, each table's latest update, the runs
 */
export async function eventLogMetrics(events: EventLog, pipelines: readonly PipelineDefinition[], since: Date): Promise<EventLogMetrics> {
  const points: MetricPoint[] = [];
  const latest = new Map<string, TableUpdateEvent>();
  const summaries: RunSummary[] = [];
  for (const pipeline of pipelines) {
    const name = pipelineName(pipeline);
    // Every update read counts towards its run (a long run's first tables may be older than `since`).
    const runs = new Map<string, { end: number; failed: boolean; tables: Set<string>; recent: boolean }>();
    for (const table of Object.values(pipeline.tables)) {
      const all = await events.tableUpdates(name, table.name, MAX_UPDATES);
      // The newest update that checked rows, however old: what the pass-rate objective judges.
      const judged = all.find((e) => e.metrics && lowestPassRate(e) !== null);
      if (judged) latest.set(table.table, judged);
      for (const event of all) {
        const recent = Date.parse(event.recordedAt) >= since.getTime();
        if (recent) points.push(...updatePoints(name, table.table, event));
        const run = runs.get(event.runId) ?? { end: 0, failed: false, tables: new Set<string>(), recent: false };
        run.end = Math.max(run.end, Date.parse(event.recordedAt));
        run.failed ||= event.status === 'failed';
        run.tables.add(event.table);
        run.recent ||= recent;
        runs.set(event.runId, run);
      }
    }
    for (const [runId, run] of runs) {
      const start = runStart(runId);
      if (!start || !run.recent) continue;
      const point = (metric: string, value: number): MetricPoint => ({ table: runsSeries(name), metric, time: start, value, pipeline: name, key: runId });
      // A run still going (not every table recorded, none failed) is neither yet.
      const completed = !run.failed && run.tables.size >= Object.keys(pipeline.tables).length;
      points.push(
        point(METRICS.runsCompleted, completed ? 1 : 0),
        point(METRICS.runsFailed, run.failed ? 1 : 0),
        point(METRICS.runDuration, Math.max(0, (run.end - start.getTime()) / 1000)),
      );
      summaries.push({
        pipeline: name,
        runId,
        start,
        end: new Date(run.end),
        failed: run.failed,
        tablesRecorded: run.tables.size,
        tableCount: Object.keys(pipeline.tables).length,
      });
    }
  }
  return { points, latest, runs: summaries };
}
