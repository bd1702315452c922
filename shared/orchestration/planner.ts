/**
 * Numbering and recording one episode's new history events (the extension's part of an episode).
 *
 * Sequence numbers must come out exactly as the replay code numbers its tasks, because completions
 * are matched by them. The replay numbers tasks when the orchestrator yields them and, for
 * `callActivityWithRetry`/`callSubOrchestratorWithRetry`, numbers each retry timer when it reads the
 * failure and each further attempt when it reads the timer firing (as DTFx's retry interceptor does).
 * So an episode puts those "reaction" events (a retryable failure, a retry timer firing with attempts
 * left) before every other new event, and numbers their follow-ups at once; events that can resume
 * the orchestrator come after, and the orchestrator's new actions are numbered last, in order.
 *
 * DTFx also waits one retry interval after the last failed attempt before failing the task, and the
 * replay code expects that timer; it is kept. A retry timeout, which DTFx enforces by not creating the
 * timer (the replay code would then wait forever), is enforced instead by recording the remaining
 * attempts as failed without running them; so is a failure flagged non-retriable (a Sluice extension:
 * `error.nonRetriable = true`).
 */
import { AtomicAction, retryDelay } from './actions';
import { Book, Failure, makeEvent, SluiceNote, TaskRecord, WireEvent } from './history';
import type { InstanceRecord } from './history-store';
import type { OrchestratorMessage } from './work-queue';

/** Builds one episode's message events (reactions first) and the events of new actions. */
export class Planner {
  readonly reactions: WireEvent[] = [];
  readonly others: WireEvent[] = [];

  constructor(
    readonly book: Book,
    readonly now: number,
    readonly instance: InstanceRecord,
  ) {}

  private record(event: WireEvent, kind: TaskRecord['kind']): TaskRecord {
    const task: TaskRecord = { id: event.EventId, kind, event, note: event.Sluice ?? {}, done: false };
    this.book.tasks.set(task.id, task);
    return task;
  }

  /** A scheduling event for an activity or sub-orchestration attempt, numbered now. */
  scheduleAttempt(kind: 'activity' | 'subOrchestration', name: string, inputText: string | undefined, note: SluiceNote, instanceId?: string): TaskRecord {
    const id = this.book.nextId++;
    const event =
      kind === 'activity'
        ? makeEvent('TaskScheduled', id, this.now, { name, input: inputText }, note)
        : makeEvent(
            'SubOrchestrationInstanceCreated',
            id,
            this.now,
            { name, input: inputText, instanceId: instanceId ?? `${this.instance.instanceId}:${id}` },
            note,
          );
    return this.record(event, kind);
  }

  /** A plain or retry timer, numbered now. */
  timer(fireAt: number, note: SluiceNote): TaskRecord {
    return this.record(makeEvent('TimerCreated', this.book.nextId++, this.now, { fireAt: new Date(fireAt).toISOString() }, note), 'timer');
  }

  private failedEvent(task: TaskRecord, failure: Failure): WireEvent {
    const fields = { taskScheduledId: task.id, reason: failure.reason, details: failure.details, failureDetails: failure.failureDetails };
    return makeEvent(task.kind === 'activity' ? 'TaskFailed' : 'SubOrchestrationInstanceFailed', -1, this.now, fields);
  }

  private givesUp(task: TaskRecord, failure: Failure): boolean {
    const policy = task.note.retry!;
    const expired = policy.timeoutMs !== undefined && this.now >= (task.note.firstAt ?? this.now) + policy.timeoutMs;
    return failure.failureDetails.IsNonRetriable || expired;
  }

  /** A failure of `task`; retryable ones react at once with their retry timer. */
  failed(task: TaskRecord, failure: Failure): void {
    task.done = true;
    task.failure = failure;
    const event = this.failedEvent(task, failure);
    if (!task.note.retry) {
      this.others.push(event);
      return;
    }
    this.reactions.push(event);
    const attempt = task.note.attempt ?? 1;
    const giveUp = this.givesUp(task, failure);
    const { action, retry, firstId, firstAt } = task.note;
    const timer = this.timer(giveUp ? this.now : this.now + retryDelay(retry!, attempt), { action, attempt, retry, firstId, firstAt, retryOf: task.id });
    this.reactions.push(timer.event);
    if (giveUp) this.fired(timer, failure);
  }

