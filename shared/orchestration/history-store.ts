/**
 * Instance state and history in Azure Table Storage (Azurite locally), laid out like the real
 * extension's Azure Storage provider but under names it never uses:
 * - `<prefix>Instances` (default `SluiceDevInstances`): one row per instance, PartitionKey = the
 *   encoded instance id, RowKey = ''. It carries the status the HTTP API shows, the current
 *   execution id, how many history rows of that execution are committed (`HistoryCount`), the
 *   episode lock and the outbox of the last committed episode.
 * - `<prefix>History` (default `SluiceDevHistory`): one row per event, PartitionKey = the encoded
 *   instance id, RowKey = `<executionId>~<index, 8 digits>`; the event's JSON in `Event` (see
 *   payload.ts for values over 64 KiB).
 * Only rows below `HistoryCount` count: an episode appends its rows first and commits by updating the
 * instance row with its ETag, so a crash in between leaves rows the next episode overwrites.
 */
import type { TableClient, TransactionAction } from '@azure/data-tables';
import { encodeKey } from '../storage/table-keys';
import type { ObjectStore } from '../storage/types';
import type { WireEvent } from './history';
import { decodePayload, encodePayload } from './payload';
import type { RuntimeStatus } from './types';
import { deleteRows, int64, numberOf, statusOf, submitBatched } from './table-rows';

/** Statuses of an instance that has not finished (one that a new start would collide with). */
export const ACTIVE_STATUSES: readonly RuntimeStatus[] = ['Pending', 'Running', 'ContinuedAsNew'];

/** History range whose side effects (work items, timers, children, notifications) still have to be sent. */
export interface Outbox {
  executionId: string;
  from: number;
  to: number;
}

/** One instance row. Payload fields hold JSON text. */
export interface InstanceRecord {
  instanceId: string;
  name: string;
  runtimeStatus: RuntimeStatus;
  executionId: string;
  createdTime: number;
  lastUpdatedTime: number;
  inputText?: string;
  outputText?: string;
  customStatusText?: string;
  /** FailureDetails of a failed instance (JSON). */
  failureText?: string;
  historyCount: number;
  parentInstanceId?: string;
  parentExecutionId?: string;
  parentTaskId?: number;
  lockOwner?: string;
  lockUntil?: number;
  outbox?: Outbox;
  /** ETag of the row as read or last written. */
  etag?: string;
}

/** A conditional write lost to another writer (HTTP 412), or the row is gone (404). */
export class ConcurrencyError extends Error {
  constructor(what: string) {
    super(`orchestration store: ${what} was changed by another engine`);
    this.name = 'ConcurrencyError';
  }
}

const PAYLOAD_FIELDS = [
  ['Input', 'inputText', 'input.json'],
  ['Output', 'outputText', 'output.json'],
  ['CustomStatus', 'customStatusText', 'custom-status.json'],
  ['Failure', 'failureText', 'failure.json'],
] as const;

/** Zero-padded history index for RowKeys. */
export function historyRowKey(executionId: string, index: number): string {
  return `${executionId}~${String(index).padStart(8, '0')}`;
}

/** The instance and history tables. */
export class HistoryStore {
  constructor(
    readonly instances: TableClient,
    readonly history: TableClient,
    readonly payloads: ObjectStore | undefined,
  ) {}

  /** PartitionKey of an instance (Table keys forbid `/ \ # ?` and control characters). */
  key(instanceId: string): string {
    return encodeKey(instanceId);
  }

