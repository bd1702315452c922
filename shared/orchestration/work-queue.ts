/**
 * The engine's queues, in one table `<prefix>Work` (default `SluiceDevWork`), playing the parts of the
 * real extension's control queues and work-item queue:
 * - PartitionKey `message`: messages to orchestration instances (activity results, sub-orchestration
 *   results, timers, raised events and terminate requests). `DueAt` makes timers invisible until
 *   they fire, like a queue message's visibility delay.
 * - PartitionKey `activity`: activity work items (activity-queue.ts).
 * RowKeys start with the encoded instance id and `!` (a character `encodeKey` never emits), so one
 * instance's rows form a range. Result and timer keys are derived from the execution and task
 * sequence number, so sending them twice (after a crash) is harmless.
 */
import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { ObjectStore } from '../storage/types';
import { decodePayload, encodePayload } from './payload';
import { createRow, createRows, deleteRows, Entity, instanceRange, int64, numberOf, pad } from './table-rows';

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
  /** JSON text: result, event data, Failure or terminate reason. */
  payloadText?: string;
  /** ETag of the stored message (as read). */
  etag?: string;
}

/** Id of a result or timer message: one per execution and task, so duplicates collapse. */
export function taskMessageId(kind: 'activityResult' | 'subResult' | 'timer', executionId: string, taskId: number): string {
  return `${{ activityResult: 'r', subResult: 's', timer: 't' }[kind]}!${executionId}!${pad(taskId, 8)}`;
}

/** Id of a raised event or terminate request: ordered by time of sending. */
export function freshMessageId(kind: 'event' | 'terminate', now: number): string {
  return `${kind === 'event' ? 'e' : 'x'}!${pad(now, 15)}!${randomUUID()}`;
}

/** The messages to orchestration instances. */
export class WorkQueue {
  constructor(
    readonly work: TableClient,
    readonly payloads: ObjectStore | undefined,
    private readonly keyOf: (instanceId: string) => string,
  ) {}

  /** Send a message (a second send of the same id is ignored); `what` names its payload in errors. */
  async send(message: OrchestratorMessage, what?: string): Promise<void> {
    await createRow(this.work, await this.messageEntity(message, what));
  }

  /** Send many messages, in transactions where possible. */
  async sendAll(messages: readonly OrchestratorMessage[]): Promise<void> {
    await createRows(this.work, await Promise.all(messages.map((m) => this.messageEntity(m))));
  }

  private async messageEntity(message: OrchestratorMessage, what?: string): Promise<Entity> {
    const key = this.keyOf(message.instanceId);
    const payload = await encodePayload('Payload', message.payloadText, {
      maxChunks: 15,
      blobs: this.payloads,
      blobPath: `${key}/messages/${message.id.replace(/!/g, '-')}.json`,
      what: what ?? `${message.kind} message to instance "${message.instanceId}"`,
    });
    return {
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
    };
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
    for await (const e of this.work.listEntities({ queryOptions: { filter: `PartitionKey eq 'message' and ${instanceRange(this.keyOf(instanceId))}${due}` } }))
      out.push(await this.decode(instanceId, e as Record<string, unknown>));
    return out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  private async decode(instanceId: string, entity: Record<string, unknown>): Promise<OrchestratorMessage> {
    return {
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
      etag: entity.etag as string,
    };
  }

  /** Delete messages by id (missing ones are fine). */
  async deleteMessages(instanceId: string, ids: readonly string[]): Promise<void> {
    const key = this.keyOf(instanceId);
    await deleteRows(
      this.work,
      'message',
      ids.map((id) => `${key}!${id}`),
    );
  }

  /** Delete every message of an instance, or only those bound to one execution. */
  async deleteMessagesOf(instanceId: string, executionId?: string): Promise<void> {
    const rows: string[] = [];
    for await (const e of this.work.listEntities({
      queryOptions: { filter: `PartitionKey eq 'message' and ${instanceRange(this.keyOf(instanceId))}`, select: ['RowKey', 'ExecutionId'] },
    })) {
      if (executionId === undefined || e.ExecutionId === executionId) rows.push(String(e.rowKey));
    }
    await deleteRows(this.work, 'message', rows);
  }
}
