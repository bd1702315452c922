/**
 * The lake as the running app sees it: the container named by the settings, reached with the
 * connection the settings describe (a connection string for Azurite, an identity in Azure).
 */
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
  if (connection.kind === 'connectionString') {
    return new AzureBlobStore(new ContainerClient(expandDevelopmentStorage(connection.connectionString), container), path.replace(/^\/+|\/+$/g, ''));
  }
  const url = `${connection.blobServiceUri}/${container}`;
  return new AzureBlobStore(new ContainerClient(url, credentialFor(connection)), path.replace(/^\/+|\/+$/g, ''));
}

/** `UseDevelopmentStorage=true` is Azurite on its default ports; the SDK needs it spelled out. */
function expandDevelopmentStorage(connectionString: string): string {
  if (!/usedevelopmentstorage\s*=\s*true/i.test(connectionString)) return connectionString;
  return devConnectionString(AZURITE_DEFAULT_BLOB_ENDPOINT);
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
