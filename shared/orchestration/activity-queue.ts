/**
 * The activity half of the work table (`<prefix>Work`, PartitionKey `activity`): one row per activity
 * invocation to run, RowKey `<encoded instance id>!<execution id>!<task sequence number>` so queueing
 * the same task twice (an outbox sent again) is harmless. An engine claims a row by writing its lease
 * (`LeaseOwner`, `LeaseUntil`) under the row's ETag; a crashed engine's rows become claimable again
 * when the lease lapses, which is what makes activities run at least once.
 */
import type { TableClient } from '@azure/data-tables';
import type { ObjectStore } from '../storage/types';
import { decodePayload, encodePayload } from './payload';
import { createRows, deleteRows, Entity, instanceRange, int64, numberOf, pad, statusOf } from './table-rows';

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

/** The activity work items. */
export class ActivityQueue {
  constructor(
    readonly work: TableClient,
    readonly payloads: ObjectStore | undefined,
    private readonly keyOf: (instanceId: string) => string,
  ) {}

  private activityRow(item: Pick<ActivityItem, 'instanceId' | 'executionId' | 'taskId'>): string {
    return `${this.keyOf(item.instanceId)}!${item.executionId}!${pad(item.taskId, 8)}`;
  }

  /** Queue activity invocations (queueing the same task again is ignored). */
  async scheduleAll(items: readonly ActivityItem[]): Promise<void> {
    await createRows(this.work, await Promise.all(items.map((item) => this.activityEntity(item))));
  }

  private async activityEntity(item: ActivityItem): Promise<Entity> {
    const payload = await encodePayload('Input', item.inputText, {
      maxChunks: 15,
      blobs: this.payloads,
      blobPath: `${this.keyOf(item.instanceId)}/${item.executionId}/activity-${item.taskId}.json`,
      what: `input of activity "${item.name}" (task ${item.taskId} of instance "${item.instanceId}")`,
    });
    return {
      partitionKey: 'activity',
      rowKey: this.activityRow(item),
      InstanceId: item.instanceId,
      ExecutionId: item.executionId,
      TaskId: item.taskId,
      Name: item.name,
      Attempt: item.attempt,
      LeaseOwner: '',
      LeaseUntil: int64(0),
      ...payload,
    };
  }

  /**
   * Activity items free to claim: lease lapsed, or held by an earlier process of the same host
   * (`takeoverPrefix`, see the engine's `hostId`) other than `owner`.
   */
  async claimable(now: number, owner: string, takeoverPrefix: string | undefined, limit: number): Promise<ActivityItem[]> {
    const takeover = takeoverPrefix
      ? ` or (LeaseOwner ge '${takeoverPrefix}' and LeaseOwner lt '${takeoverPrefix.slice(0, -1)}${String.fromCharCode(takeoverPrefix.charCodeAt(takeoverPrefix.length - 1) + 1)}')`
      : '';
    const filter = `PartitionKey eq 'activity' and (LeaseUntil le ${Math.trunc(now)}L${takeover})`;
    const out: ActivityItem[] = [];
    // One page of about what can be taken: a large fan-out queues thousands of items.
    const page =
      (
        await this.work
          .listEntities({ queryOptions: { filter } })
          .byPage({ maxPageSize: Math.max(1, Math.min(1000, limit)) })
          .next()
      ).value ?? [];
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
      const response = await this.work.updateEntity(
        { partitionKey: 'activity', rowKey: this.activityRow(item), LeaseOwner: owner, LeaseUntil: int64(until) },
        'Merge',
        { etag: item.etag },
      );
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
    for await (const e of this.work.listEntities({
      queryOptions: { filter: `PartitionKey eq 'activity' and ${instanceRange(this.keyOf(instanceId))}`, select: ['RowKey', 'ExecutionId'] },
    })) {
      if (executionId === undefined || e.ExecutionId === executionId) rows.push(String(e.rowKey));
    }
    await deleteRows(this.work, 'activity', rows);
  }
}
