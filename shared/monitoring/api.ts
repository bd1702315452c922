/**
 * The metrics API, host-agnostic (functions/monitoring.ts maps Functions requests onto it; the CLI
 * `sluice metrics` reads the same store through the same parsing):
 *
 * - `GET /api/metrics?table=<path>&from=<ISO-8601>&to=<ISO-8601>&metric=<name>` →
 *   `{ "from", "to", "series": [ { "table", "metric", "unit", "pipeline", "points": [[time, value], …] } ] }`;
 *   every table and metric when omitted, the last 24 hours by default; 400 naming a bad parameter.
 * - `GET /api/metrics/breaches?table=&from=&to=` → `{ "from", "to", "breaches": [ { "time", "pipeline",
 *   "table", "objective", "metric", "value", "threshold", "message" } ] }`.
 */
import type { MetricQuery, MetricStore } from './metric-store';
import { unitOf } from './names';

/** A response to write. */
export interface MetricsApiResponse {
  status: number;
  body: unknown;
}

/** Default range: the last 24 hours. */
const DEFAULT_RANGE_MS = 24 * 3_600_000;
/** Longest range one request may ask for (the retention can be longer; ask in parts). */
const MAX_RANGE_DAYS = 400;
const TABLE = /^(?:pipeline:[A-Za-z0-9_.-]+|[A-Za-z0-9_][A-Za-z0-9_.=-]*(\/[A-Za-z0-9_][A-Za-z0-9_.=-]*)+)$/;
const METRIC = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_.-]+)?$/;
const PARAMETERS = ['table', 'from', 'to', 'metric'];

/**
 * Read and check the query parameters.
 *
 * @param query the query string's parameters
 * @param now the clock
 * @param allowed parameters this route takes
 * @returns the query, or an error naming the parameter
 */
export function parseMetricsQuery(query: URLSearchParams, now: Date = new Date(), allowed: readonly string[] = PARAMETERS): MetricQuery | { error: string } {
  // `code` is the function key callers may pass in the query in Azure.
  for (const key of query.keys()) if (key !== 'code' && !allowed.includes(key)) return { error: `unknown parameter '${key}' (expected ${allowed.join(', ')})` };
  const time = (name: 'from' | 'to', fallback: Date): Date | { error: string } => {
    const text = query.get(name);
    if (text === null || text === '') return fallback;
    const t = new Date(text);
    if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(t.getTime()))
      return { error: `${name} must be an ISO-8601 time such as 2026-03-01T12:00:00Z, not '${text}'` };
    return t;
  };
  const to = time('to', now);
  if ('error' in to) return to;
  const from = time('from', new Date(to.getTime() - DEFAULT_RANGE_MS));
  if ('error' in from) return from;
  if (from.getTime() > to.getTime()) return { error: `from (${from.toISOString()}) must not be after to (${to.toISOString()})` };
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * 86_400_000) return { error: `from and to may be at most ${MAX_RANGE_DAYS} days apart` };
  const table = query.get('table') ?? undefined;
  if (table !== undefined && !TABLE.test(table))
    return { error: `table must be a table's path in the lake container such as silver/sales (or pipeline:<name> for run metrics), not '${table}'` };
  const metric = query.get('metric') ?? undefined;
  if (metric !== undefined && !METRIC.test(metric))
    return { error: `metric must be a metric name such as freshnessSeconds or expectationPassRate.valid_quantity, not '${metric}'` };
  return { from, to, ...(table !== undefined ? { table } : {}), ...(metric !== undefined ? { metric } : {}) };
}

/**
 * Answer a metrics query.
 *
 * @param store the metrics table
 * @param query the request's query parameters
 * @param now the clock
 * @returns 200 with the series, 400 naming a bad parameter
 */
export async function metricsResponse(store: MetricStore, query: URLSearchParams, now: Date = new Date()): Promise<MetricsApiResponse> {
  const parsed = parseMetricsQuery(query, now);
  if ('error' in parsed) return { status: 400, body: { error: parsed.error } };
  const series = await store.query(parsed);
  return {
    status: 200,
    body: {
      from: parsed.from.toISOString(),
      to: parsed.to.toISOString(),
      series: series.map((s) => ({
        table: s.table,
        metric: s.metric,
        unit: unitOf(s.metric),
        ...(s.pipeline ? { pipeline: s.pipeline } : {}),
        points: s.points,
      })),
    },
  };
}

/**
 * Answer a breaches query.
 *
 * @param store the metrics table
 * @param query the request's query parameters (table, from, to)
 * @param now the clock
 * @returns 200 with the breaches, 400 naming a bad parameter
 */
export async function breachesResponse(store: MetricStore, query: URLSearchParams, now: Date = new Date()): Promise<MetricsApiResponse> {
  const parsed = parseMetricsQuery(query, now, ['table', 'from', 'to']);
  if ('error' in parsed) return { status: 400, body: { error: parsed.error } };
  const breaches = await store.breaches(parsed);
  return {
    status: 200,
    body: { from: parsed.from.toISOString(), to: parsed.to.toISOString(), breaches: breaches.map((b) => ({ ...b, time: b.time.toISOString() })) },
  };
}
