/**
 * Which run served a request, and how it ended: one answer for `GET …/requests/{id}` (api.ts) and
 * `sluice pipeline run` (cli/pipeline.ts). A refresh instance (`refresh-<pipeline>`) continues as
 * new with the next run as soon as one ends, so a client polling the instance can miss the end of
 * the run it asked for. Every table update of the run is in the event log under the run id, and a
 * request's record names the run that served it (written when the run plans).
 */
import { isActive, type RunClient, type RunStatus } from './client';
import type { EventLog } from './event-log';
import type { RefreshOutput, RefreshProgress } from './orchestrator';
import type { RefreshInput } from './types';
import { runInstanceId } from './plan';
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

/**
 * How long a starter may take, after the instance ended, to start the run for a request it recorded
 * (it reads the instance, raises or starts: well under a second), before the request counts as lost.
 */
const START_GRACE_MS = 10_000;
/** A request not served after this long, with no run going, was dropped whatever the instance says. */
const REQUEST_LOST_MS = 5 * 60_000;

/** Where a request stands. */
export type RequestProgress =
  /** No such request was recorded. */
  | { state: 'unknown' }
  /** No run has taken it yet: one is about to start, or the run going now takes it when it ends. */
  | { state: 'waiting'; status: RunStatus | undefined }
  /** The instance is on the request's run now (`status` is live). */
  | { state: 'running'; status: RunStatus }
  /** The instance ended on the request's run (`status` is its final status). */
  | { state: 'ended'; status: RunStatus }
  /** The run that served it has moved on; the event log has its outcome. */
  | { state: 'recorded'; runId: string; outcome: Exclude<RecordedOutcome, { state: 'incomplete' }> }
  /** The run that served it stopped before recording every table (terminated, or stopped). */
  | { state: 'stopped'; runId: string; recorded: number }
  /** No run took it and none will (the run it was raised on was terminated, failed or purged first). */
  | { state: 'lost'; why: string };

/**
 * Where a request stands: the instance's status while it is on the request's run, else what the
 * event log recorded of the run that served it.
 *
 * @param runs the run client
 * @param events the event log the request was recorded in
 * @param pipeline the pipeline name
 * @param requestId the request id
 * @param tableCount how many tables the pipeline has
 * @param now the time to judge a lost request by (epoch ms)
 * @returns the request's progress
 */
export async function requestProgress(
  runs: RunClient,
  events: EventLog,
  pipeline: string,
  requestId: string,
  tableCount: number,
  now = Date.now(),
): Promise<RequestProgress> {
  const record = await events.request(pipeline, requestId);
  if (!record) return { state: 'unknown' };
  const status = await runs.status(runInstanceId(pipeline));
  const active = !!status && isActive(status.runtimeStatus);
  if (status && ((status.input as RefreshInput | undefined)?.requests ?? []).includes(requestId))
    return active ? { state: 'running', status } : { state: 'ended', status };
  if (!record.runId) {
    const requestedAt = record.requestedAt ? Date.parse(record.requestedAt) : now;
    const ended = status && !active ? Date.parse(status.lastUpdatedTime) : NaN;
    if (!active && now - requestedAt > REQUEST_LOST_MS)
      return { state: 'lost', why: `no run served the request within ${REQUEST_LOST_MS / 60_000} minutes and none is going` };
    if (!active && ended > requestedAt && now - ended > START_GRACE_MS)
      return { state: 'lost', why: `run ${runInstanceId(pipeline)} ended (${status!.runtimeStatus}) after the request without serving it and none is going` };
    return { state: 'waiting', status };
  }
  const outcome = await recordedOutcome(events, pipeline, record.runId, null, tableCount);
  if (outcome.state !== 'incomplete') return { state: 'recorded', runId: record.runId, outcome };
  // Tables are still being recorded by the run going now, or the run stopped before reaching them.
  if (active && (status.customStatus as Partial<RefreshProgress> | undefined)?.runId === record.runId) return { state: 'running', status };
  return { state: 'stopped', runId: record.runId, recorded: outcome.recorded };
}
