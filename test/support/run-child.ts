/**
 * An engine process for the SIGKILL test: runs the `refresh` orchestration of the POS pipeline over a
 * lake container on Azurite, with its event log and orchestration tables named by the parent, until it
 * is killed. Each table activity waits `RUN_SLOW_MS` first, so the parent can kill it mid-run.
 *
 *   node --import tsx test/support/run-child.ts
 *   env: SLUICE_STORAGE_CONNECTION_STRING, AZURITE_BLOB_ENDPOINT, RUN_CONTAINER, RUN_EVENTS_TABLE,
 *        RUN_PREFIX, RUN_SLOW_MS, RUN_START (1: start the run first)
 */
import { OrchestrationEngine } from '../../shared/orchestration';
import { loadPipelineDefinition } from '../../shared/pipeline';
import { EngineRunClient, EventLog, orchestrationRegistry, TABLE_ACTIVITY } from '../../shared/run';
import { connectionStringTables } from '../../shared/storage/lake';
import { openStore } from '../../shared/storage';

// Not from ./run-lake or ./azurite: those use vitest's inject, which a plain process cannot load.
const POS_PIPELINE = `${__dirname}/../../examples/pipelines/pos.yaml`;
const azuriteUri = (container: string, path: string) => `${process.env.AZURITE_BLOB_ENDPOINT!.replace(/\/+$/, '')}/${container}/${path}`;

async function main(): Promise<void> {
  const env = process.env;
  const cs = env.SLUICE_STORAGE_CONNECTION_STRING!;
  const container = env.RUN_CONTAINER!;
  const definition = await loadPipelineDefinition(POS_PIPELINE);
  const events = new EventLog(connectionStringTables(cs)(env.RUN_EVENTS_TABLE!));
  const registry = orchestrationRegistry({
    pipelines: () => [definition],
    lake: (p) => openStore(azuriteUri(container, p)),
    events,
    sql: { memoryLimit: '256MB', threads: 1 },
  });
  const table = registry.activities[TABLE_ACTIVITY];
  const slow = Number(env.RUN_SLOW_MS ?? 0);
  registry.activities[TABLE_ACTIVITY] = async (input, context) => {
    await new Promise((r) => setTimeout(r, slow));
    return table(input, context);
  };
  const engine = new OrchestrationEngine(registry, {
    connectionString: cs,
    tablePrefix: env.RUN_PREFIX,
    hostId: 'run-child',
    maxConcurrentActivities: 4,
    pollMs: 25,
    leaseMs: 60_000,
  });
  if (env.RUN_START === '1') await new EngineRunClient(engine).startRun({ pipeline: 'pos', reason: 'sigkill test' });
  engine.start();
  process.stdout.write('started\n');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
