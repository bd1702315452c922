/**
 * The three ways work reaches the bronze ingest stage in a running app, host-agnostic so the
 * Functions adapters, the local host and tests run the same code:
 *
 * - a BlobCreated event: routed to the source whose landing folder holds the blob, then `ingestFile`
 *   for that (path, ETag), exactly once whatever the number of deliveries;
 * - an Event Hubs batch: routed by hub name, then `ingestEvents` (exactly once per partition and
 *   sequence number through the table's `txn`);
 * - the reconcile pass: `backfill` over every file source's landing folder, which ingests what the
 *   event path missed and moves each folder's watermark so the next pass checks only newer blobs.
 *
 * A landing file committed by either file path is reported as OpenLineage events when the settings
 * ask for them (Event Hubs batches are not: their ranges are in the lineage graph).
 */
import { backfill, ingestFile } from '../ingest';
import { ingestEvents } from '../ingest/events';
import { BlobCreated, parseBlobCreatedEvent } from './blob-event';
import { catalogAfterCommit } from './catalog';
import type { SluiceRuntime, SourceRoute } from './context';
import type { HubBatch } from './hub-batch';
import type { BackfillResult, EventBatchOutcome, IngestOutcome } from '../ingest/types';
import { inSpan } from '../telemetry';
import { pipelineName } from '../pipeline/name';

/** A BlobCreated event that names a landing blob of a source. */
export interface RoutedBlob {
  status: 'routed';
  blob: BlobCreated;
  route: SourceRoute;
}

/** An event with nothing to ingest, and why. */
export interface IgnoredBlob {
  status: 'ignored';
  reason: string;
  /** `<container>/<path>` when the event named a blob. */
  blob?: string;
}

/**
 * Decide what a BlobCreated event asks for: a landing blob of some source, or nothing (another event
 * type, another container, a folder no source takes).
 *
 * @param runtime the runtime context
 * @param event the event as delivered (Event Grid or CloudEvents schema)
 * @returns the routed blob, or why it is ignored
 */
export function routeBlobCreatedEvent(runtime: SluiceRuntime, event: unknown): RoutedBlob | IgnoredBlob {
  const blob = parseBlobCreatedEvent(event);
  if (blob.kind === 'ignored') return { status: 'ignored', reason: blob.reason };
  const name = `${blob.container}/${blob.path}`;
  const landing = runtime.settings.landingContainer;
  if (blob.container !== landing)
    return { status: 'ignored', reason: `the blob is in container ${blob.container}, not in the landing container ${landing}`, blob: name };
  const route = runtime.routeBlob(blob.path);
  if (!route) return { status: 'ignored', reason: `no source of the loaded pipelines has a landing folder holding ${blob.path}`, blob: name };
  return { status: 'routed', blob, route };
}

/**
 * Ingest a routed landing blob into its source's table.
 *
 * @param runtime the runtime context
 * @param routed what `routeBlobCreatedEvent` returned
 * @param log where a failed OpenLineage report is told
 * @returns the ingest stage's outcome
 */
export async function ingestRoutedBlob(runtime: SluiceRuntime, routed: RoutedBlob, log: (line: string) => void = () => {}): Promise<IngestOutcome> {
  const { blob, route } = routed;
  const startedAt = new Date();
  const attributes = { pipeline: pipelineName(route.pipeline), source: route.source.name, table: route.source.table, file: blob.path };
  const outcome = await inSpan('sluice.ingest.file', attributes, async (span) => {
    const outcome = await ingestFile({ ...landingFileOptions(runtime, route), path: blob.path, ...(blob.etag ? { etag: blob.etag } : {}) });
    span.setAttributes({
      status: outcome.status,
      rowsRead: outcome.rowsRead,
      rowsWritten: outcome.rowsWritten,
      rowsDeadLettered: outcome.rowsDeadLettered,
      ...(outcome.version !== undefined ? { version: outcome.version } : {}),
    });
    return outcome;
  });
  await reportIngestion(runtime, route, outcome, startedAt, log);
  return outcome;
}

