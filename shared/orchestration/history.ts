/**
 * Orchestration history as the Durable extension hands it to the Node worker: PascalCase JSON events
 * (`EventType` numbers, `EventId`, `IsPlayed`, `Timestamp`, plus per-type fields), built here with the
 * `durable-functions` package's own history classes so a missing field fails the same way the package
 * would. Linking rules the replay code relies on:
 * - scheduling events (TaskScheduled, TimerCreated, SubOrchestrationInstanceCreated) carry
 *   `EventId` = the task's sequence number within the execution (0, 1, 2… in the order the
 *   orchestrator and the retry logic create tasks);
 * - completions point back with `TaskScheduledId` (tasks, sub-orchestrations) or `TimerId` (timers);
 *   every other event has `EventId` -1;
 * - `EventRaised` is matched by `Name`.
 * Each event may carry a `Sluice` note with the engine's own bookkeeping (action index, retry attempt);
 * the replay code ignores unknown fields. `readBook` rebuilds that bookkeeping from a stored history.
 */
import type { RetryPolicy } from './actions';

const HISTORY_TYPES = (require('durable-functions/lib/src/history/HistoryEventType') as { HistoryEventType: Record<string, number> }).HistoryEventType;

/** `HistoryEventType` numbers of the pinned package, by name. */
export const EventType = {
  ExecutionStarted: HISTORY_TYPES.ExecutionStarted,
  ExecutionCompleted: HISTORY_TYPES.ExecutionCompleted,
  ExecutionTerminated: HISTORY_TYPES.ExecutionTerminated,
  TaskScheduled: HISTORY_TYPES.TaskScheduled,
  TaskCompleted: HISTORY_TYPES.TaskCompleted,
  TaskFailed: HISTORY_TYPES.TaskFailed,
  SubOrchestrationInstanceCreated: HISTORY_TYPES.SubOrchestrationInstanceCreated,
  SubOrchestrationInstanceCompleted: HISTORY_TYPES.SubOrchestrationInstanceCompleted,
  SubOrchestrationInstanceFailed: HISTORY_TYPES.SubOrchestrationInstanceFailed,
  TimerCreated: HISTORY_TYPES.TimerCreated,
  TimerFired: HISTORY_TYPES.TimerFired,
  OrchestratorStarted: HISTORY_TYPES.OrchestratorStarted,
  OrchestratorCompleted: HISTORY_TYPES.OrchestratorCompleted,
  EventRaised: HISTORY_TYPES.EventRaised,
} as const;

/** Name of an event type number (`TaskCompleted`…). */
export function eventTypeName(type: number): string {
  // A TypeScript enum object maps numbers back to names.
  const name = (HISTORY_TYPES as Record<string | number, unknown>)[type];
  return typeof name === 'string' ? name : String(type);
}

/** The engine's bookkeeping carried on an event. */
export interface SluiceNote {
  /** Index of the scheduling action in the orchestrator's flattened action list. */
  action?: number;
  /** Attempt number (1-based) of an activity or sub-orchestration; for retry timers, the failed attempt. */
  attempt?: number;
  /** Retry policy of a retryable action (on each attempt and retry timer). */
  retry?: RetryPolicy;
  /** Id of attempt 1 of a retryable action (its name and input are read from there). */
  firstId?: number;
  /** Epoch ms of attempt 1 (for the retry timeout). */
  firstAt?: number;
  /** Retry timers: id of the failed attempt that started them. */
  retryOf?: number;
  /** An attempt recorded as failed without running (retry timeout expired, or the failure was non-retriable). */
  skipped?: boolean;
  /** Sub-orchestrations: the instance id was given by the orchestrator (retries reuse it). */
  fixedInstanceId?: boolean;
  /** OrchestratorCompleted: number of actions of the flattened list accepted so far. */
  actions?: number;
  /** EventRaised: id of the message it came from (duplicate deliveries are dropped). */
  messageId?: string;
}

/** One history event on the wire. */
export interface WireEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Sluice?: SluiceNote;
  [field: string]: unknown;
}

/** `FailureDetails` as the extension serializes it (DurableTask.Core.FailureDetails). */
export interface WireFailureDetails {
  ErrorType: string;
  ErrorMessage: string;
  StackTrace?: string;
  IsNonRetriable: boolean;
  Properties?: Record<string, unknown>;
  InnerFailure?: WireFailureDetails;
}

/** Why an activity or sub-orchestration failed: the legacy Reason/Details pair plus FailureDetails. */
export interface Failure {
  reason: string;
  details?: string;
  failureDetails: WireFailureDetails;
}

type EventClass = new (options: Record<string, unknown>) => Record<string, unknown>;
const CLASSES: Record<string, EventClass> = {
  ExecutionStarted: require('durable-functions/lib/src/history/ExecutionStartedEvent').ExecutionStartedEvent,
  TaskScheduled: require('durable-functions/lib/src/history/TaskScheduledEvent').TaskScheduledEvent,
  TaskCompleted: require('durable-functions/lib/src/history/TaskCompletedEvent').TaskCompletedEvent,
  TaskFailed: require('durable-functions/lib/src/history/TaskFailedEvent').TaskFailedEvent,
  SubOrchestrationInstanceCreated: require('durable-functions/lib/src/history/SubOrchestrationInstanceCreatedEvent').SubOrchestrationInstanceCreatedEvent,
  SubOrchestrationInstanceCompleted: require('durable-functions/lib/src/history/SubOrchestrationInstanceCompletedEvent').SubOrchestrationInstanceCompletedEvent,
  SubOrchestrationInstanceFailed: require('durable-functions/lib/src/history/SubOrchestrationInstanceFailedEvent').SubOrchestrationInstanceFailedEvent,
  TimerCreated: require('durable-functions/lib/src/history/TimerCreatedEvent').TimerCreatedEvent,
  TimerFired: require('durable-functions/lib/src/history/TimerFiredEvent').TimerFiredEvent,
  OrchestratorStarted: require('durable-functions/lib/src/history/OrchestratorStartedEvent').OrchestratorStartedEvent,
  OrchestratorCompleted: require('durable-functions/lib/src/history/OrchestratorCompletedEvent').OrchestratorCompletedEvent,
  EventRaised: require('durable-functions/lib/src/history/EventRaisedEvent').EventRaisedEvent,
};
const HistoryEventBase = (
  require('durable-functions/lib/src/history/HistoryEvent') as {
    HistoryEvent: new (type: number, id: number, played: boolean, ts: Date) => Record<string, unknown>;
  }
).HistoryEvent;

