/**
 * Side effects of a committed episode, derived from its history events alone, as DTFx sends its
 * messages only after the history is written: activity work items for TaskScheduled, timer messages
 * for TimerCreated, child instances for SubOrchestrationInstanceCreated, and on ExecutionCompleted the
 * parent's notification and the clean-up of the execution's leftover work. Every effect has a
 * deterministic key, so sending an outbox twice (after a crash between commit and send) changes
 * nothing.
 */
import { randomUUID } from 'node:crypto';
import { EventType, Failure, WireEvent, WireFailureDetails } from './history';
import { ACTIVE_STATUSES, ConcurrencyError, HistoryStore, InstanceRecord, Outbox } from './history-store';
import type { ActivityItem, ActivityQueue } from './activity-queue';
import { OrchestratorMessage, taskMessageId, WorkQueue } from './work-queue';

/** What the outbox needs from the engine. */
export interface OutboxContext {
  store: HistoryStore;
  queue: WorkQueue;
  activities: ActivityQueue;
  now: () => number;
  log: (line: string) => void;
}

/** Send every side effect of `events` (the outbox range of `instance`). */
export async function sendOutbox(ctx: OutboxContext, instance: InstanceRecord, outbox: Outbox, events: readonly WireEvent[]): Promise<void> {
  const executionId = outbox.executionId;
  const firedHere = new Set(events.filter((e) => e.EventType === EventType.TimerFired).map((e) => Number(e.TimerId)));
  const activities: ActivityItem[] = [];
  const timers: OrchestratorMessage[] = [];
  for (const event of events) {
    switch (event.EventType) {
      case EventType.TaskScheduled:
        if (event.Sluice?.skipped) break;
        activities.push({
          instanceId: instance.instanceId,
          executionId,
          taskId: event.EventId,
          name: String(event.Name),
          attempt: event.Sluice?.attempt ?? 1,
          inputText: event.Input as string | undefined,
          leaseUntil: 0,
        });
        break;
      case EventType.TimerCreated:
        // Timers fired in the same episode (retries given up) need no message.
        if (firedHere.has(event.EventId)) break;
        timers.push({
          instanceId: instance.instanceId,
          kind: 'timer',
          id: taskMessageId('timer', executionId, event.EventId),
          dueAt: Date.parse(String(event.FireAt)),
          createdAt: ctx.now(),
          executionId,
          taskId: event.EventId,
        });
        break;
      case EventType.SubOrchestrationInstanceCreated:
        if (event.Sluice?.skipped) break;
        await startChild(ctx, instance, executionId, event);
        break;
    }
  }
  await ctx.activities.scheduleAll(activities);
  await ctx.queue.sendAll(timers);
  const done = events.find((e) => e.EventType === EventType.ExecutionCompleted);
  if (done) await completed(ctx, instance, executionId, done);
}

async function startChild(ctx: OutboxContext, parent: InstanceRecord, executionId: string, event: WireEvent): Promise<void> {
  const now = ctx.now();
  const childId = String(event.InstanceId);
  const record: InstanceRecord = {
    instanceId: childId,
    name: String(event.Name),
    runtimeStatus: 'Pending',
    executionId: randomUUID(),
    createdTime: now,
    lastUpdatedTime: now,
    inputText: event.Input as string | undefined,
    historyCount: 0,
    parentInstanceId: parent.instanceId,
    parentExecutionId: executionId,
    parentTaskId: event.EventId,
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    const existing = await ctx.store.get(childId);
    if (!existing) {
      if (await ctx.store.create(record)) return;
      continue;
    }
    if (existing.parentInstanceId === parent.instanceId && existing.parentExecutionId === executionId && existing.parentTaskId === event.EventId) return;
    if (ACTIVE_STATUSES.includes(existing.runtimeStatus)) {
      const failure = {
        reason: `sub-orchestration instance "${childId}" already exists and is ${existing.runtimeStatus}`,
        failureDetails: {
          ErrorType: 'InstanceExists',
          ErrorMessage: `sub-orchestration instance "${childId}" already exists and is ${existing.runtimeStatus}`,
          IsNonRetriable: false,
        },
      };
      await notifyParent(ctx, parent.instanceId, executionId, event.EventId, false, JSON.stringify(failure));
      return;
    }
    // A finished instance with that id is replaced by a new execution, as a new start would.
    await ctx.queue.deleteMessagesOf(childId);
    await ctx.store.deleteHistory(childId, existing.executionId);
    try {
      await ctx.store.replace({ ...record, etag: existing.etag });
      return;
    } catch (err) {
      if (!(err instanceof ConcurrencyError)) throw err;
    }
  }
  throw new Error(`could not start sub-orchestration "${childId}" of instance "${parent.instanceId}": its row kept changing`);
}

async function notifyParent(
  ctx: OutboxContext,
  parentId: string,
  parentExecutionId: string,
  taskId: number,
  ok: boolean,
  payloadText: string | undefined,
): Promise<void> {
  await ctx.queue.send({
    instanceId: parentId,
    kind: 'subResult',
    id: taskMessageId('subResult', parentExecutionId, taskId),
    dueAt: 0,
    createdAt: ctx.now(),
    executionId: parentExecutionId,
    taskId,
    ok,
    payloadText,
  });
}

async function completed(ctx: OutboxContext, instance: InstanceRecord, executionId: string, event: WireEvent): Promise<void> {
  const status = String(event.OrchestrationStatus);
  if (status !== 'ContinuedAsNew' && instance.parentInstanceId && instance.parentExecutionId && instance.parentTaskId !== undefined) {
    const ok = status === 'Completed';
    await notifyParent(
      ctx,
      instance.parentInstanceId,
      instance.parentExecutionId,
      instance.parentTaskId,
      ok,
      ok ? (event.Result as string | undefined) : JSON.stringify(childFailure(instance.name, event)),
    );
  }
  // Outstanding timers and activities of the finished execution will never be needed.
  await ctx.queue.deleteMessagesOf(instance.instanceId, executionId);
  await ctx.activities.deleteActivitiesOf(instance.instanceId, executionId);
  if (status === 'ContinuedAsNew') await ctx.store.deleteHistory(instance.instanceId, executionId);
  ctx.log(`orchestration ${instance.name} ${instance.instanceId}: ${status}`);
}

/** The Failure a finished child reports to its parent. */
export function childFailure(name: string, completed: WireEvent): Failure {
  const status = String(completed.OrchestrationStatus);
  const inner = completed.FailureDetails as WireFailureDetails | undefined;
  const result = String(JSON.parse(String(completed.Result ?? '""')));
  const message = status === 'Terminated' ? `Orchestrator function '${name}' was terminated: ${result}` : result;
  return { reason: message, failureDetails: { ErrorType: inner?.ErrorType ?? 'Error', ErrorMessage: message, IsNonRetriable: false, InnerFailure: inner } };
}
