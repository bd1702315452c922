/**
 * One table refresh in its own process, for the crash tests: it can be killed with SIGKILL at a fault
 * point (`SLUICE_FAULT_KILL_AT`, shared/delta/faults.ts) the way a function instance dies.
 *
 *   node --import tsx test/support/refresh-process.ts --lake <root> --pipeline <file.yaml> --table <name>
 *
 * `<root>` is a local folder or a URI `openStore` accepts (Azurite: inherits AZURITE_BLOB_ENDPOINT);
 * table paths are appended to it. Prints the metrics as one JSON line; errors go to stderr, exit 1.
 */
import * as nodePath from 'node:path';
import { loadPipelineDefinition } from '../../shared/pipeline';
import { refreshTable } from '../../shared/refresh';
import { LocalStore, openStore } from '../../shared/storage';

async function main(): Promise<void> {
  const args = new Map<string, string>();
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) args.set(argv[i].replace(/^--/, ''), argv[i + 1]);
  const root = args.get('lake');
  const pipeline = args.get('pipeline');
  const table = args.get('table');
  if (!root || !pipeline || !table) throw new Error('refresh-process: needs --lake, --pipeline and --table');
  const lake = /^[a-z]+:\/\//.test(root) ? (path: string) => openStore(`${root}/${path}`) : (path: string) => new LocalStore(nodePath.join(root, path));
  const metrics = await refreshTable({ definition: await loadPipelineDefinition(pipeline), table, lake, sql: { memoryLimit: '256MB', threads: 1 } });
  process.stdout.write(`${JSON.stringify(metrics)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
