/**
 * The local stand-in for Event Hubs: no emulator runs here, so events posted to the local host
 * (`POST /api/dev/eventhubs/{hub}`) are handed to the `eventHubIngest` function as the Functions host
 * hands a batch (cardinality many): the bodies, and in `triggerMetadata` the per-event arrays
 * (`sequenceNumberArray`, `offsetArray`, `enqueuedTimeUtcArray`, `partitionKeyArray`,
 * `propertiesArray`, `systemPropertiesArray`) and the `partitionContext`.
 *
 * Everything goes to partition 0. Sequence numbers and offsets keep increasing across restarts (the
 * next ones are kept in the Azure Table `SluiceDevEventHubs`), because the ingest stage applies each
 * (partition, sequence number) once: numbers starting again at 0 would look like events already
 * stored. Numbers are taken before delivery, so a batch is never numbered twice. Batches hold at
 * most host.json's `maxEventBatchSize` events and go out one after the other per hub, in order, as
 * one partition's batches do; a failing batch is retried a few times with `retryContext` set.
 */
import type { TableClient } from '@azure/data-tables';
import { tableCreation } from '../shared/storage/lake';
import type { BoundFunction } from './functions';
import { type DevLog, invokeFunction } from './invoke';

/** The hub a batch claims to come from. */
export interface HubIdentity {
  namespace: string;
  name: string;
  consumerGroup: string;
}

/** What one post did. */
export interface PostedEvents {
  hub: string;
  partitionId: string;
  events: number;
  batches: number;
  /** First and last sequence number given, or null for no events. */
  sequenceNumbers: [number, number] | null;
}

/** The request body is not events. */
export class EventsBodyError extends Error {}

/** A post failed part way: the first `delivered` events are ingested, the rest are not. */
export class PartialDeliveryError extends Error {
  constructor(
    hub: string,
    readonly delivered: number,
    readonly total: number,
    cause: unknown,
  ) {
    super(
      `${hub}: the first ${delivered} of ${total} events were delivered and ingested, the other ${total - delivered} were not (re-post only those): ${(cause as Error)?.message ?? cause}`,
      { cause },
    );
    this.name = 'PartialDeliveryError';
  }
}

const PARTITION_ID = '0';

/**
 * Read posted events: a JSON array (each element one event body), one JSON object, or NDJSON.
 *
 * @param text the request body
 * @returns the event bodies
 * @throws EventsBodyError naming the line that is not JSON
 */
export function parseEventsBody(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  try {
    const parsed = JSON.parse(trimmed) as unknown;
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    // Not one JSON document: NDJSON, one event per non-empty line.
  }
  return trimmed.split(/\r?\n/).flatMap((line, i) => {
    if (line.trim() === '') return [];
    try {
      return [JSON.parse(line) as unknown];
    } catch (err) {
      throw new EventsBodyError(`line ${i + 1} is not JSON (send a JSON array, one JSON object or NDJSON): ${(err as Error).message}`);
    }
  });
}

/** Feeds posted events to the Event Hubs function. */
export class LocalEventHubs {
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly ensure: () => Promise<void>;

  /**
   * @param table where the next sequence number and offset of each hub are kept
   * @param handler the Event Hubs function (`eventHubIngest`)
   * @param maxBatchSize events per invocation (host.json `extensions.eventHubs.maxEventBatchSize`)
   * @param log the host's log
   * @param attempts invocations of a failing batch before the post fails (default 3)
   */
  constructor(
    private readonly table: TableClient,
    private readonly handler: BoundFunction<unknown>,
    private readonly maxBatchSize: number,
    private readonly log: DevLog,
    private readonly attempts = 3,
  ) {
    this.ensure = tableCreation(table);
  }

  /**
   * Number the events and deliver them in batches, after any earlier post to the same hub.
   *
   * @param hub which hub they come from (its name is the routing key)
   * @param bodies the event bodies
   * @returns what was delivered
   * @throws the handler's error when a batch still fails after the retries (later batches are not sent)
   */
  post(hub: HubIdentity, bodies: unknown[]): Promise<PostedEvents> {
    const key = hub.name.toLowerCase();
    const run = (this.chains.get(key) ?? Promise.resolve()).catch(() => undefined).then(() => this.deliverAll(hub, bodies));
    this.chains.set(key, run);
    return run;
  }