/** Report a committed file as OpenLineage events when the settings ask for them (never throws). */
function reportIngestion(runtime: SluiceRuntime, route: SourceRoute, outcome: IngestOutcome, startedAt: Date, log: (line: string) => void): Promise<void> {
  return (
    runtime.openLineage?.fileIngested({
      definition: route.pipeline,
      source: route.source,
      landing: runtime.landing,
      table: route.table,
      outcome,
      startedAt,
      log,
    }) ?? Promise.resolve()
  );
}

/** What ingesting any landing file of a source takes: the event path and reconcile share it. */
function landingFileOptions(runtime: SluiceRuntime, route: SourceRoute) {
  return {
    landing: runtime.landing,
    table: route.table,
    tableKey: route.tableKey,
    source: route.ingest,
    ledger: runtime.ledger,
    deadLetter: route.deadLetter,
    lane: runtime.lane,
    poisonAttempts: runtime.settings.poisonAttempts,
    onCommitted: catalogAfterCommit(runtime, route.source.table),
  };
}

/**
 * Ingest one Event Hubs batch into the table of the source reading that hub.
 *
 * @param runtime the runtime context
 * @param batch events and partition
 * @returns the route and the stage's outcome
 * @throws Error naming the hub when no source reads it (start-up validation normally prevents that)
 */
export async function ingestHubBatch(runtime: SluiceRuntime, batch: HubBatch): Promise<{ route: SourceRoute; outcome: EventBatchOutcome }> {
  const route = runtime.routeHub(batch.partition.hub);
  if (!route)
    throw new Error(
      `event hub ${batch.partition.hub}: no source of the loaded pipelines reads it (sources with eventHub: ${runtime.hubSources.map((r) => r.source.eventHub!.name).join(', ') || 'none'})`,
    );
  const attributes = {
    pipeline: pipelineName(route.pipeline),
    source: route.source.name,
    table: route.source.table,
    hub: batch.partition.hub,
    partition: batch.partition.partitionId,
    events: batch.events.length,
  };
  const outcome = await inSpan('sluice.ingest.events', attributes, async (span) => {
    const done = await ingestEvents({
      table: route.table,
      tableKey: route.tableKey,
      partition: batch.partition,
      events: batch.events,
      source: route.ingest,
      deadLetter: route.deadLetter,
      lane: runtime.lane,
      // The trigger's retry policy runs a failed batch again without limit: only a terminal failure,
      // which no retry would fix, is dead-lettered (see eventHubIngestHandler).
      deadLetterOnFailure: 'terminal',
      onCommitted: catalogAfterCommit(runtime, route.source.table),
    });
    span.setAttributes({
      status: done.status,
      rowsWritten: done.rowsWritten,
      rowsDeadLettered: done.rowsDeadLettered,
      ...(done.version !== undefined ? { version: done.version } : {}),
    });
    return done;
  });
  return { route, outcome };
}

/** What reconcile did for one source. */
export interface SourceReconcile {
  route: SourceRoute;
  /** The backfill result, when listing the folder worked. */
  result?: BackfillResult;
  /** Why the source could not be reconciled at all (e.g. the listing failed). */
  error?: Error;
}

/**
 * Reconcile every file source with its landing folder (one after the other, so memory stays that of
 * two files at a time).
 *
 * @param runtime the runtime context
 * @param onSource called after each source
 * @param log where a failed OpenLineage report is told
 * @returns one entry per file source
 */
export async function reconcileLanding(
  runtime: SluiceRuntime,
  onSource?: (done: SourceReconcile) => void,
  log: (line: string) => void = () => {},
): Promise<SourceReconcile[]> {
  const out: SourceReconcile[] = [];
  for (const route of runtime.fileSources) {
    let done: SourceReconcile;
    const startedAt = new Date();
    try {
      const result = await backfill({
        ...landingFileOptions(runtime, route),
        prefix: route.source.landing!,
        // Folders of sources never overlap; the filter keeps this true if routing ever gets finer.
        filter: (path) => runtime.routeBlob(path) === route,
      });
      done = { route, result };
      for (const outcome of result.outcomes) await reportIngestion(runtime, route, outcome, startedAt, log);
    } catch (err) {
      done = { route, error: err as Error };
    }
    out.push(done);
    onSource?.(done);
  }
  return out;
}
