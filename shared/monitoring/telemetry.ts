/**
 * The metrics timer's values as OpenTelemetry instruments, exported to Application Insights when the
 * app registers the Azure Monitor exporter (functions/telemetry.ts), where the alert rules of
 * infra/app/monitoring.bicep query them:
 * - one gauge per state metric, `sluice.<metric>` (e.g. `sluice.freshnessSeconds`), with attributes
 *   `table` and `pipeline`; families carry their part as an attribute (`sluice.bytes` with `tier`,
 *   `sluice.eventHubAppliedSequence` with `partition`);
 * - the counter `sluice.objective.breaches` (attributes `table`, `pipeline`, `objective`).
 * - one span `sluice.run` per run, from its start to its last table update (attributes `pipeline`,
 *   `runId`, `outcome`, `tables`), emitted by the first collection after the run ended: once every
 *   table is recorded, or `FAILED_RUN_SETTLE_MS` after the last record of a failed run (the tables that
 *   do not read the failed one may still be running). The run's table updates are spans of their own
 *   (`sluice.refresh.table`, with the same `runId`).
 * Points dated before the collection (table updates and runs read from the event log) are not
 * re-emitted: the refresh activities emit those as they happen (shared/run/activities.ts).
 */
import { SpanStatusCode, type Attributes, type Counter, type Gauge } from '@opentelemetry/api';
import { meter, tracer } from '../telemetry';
import type { RunSummary } from './event-metrics';
import type { MetricPoint, ObjectiveBreach } from './metric-store';
import { unitOf } from './names';

/** Attribute naming the part of a family metric (`bytes.Hot` → tier Hot). */
const FAMILY_ATTRIBUTE: Record<string, string> = { bytes: 'tier', eventHubAppliedSequence: 'partition', expectationPassRate: 'expectation' };

const gauges = new Map<string, Gauge>();
let breachCounter: Counter | undefined;
let meterUsed: unknown;

/** Instruments are made once per meter (tests install a new provider, hence a new meter). */
function instruments() {
  const m = meter();
  if (meterUsed !== m) {
    gauges.clear();
    breachCounter = undefined;
    meterUsed = m;
  }
  return m;
}

function gauge(name: string): Gauge {
  const m = instruments();
  let g = gauges.get(name);
  if (!g) {
    g = m.createGauge(`sluice.${name}`, { unit: unitOf(name) });
    gauges.set(name, g);
  }
  return g;
}

/**
 * Hand a collection to OpenTelemetry.
 *
 * @param points the collected points
 * @param breaches the breaches found
 * @param now the collection time (only points at that time are state gauges)
 */
export function recordCollection(points: readonly MetricPoint[], breaches: readonly ObjectiveBreach[], now: Date): void {
  for (const p of points) {
    if (p.time.getTime() !== now.getTime()) continue;
    const dot = p.metric.indexOf('.');
    const family = dot > 0 ? p.metric.slice(0, dot) : p.metric;
    const attributes: Attributes = { table: p.table, ...(p.pipeline ? { pipeline: p.pipeline } : {}) };
    if (dot > 0) attributes[FAMILY_ATTRIBUTE[family] ?? 'part'] = p.metric.slice(dot + 1);
    gauge(family).record(p.value, attributes);
  }
  instruments();
  breachCounter ??= meter().createCounter('sluice.objective.breaches', { description: 'Objectives found not met by the metrics timer' });
  for (const b of breaches) breachCounter.add(1, { table: b.table, pipeline: b.pipeline, objective: b.objective });
}

/** A failed run's span waits this long after its last record, for tables still running beside it. */
export const FAILED_RUN_SETTLE_MS = 15 * 60_000;

/**
 * Emit a span for each run that ended between the previous collection and this one.
 *
 * @param runs the runs the event log showed
 * @param previous the previous collection's time (undefined: the first collection, which emits every ended run)
 * @param now this collection's time
 * @returns the run ids emitted
 */
export function recordRunSpans(runs: readonly RunSummary[], previous: Date | undefined, now: Date): string[] {
  const emitted: string[] = [];
  for (const run of runs) {
    const complete = !run.failed && run.tablesRecorded >= run.tableCount;
    if (!complete && !run.failed) continue;
    const endedAt = run.end.getTime() + (run.failed ? FAILED_RUN_SETTLE_MS : 0);
    if (endedAt > now.getTime() || (previous && endedAt <= previous.getTime())) continue;
    const span = tracer().startSpan('sluice.run', {
      startTime: run.start,
      attributes: { pipeline: run.pipeline, runId: run.runId, outcome: run.failed ? 'failed' : 'completed', tables: run.tablesRecorded },
    });
    if (run.failed) span.setStatus({ code: SpanStatusCode.ERROR, message: `run ${run.runId} had a failed table update` });
    span.end(run.end);
    emitted.push(run.runId);
  }
  return emitted;
}
