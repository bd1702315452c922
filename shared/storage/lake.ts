/**
 * The lake as the running app sees it: the container named by the settings, reached with the
 * connection the settings describe (a connection string for Azurite, an identity in Azure).
 */
import type { TableClient } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import type { LakeConnection, SluiceSettings } from '../config/settings';
import { AzureBlobStore } from './azure';
import { AZURITE_DEFAULT_BLOB_ENDPOINT, devConnectionString } from './location';
import type { ObjectStore } from './types';

/**
 * Open a path of the lake container (`bronze/pos_sales`, or '' for the whole container).
 *
 * @param settings validated settings
 * @param path path inside the lake container
 * @returns a store rooted there
 */
export function openLakeStore(settings: SluiceSettings, path: string): ObjectStore {
  return openContainerStore(settings.lake, settings.lakeContainer, path);
}

/**
 * Open a path of any container of the lake account (e.g. the landing container).
 *
 * @param connection how to reach the account
 * @param container container name
 * @param path path inside the container
 * @returns a store rooted there
 */
export function openContainerStore(connection: LakeConnection, container: string, path: string): ObjectStore {
  const { ContainerClient } = require('@azure/storage-blob') as typeof import('@azure/storage-blob');
  const root = path.replace(/^\/+|\/+$/g, '');
  const client =
    connection.kind === 'connectionString'
      ? new ContainerClient(expandDevelopmentStorage(connection.connectionString), container)
      : new ContainerClient(`${connection.blobServiceUri}/${container}`, credentialFor(connection));
  const store = new AzureBlobStore(client, root);
  return instrument?.store ? instrument.store(store, container, root) : store;
}

/**
 * Wrappers put around every store and Table Storage client this module opens; the requests bench and
 * its regression test count storage requests through them. Nothing is wrapped unless one is set.
 */
export interface LakeInstrument {
  /** Wrap a store rooted at `path` of `container`. */
  store?(store: ObjectStore, container: string, path: string): ObjectStore;
  /** Wrap (or equip) the client of one Azure Table. */
  table?(client: TableClient, tableName: string): TableClient;
}

let instrument: LakeInstrument | undefined;

/**
 * Set (or, with undefined, remove) the wrappers of the stores and table clients opened from now on in
 * this process.
 *
 * @param next the wrappers
 */
export function instrumentLake(next: LakeInstrument | undefined): void {
  instrument = next;
}

/**
 * Table Storage clients of the lake account, where Sluice keeps its tables (ingest ledger, event log,
 * orchestration state): with the connection string, or with the identity and the table endpoint.
 *
 * @param connection how to reach the account
 * @returns table name → client
 * @throws Error naming the missing `__tableServiceUri` setting of an identity connection without one
 */
export function openLakeTables(connection: LakeConnection): (tableName: string) => TableClient {
  if (connection.kind === 'connectionString') return connectionStringTables(connection.connectionString);
  const endpoint = connection.tableServiceUri;
  if (!endpoint)
    throw new Error(
      `${connection.setting}__tableServiceUri is needed to reach Table Storage (ledger, event log, orchestration state); it cannot be derived from ${connection.blobServiceUri}`,
    );
  const { TableClient } = require('@azure/data-tables') as typeof import('@azure/data-tables');
  const credential = credentialFor(connection);
  return (tableName) => instrumented(new TableClient(endpoint, tableName, credential), tableName);
}

function instrumented(client: TableClient, tableName: string): TableClient {
  return instrument?.table ? instrument.table(client, tableName) : client;
}

/**
 * Table Storage clients for a connection string (plain HTTP allowed for the emulator).
 *
 * @param connectionString Azurite's, `UseDevelopmentStorage=true`, or an account key one
 * @returns table name → client
 */
export function connectionStringTables(connectionString: string): (tableName: string) => TableClient {
  const { TableClient } = require('@azure/data-tables') as typeof import('@azure/data-tables');
  const insecure = /DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true|TableEndpoint=http:/i.test(connectionString);
  return (tableName) => instrumented(TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: insecure }), tableName);
}

/** `UseDevelopmentStorage=true` is Azurite on its default ports; the SDK needs it spelled out. */
function expandDevelopmentStorage(connectionString: string): string {
  if (!/usedevelopmentstorage\s*=\s*true/i.test(connectionString)) return connectionString;
  return devConnectionString(AZURITE_DEFAULT_BLOB_ENDPOINT);
}

/**
 * The token credential of an identity-based lake connection (the app's identity), for other Azure
 * locations the app writes with it (the backup account); undefined for a connection string.
 *
 * @param connection the lake connection
 * @returns the credential, or undefined
 */
export function lakeCredential(connection: LakeConnection): TokenCredential | undefined {
  return connection.kind === 'identity' ? credentialFor(connection) : undefined;
}

const credentials = new Map<string, TokenCredential>();

function credentialFor(connection: Extract<LakeConnection, { kind: 'identity' }>): TokenCredential {
  const key = `${connection.credential}:${connection.clientId ?? ''}`;
  let credential = credentials.get(key);
  if (!credential) {
    const identity = require('@azure/identity') as typeof import('@azure/identity');
    credential =
      connection.credential === 'managedidentity'
        ? new identity.ManagedIdentityCredential(connection.clientId ? { clientId: connection.clientId } : undefined)
        : new identity.DefaultAzureCredential(connection.clientId ? { managedIdentityClientId: connection.clientId } : undefined);
    credentials.set(key, credential);
  }
  return credential;
}

/**
 * Create a table unless it exists (409, "already exists", is success).
 *
 * @param client the table's client
 */
export async function createTableIfMissing(client: TableClient): Promise<void> {
  try {
    await client.createTable();
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 409) throw err;
  }
}

/**
 * A function that creates the table on its first call and answers later calls from that result;
 * after a failed creation the next call tries again.
 *
 * @param client the table's client
 * @returns the function to await before using the table
 */
export function tableCreation(client: TableClient): () => Promise<void> {
  let ready: Promise<void> | undefined;
  return () => {
    ready ??= createTableIfMissing(client).catch((err) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };
}
