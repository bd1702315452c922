/**
 * Monitoring: the metrics timer (collection of table state, ingestion lag, dead letters, updates and
 * runs into the Azure Table `SluiceMetrics`), the objectives of the pipeline YAML judged on them, the
 * metrics API, and their OpenTelemetry export.
 */
export { collectMetrics } from './collect';
export type { CollectInputs, Collection } from './collect';
export { eventLogMetrics, lowestPassRate, runStart } from './event-metrics';
export type { EventLogMetrics, RunSummary } from './event-metrics';
export { deadLetterCounts, hubLag, landingLag, MAX_CHECKED } from './ingestion-lag';
export type { HubPositions, LandingLag } from './ingestion-lag';
export { MetricStore } from './metric-store';
export type { MetricPoint, MetricQuery, MetricSeries, ObjectiveBreach } from './metric-store';
export { METRIC_UNITS, METRICS, runsSeries, unitOf } from './names';
export { evaluateObjectives } from './objectives';
export type { Measured } from './objectives';
export { readTableState } from './table-state';
export type { TableState } from './table-state';
export { FAILED_RUN_SETTLE_MS, recordCollection, recordRunSpans } from './telemetry';
export { EVENTS_OVERLAP_MS, FIRST_COLLECTION_MS, localHubPositions, metricStoreOf, runMetricsTimer, runtimeMetricsInputs } from './timer';
export type { MetricsTick, MetricsTimerInputs } from './timer';
export { breachesResponse, metricsResponse, parseMetricsQuery } from './api';
export type { MetricsApiResponse } from './api';
export { eventHubPositions } from './hub-positions';
