/**
 * The Node worker's half, run in-process: an orchestrator turn goes through the `durable-functions`
 * package's own entry point (`createOrchestrator`, the wrapper `df.app.orchestration` registers, which
 * calls `Orchestrator.handle` → `TaskOrchestrationExecutor.execute`), and an activity through the
 * package's `wrapActivityHandler`, exactly as the Functions worker would call them. Nothing here
 * re-implements replay: this module builds the trigger input the extension sends and reads back what
 * the package returns.
 *
 * The package's internals are loaded by path, so the version is pinned and checked.
 */
import { randomUUID } from 'node:crypto';
import { InvocationContext, LogHandler } from '@azure/functions';
import type { OrchestrationHandler } from 'durable-functions';
import { AtomicAction, flattenActions } from './actions';
import type { Failure, WireEvent, WireFailureDetails } from './history';
import { toJsonText } from './payload';

/** The `durable-functions` version whose replay internals this engine drives. */
export const PINNED_DURABLE_FUNCTIONS = '3.5.0';

type OrchestratorEntry = (
  trigger: unknown,
  context: InvocationContext,
) => Promise<{ isDone: boolean; actions: unknown; output?: unknown; customStatus?: unknown }>;
type ActivityEntry = (input: unknown, context: InvocationContext) => Promise<unknown>;

let checked = false;
function durable(): { createOrchestrator(fn: OrchestrationHandler): OrchestratorEntry; wrapActivityHandler(fn: ActivityEntry): ActivityEntry; V3: number } {
  if (!checked) {
    const version = (require('durable-functions/package.json') as { version: string }).version;
    if (version !== PINNED_DURABLE_FUNCTIONS) {
      throw new Error(
        `the local orchestration engine drives durable-functions ${PINNED_DURABLE_FUNCTIONS} replay internals, but ${version} is installed; pin durable-functions to ${PINNED_DURABLE_FUNCTIONS} in package.json`,
      );
    }
    checked = true;
  }
  return {
    createOrchestrator: require('durable-functions/lib/src/util/testingUtils').createOrchestrator,
    wrapActivityHandler: require('durable-functions/lib/src/app').wrapActivityHandler,
    V3: require('durable-functions/lib/src/orchestrations/ReplaySchema').ReplaySchema.V3,
  };
}

/** An orchestrator turn to run. */
export interface TurnRequest {
  name: string;
  instanceId: string;
  parentInstanceId?: string;
  /** Events of earlier episodes, as stored JSON text (IsPlayed true). */
  pastEvents: readonly string[];
  /** This episode's events. */
  newEvents: readonly WireEvent[];
  /** The execution's input as JSON text. */
  inputText?: string;
  logHandler: LogHandler;
}

/** What a turn produced. */
export type TurnResult =
  | { ok: true; isDone: boolean; actions: AtomicAction[]; outputText?: string; customStatusText?: string }
  | { ok: false; message: string; customStatusText?: string; failureDetails?: WireFailureDetails };

const OUT_OF_PROC_LABEL = '\n\n$OutOfProcData$:';

/**
 * Run the orchestrator over the whole history once, as the worker does for each episode.
 *
 * @param fn the orchestrator generator function (as given to `df.app.orchestration`)
 * @param request history, input and identity
 * @returns the turn's actions and state, or the orchestration failure
 */
