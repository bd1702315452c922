/**
 * Trigger adapters of bronze ingestion. Each reads its binding, calls the host context (shared/host),
 * logs one line naming the file or partition, and decides what a failure means for the trigger:
 *
 * - `blobCreated` (Event Grid): a failure is rethrown, so Event Grid delivers the event again (its
 *   retry policy: up to 30 attempts over 24 h, infra/app/event-grid.bicep). A non-transient one counts
 *   towards the file's poison limit (shared/ingest/ingest.ts), whose last attempt dead-letters the
 *   file whole and succeeds, so the redeliveries end. A configuration error (the source's settings,
 *   not the file) is logged with the file named and the invocation succeeds: it leaves no ledger
 *   entry, and reconcile or a new event ingests the file once the definition is fixed.
 * - `eventHubIngest` (Event Hubs, cardinality many): the host advances the partition's checkpoint
 *   after the invocation even when it throws, so the stage retries transient errors itself; what
 *   still fails is logged with partition and sequence range and rethrown, and the function's retry
 *   policy (definitions.ts: exponential back-off, no limit) runs the batch again while the checkpoint
 *   waits. A batch is never dropped; a partition whose batch cannot succeed stops, loudly.
 * - `reconcile` (timer): one line per file source; failures are logged per file and fail the
 *   invocation after every source had its turn, so they show in monitoring.
 *
 * After a bronze commit that wrote rows, each adapter starts (or makes catch up) the refresh run of
 * the pipeline reading that source when it is in `afterBronze` mode (shared/run/triggers.ts), through
 * the run client the host passes. A redelivered event for a file already ingested starts one only
 * when its version is neither applied nor seen by a run (shared/run/sweep.ts). For `blobCreated` and `reconcile` a failed start is rethrown so the
 * trigger delivers again (bounded retries): ingestion then finds the file already landed and only the
 * start is repeated. For `eventHubIngest` it is only logged: its retries are unbounded, so a start
 * that keeps failing would stall the partition; `pipelineSchedule`'s sweep (shared/run/sweep.ts)
 * starts the run for bronze versions no run has applied.
 * `pipelineSchedule` (timer, every minute) starts the pipelines in `schedule` mode that are due, and
 * sweeps `afterBronze` pipelines for bronze versions whose trigger was lost.
 */
import type { InvocationContext, Timer } from '@azure/functions';
import { deadLetterLocation, IngestConfigError } from '../shared/ingest';
import { EventBatchError } from '../shared/ingest/events';
import {
  errorText,
  getRuntime,
  hubBatchFromTrigger,
  ingestHubBatch,
  ingestRoutedBlob,
  isTransient,
  reconcileLanding,
  routeBlobCreatedEvent,
  SourceReconcile,
} from '../shared/host';
import { DEAD_LETTER_FOLDER } from '../shared/storage/lake-layout';
import type { SourceRoute } from '../shared/host';
import {
  ScheduledStartError,
  scheduleSince,
  startRunAfterBronze,
  startScheduledRuns,
  sweepUnappliedBronze,
  unservedBronzeVersion,
  type RunClient,
  type RunStart,
} from '../shared/run';
import { openLakeStore } from '../shared/storage/lake';
import type { EventBatchOutcome, IngestOutcome } from '../shared/ingest/types';
import { logLine } from '../shared/telemetry';
import { pipelineName } from '../shared/pipeline/name';

/** Start the run a bronze commit calls for (nothing without a run client or when no rows landed). */
async function afterBronze(
  name: string,
  route: SourceRoute,
  version: number | undefined,
  wroteRows: boolean,
  context: InvocationContext,
  runs?: RunClient,
): Promise<void> {
  if (!runs || version === undefined || !wroteRows) return;
  try {
    const start = await startRunAfterBronze({ pipeline: route.pipeline, source: route.source.name, version }, runs);
    if (start)
      context.log(`${name}: refresh ${start.instanceId} ${start.queued ? 'asked to catch up' : 'started'} for ${route.source.name} version ${version}`);
  } catch (err) {
    context.error(`${name}: the refresh after ${route.source.name} version ${version} could not be started: ${errorText(err)}`);
    throw err;
  }
}

/**
 * Event Grid trigger: ingest the landing blob a `Microsoft.Storage.BlobCreated` event names.
 *
 * @param event the event (Event Grid or CloudEvents schema)
 * @param context the invocation context
 */
