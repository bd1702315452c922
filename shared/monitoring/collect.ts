/**
 * One collection of metrics over the served pipelines: each bronze, silver and gold table's state
 * (table-state.ts), bronze ingestion lag and dead letters (ingestion-lag.ts), and the table updates
 * and runs the event log recorded since the last collection (event-metrics.ts). A table that cannot
 * be read is named in `problems` and the others are still collected.
 */
import { tableKeyOf } from '../ingest/ingest';
import type { IngestLedger } from '../ingest/types';
import type { PipelineDefinition } from '../pipeline';
import { pipelineName } from '../pipeline/name';
import type { LakeTables } from '../refresh/types';
import type { EventLog } from '../run/event-log';
import type { ObjectStore } from '../storage/types';
import { errorText } from '../errors';
import { eventLogMetrics, lowestPassRate, type RunSummary } from './event-metrics';
import { deadLetterCounts, hubLag, landingLag, type HubPositions } from './ingestion-lag';
import type { MetricPoint } from './metric-store';
import type { Measured } from './objectives';
import { METRICS } from './names';
import { readTableState } from './table-state';

/** What a collection reads. */
export interface CollectInputs {
  pipelines: readonly PipelineDefinition[];
  /** Stores rooted at table paths of the lake container. */
  lake: LakeTables;
  /** Store rooted at the landing container. */
  landing: ObjectStore;
  ledger: IngestLedger;
  /** Store rooted at the dead-letter folder. */
  deadLetters: ObjectStore;
  /** The event log (null: no update or run metrics). */
  events: EventLog | null;
  /** Optimize's target file size (small files are below 75 % of it). */
  optimizeTargetBytes: number;
  /** Last enqueued Event Hubs positions (none: the lag is not measured). */
  hubPositions?: HubPositions;
  /** The collection time. */
  now: Date;
  /** Read event-log updates recorded at or after this time. */
  eventsSince: Date;
}

/** What a collection found. */
export interface Collection {
  points: MetricPoint[];
  /** Per table path, what the objectives are judged on. */
  measured: Map<string, Measured>;
  /** Tables or sources that could not be measured, with why. */
  problems: string[];
  /** Runs with table updates recorded since `eventsSince`. */
  runs: RunSummary[];
}

/**
 * Collect the metrics.
 *
 * @param inputs stores, ledger, event log, clock
 * @returns points, measurements and problems
 */
export async function collectMetrics(inputs: CollectInputs): Promise<Collection> {
  const { now } = inputs;
  const points: MetricPoint[] = [];
  const measured = new Map<string, Measured>();
  const problems: string[] = [];
  const runs: RunSummary[] = [];
  const at = (table: string, pipeline: string) => (metric: string, value: number | null) => {
    if (value !== null) points.push({ table, metric, time: now, value, pipeline });
  };

  const tableState = async (path: string, pipeline: string) => {
    const state = await readTableState(inputs.lake(path), inputs.optimizeTargetBytes);
    const point = at(path, pipeline);
    const freshness = state?.lastDataCommit ? Math.max(0, (now.getTime() - state.lastDataCommit.getTime()) / 1000) : null;
    measured.set(path, { ...measured.get(path), freshnessSeconds: freshness });
    if (!state) return null;
    point(METRICS.version, state.version);
    point(METRICS.files, state.files);
    point(METRICS.smallFiles, state.smallFiles);
    point(METRICS.rows, state.rows);
    point(METRICS.bytes, state.bytes);
    for (const [tier, bytes] of Object.entries(state.bytesByTier)) point(`${METRICS.bytesByTier}.${tier}`, bytes);
    point(METRICS.freshness, freshness);
    return state;
  };
  const guarded = async (what: string, work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (err) {
      problems.push(`${what}: ${errorText(err)}`);
    }
  };

  for (const pipeline of inputs.pipelines) {
    const name = pipelineName(pipeline);
    for (const source of Object.values(pipeline.sources)) {
      const point = at(source.table, name);
      await guarded(`${source.table} (source ${source.name})`, async () => {
        const state = await tableState(source.table, name);
        const dead = await deadLetterCounts(inputs.deadLetters, source.table);
        point(METRICS.deadLetteredRows, dead.rows);
        point(METRICS.deadLetterRecords, dead.records);
        measured.set(source.table, { ...measured.get(source.table), deadLetteredRows: dead.rows });
        if (source.landing !== undefined) {
          const lag = await landingLag(inputs.landing, source.landing, inputs.ledger, tableKeyOf(inputs.lake(source.table)), now);
          point(METRICS.landingPendingFiles, lag.pendingFiles);
          point(METRICS.landingOldestPending, lag.oldestPendingSeconds);
          if (lag.truncated) problems.push(`${source.table}: more landing files than one collection checks; the pending count is a floor`);
        }
        if (source.eventHub) {
          const lag = await hubLag(state?.txns ?? {}, source.eventHub.name, inputs.hubPositions);
          for (const [partition, sequence] of Object.entries(lag.applied)) point(`${METRICS.eventHubApplied}.${partition}`, sequence);
          point(METRICS.eventHubLag, lag.lagEvents);
        }
      });
    }
    for (const table of Object.values(pipeline.tables)) await guarded(`${table.table} (table ${table.name})`, () => tableState(table.table, name));
  }

  if (inputs.events) {
    await guarded('event log', async () => {
      const fromLog = await eventLogMetrics(inputs.events!, inputs.pipelines, inputs.eventsSince);
      points.push(...fromLog.points);
      runs.push(...fromLog.runs);
      for (const [path, event] of fromLog.latest) measured.set(path, { ...measured.get(path), passRate: lowestPassRate(event) });
    });
  }
  return { points, measured, problems, runs };
}
