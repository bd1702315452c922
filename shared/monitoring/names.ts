/**
 * The metric names, units and meanings: the one list the timer, the API, OpenTelemetry and the
 * README follow. A series is (table, metric); run metrics use the table id `pipeline:<name>`.
 */

/** Metric names. */
export const METRICS = {
  // A table's state, sampled at each collection.
  version: 'version',
  files: 'files',
  smallFiles: 'smallFiles',
  rows: 'rows',
  bytes: 'bytes',
  /** `bytes.<tier>` per access tier (Hot, Cool, Cold, Archive) where the storage tells the tier. */
  bytesByTier: 'bytes',
  freshness: 'freshnessSeconds',
  // Bronze ingestion.
  landingPendingFiles: 'landingPendingFiles',
  landingOldestPending: 'landingOldestPendingSeconds',
  deadLetteredRows: 'deadLetteredRows',
  deadLetterRecords: 'deadLetterRecords',
  eventHubLag: 'eventHubLagEvents',
  /** `eventHubAppliedSequence.<partition>`: the last sequence number applied. */
  eventHubApplied: 'eventHubAppliedSequence',
  // Table updates, from the event log, at the time each was recorded.
  rowsIn: 'rowsIn',
  rowsOut: 'rowsOut',
  quarantinedRows: 'quarantinedRows',
  droppedRows: 'droppedRows',
  quarantineRate: 'quarantineRate',
  dropRate: 'dropRate',
  updateDuration: 'updateDurationSeconds',
  updateFailed: 'updateFailed',
  /** `expectationPassRate.<expectation>`. */
  expectationPassRate: 'expectationPassRate',
  passRate: 'passRate',
  // Runs, at each run's start, table id `pipeline:<name>`.
  runsCompleted: 'runsCompleted',
  runsFailed: 'runsFailed',
  runDuration: 'runDurationSeconds',
} as const;

/** Unit of each metric (prefix match for the `name.<part>` families). */
export const METRIC_UNITS: Readonly<Record<string, string>> = {
  version: 'version',
  files: 'files',
  smallFiles: 'files',
  rows: 'rows',
  bytes: 'bytes',
  freshnessSeconds: 's',
  landingPendingFiles: 'files',
  landingOldestPendingSeconds: 's',
  deadLetteredRows: 'rows',
  deadLetterRecords: 'records',
  eventHubLagEvents: 'events',
  eventHubAppliedSequence: 'sequence number',
  rowsIn: 'rows',
  rowsOut: 'rows',
  quarantinedRows: 'rows',
  droppedRows: 'rows',
  quarantineRate: 'ratio 0–1',
  dropRate: 'ratio 0–1',
  updateDurationSeconds: 's',
  updateFailed: '0/1',
  expectationPassRate: 'ratio 0–1',
  passRate: 'ratio 0–1',
  runsCompleted: '0/1',
  runsFailed: '0/1',
  runDurationSeconds: 's',
  breach: 'as the objective',
};

/**
 * The unit of a metric name.
 *
 * @param metric e.g. `expectationPassRate.valid_quantity`
 * @returns the unit, or '' when unknown
 */
export function unitOf(metric: string): string {
  return METRIC_UNITS[metric] ?? METRIC_UNITS[metric.slice(0, metric.indexOf('.'))] ?? '';
}

/** The table id of a pipeline's run metrics. */
export function runsSeries(pipeline: string): string {
  return `pipeline:${pipeline}`;
}