export async function blobCreatedHandler(event: unknown, context: InvocationContext, runs?: RunClient): Promise<void> {
  const runtime = getRuntime();
  const routed = routeBlobCreatedEvent(runtime, event);
  if (routed.status === 'ignored') {
    context.log(`blobCreated: ignored${routed.blob ? ` ${routed.blob}` : ''}: ${routed.reason}`);
    return;
  }
  const file = `${routed.blob.container}/${routed.blob.path}${routed.blob.etag ? ` (ETag ${routed.blob.etag})` : ''}`;
  let outcome: IngestOutcome;
  try {
    outcome = await ingestRoutedBlob(runtime, routed, (line) => context.warn(`blobCreated: ${line}`));
  } catch (err) {
    if (err instanceof IngestConfigError) {
      context.error(
        `blobCreated: ${file} for ${routed.route.tableKey} not ingested until the source's definition is fixed (then reconcile ingests it): ${errorText(err)}`,
      );
      return;
    }
    const why = isTransient(err) ? 'transient' : `counts towards the poison limit of ${runtime.settings.poisonAttempts} attempts`;
    context.error(`blobCreated: ${file} for ${routed.route.tableKey} failed (${why}), will be delivered again: ${errorText(err)}`);
    throw err;
  }
  logFile(context, 'blobCreated', file, routed.route, outcome);
  let due = outcome.status === 'committed' && outcome.rowsWritten > 0;
  if (outcome.status === 'duplicate' && outcome.version !== undefined && outcome.rowsWritten > 0 && runs) {
    // A redelivery after a failed start must still start the run it lost, but not one for a version long applied.
    const unserved = await unservedBronzeVersion(
      routed.route.pipeline,
      routed.route.source.name,
      outcome.version,
      (path) => openLakeStore(runtime.settings, path),
      runs,
    );
    due = unserved !== null;
    if (!due)
      context.log(`blobCreated: ${file}: version ${outcome.version} of ${routed.route.source.name} is already applied or seen by a run; no run started`);
  }
  await afterBronze('blobCreated', routed.route, outcome.version, due, context, runs);
}

/**
 * Event Hubs trigger (cardinality many): ingest one batch of one partition.
 *
 * @param messages the event bodies
 * @param context the invocation context (per-event metadata in `triggerMetadata`)
 */
export async function eventHubIngestHandler(messages: unknown, context: InvocationContext, runs?: RunClient): Promise<void> {
  const runtime = getRuntime();
  const hub = runtime.triggers.eventHub;
  if (!hub) throw new Error('eventHubIngest: invoked although no Event Hubs connection is set (SLUICE_EVENTHUB / SLUICE_EVENTHUB__fullyQualifiedNamespace)');
  let where = `${hub.name}/${hub.consumerGroup}`;
  let landed: { route: SourceRoute; version: number | undefined; wroteRows: boolean };
  try {
    const batch = hubBatchFromTrigger(messages, context.triggerMetadata, hub);
    const seq = batch.events.map((e) => e.sequenceNumber);
    where = `${batch.partition.hub}/${batch.partition.consumerGroup} partition ${batch.partition.partitionId}, ${seq.length ? `sequence numbers ${Math.min(...seq)}–${Math.max(...seq)}` : 'no events'}`;
    const { route, outcome } = await ingestHubBatch(runtime, batch);
    logLine(context, outcome.eventsDeadLettered > 0 ? 'warning' : 'information', `eventHubIngest: ${where} → ${route.tableKey}: ${describeBatch(outcome)}`, {
      pipeline: pipelineName(route.pipeline),
      source: route.source.name,
      table: route.source.table,
      version: outcome.version,
      partition: batch.partition.partitionId,
      events: outcome.eventsReceived,
      rowsWritten: outcome.rowsWritten,
      rowsDeadLettered: outcome.rowsDeadLettered,
    });
    if (outcome.sequenceGap) {
      const { from, to } = outcome.sequenceGap;
      context.warn(
        `eventHubIngest: ${where}: sequence numbers ${from}–${to} were never delivered (retention expired or the consumer started late); they are not in the table`,
      );
    }
    landed = { route, version: outcome.version, wroteRows: outcome.rowsWritten > 0 };
  } catch (err) {
    // A terminal failure already put the batch's events in a dead-letter record: retrying would fail
    // the same way forever and stall the partition, so the checkpoint may move on.
    if (err instanceof EventBatchError && err.deadLetter && !err.transient) {
      context.error(
        `eventHubIngest: batch of ${where} not ingested, its events are in the dead-letter record ${deadLetterAt(err.deadLetter)}: ${errorText(err)}`,
      );
      return;
    }
    const attempt = context.retryContext ? ` (retry ${context.retryContext.retryCount} of ${context.retryContext.maxRetryCount})` : '';
    context.error(`eventHubIngest: batch of ${where} not ingested${attempt}; rethrown so the retry policy runs it again: ${errorText(err)}`);
    throw err;
  }
  // Outside the try: the batch is in bronze, and the trigger's retries are unbounded, so a start that
  // keeps failing must not hold the partition back. The next commit, or the schedule timer's sweep
  // of unapplied bronze versions, starts the run instead.
  try {
    await afterBronze('eventHubIngest', landed.route, landed.version, landed.wroteRows, context, runs);
  } catch {
    context.warn(`eventHubIngest: ${where}: the batch is in bronze; the refresh starts with the next commit or the pipelineSchedule sweep`);
  }
}

