/**
 * The metrics timer's work (functions/monitoring.ts is its trigger adapter): collect, store the points,
 * judge the objectives and record their breaches, hand everything to OpenTelemetry, and remove rows
 * older than the retention. Event-log updates are read from a little before the previous collection,
 * so an update recorded late (a long activity) is not missed; points are idempotent, so the overlap
 * stores nothing twice.
 */
import type { TableClient } from '@azure/data-tables';
import type { SluiceRuntime } from '../host/context';
import type { RunServices } from '../run/services';
import { openLakeStore, openLakeTables } from '../storage/lake';
import { DEAD_LETTER_FOLDER, LOCAL_HOST_EVENT_HUBS_TABLE, METRICS_TABLE } from '../storage/lake-layout';
import { collectMetrics, type CollectInputs } from './collect';
import type { HubPositions } from './ingestion-lag';
import { eventHubPositions } from './hub-positions';
import { MetricStore, type ObjectiveBreach } from './metric-store';
import { evaluateObjectives } from './objectives';
import { recordCollection, recordRunSpans } from './telemetry';

/** Event-log updates are read again from this long before the previous collection. */
export const EVENTS_OVERLAP_MS = 15 * 60_000;
/** How far back the first collection reads the event log. */
export const FIRST_COLLECTION_MS = 24 * 3_600_000;
const DAY_MS = 86_400_000;

/** What the timer needs. */
export interface MetricsTimerInputs extends Omit<CollectInputs, 'now' | 'eventsSince'> {
  store: MetricStore;
  /** Days of points and breaches kept. */
  retentionDays: number;
  /** Clock (tests stop time or move it). */
  now?: () => Date;
}

/** What one tick did. */
export interface MetricsTick {
  at: string;
  points: number;
  breaches: ObjectiveBreach[];
  removed: number;
  problems: string[];
}

/**
 * Run the metrics timer once.
 *
 * @param inputs stores, pipelines, store of metrics, retention, clock
 * @returns counts, breaches and problems
 */
export async function runMetricsTimer(inputs: MetricsTimerInputs): Promise<MetricsTick> {
  const now = (inputs.now ?? (() => new Date()))();
  const watermark = await inputs.store.readWatermark();
  const eventsSince = new Date(watermark ? Math.min(watermark.getTime(), now.getTime()) - EVENTS_OVERLAP_MS : now.getTime() - FIRST_COLLECTION_MS);
  const collection = await collectMetrics({ ...inputs, now, eventsSince });
  await inputs.store.write(collection.points);
  const breaches = evaluateObjectives(inputs.pipelines, collection.measured, now);
  await inputs.store.recordBreaches(breaches);
  recordCollection(collection.points, breaches, now);
  recordRunSpans(collection.runs, watermark, now);
  const removed = await inputs.store.removeBefore(new Date(now.getTime() - inputs.retentionDays * DAY_MS));
  await inputs.store.writeWatermark(now);
  return { at: now.toISOString(), points: collection.points.length, breaches, removed, problems: collection.problems };
}

/**
 * Last enqueued sequence numbers as the local host's Event Hubs stand-in keeps them (dev/eventhubs.ts:
 * the next sequence number per hub, one partition `0`).
 *
 * @param table the stand-in's table
 * @returns the reader (null for a hub it never saw)
 */
export function localHubPositions(table: TableClient): HubPositions {
  return async (hub) => {
    try {
      const row = await table.getEntity<{ nextSequence: number }>(hub.toLowerCase(), '0');
      return { '0': Number(row.nextSequence) - 1 };
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 404) return null;
      throw err;
    }
  };
}

/** The metrics table of the lake account. */
export function metricStoreOf(runtime: SluiceRuntime): MetricStore {
  return new MetricStore(openLakeTables(runtime.settings.lake)(METRICS_TABLE));
}

/**
 * The timer's inputs in a running app (the Functions host or the local host).
 *
 * @param runtime the runtime context
 * @param services the run services (event log, lake)
 * @returns the inputs
 */
export function runtimeMetricsInputs(runtime: SluiceRuntime, services: RunServices): MetricsTimerInputs {
  const { settings } = runtime;
  // The local host's stand-in for Event Hubs goes by the emulator's connection string; it keeps its own positions.
  const emulated = /UseDevelopmentEmulator=true/i.test(process.env.SLUICE_EVENTHUB ?? '');
  const hub = runtime.triggers.eventHub;
  const hubPositions = emulated ? localHubPositions(openLakeTables(settings.lake)(LOCAL_HOST_EVENT_HUBS_TABLE)) : hub ? eventHubPositions(hub) : undefined;
  return {
    pipelines: runtime.pipelines,
    lake: services.lake,
    landing: runtime.landing,
    ledger: runtime.ledger,
    deadLetters: openLakeStore(settings, DEAD_LETTER_FOLDER),
    events: services.events,
    optimizeTargetBytes: settings.optimizeTargetBytes,
    ...(hubPositions ? { hubPositions } : {}),
    store: metricStoreOf(runtime),
    retentionDays: settings.metricsRetentionDays,
  };
}
