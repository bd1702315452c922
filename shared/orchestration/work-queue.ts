/**
 * The engine's queues, in one table `<prefix>Work` (default `SluiceDevWork`), playing the parts of the
 * real extension's control queues and work-item queue:
 * - PartitionKey `message`: messages to orchestration instances (activity results, sub-orchestration
 *   results, timers, raised events, terminate requests). `DueAt` makes timers invisible until they
 *   fire, like a queue message's visibility delay.
 * - PartitionKey `activity`: activity work items, claimed with a lease (`LeaseOwner`, `LeaseUntil`)
 *   under optimistic concurrency, so a crashed engine's items run again once the lease lapses
 *   (at-least-once, as in the real extension).
 * RowKeys start with the encoded instance id and `!` (a character `encodeKey` never emits), so one
 * instance's rows form a range. Result, timer and activity keys are derived from the execution and
 * task sequence number, so sending them twice (after a crash) is harmless.
 */
import { randomUUID } from 'node:crypto';
import type { TableClient, TransactionAction } from '@azure/data-tables';
import type { ObjectStore } from '../storage/types';
import { int64, numberOf, statusOf, submitBatched } from './history-store';
import { decodePayload, encodePayload } from './payload';

/** What a message carries. */
export type MessageKind = 'activityResult' | 'subResult' | 'timer' | 'event' | 'terminate';

/** A message to an orchestration instance. */
export interface OrchestratorMessage {
  instanceId: string;
  kind: MessageKind;
  /** Unique within the instance; also the RowKey suffix. */
  id: string;
  /** Not delivered before this time (epoch ms). */
  dueAt: number;
  createdAt: number;
  executionId?: string;
  /** Task sequence number (results and timers). */
  taskId?: number;
  /** Event name (raised events). */
  name?: string;
  /** Success (results). */
  ok?: boolean;
  /** JSON text: result, event data, Failure, or terminate reason. */
  payloadText?: string;
}

/** An activity invocation to run. */
export interface ActivityItem {
  instanceId: string;
  executionId: string;
  taskId: number;
  name: string;
  attempt: number;
  inputText?: string;
  leaseOwner?: string;
  leaseUntil: number;
  etag?: string;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Id of a result or timer message: one per execution and task, so duplicates collapse. */
export function taskMessageId(kind: 'activityResult' | 'subResult' | 'timer', executionId: string, taskId: number): string {
  return `${{ activityResult: 'r', subResult: 's', timer: 't' }[kind]}!${executionId}!${pad(taskId, 8)}`;
}

/** Id of a raised event or terminate request: ordered by time of sending. */
export function freshMessageId(kind: 'event' | 'terminate', now: number): string {
  return `${kind === 'event' ? 'e' : 'x'}!${pad(now, 15)}!${randomUUID()}`;
}

/** The work table. */
export class WorkQueue {
  constructor(
    readonly work: TableClient,
    readonly payloads: ObjectStore | undefined,
    private readonly keyOf: (instanceId: string) => string,
  ) {}

  private range(instanceId: string): string {
    const key = this.keyOf(instanceId);
    return `RowKey ge '${key}!' and RowKey lt '${key}"'`;
  }

