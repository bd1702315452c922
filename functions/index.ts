/**
 * Entry point the Functions host loads (`main` in package.json): registers every definition of
 * `definitions.ts` with the v4 programming model. The settings and the pipeline definitions are
 * validated here, once (shared/host), so a bad app setting or YAML file stops the app at start-up
 * with a message naming it.
 *
 * `%SETTING%` references in binding options are resolved here with the runtime's validated values,
 * defaults included. Without an Event Hubs connection (`SLUICE_EVENTHUB…`), or when no pipeline
 * source reads the configured hub, `eventHubIngest` is left out (nothing is consumed, so no event is
 * lost); that is logged, never silent.
 */
// First: the OpenTelemetry instrumentation must be registered before @azure/functions is loaded.
import './telemetry';
import { app, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { DurableRunClient, RunClient } from '../shared/run';
import { getRuntime, resolveSettingReferences } from '../shared/host';
import { FUNCTIONS, FunctionDefinition } from './definitions';

const runtime = getRuntime();
for (const warning of runtime.warnings) console.warn(`sluice: ${warning}`);

const resolve = (text: string) => resolveSettingReferences(text, runtime.bindingSettings);

/** Functions declaring `durableClient` get the Durable client binding and a RunClient over it. */
function durable<T, R>(definition: { durableClient?: boolean; handler: (input: T, context: InvocationContext, runs?: RunClient) => R }) {
  if (!definition.durableClient) return { handler: (input: T, context: InvocationContext) => definition.handler(input, context) };
  return {
    extraInputs: [df.input.durableClient()],
    handler: (input: T, context: InvocationContext) => definition.handler(input, context, new DurableRunClient(df.getClient(context))),
  };
}

function register(definition: FunctionDefinition): void {
  switch (definition.kind) {
    case 'http':
      app.http(definition.name, {
        route: definition.route,
        methods: definition.methods,
        authLevel: definition.anonymous ? 'anonymous' : 'function',
        ...durable(definition),
      });
      return;
    case 'timer':
      app.timer(definition.name, { schedule: resolve(definition.schedule), ...durable(definition) });
      return;
    case 'eventGrid':
      app.eventGrid(definition.name, durable(definition));
      return;
    case 'orchestration':
      df.app.orchestration(definition.name, definition.handler);
      return;
    case 'activity':
      df.app.activity(definition.name, { handler: definition.handler });
      return;
    case 'eventHub':
      if (!runtime.triggers.eventHub) {
        console.warn(
          `sluice: function ${definition.name} not registered: no Event Hubs connection is set (${definition.connection} or ${definition.connection}__fullyQualifiedNamespace)`,
        );
        return;
      }
      // Reading a hub no source takes would move its checkpoints past events nobody stored.
      if (!runtime.eventHubRoute) {
        console.warn(`sluice: function ${definition.name} not registered: no pipeline source reads Event Hub ${runtime.triggers.eventHub.name}`);
        return;
      }
      app.eventHub(definition.name, {
        connection: definition.connection,
        eventHubName: resolve(definition.eventHubName),
        consumerGroup: resolve(definition.consumerGroup),
        cardinality: definition.cardinality,
        retry: definition.retry,
        ...durable(definition),
      });
      return;
    default: {
      const unknown: never = definition;
      throw new Error(`functions/index.ts: no registration for ${JSON.stringify(unknown)}`);
    }
  }
}

for (const definition of FUNCTIONS) register(definition);
