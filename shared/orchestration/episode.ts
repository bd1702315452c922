/**
 * One orchestrator episode, the extension's side: turn the instance's due messages into history
 * events, run the orchestrator once over the whole history (worker.ts), and turn what it returns
 * into new events and the instance's new state. No storage I/O happens here; the engine commits the
 * plan and the outbox sends its side effects. How the new events are numbered (and why message
 * events are ordered as they are) is explained in planner.ts.
 */
import type { LogHandler } from '@azure/functions';
import type { OrchestrationHandler } from 'durable-functions';
import { AtomicAction, scheduledKind } from './actions';
import { Book, makeEvent, readBook, signature, WireEvent, WireFailureDetails } from './history';
import type { InstanceRecord } from './history-store';
import { ACTIVE_STATUSES } from './history-store';
import { Planner } from './planner';
import { runOrchestratorTurn } from './worker';
import type { OrchestratorMessage } from './work-queue';

/** What an episode starts from. */
export interface EpisodeInput {
  instance: InstanceRecord;
  /** Committed events of the current execution, as stored JSON text. */
  pastEvents: readonly string[];
  /** Due messages of the instance. */
  messages: readonly OrchestratorMessage[];
  now: number;
  /** The registered orchestrator, or undefined when none has the instance's name. */
  orchestrator: OrchestrationHandler | undefined;
  logHandler: LogHandler;
  newExecutionId: () => string;
}

/** What to commit. */
export interface EpisodePlan {
  /** Events to append to execution `executionId` from index `from` (empty: nothing to record). */
  append: { executionId: string; from: number; events: WireEvent[] };
  /** The instance row to write. */
  instance: InstanceRecord;
  /** Ids of the messages this episode used up (applied, duplicate or stale). */
  consumed: string[];
  /** How many of the new events came before the orchestrator's output (start, messages). */
  inputEvents: number;
}

/** Message shown as the output of a failed instance, as the extension words it. */
export function failedOutput(name: string, message: string): string {
  return `Orchestrator function '${name}' failed: ${message}`;
}

/** The first problem that makes the turn's actions unusable, or undefined. */
function actionProblem(actions: readonly AtomicAction[], book: Book): string | undefined {
  const unsupported = actions.find((a) => a.kind === 'unsupported') as { type: string } | undefined;
  if (unsupported)
    return `${unsupported.type} is not emulated by Sluice's local orchestration engine (durable entities and durable HTTP calls are not supported)`;
  for (const [index, was] of book.signatures) {
    const action = actions[index];
    const kind = action && scheduledKind(action);
    const now = kind ? signature(kind, 'name' in action ? action.name : undefined) : action ? action.kind : 'nothing';
    if (now !== was)
      return `Non-deterministic workflow detected: action ${index} was ${was} when first scheduled and is now ${now}; an orchestrator must make the same calls in the same order on every replay`;
  }
  if (actions.length < book.actionCount)
    return `Non-deterministic workflow detected: the orchestrator made ${actions.length} calls on replay where it had made ${book.actionCount}`;
  return undefined;
}

/**
 * Plan one episode.
 *
 * @param input the instance, its history and due messages
 * @returns the events and state to commit
 */
