/**
 * The metrics timer's values as OpenTelemetry instruments, exported to Application Insights when the
 * app registers the Azure Monitor exporter (functions/telemetry.ts), where the alert rules of
 * infra/app/monitoring.bicep query them:
 * - one gauge per state metric, `sluice.<metric>` (e.g. `sluice.freshnessSeconds`), with attributes
 *   `table` and `pipeline`; families carry their part as an attribute (`sluice.bytes` with `tier`,
 *   `sluice.eventHubAppliedSequence` with `partition`);
 * - the counter `sluice.objective.breaches` (attributes `table`, `pipeline`, `objective`).
 * Points dated before the collection (table updates and runs read from the event log) are not
 * re-emitted: the refresh activities emit those as they happen (shared/run/activities.ts).
 */
import type { Attributes, Counter, Gauge } from '@opentelemetry/api';
import { meter } from '../telemetry';
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