export async function runOrchestratorTurn(fn: OrchestrationHandler, request: TurnRequest): Promise<TurnResult> {
  const { createOrchestrator, V3 } = durable();
  const events = [...request.pastEvents, ...request.newEvents.map((e) => JSON.stringify(e))];
  // The trigger input the extension sends (DurableOrchestrationBindingInfo), parsed from JSON as the
  // worker would. Timers never need splitting here (no queue visibility limit), hence the long maximum.
  const head = {
    instanceId: request.instanceId,
    isReplaying: request.pastEvents.length > 0,
    parentInstanceId: request.parentInstanceId,
    upperSchemaVersion: V3,
    maximumShortTimerDuration: '36500.00:00:00',
    longRunningTimerIntervalDuration: '3.00:00:00',
    defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
  };
  const json = `{"history":[${events.join(',')}]${request.inputText !== undefined ? `,"input":${request.inputText}` : ''},${JSON.stringify(head).slice(1)}`;
  const context = new InvocationContext({ invocationId: randomUUID(), functionName: request.name, logHandler: request.logHandler });
  try {
    const state = await createOrchestrator(fn)(JSON.parse(json), context);
    return {
      ok: true,
      isDone: state.isDone,
      actions: flattenActions(state.actions),
      outputText: toJsonText(state.output, `output of orchestration "${request.name}"`),
      customStatusText: toJsonText(state.customStatus, `custom status of orchestration "${request.name}"`),
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const at = message.indexOf(OUT_OF_PROC_LABEL);
    // OrchestrationFailureError: the real message is the state's `error`, as the extension reads it.
    if (at < 0) return { ok: false, message };
    const state = JSON.parse(message.slice(at + OUT_OF_PROC_LABEL.length)) as { error?: string; customStatus?: unknown; failureDetails?: WireFailureDetails };
    return {
      ok: false,
      message: state.error ?? message.slice(0, at),
      customStatusText: toJsonText(state.customStatus, 'custom status'),
      failureDetails: state.failureDetails,
    };
  }
}

/** An activity outcome as the extension records it. */
export type ActivityOutcome = { ok: true; resultText: string } | { ok: false; failure: Failure };

/** Turn any thrown value into the failure the extension would record for `what`. */
export function failureOf(err: unknown, what: string): Failure {
  const error = err instanceof Error ? err : new Error(String(err));
  let details: WireFailureDetails = {
    ErrorType: error.name || 'Error',
    ErrorMessage: error.message,
    StackTrace: error.stack,
    // Sluice extension: an error flagged non-retriable stops RetryOptions early (see episode.ts).
    IsNonRetriable: (error as { nonRetriable?: unknown }).nonRetriable === true || (error as { isNonRetriable?: unknown }).isNonRetriable === true,
  };
  // With an ExceptionPropertiesProvider registered, wrapActivityHandler puts the details in the message as JSON.
  try {
    const payload = JSON.parse(error.message) as {
      errorType?: unknown;
      errorMessage?: unknown;
      stackTrace?: string;
      isNonRetriable?: boolean;
      properties?: Record<string, unknown>;
    };
    if (payload && typeof payload.errorType === 'string' && typeof payload.errorMessage === 'string') {
      details = {
        ErrorType: payload.errorType,
        ErrorMessage: payload.errorMessage,
        StackTrace: payload.stackTrace,
        IsNonRetriable: details.IsNonRetriable || payload.isNonRetriable === true,
        Properties: payload.properties,
      };
    }
  } catch {
    // a plain message
  }
  return { reason: `${what} failed: ${details.ErrorMessage}`, details: details.StackTrace, failureDetails: details };
}

/**
 * Run one activity invocation as the worker would (through `wrapActivityHandler`).
 *
 * @param handler the activity function
 * @param name activity name
 * @param inputText the TaskScheduled input (JSON text)
 * @param logHandler where the activity's context.log goes
 * @returns its result as JSON text, or its failure
 */
export async function runActivity(
  handler: (input: unknown, context: InvocationContext) => unknown,
  name: string,
  inputText: string | undefined,
  logHandler: LogHandler,
): Promise<ActivityOutcome> {
  const { wrapActivityHandler } = durable();
  const context = new InvocationContext({ invocationId: randomUUID(), functionName: name, logHandler });
  try {
    const result = await wrapActivityHandler(async (input, ctx) => handler(input, ctx))(inputText === undefined ? undefined : JSON.parse(inputText), context);
    return { ok: true, resultText: toJsonText(result, `result of activity "${name}"`) ?? 'null' };
  } catch (err) {
    return { ok: false, failure: failureOf(err, `Activity function '${name}'`) };
  }
}
