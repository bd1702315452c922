/**
 * Adapters of monitoring (shared/monitoring holds the logic): the `metrics` timer, and the read-only
 * routes `GET /api/metrics` and `GET /api/metrics/breaches`.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';
import { getRuntime } from '../shared/host';
import { internalError } from '../shared/host/http';
import { breachesResponse, metricsResponse, metricStoreOf, runMetricsTimer, runtimeMetricsInputs } from '../shared/monitoring';
import { runtimeServices } from '../shared/run';
import { logLine } from '../shared/telemetry';

/**
 * Timer: collect the metrics, judge the objectives, remove rows past the retention. A breach is
 * logged as a warning naming table and objective; tables that could not be read are logged and fail
 * the invocation once the others are stored, so they show in monitoring.
 *
 * @param _timer the timer
 * @param context the invocation context
 */
export async function metricsTimerHandler(_timer: Timer, context: InvocationContext): Promise<void> {
  const tick = await runMetricsTimer(runtimeMetricsInputs(getRuntime(), runtimeServices()));
  for (const b of tick.breaches)
    logLine(context, 'warning', `metrics: objective breached: ${b.message}`, {
      pipeline: b.pipeline,
      table: b.table,
      objective: b.objective,
      value: b.value,
      threshold: b.threshold,
    });
  for (const p of tick.problems) logLine(context, 'error', `metrics: ${p}`, {});
  logLine(
    context,
    'information',
    `metrics: ${tick.points} points, ${tick.breaches.length} objective breaches, ${tick.removed} rows past the retention removed`,
    {
      points: tick.points,
      breaches: tick.breaches.length,
      removed: tick.removed,
    },
  );
  if (tick.problems.length) throw new Error(`metrics: ${tick.problems.length} table(s) could not be measured: ${tick.problems.join(' | ')}`);
}

async function answer(name: string, context: InvocationContext, work: () => Promise<{ status: number; body: unknown }>): Promise<HttpResponseInit> {
  try {
    const r = await work();
    return { status: r.status, jsonBody: r.body };
  } catch (err) {
    const a = internalError(name, err, (line) => context.error(line));
    return { status: a.status, jsonBody: a.body };
  }
}

/** `GET /api/metrics?table=&from=&to=&metric=`. */
export function queryMetricsHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answer('queryMetrics', context, () => metricsResponse(metricStoreOf(getRuntime()), new URLSearchParams(request.query)));
}

/** `GET /api/metrics/breaches?table=&from=&to=`. */
export function metricBreachesHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answer('metricBreaches', context, () => breachesResponse(metricStoreOf(getRuntime()), new URLSearchParams(request.query)));
}
