/**
 * The worker's side of the contract: the `OrchestratorState` the `durable-functions` replay returns
 * after each run (`isDone`, `actions`, `output`, `error`, `customStatus`), read the way the extension
 * reads it.
 *
 * With replay schema V2 and later the worker returns every action of the execution from the start,
 * one entry per `yield` (a `Task.all`/`Task.any` as one compound entry) plus fire-and-forget actions;
 * the extension replays that list against its own history, so the first N actions are the ones it has
 * already scheduled and the rest are new. Compound entries are flattened here in the order the replay
 * numbers their children. An action object already seen (a task yielded again inside a later
 * `Task.all`) is the same task, not a new one, so it is counted once.
 *
 * Inputs follow the wire: activity and continue-as-new inputs that are strings arrive JSON-encoded
 * (`Utils.processInput`), other values as JSON; sub-orchestration inputs are never pre-encoded.
 */
import { toJsonText } from './payload';

const ACTION = (require('durable-functions/lib/src/actions/ActionType') as { ActionType: Record<string, number> }).ActionType;

/** Retry settings of `callActivityWithRetry` / `callSubOrchestratorWithRetry` (durable `RetryOptions`). */
export interface RetryPolicy {
  firstMs: number;
  maxAttempts: number;
  /** Backoff coefficient (DTFx default 1). */
  backoff: number;
  /** Longest wait between attempts (DTFx default: unbounded). */
  maxIntervalMs?: number;
  /** Time after the first attempt when retrying stops (DTFx default: never). */
  timeoutMs?: number;
}

/** One schedulable (or waitable) action of the flattened list. */
export type AtomicAction =
  | { kind: 'activity'; name: string; inputText?: string; retry?: RetryPolicy }
  | { kind: 'subOrchestration'; name: string; inputText?: string; instanceId?: string; retry?: RetryPolicy }
  | { kind: 'timer'; fireAt: number; canceled: boolean }
  | { kind: 'wait'; name: string }
  | { kind: 'continueAsNew'; inputText?: string }
  | { kind: 'unsupported'; type: string };

interface RawAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: Record<string, unknown>;
  instanceId?: string;
  fireAt?: Date | string;
  isCanceled?: boolean;
  externalEventName?: string;
  compoundActions?: RawAction[];
}

/** The wait before the retry that follows failed attempt `attempt` (1-based), as DTFx computes it. */
export function retryDelay(policy: RetryPolicy, attempt: number): number {
  const delay = policy.firstMs * Math.pow(policy.backoff, attempt - 1);
  return policy.maxIntervalMs !== undefined ? Math.min(delay, policy.maxIntervalMs) : delay;
}

function retryPolicy(options: Record<string, unknown> | undefined): RetryPolicy | undefined {
  if (!options) return undefined;
  const num = (key: string) => (typeof options[key] === 'number' ? (options[key] as number) : undefined);
  return {
    firstMs: num('firstRetryIntervalInMilliseconds') ?? 0,
    maxAttempts: num('maxNumberOfAttempts') ?? 1,
    backoff: num('backoffCoefficient') ?? 1,
    maxIntervalMs: num('maxRetryIntervalInMilliseconds'),
    timeoutMs: num('retryTimeoutInMilliseconds'),
  };
}

/** JSON text of a pre-encoded input (strings are already JSON text). */
function encodedInput(input: unknown, what: string): string | undefined {
  return typeof input === 'string' ? input : toJsonText(input, what);
}

function atomic(raw: RawAction): AtomicAction {
  const name = raw.functionName ?? '';
  switch (raw.actionType) {
    case ACTION.CallActivity:
    case ACTION.CallActivityWithRetry:
      return { kind: 'activity', name, inputText: encodedInput(raw.input, `input of activity "${name}"`), retry: retryPolicy(raw.retryOptions) };
    case ACTION.CallSubOrchestrator:
    case ACTION.CallSubOrchestratorWithRetry:
      return {
        kind: 'subOrchestration',
        name,
        inputText: toJsonText(raw.input, `input of sub-orchestration "${name}"`),
        instanceId: raw.instanceId || undefined,
        retry: retryPolicy(raw.retryOptions),
      };
    case ACTION.CreateTimer:
      return { kind: 'timer', fireAt: new Date(raw.fireAt as Date | string).getTime(), canceled: raw.isCanceled === true };
    case ACTION.WaitForExternalEvent:
      return { kind: 'wait', name: raw.externalEventName ?? '' };
    case ACTION.ContinueAsNew:
      return { kind: 'continueAsNew', inputText: encodedInput(raw.input, 'continueAsNew input') };
    default: {
      const type = (ACTION as Record<string | number, unknown>)[raw.actionType];
      return { kind: 'unsupported', type: typeof type === 'string' ? type : `action type ${raw.actionType}` };
    }
  }
}

/**
 * The atomic actions of an `OrchestratorState.actions` value (as the replay returned it, before any
 * serialization), in sequence-number order.
 *
 * @param actions the state's action groups
 * @returns the flattened actions
 */
export function flattenActions(actions: unknown): AtomicAction[] {
  const out: AtomicAction[] = [];
  const seen = new Set<object>();
  const visit = (raw: RawAction) => {
    if (seen.has(raw)) return;
    seen.add(raw);
    if (raw.actionType === ACTION.WhenAll || raw.actionType === ACTION.WhenAny) {
      for (const child of raw.compoundActions ?? []) visit(child);
      return;
    }
    out.push(atomic(raw));
  };
  for (const group of (actions as RawAction[][] | undefined) ?? []) for (const raw of group ?? []) visit(raw);
  return out;
}

/** Signature kind of an action that takes a sequence number, or undefined for waits and the rest. */
export function scheduledKind(action: AtomicAction): 'activity' | 'subOrchestration' | 'timer' | undefined {
  return action.kind === 'activity' || action.kind === 'subOrchestration' || action.kind === 'timer' ? action.kind : undefined;
}