/**
 * Timer trigger: reconcile every file source with its landing folder.
 *
 * @param timer the timer
 * @param context the invocation context
 */
export async function reconcileHandler(timer: Timer, context: InvocationContext, runs?: RunClient): Promise<void> {
  const runtime = getRuntime();
  if (timer.isPastDue) context.log('reconcile: running late (past due)');
  const failed: string[] = [];
  const landed: { route: SourceRoute; version: number }[] = [];
  await reconcileLanding(
    runtime,
    (done) => {
      const versions = (done.result?.outcomes ?? [])
        .filter((o) => o.status === 'committed' && o.rowsWritten > 0 && o.version !== undefined)
        .map((o) => o.version!);
      if (versions.length) landed.push({ route: done.route, version: Math.max(...versions) });
      // One line per file it ingested, as blobCreated gives, so a file's fate reads the same whichever path took it.
      for (const o of done.result?.outcomes ?? []) {
        if (o.status !== 'committed' && o.status !== 'deadlettered') continue;
        logFile(context, 'reconcile', `${runtime.settings.landingContainer}/${o.path}${o.etag ? ` (ETag ${o.etag})` : ''}`, done.route, o);
      }
      context.log(`reconcile: ${describeSource(runtime.settings.landingContainer, done)}`);
      if (done.error) failed.push(`${done.route.source.name}: ${errorText(done.error)}`);
      for (const f of done.result?.failures ?? []) {
        context.error(`reconcile: ${runtime.settings.landingContainer}/${f.path} for ${done.route.tableKey} failed: ${errorText(f.error)}`);
        failed.push(`${runtime.settings.landingContainer}/${f.path}: ${f.error.message}`);
      }
    },
    (line) => context.warn(`reconcile: ${line}`),
  );
  for (const l of landed) {
    try {
      await afterBronze('reconcile', l.route, l.version, true, context, runs);
    } catch (err) {
      failed.push(`refresh after ${l.route.source.name}: ${errorText(err)}`);
    }
  }
  if (failed.length)
    throw new Error(`reconcile: ${failed.length} failure${failed.length === 1 ? '' : 's'}: ${failed.slice(0, 5).join('; ')}${failed.length > 5 ? '; …' : ''}`);
}

/**
 * Timer trigger (every minute): start the pipelines in `schedule` mode with an occurrence since the
 * timer's last recorded occurrence, then sweep the `afterBronze` pipelines for bronze versions no run
 * has applied or seen (a lost trigger; shared/run/sweep.ts). Everything is tried; failures are
 * logged each and fail the invocation once at the end, so they show in monitoring.
 *
 * @param timer the timer
 * @param context the invocation context
 * @param runs the run client
 */
