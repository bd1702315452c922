/**
 * A run's outcome read back from the event log, for when its instance has moved on: a refresh
 * instance (`refresh-<pipeline>`) is reused by the next queued run as soon as one ends, so a client
 * polling the instance can miss the end of the run it asked for. Every table update of the run is in
 * the event log under the run id, and a request's record names the run that served it.
 */
import type { EventLog } from './event-log';
import type { RefreshOutput } from './orchestrator';
import { runTotals } from './totals';

/** What the event log says of a run. */
export type RecordedOutcome =
  | { state: 'completed'; output: RefreshOutput }
  | { state: 'failed'; error: string; output: RefreshOutput }
  /** Some tables have no record yet: the run is still going, or stopped before reaching them. */
  | { state: 'incomplete'; recorded: number };

/**
 * The outcome of a run from its table updates.
 *
 * @param log the event log
 * @param pipeline the pipeline
 * @param runId the run id (`refresh-<pipeline>@<start>`)
 * @param reason the run's reason, for the output
 * @param tableCount how many tables the pipeline has (a completed run records each once)
 * @returns completed (every table recorded), failed (a table failed) or incomplete
 */
export async function recordedOutcome(log: EventLog, pipeline: string, runId: string, reason: string | null, tableCount: number): Promise<RecordedOutcome> {
  const recorded = await log.runEvents(runId);
  const tables = recorded.flatMap((e) => (e.metrics ? [e.metrics] : []));
  const output: RefreshOutput = { pipeline, runId, reason, tables, totals: runTotals(tables) };
  const failed = recorded.filter((e) => e.status === 'failed');
  if (failed.length) return { state: 'failed', error: `run ${runId} failed: ${failed.map((e) => `${e.table}: ${e.error ?? 'failed'}`).join(' | ')}`, output };
  if (tables.length < tableCount) return { state: 'incomplete', recorded: tables.length };
  return { state: 'completed', output };
}
