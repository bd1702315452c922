/**
 * The app's one list of functions (functions/definitions.ts) as the local host runs it: each trigger
 * kind with its handler bound to what the Functions host would pass, the run client as third argument
 * for functions that declare the durable client (in Azure, index.ts adds that binding and wraps
 * `df.getClient`), and the orchestrations and activities as the engine's registry.
 */
import { InvocationContext, type Timer } from '@azure/functions';
import type { FunctionDefinition, HttpFunctionDefinition } from '../functions/definitions';
import type { OrchestrationRegistry } from '../shared/orchestration';
import type { RunClient } from '../shared/run';
import { invocationLogLine, type DevLog } from './invoke';

/** A non-HTTP function ready to be invoked with its trigger input. */
export interface BoundFunction<I> {
  name: string;
  call(input: I, context: InvocationContext): Promise<unknown>;
}

/** A timer function with its schedule (possibly `%SETTING%`). */
export interface BoundTimer extends BoundFunction<Timer> {
  schedule: string;
}

/** The local host's view of the function list. */
export interface LocalFunctions {
  http: readonly HttpFunctionDefinition[];
  /** Calls an HTTP function's handler with the run client when it declares one. */
  callHttp: (definition: HttpFunctionDefinition, request: Parameters<HttpFunctionDefinition['handler']>[0], context: InvocationContext) => Promise<unknown>;
  timers: readonly BoundTimer[];
  eventGrid: readonly BoundFunction<unknown>[];
  /** The Event Hubs function, if the app has one. */
  eventHub: BoundFunction<unknown> | undefined;
}

/**
 * The engine's registry: every orchestration and activity definition, by name. Activities log to the
 * host's log as the other functions do (invoke.ts), e.g. `refreshTable`'s line per table update.
 *
 * @param functions the function list
 * @param log the host's log
 * @returns orchestrators and activities
 */
export function registryOf(functions: readonly FunctionDefinition[], log: DevLog): OrchestrationRegistry {
  const registry: OrchestrationRegistry = { orchestrators: {}, activities: {} };
  for (const f of functions) {
    if (f.kind === 'orchestration') registry.orchestrators[f.name] = f.handler;
    else if (f.kind === 'activity') {
      registry.activities[f.name] = (input: unknown, context: InvocationContext) =>
        f.handler(
          input,
          new InvocationContext({
            invocationId: context.invocationId,
            functionName: f.name,
            logHandler: (level, ...args) => log(invocationLogLine(f.name, level, args)),
          }),
        );
    }
  }
  return registry;
}

/**
 * Bind the triggered functions to a run client.
 *
 * @param functions the function list
 * @param runs the run client over the local engine
 * @returns the functions by trigger kind
 */
export function bindFunctions(functions: readonly FunctionDefinition[], runs: RunClient): LocalFunctions {
  const out = {
    http: [] as HttpFunctionDefinition[],
    timers: [] as BoundTimer[],
    eventGrid: [] as BoundFunction<unknown>[],
    eventHub: undefined as BoundFunction<unknown> | undefined,
  };
  for (const f of functions) {
    const client = 'durableClient' in f && f.durableClient ? runs : undefined;
    switch (f.kind) {
      case 'http':
        out.http.push(f);
        break;
      case 'timer':
        out.timers.push({ name: f.name, schedule: f.schedule, call: async (timer, context) => f.handler(timer, context, client) });
        break;
      case 'eventGrid':
        out.eventGrid.push({ name: f.name, call: (event, context) => f.handler(event, context, client) });
        break;
      case 'eventHub':
        out.eventHub ??= { name: f.name, call: async (messages, context) => f.handler(messages, context, client) };
        break;
      default:
        // Orchestrations and activities run on the engine (registryOf).
        break;
    }
  }
  return {
    ...out,
    callHttp: async (definition, request, context) => definition.handler(request, context, definition.durableClient ? runs : undefined),
  };
}
