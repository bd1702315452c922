/**
 * One Event Hubs trigger invocation (cardinality `many`) as the ingest stage wants it: the events with
 * their own metadata, and the partition they come from.
 *
 * The Functions host hands the bodies as an array and the per-event metadata as parallel arrays in
 * `triggerMetadata` (`sequenceNumberArray`, `offsetArray`, `enqueuedTimeUtcArray`,
 * `partitionKeyArray`, `propertiesArray`, and `systemPropertiesArray` with the same values per event),
 * plus one `partitionContext` (`fullyQualifiedNamespace`, `eventHubName`, `consumerGroup`,
 * `partitionId`) for the batch. The Node library lower-cases the first letter of every key on the
 * way (`PartitionId` → `partitionId`; application properties too, `DeviceId` → `deviceId`, which we
 * cannot undo), and JSON-decodes what it can, so numbers may arrive as numbers or as strings, and
 * times as ISO strings with or without a zone (UTC either way).
 */
import type { HubEvent, HubPartition } from '../ingest/types';
import type { EventHubSettings } from './settings';

/** A batch ready for `ingestEvents`. */
export interface HubBatch {
  partition: HubPartition;
  events: HubEvent[];
}

/** The trigger metadata arrays disagree with the batch: a binding problem, not bad data. */
export class HubMetadataError extends Error {
  constructor(message: string) {
    super(`event hub trigger metadata: ${message}`);
    this.name = 'HubMetadataError';
  }
}

/**
 * Zip an Event Hubs trigger invocation into events and their partition.
 *
 * @param messages the trigger's first argument (an array with cardinality many)
 * @param metadata `context.triggerMetadata`
 * @param hub the app's Event Hub settings (fallbacks when `partitionContext` lacks a field)
 * @returns the batch
 * @throws HubMetadataError when a metadata array is missing, of another length, or holds a bad value
 */
export function hubBatchFromTrigger(messages: unknown, metadata: Record<string, unknown> | undefined, hub: EventHubSettings): HubBatch {
  const bodies = Array.isArray(messages) ? messages : [messages];
  const meta = metadata ?? {};
  const context = objectOf(meta.partitionContext);
  const system = arrayOf(meta.systemPropertiesArray, bodies.length, 'systemPropertiesArray');
  const fromSystem = (key: string) => (system ? system.map((s) => objectOf(s)[key]) : undefined);

  const sequenceNumbers = arrayOf(meta.sequenceNumberArray, bodies.length, 'sequenceNumberArray') ?? fromSystem('sequenceNumber');
  const offsets = arrayOf(meta.offsetArray, bodies.length, 'offsetArray') ?? fromSystem('offset');
  const enqueued = arrayOf(meta.enqueuedTimeUtcArray, bodies.length, 'enqueuedTimeUtcArray') ?? fromSystem('enqueuedTimeUtc');
  const keys = arrayOf(meta.partitionKeyArray, bodies.length, 'partitionKeyArray') ?? fromSystem('partitionKey');
  const properties = arrayOf(meta.propertiesArray, bodies.length, 'propertiesArray');
  if (!sequenceNumbers) throw new HubMetadataError('sequenceNumberArray is missing (is the trigger registered with cardinality many?)');
  if (!offsets) throw new HubMetadataError('offsetArray is missing');
  if (!enqueued) throw new HubMetadataError('enqueuedTimeUtcArray is missing');

  const partitionId = context.partitionId ?? meta.partitionId;
  if (partitionId === undefined || partitionId === null || String(partitionId) === '') throw new HubMetadataError('partitionContext.partitionId is missing');
  const partition: HubPartition = {
    namespace: String(context.fullyQualifiedNamespace ?? hub.namespace).toLowerCase(),
    hub: String(context.eventHubName ?? hub.name),
    consumerGroup: String(context.consumerGroup ?? hub.consumerGroup),
    partitionId: String(partitionId),
  };

  const events = bodies.map((body, i): HubEvent => {
    const key = keys?.[i];
    const props = properties?.[i];
    return {
      body,
      sequenceNumber: sequenceNumber(sequenceNumbers[i], i),
      offset: offset(offsets[i], i),
      enqueuedTime: enqueuedTime(enqueued[i], i),
      ...(key === undefined ? {} : { partitionKey: key === null ? null : String(key) }),
      ...(props && typeof props === 'object' && !Array.isArray(props) ? { properties: props as Record<string, unknown> } : {}),
    };
  });
  return { partition, events };
}

function objectOf(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** A metadata array, checked against the batch size; undefined when the host did not send it. */
function arrayOf(value: unknown, length: number, name: string): unknown[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new HubMetadataError(`${name} is not an array`);
  if (value.length !== length) throw new HubMetadataError(`${name} has ${value.length} entries for ${length} events`);
  return value;
}

function sequenceNumber(value: unknown, i: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new HubMetadataError(`sequenceNumberArray[${i}] is not a sequence number: ${JSON.stringify(value)}`);
  return n;
}

function offset(value: unknown, i: number): string {
  if (typeof value === 'number' || (typeof value === 'string' && value !== '')) return String(value);
  throw new HubMetadataError(`offsetArray[${i}] is not an offset: ${JSON.stringify(value)}`);
}

function enqueuedTime(value: unknown, i: number): Date {
  let at: Date | undefined;
  if (value instanceof Date) at = value;
  else if (typeof value === 'string') {
    // .NET writes DateTime values of kind Unspecified without a zone; the host's are UTC.
    const text = /(Z|[+-]\d{2}:?\d{2})$/i.test(value.trim()) ? value.trim() : `${value.trim()}Z`;
    at = new Date(text);
  } else if (typeof value === 'number') at = new Date(value);
  if (!at || Number.isNaN(at.getTime())) throw new HubMetadataError(`enqueuedTimeUtcArray[${i}] is not a time: ${JSON.stringify(value)}`);
  return at;
}