export async function planEpisode(input: EpisodeInput): Promise<EpisodePlan> {
  const instance = input.instance;
  const next: InstanceRecord = { ...instance };
  const messages = input.messages;
  const consumed = messages.map((m) => m.id);
  const append = { executionId: instance.executionId, from: instance.historyCount, events: [] as WireEvent[] };
  const plan: EpisodePlan = { append, instance: next, consumed, inputEvents: 0 };
  if (!ACTIVE_STATUSES.includes(instance.runtimeStatus)) return plan;

  const book = readBook(input.pastEvents.map((t) => JSON.parse(t) as WireEvent));
  const now = Math.max(input.now, book.lastTimestamp);
  const events = append.events;
  const planner = new Planner(book, now, instance);
  events.push(makeEvent('OrchestratorStarted', -1, now));
  const starting = !book.started;
  if (starting) {
    const started = makeEvent('ExecutionStarted', -1, now, { name: instance.name, input: instance.inputText });
    Object.assign(started, { OrchestrationInstance: { InstanceId: instance.instanceId, ExecutionId: instance.executionId } });
    if (instance.parentInstanceId)
      Object.assign(started, {
        ParentInstance: {
          OrchestrationInstance: { InstanceId: instance.parentInstanceId, ExecutionId: instance.parentExecutionId },
          TaskScheduleId: instance.parentTaskId,
        },
      });
    events.push(started);
  }
  next.lastUpdatedTime = now;

  const finish = (status: 'Completed' | 'Failed' | 'Terminated' | 'ContinuedAsNew', resultText: string | undefined, failureDetails?: WireFailureDetails) => {
    if (status !== 'Terminated') events.push(makeEvent('OrchestratorCompleted', -1, now));
    const completed = makeEvent('ExecutionCompleted', -1, now, { OrchestrationStatus: status, Result: resultText });
    if (failureDetails) completed.FailureDetails = failureDetails;
    events.push(completed);
    next.runtimeStatus = status;
    next.historyCount = instance.historyCount + events.length;
  };
  const fail = (message: string, failureDetails?: WireFailureDetails) => {
    const details = failureDetails ?? { ErrorType: 'Error', ErrorMessage: message, IsNonRetriable: false };
    next.outputText = JSON.stringify(failedOutput(instance.name, message));
    next.failureText = JSON.stringify(details);
    finish('Failed', next.outputText, details);
  };

  const terminate = messages.find((m) => m.kind === 'terminate');
  if (terminate) {
    events.push(makeEvent('ExecutionTerminated', -1, now, { Input: terminate.payloadText }));
    next.outputText = terminate.payloadText;
    finish('Terminated', terminate.payloadText);
    return plan;
  }
  for (const message of messages) planner.apply(message);
  if (!starting && planner.reactions.length + planner.others.length === 0) {
    append.events = [];
    next.lastUpdatedTime = instance.lastUpdatedTime;
    return plan;
  }
  events.push(...planner.reactions, ...planner.others);

  if (!input.orchestrator) {
    fail(`the orchestrator function '${instance.name}' is not registered with this engine`);
    return plan;
  }
  plan.inputEvents = events.length;
  const turn = await runOrchestratorTurn(input.orchestrator, {
    name: instance.name,
    instanceId: instance.instanceId,
    parentInstanceId: instance.parentInstanceId,
    pastEvents: input.pastEvents,
    newEvents: events,
    inputText: instance.inputText,
    logHandler: input.logHandler,
  });
  if (turn.customStatusText !== undefined) next.customStatusText = turn.customStatusText;
  if (!turn.ok) {
    fail(turn.message, turn.failureDetails);
    return plan;
  }
  const problem = actionProblem(turn.actions, book);
  if (problem) {
    fail(problem);
    return plan;
  }
  if (turn.isDone) {
    const continued = turn.actions.find((a) => a.kind === 'continueAsNew') as { inputText?: string } | undefined;
    if (continued) {
      finish('ContinuedAsNew', continued.inputText);
      next.inputText = continued.inputText;
      next.outputText = undefined;
      next.executionId = input.newExecutionId();
      next.historyCount = 0;
    } else {
      next.outputText = turn.outputText;
      finish('Completed', turn.outputText);
    }
    return plan;
  }
  events.push(...planner.scheduleNew(turn.actions, book.actionCount));
  events.push(makeEvent('OrchestratorCompleted', -1, now, {}, { actions: turn.actions.length }));
  next.runtimeStatus = 'Running';
  next.historyCount = instance.historyCount + events.length;
  return plan;
}

/**
 * The plan turned into a failure of the instance after its commit was refused (e.g. an output too
 * large to store): the episode's inputs are kept, the orchestrator's output replaced by the error.
 *
 * @param plan the plan that could not be committed
 * @param before the instance as it was before the episode
 * @param message why
 * @returns the failure plan
 */
export function failedPlan(plan: EpisodePlan, before: InstanceRecord, message: string): EpisodePlan {
  const events = plan.append.events.slice(0, Math.max(1, plan.inputEvents));
  const now = Date.parse(events[0].Timestamp);
  const details: WireFailureDetails = { ErrorType: 'Error', ErrorMessage: message, IsNonRetriable: true };
  const outputText = JSON.stringify(failedOutput(before.name, message));
  events.push(
    makeEvent('OrchestratorCompleted', -1, now),
    Object.assign(makeEvent('ExecutionCompleted', -1, now, { OrchestrationStatus: 'Failed', Result: outputText }), { FailureDetails: details }),
  );
  const instance: InstanceRecord = {
    ...before,
    runtimeStatus: 'Failed',
    lastUpdatedTime: now,
    outputText,
    failureText: JSON.stringify(details),
    historyCount: before.historyCount + events.length,
  };
  return { ...plan, append: { executionId: before.executionId, from: before.historyCount, events }, instance };
}
