/**
 * A process that replays one table's quarantine and prints the result as JSON, for the test of a
 * replay killed between its two commits (run it with `SLUICE_FAULT_KILL_AT=afterCommit`: the process
 * SIGKILLs itself right after its first commit, the table's).
 *
 *   node --import tsx test/support/run-replay-child.ts
 *   env: AZURITE_BLOB_ENDPOINT, REPLAY_CONTAINER, REPLAY_PIPELINE (a definition file), REPLAY_TABLE
 */
import { loadPipelineDefinition } from '../../shared/pipeline';
import { replayQuarantine } from '../../shared/refresh';
import { openStore } from '../../shared/storage';

// Not from ./run-lake or ./azurite: those use vitest's inject, which a plain process cannot load.
const azuriteUri = (container: string, path: string) => `${process.env.AZURITE_BLOB_ENDPOINT!.replace(/\/+$/, '')}/${container}/${path}`;

async function main(): Promise<void> {
  const env = process.env;
  const definition = await loadPipelineDefinition(env.REPLAY_PIPELINE!);
  const result = await replayQuarantine({
    definition,
    table: env.REPLAY_TABLE!,
    lake: (p) => openStore(azuriteUri(env.REPLAY_CONTAINER!, p)),
    sql: { memoryLimit: '256MB', threads: 1 },
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