  private async deliverAll(hub: HubIdentity, bodies: unknown[]): Promise<PostedEvents> {
    if (bodies.length === 0) return { hub: hub.name, partitionId: PARTITION_ID, events: 0, batches: 0, sequenceNumbers: null };
    const sizes = bodies.map((b) => Buffer.byteLength(typeof b === 'string' ? b : JSON.stringify(b)));
    const { sequence, offset } = await this.allocate(
      hub.name.toLowerCase(),
      bodies.length,
      sizes.reduce((a, b) => a + b, 0),
    );
    const enqueued = new Date().toISOString();
    let batches = 0;
    let at = offset;
    for (let start = 0; start < bodies.length; start += this.maxBatchSize) {
      const slice = bodies.slice(start, start + this.maxBatchSize);
      const seq = slice.map((_, i) => sequence + start + i);
      const offsets = slice.map((_, i) => {
        const mine = at;
        at += sizes[start + i];
        return String(mine);
      });
      try {
        await this.deliverBatch(hub, slice, seq, offsets, enqueued);
      } catch (err) {
        // Earlier batches are in bronze: the caller must re-post only what follows them, or those
        // events would be stored twice under new sequence numbers.
        throw new PartialDeliveryError(hub.name, start, bodies.length, err);
      }
      batches++;
    }
    return { hub: hub.name, partitionId: PARTITION_ID, events: bodies.length, batches, sequenceNumbers: [sequence, sequence + bodies.length - 1] };
  }

  private async deliverBatch(hub: HubIdentity, bodies: unknown[], seq: number[], offsets: string[], enqueued: string): Promise<void> {
    const triggerMetadata = {
      partitionContext: { fullyQualifiedNamespace: hub.namespace, eventHubName: hub.name, consumerGroup: hub.consumerGroup, partitionId: PARTITION_ID },
      sequenceNumberArray: seq,
      offsetArray: offsets,
      enqueuedTimeUtcArray: seq.map(() => enqueued),
      partitionKeyArray: seq.map(() => null),
      propertiesArray: seq.map(() => ({})),
      systemPropertiesArray: seq.map((s, i) => ({ sequenceNumber: s, offset: offsets[i], enqueuedTimeUtc: enqueued, partitionKey: null })),
    };
    for (let attempt = 0; ; attempt++) {
      try {
        const retryContext = attempt > 0 ? { retryCount: attempt, maxRetryCount: this.attempts - 1 } : undefined;
        await invokeFunction(this.handler.name, this.log, (context) => this.handler.call(bodies, context), {
          triggerMetadata,
          ...(retryContext ? { retryContext } : {}),
        });
        return;
      } catch (err) {
        if (attempt + 1 >= this.attempts) throw err;
        await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
      }
    }
  }

  /** Take `count` sequence numbers and `bytes` of offsets for a hub (optimistic concurrency on the row). */
  private async allocate(hub: string, count: number, bytes: number): Promise<{ sequence: number; offset: number }> {
    await this.ensure();
    for (let attempt = 0; attempt < 10; attempt++) {
      const row = await this.table.getEntity<{ nextSequence: number; nextOffset: number }>(hub, PARTITION_ID).catch((err) => {
        if ((err as { statusCode?: number }).statusCode === 404) return undefined;
        throw err;
      });
      const sequence = row?.nextSequence ?? 0;
      const offset = row?.nextOffset ?? 0;
      const next = { partitionKey: hub, rowKey: PARTITION_ID, nextSequence: sequence + count, nextOffset: offset + bytes };
      try {
        if (row) await this.table.updateEntity(next, 'Replace', { etag: row.etag });
        else await this.table.createEntity(next);
        return { sequence, offset };
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        if (status !== 409 && status !== 412) throw err;
      }
    }
    throw new Error(`event hub ${hub}: could not take sequence numbers (the row in ${this.table.tableName} kept changing)`);
  }
}