export async function pipelineScheduleHandler(timer: Timer, context: InvocationContext, runs?: RunClient): Promise<void> {
  if (!runs) throw new Error('pipelineSchedule: no run client was passed (the function must declare durableClient)');
  const runtime = getRuntime();
  // The timer fires at second 0: the occurrence this invocation stands for, even when it runs late.
  const tick = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  const since = scheduleSince(timer.scheduleStatus?.last, tick);
  const late = timer.isPastDue ? ' (timer past due)' : '';
  const failed: string[] = [];
  let started: { pipeline: string; start: RunStart }[];
  try {
    started = await startScheduledRuns(runtime.pipelines, runs, tick, since);
  } catch (err) {
    if (!(err instanceof ScheduledStartError)) throw err;
    started = err.started;
    for (const f of err.failures) {
      context.error(`pipelineSchedule: ${f.pipeline}: the scheduled run could not be started: ${errorText(f.error)}`);
      failed.push(`${f.pipeline}: ${errorText(f.error)}`);
    }
  }
  for (const s of started)
    context.log(`pipelineSchedule: ${s.pipeline}: ${s.start.queued ? 'running run asked to catch up' : `run ${s.start.instanceId} started`}${late}`);
  const sweep = await sweepUnappliedBronze(runtime.pipelines, (path) => openLakeStore(runtime.settings, path), runs);
  for (const s of sweep.started)
    context.log(
      `pipelineSchedule: ${s.pipeline}: run ${s.start.instanceId} ${s.start.queued ? 'asked to catch up' : 'started'} for bronze versions no run applied: ${s.unapplied.map((u) => `${u.source} version ${u.version}`).join(', ')}`,
    );
  for (const f of sweep.failures) {
    context.error(`pipelineSchedule: ${f.pipeline}: sweep for unapplied bronze versions failed: ${errorText(f.error)}`);
    failed.push(`${f.pipeline} (sweep): ${errorText(f.error)}`);
  }
  if (failed.length) throw new Error(`pipelineSchedule: ${failed.length} failure${failed.length === 1 ? '' : 's'}: ${failed.join('; ')}`);
}

/** One line per file, a warning when rows were set aside: `<function>: <file> → <table>: <outcome>`. */
function logFile(context: InvocationContext, fn: string, file: string, route: SourceRoute, o: IngestOutcome): void {
  logLine(
    context,
    o.status === 'deadlettered' || o.rowsDeadLettered > 0 ? 'warning' : 'information',
    `${fn}: ${file} → ${route.tableKey}: ${describeFile(o)}`,
    {
      pipeline: pipelineName(route.pipeline),
      source: route.source.name,
      table: route.source.table,
      version: o.version,
      file: o.path,
      status: o.status,
      rowsRead: o.rowsRead,
      rowsWritten: o.rowsWritten,
      rowsDeadLettered: o.rowsDeadLettered,
    },
  );
}

/** A dead-letter record's full place (container path and URL): the stage reports only its id. */
function deadLetterAt(id: string): string {
  const { location, url } = deadLetterLocation(openLakeStore(getRuntime().settings, DEAD_LETTER_FOLDER), id);
  return `${location} (${url})`;
}

function describeFile(o: IngestOutcome): string {
  const version = o.version !== undefined ? ` (version ${o.version})` : '';
  const counts = `${o.rowsRead} rows read, ${o.rowsWritten} written (${o.rowsRescued} with rescued values), ${o.rowsDeadLettered} dead-lettered`;
  switch (o.status) {
    case 'committed':
      return `committed${version}: ${counts}${o.deadLetter ? `; record ${deadLetterAt(o.deadLetter)}` : ''}`;
    case 'deadlettered':
      return `dead-lettered: ${o.reason ?? ''}${o.deadLetter ? `; record ${deadLetterAt(o.deadLetter)}` : ''}`;
    case 'duplicate':
      return `already ingested${version}`;
    case 'superseded':
      return `skipped, a newer version exists: ${o.reason ?? ''}`;
    case 'missing':
      return 'skipped, the blob no longer exists';
  }
}

function describeBatch(o: EventBatchOutcome): string {
  const counts = `${o.eventsReceived} events, ${o.eventsSkipped} already applied, ${o.rowsWritten} rows written (${o.rowsRescued} with rescued values), ${o.eventsDeadLettered} dead-lettered${o.deadLetter ? ` (record ${deadLetterAt(o.deadLetter)})` : ''}`;
  return `${o.status}${o.version !== undefined ? ` (version ${o.version})` : ''}: ${counts}`;
}

function describeSource(landing: string, done: SourceReconcile): string {
  const where = `${done.route.source.name} (${landing}/${done.route.source.landing} → ${done.route.tableKey})`;
  if (done.error) return `${where} failed: ${errorText(done.error)}`;
  const r = done.result!;
  const ingested = r.outcomes.filter((o) => o.status === 'committed');
  const dead = r.outcomes.filter((o) => o.status === 'deadlettered');
  const rows = ingested.reduce((n, o) => n + o.rowsWritten, 0);
  return `${where}: ${r.listed} listed, ${r.checked} checked, ${r.done} already done, ${ingested.length} ingested (${rows} rows), ${dead.length} dead-lettered, ${r.inProgress} in progress elsewhere, ${r.failures.length} failed`;
}