  private async create(entity: Record<string, unknown> & { partitionKey: string; rowKey: string }): Promise<void> {
    try {
      await this.work.createEntity(entity);
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }

  /** Send a message (a second send of the same id is ignored); `what` names its payload in errors. */
  async send(message: OrchestratorMessage, what?: string): Promise<void> {
    const key = this.keyOf(message.instanceId);
    const payload = await encodePayload('Payload', message.payloadText, { maxChunks: 15, blobs: this.payloads, blobPath: `${key}/messages/${message.id.replace(/!/g, '-')}.json`, what: what ?? `${message.kind} message to instance "${message.instanceId}"` });
    await this.create({
      partitionKey: 'message',
      rowKey: `${key}!${message.id}`,
      InstanceId: message.instanceId,
      Kind: message.kind,
      DueAt: int64(message.dueAt),
      CreatedAt: int64(message.createdAt),
      ExecutionId: message.executionId ?? '',
      TaskId: message.taskId ?? -1,
      Name: message.name ?? '',
      Ok: message.ok ?? false,
      ...payload,
    });
  }

  /** Ids of instances with a message due at `now`. */
  async dueInstances(now: number): Promise<string[]> {
    const ids = new Set<string>();
    const filter = `PartitionKey eq 'message' and DueAt le ${Math.trunc(now)}L`;
    for await (const e of this.work.listEntities({ queryOptions: { filter, select: ['InstanceId'] } })) ids.add(String(e.InstanceId));
    return [...ids];
  }

  /** Messages of one instance due at `now` (all when `now` is undefined), oldest first. */
  async messagesFor(instanceId: string, now?: number): Promise<OrchestratorMessage[]> {
    const out: OrchestratorMessage[] = [];
    const due = now === undefined ? '' : ` and DueAt le ${Math.trunc(now)}L`;
    for await (const e of this.work.listEntities({ queryOptions: { filter: `PartitionKey eq 'message' and ${this.range(instanceId)}${due}` } })) {
      const entity = e as Record<string, unknown>;
      out.push({
        instanceId,
        kind: entity.Kind as MessageKind,
        id: String(entity.rowKey).slice(this.keyOf(instanceId).length + 1),
        dueAt: numberOf(entity.DueAt) ?? 0,
        createdAt: numberOf(entity.CreatedAt) ?? 0,
        executionId: (entity.ExecutionId as string) || undefined,
        taskId: numberOf(entity.TaskId),
        name: (entity.Name as string) || undefined,
        ok: entity.Ok === true,
        payloadText: await decodePayload(entity, 'Payload', this.payloads, `${entity.Kind} message ${entity.rowKey}`),
      });
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  /** Delete messages by id (missing ones are fine). */
  async deleteMessages(instanceId: string, ids: readonly string[]): Promise<void> {
    const key = this.keyOf(instanceId);
    await this.deleteRows('message', ids.map((id) => `${key}!${id}`));
  }

  /** Delete every message of an instance, or only those bound to one execution. */
  async deleteMessagesOf(instanceId: string, executionId?: string): Promise<void> {
    const rows: string[] = [];
    for await (const e of this.work.listEntities({ queryOptions: { filter: `PartitionKey eq 'message' and ${this.range(instanceId)}`, select: ['RowKey', 'ExecutionId'] } })) {
      if (executionId === undefined || e.ExecutionId === executionId) rows.push(String(e.rowKey));
    }
    await this.deleteRows('message', rows);
  }

  private async deleteRows(partition: string, rowKeys: readonly string[]): Promise<void> {
    const actions: TransactionAction[] = rowKeys.map((rowKey) => ['delete', { partitionKey: partition, rowKey }]);
    try {
      await submitBatched(this.work, actions, () => 300);
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      // One of them was gone already: a transaction fails whole, so go one by one.
      for (const rowKey of rowKeys) {
        try {
          await this.work.deleteEntity(partition, rowKey);
        } catch (e) {
          if (statusOf(e) !== 404) throw e;
        }
      }
    }
  }

  private activityRow(item: Pick<ActivityItem, 'instanceId' | 'executionId' | 'taskId'>): string {
    return `${this.keyOf(item.instanceId)}!${item.executionId}!${pad(item.taskId, 8)}`;
  }

  /** Queue an activity invocation (a second queueing of the same task is ignored). */
  async schedule(item: ActivityItem): Promise<void> {
    const rowKey = this.activityRow(item);
    const payload = await encodePayload('Input', item.inputText, { maxChunks: 15, blobs: this.payloads, blobPath: `${this.keyOf(item.instanceId)}/${item.executionId}/activity-${item.taskId}.json`, what: `input of activity "${item.name}" (task ${item.taskId} of instance "${item.instanceId}")` });
    await this.create({
      partitionKey: 'activity',
      rowKey,
      InstanceId: item.instanceId,
      ExecutionId: item.executionId,
      TaskId: item.taskId,
      Name: item.name,
      Attempt: item.attempt,
      LeaseOwner: '',
      LeaseUntil: int64(0),
      ...payload,
    });
  }

  /**
   * Activity items free to claim: lease lapsed, or held by an earlier process of the same host
   * (`takeoverPrefix`, see the engine's `hostId`) other than `owner`.
   */
  async claimable(now: number, owner: string, takeoverPrefix: string | undefined, limit: number): Promise<ActivityItem[]> {
    const takeover = takeoverPrefix ? ` or (LeaseOwner ge '${takeoverPrefix}' and LeaseOwner lt '${takeoverPrefix.slice(0, -1)}${String.fromCharCode(takeoverPrefix.charCodeAt(takeoverPrefix.length - 1) + 1)}')` : '';
    const filter = `PartitionKey eq 'activity' and (LeaseUntil le ${Math.trunc(now)}L${takeover})`;
    const out: ActivityItem[] = [];
    // One page of about what can be taken: a large fan-out queues thousands of items.
    const page = (await this.work.listEntities({ queryOptions: { filter } }).byPage({ maxPageSize: Math.max(1, Math.min(1000, limit)) }).next()).value ?? [];
    for (const e of page) {
      if (out.length >= limit) break;
      const entity = e as Record<string, unknown>;
      if (entity.LeaseOwner === owner) continue;
      out.push({
        instanceId: String(entity.InstanceId),
        executionId: String(entity.ExecutionId),
        taskId: numberOf(entity.TaskId) ?? 0,
        name: String(entity.Name),
        attempt: numberOf(entity.Attempt) ?? 1,
        inputText: await decodePayload(entity, 'Input', this.payloads, `input of activity ${entity.rowKey}`),
        leaseOwner: (entity.LeaseOwner as string) || undefined,
        leaseUntil: numberOf(entity.LeaseUntil) ?? 0,
        etag: entity.etag as string,
      });
    }
    return out;
  }

  /** Take or extend the lease of an item; false when another engine changed it first. */
  async lease(item: ActivityItem, owner: string, until: number): Promise<boolean> {
    try {
      const response = await this.work.updateEntity({ partitionKey: 'activity', rowKey: this.activityRow(item), LeaseOwner: owner, LeaseUntil: int64(until) }, 'Merge', { etag: item.etag });
      item.etag = response.etag;
      item.leaseOwner = owner;
      item.leaseUntil = until;
      return true;
    } catch (err) {
      if (statusOf(err) === 412 || statusOf(err) === 404) return false;
      throw err;
    }
  }

  /** Remove a finished item if this engine still holds it. */
  async finish(item: ActivityItem): Promise<void> {
    try {
      await this.work.deleteEntity('activity', this.activityRow(item), { etag: item.etag });
    } catch (err) {
      if (statusOf(err) !== 412 && statusOf(err) !== 404) throw err;
    }
  }

  /** Delete the activity items of an instance (of one execution, or all). */
  async deleteActivitiesOf(instanceId: string, executionId?: string): Promise<void> {
    const rows: string[] = [];
    for await (const e of this.work.listEntities({ queryOptions: { filter: `PartitionKey eq 'activity' and ${this.range(instanceId)}`, select: ['RowKey', 'ExecutionId'] } })) {
      if (executionId === undefined || e.ExecutionId === executionId) rows.push(String(e.rowKey));
    }
    await this.deleteRows('activity', rows);
  }
}