/**
 * A history event of `type` built by the package's class (events the package has no class for, such
 * as ExecutionCompleted, by its base class), as plain JSON-ready data.
 *
 * @param type event type name
 * @param eventId sequence number for scheduling events, -1 otherwise
 * @param timestamp epoch ms
 * @param fields the class's constructor options (camelCase) for classes, or PascalCase fields otherwise;
 *   extra wire fields a class does not take are assigned by the caller
 * @param note engine bookkeeping to carry
 * @returns the event
 */
export function makeEvent(
  type: keyof typeof EventType,
  eventId: number,
  timestamp: number,
  fields: Record<string, unknown> = {},
  note?: SluiceNote,
): WireEvent {
  const cls = CLASSES[type];
  const when = new Date(timestamp);
  const built = cls
    ? new cls({ eventId, timestamp: when, isPlayed: false, ...fields })
    : Object.assign(new HistoryEventBase(EventType[type], eventId, false, when), fields);
  const event = { ...built, Timestamp: when.toISOString() } as WireEvent;
  if (note && Object.keys(note).length) event.Sluice = note;
  return event;
}

/** What the engine knows about one task (activity attempt, sub-orchestration attempt or timer). */
export interface TaskRecord {
  id: number;
  kind: 'activity' | 'subOrchestration' | 'timer';
  /** The scheduling event. */
  event: WireEvent;
  note: SluiceNote;
  /** A completion, failure or firing is in the history. */
  done: boolean;
  /** The recorded failure, for failed attempts. */
  failure?: Failure;
}

/** The engine's view of one execution's history. */
export interface Book {
  tasks: Map<number, TaskRecord>;
  /** Next free sequence number. */
  nextId: number;
  /** Actions of the flattened list already accepted (scheduled or waited on). */
  actionCount: number;
  /** ExecutionStarted is in the history. */
  started: boolean;
  /** Latest event timestamp (epoch ms); episode times never go back before it. */
  lastTimestamp: number;
  /** Ids of the messages already turned into EventRaised events. */
  messageIds: Set<string>;
  /** What each action index scheduled first, as `<kind>:<name>`, to detect non-determinism. */
  signatures: Map<number, string>;
}

/** Signature of a scheduled action, compared on every replay. */
export function signature(kind: TaskRecord['kind'], name: string | undefined): string {
  return kind === 'timer' ? 'timer' : `${kind}:${name}`;
}

/** The Failure a TaskFailed or SubOrchestrationInstanceFailed event records. */
export function failureOfEvent(event: WireEvent): Failure {
  const details = event.FailureDetails as WireFailureDetails | undefined;
  return {
    reason: String(event.Reason ?? ''),
    details: event.Details as string | undefined,
    failureDetails: details ?? { ErrorType: 'Error', ErrorMessage: String(event.Reason ?? ''), IsNonRetriable: false },
  };
}

/** Rebuild the bookkeeping of one execution from its events. */
export function readBook(history: readonly WireEvent[]): Book {
  const book: Book = { tasks: new Map(), nextId: 0, actionCount: 0, started: false, lastTimestamp: 0, messageIds: new Set(), signatures: new Map() };
  const schedule = (event: WireEvent, kind: TaskRecord['kind']) => {
    const note = event.Sluice ?? {};
    book.tasks.set(event.EventId, { id: event.EventId, kind, event, note, done: false });
    book.nextId = Math.max(book.nextId, event.EventId + 1);
    if (note.action !== undefined && (note.attempt ?? 1) === 1 && note.retryOf === undefined)
      book.signatures.set(note.action, signature(kind, event.Name as string | undefined));
  };
  const finish = (id: unknown, failure?: Failure) => {
    const task = book.tasks.get(Number(id));
    if (!task) return;
    task.done = true;
    task.failure = failure;
  };
  for (const event of history) {
    book.lastTimestamp = Math.max(book.lastTimestamp, Date.parse(event.Timestamp));
    switch (event.EventType) {
      case EventType.ExecutionStarted:
        book.started = true;
        break;
      case EventType.TaskScheduled:
        schedule(event, 'activity');
        break;
      case EventType.SubOrchestrationInstanceCreated:
        schedule(event, 'subOrchestration');
        break;
      case EventType.TimerCreated:
        schedule(event, 'timer');
        break;
      case EventType.TaskCompleted:
      case EventType.SubOrchestrationInstanceCompleted:
        finish(event.TaskScheduledId);
        break;
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceFailed:
        finish(event.TaskScheduledId, failureOfEvent(event));
        break;
      case EventType.TimerFired:
        finish(event.TimerId);
        break;
      case EventType.EventRaised:
        if (event.Sluice?.messageId) book.messageIds.add(event.Sluice.messageId);
        break;
      case EventType.OrchestratorCompleted:
        if (event.Sluice?.actions !== undefined) book.actionCount = event.Sluice.actions;
        break;
    }
  }
  return book;
}