  /** A timer fired; a retry timer with attempts left reacts with the next attempt. */
  fired(timer: TaskRecord, skipWith?: Failure): void {
    timer.done = true;
    const event = makeEvent('TimerFired', -1, this.now, { timerId: timer.id, fireAt: timer.event.FireAt });
    const { retry, attempt, retryOf, firstId, firstAt, action } = timer.note;
    if (retryOf === undefined || !retry || (attempt ?? 1) >= retry.maxAttempts) {
      this.others.push(event);
      return;
    }
    this.reactions.push(event);
    const first = this.book.tasks.get(firstId!)!;
    const failedBefore = this.book.tasks.get(retryOf)!;
    // Past the retry timeout the next attempt is recorded as failed without running.
    const skip = skipWith ?? (retry.timeoutMs !== undefined && this.now >= (firstAt ?? 0) + retry.timeoutMs ? failedBefore.failure : undefined);
    const note: SluiceNote = {
      action,
      attempt: (attempt ?? 1) + 1,
      retry,
      firstId,
      firstAt,
      fixedInstanceId: first.note.fixedInstanceId,
      ...(skip ? { skipped: true } : {}),
    };
    const kind = first.kind as 'activity' | 'subOrchestration';
    const next = this.scheduleAttempt(
      kind,
      String(first.event.Name),
      first.event.Input as string | undefined,
      note,
      first.note.fixedInstanceId ? String(first.event.InstanceId) : undefined,
    );
    this.reactions.push(next.event);
    if (skip) this.failed(next, skip);
  }

  /** Apply one due message. */
  apply(message: OrchestratorMessage): void {
    if (message.kind === 'event') {
      if (this.book.messageIds.has(message.id)) return;
      this.book.messageIds.add(message.id);
      this.others.push(makeEvent('EventRaised', -1, this.now, { name: message.name, input: message.payloadText }, { messageId: message.id }));
      return;
    }
    // Results and timers belong to one execution and one task; anything else is a late duplicate.
    if (message.executionId !== this.instance.executionId) return;
    const task = this.book.tasks.get(message.taskId ?? -1);
    const expected = { activityResult: 'activity', subResult: 'subOrchestration', timer: 'timer' }[message.kind as 'activityResult'];
    if (!task || task.done || task.kind !== expected) return;
    if (message.kind === 'timer') {
      this.fired(task);
    } else if (message.ok) {
      task.done = true;
      const type = task.kind === 'activity' ? 'TaskCompleted' : 'SubOrchestrationInstanceCompleted';
      this.others.push(
        makeEvent(type, -1, Math.min(this.now, message.createdAt || this.now), { taskScheduledId: task.id, result: message.payloadText ?? 'null' }),
      );
    } else {
      this.failed(task, JSON.parse(message.payloadText ?? '{}') as Failure);
    }
  }

  /** Number and record the orchestrator's new actions (index `from` on). */
  scheduleNew(actions: readonly AtomicAction[], from: number): WireEvent[] {
    const out: WireEvent[] = [];
    for (let i = from; i < actions.length; i++) {
      const a = actions[i];
      if (a.kind === 'activity' || a.kind === 'subOrchestration') {
        const firstId = this.book.nextId;
        const note: SluiceNote = { action: i, attempt: 1, ...(a.retry ? { retry: a.retry, firstId, firstAt: this.now } : {}) };
        if (a.kind === 'subOrchestration' && a.instanceId) note.fixedInstanceId = true;
        out.push(this.scheduleAttempt(a.kind, a.name, a.inputText, note, a.kind === 'subOrchestration' ? a.instanceId : undefined).event);
      } else if (a.kind === 'timer') {
        out.push(this.timer(a.fireAt, { action: i }).event);
      }
    }
    return out;
  }
}