  /** The instance row, or undefined. */
  async get(instanceId: string): Promise<InstanceRecord | undefined> {
    try {
      return await this.decode((await this.instances.getEntity(this.key(instanceId), '')) as unknown as Record<string, unknown>);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** Decode an instance row as listed or read. */
  async decode(entity: Record<string, unknown>): Promise<InstanceRecord> {
    const id = String(entity.InstanceId);
    const record: InstanceRecord = {
      instanceId: id,
      name: String(entity.Name),
      runtimeStatus: entity.RuntimeStatus as RuntimeStatus,
      executionId: String(entity.ExecutionId),
      createdTime: numberOf(entity.CreatedTime) ?? 0,
      lastUpdatedTime: numberOf(entity.LastUpdatedTime) ?? 0,
      historyCount: numberOf(entity.HistoryCount) ?? 0,
      parentInstanceId: (entity.ParentInstanceId as string) || undefined,
      parentExecutionId: (entity.ParentExecutionId as string) || undefined,
      parentTaskId: entity.ParentInstanceId ? numberOf(entity.ParentTaskId) : undefined,
      lockOwner: (entity.LockOwner as string) || undefined,
      lockUntil: numberOf(entity.LockUntil),
      outbox: entity.Outbox ? (JSON.parse(String(entity.Outbox)) as Outbox) : undefined,
      etag: entity.etag as string,
    };
    for (const [field, prop] of PAYLOAD_FIELDS) record[prop] = await decodePayload(entity, field, this.payloads, `${field} of orchestration instance "${id}"`);
    return record;
  }

  private async encode(record: InstanceRecord): Promise<Record<string, unknown> & { partitionKey: string; rowKey: string }> {
    const key = this.key(record.instanceId);
    const entity: Record<string, unknown> & { partitionKey: string; rowKey: string } = {
      partitionKey: key,
      rowKey: '',
      InstanceId: record.instanceId,
      Name: record.name,
      RuntimeStatus: record.runtimeStatus,
      ExecutionId: record.executionId,
      CreatedTime: int64(record.createdTime),
      LastUpdatedTime: int64(record.lastUpdatedTime),
      HistoryCount: record.historyCount,
      ParentInstanceId: record.parentInstanceId ?? '',
      ParentExecutionId: record.parentExecutionId ?? '',
      ParentTaskId: record.parentTaskId ?? -1,
      LockOwner: record.lockOwner ?? '',
      LockUntil: int64(record.lockUntil ?? 0),
      Outbox: record.outbox ? JSON.stringify(record.outbox) : '',
    };
    for (const [field, prop, file] of PAYLOAD_FIELDS) {
      // Four chunks each keeps the four payloads and the rest under the 1 MiB entity limit.
      Object.assign(
        entity,
        await encodePayload(field, record[prop], {
          maxChunks: 4,
          blobs: this.payloads,
          blobPath: `${key}/${record.executionId}/${file}`,
          what: `${field} of orchestration instance "${record.instanceId}"`,
        }),
      );
    }
    return entity;
  }

  /** Create the row; false when one exists already. */
  async create(record: InstanceRecord): Promise<boolean> {
    try {
      record.etag = (await this.instances.createEntity(await this.encode(record))).etag;
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false;
      throw err;
    }
  }

  /** Replace the row if it still has `record.etag`; updates `record.etag`. */
  async replace(record: InstanceRecord): Promise<void> {
    try {
      record.etag = (await this.instances.updateEntity(await this.encode(record), 'Replace', { etag: record.etag })).etag;
    } catch (err) {
      if (statusOf(err) === 412 || statusOf(err) === 404) throw new ConcurrencyError(`instance "${record.instanceId}"`);
      throw err;
    }
  }

  /** Delete the row (any ETag); missing is fine. */
  async delete(instanceId: string): Promise<void> {
    try {
      await this.instances.deleteEntity(this.key(instanceId), '');
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  /** Instance rows matching an OData filter (undefined: all). */
  async list(filter?: string): Promise<InstanceRecord[]> {
    const out: InstanceRecord[] = [];
    for await (const entity of this.instances.listEntities({ queryOptions: filter ? { filter } : {} }))
      out.push(await this.decode(entity as Record<string, unknown>));
    return out;
  }

  /** Ids of instances that need an episode without any message: to start, or with an unsent outbox. */
  async listStartable(): Promise<string[]> {
    const out: string[] = [];
    const filter = `RuntimeStatus eq 'Pending' or RuntimeStatus eq 'ContinuedAsNew' or Outbox ne ''`;
    for await (const entity of this.instances.listEntities({ queryOptions: { filter, select: ['InstanceId'] } })) out.push(String(entity.InstanceId));
    return out;
  }

  /** History rows [from, to) of one execution, as stored JSON text. */
  async read(instanceId: string, executionId: string, from: number, to: number): Promise<string[]> {
    if (to <= from) return [];
    const key = this.key(instanceId);
    const filter = `PartitionKey eq '${key}' and RowKey ge '${historyRowKey(executionId, from)}' and RowKey lt '${historyRowKey(executionId, to)}'`;
    const out: string[] = [];
    for await (const entity of this.history.listEntities({ queryOptions: { filter } })) {
      out.push((await decodePayload(entity as Record<string, unknown>, 'Event', this.payloads, `history event ${entity.rowKey} of instance "${instanceId}"`))!);
    }
    if (out.length !== to - from)
      throw new Error(`orchestration history of instance "${instanceId}" execution ${executionId}: expected rows ${from}..${to - 1}, found ${out.length}`);
    return out;
  }

  /** Write events at indexes from `from` on (stored as played: they are history for every later run). */
  async append(instanceId: string, executionId: string, from: number, events: readonly WireEvent[]): Promise<string[]> {
    const key = this.key(instanceId);
    const texts: string[] = [];
    const actions: TransactionAction[] = [];
    for (let i = 0; i < events.length; i++) {
      const text = JSON.stringify({ ...events[i], IsPlayed: true });
      texts.push(text);
      const index = from + i;
      const payload = await encodePayload('Event', text, {
        maxChunks: 15,
        blobs: this.payloads,
        blobPath: `${key}/${executionId}/history-${index}.json`,
        what: `history event ${index} of instance "${instanceId}"`,
      });
      actions.push([
        'upsert',
        {
          partitionKey: key,
          rowKey: historyRowKey(executionId, index),
          ExecutionId: executionId,
          EventType: events[i].EventType,
          EventId: events[i].EventId,
          EventTime: events[i].Timestamp,
          ...payload,
        },
        'Replace',
      ]);
    }
    await submitBatched(this.history, actions, (a) => 2 * JSON.stringify(a[1]).length + 200);
    return texts;
  }

  /** Delete history rows of an instance: one execution's, or all. Returns how many. */
  async deleteHistory(instanceId: string, executionId?: string): Promise<number> {
    const key = this.key(instanceId);
    const filter = executionId ? `PartitionKey eq '${key}' and RowKey ge '${executionId}~' and RowKey lt '${executionId}~~'` : `PartitionKey eq '${key}'`;
    const rows: string[] = [];
    for await (const entity of this.history.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) rows.push(String(entity.rowKey));
    // Rows another caller deleted meanwhile (two starts replacing one finished instance) are not an error.
    await deleteRows(this.history, key, rows);
    return rows.length;
  }
}
