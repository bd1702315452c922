/**
 * Vitest global setup: one Azurite (Blob, Queue, Table) for the whole run, started from node_modules on
 * free ports with in-memory persistence, so tests need nothing installed globally and leave no files.
 * The starting itself lives in dev/azurite.ts (npm start and the benchmark use it too).
 *
 * Endpoints reach tests through `inject(...)` and through environment variables, which test workers and
 * any child processes the tests spawn inherit.
 */
import type { TestProject } from 'vitest/node';
import { startAzurite } from '../../dev/azurite';

declare module 'vitest' {
  export interface ProvidedContext {
    azuriteBlobEndpoint: string;
    azuriteQueueEndpoint: string;
    azuriteTableEndpoint: string;
    azuriteConnectionString: string;
  }
}

/** Start Azurite and return the teardown that stops it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Resolved from the project, so the pinned devDependency runs and nothing global is needed.
  const azurite = await startAzurite(project.config.root);
  process.env.AZURITE_BLOB_ENDPOINT = azurite.blobEndpoint;
  process.env.AZURITE_QUEUE_ENDPOINT = azurite.queueEndpoint;
  process.env.AZURITE_TABLE_ENDPOINT = azurite.tableEndpoint;
  process.env.SLUICE_STORAGE_CONNECTION_STRING = azurite.connectionString;
  project.provide('azuriteBlobEndpoint', azurite.blobEndpoint);
  project.provide('azuriteQueueEndpoint', azurite.queueEndpoint);
  project.provide('azuriteTableEndpoint', azurite.tableEndpoint);
  project.provide('azuriteConnectionString', azurite.connectionString);
  return () => azurite.stop();
}
