/**
 * Table locations: turn the URI a user or a Delta log gives (local path, `file://`, `abfss://`, Blob
 * `https://`, Azurite) into the matching `ObjectStore`.
 *
 * Azure is reached with `DefaultAzureCredential` only: managed identity in Functions, the developer's
 * login elsewhere, never account keys. Azurite is the exception, because the emulator only knows shared
 * keys; its account key is public and documented.
 */
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TokenCredential } from '@azure/identity';
import type { ContainerClient } from '@azure/storage-blob';
import { AzureBlobStore } from './azure';
import { LocalStore } from './local';
import { ObjectStore } from './types';

/** A directory of the local file system. */
export interface LocalLocation {
  kind: 'local';
  /** Absolute path. */
  path: string;
}

/** A prefix inside a Blob container, on Azure (`azure`) or on an emulator (`azurite`). */
export interface BlobLocation {
  kind: 'azure' | 'azurite';
  account: string;
  container: string;
  /** Path inside the container, without leading or trailing `/`; `''` for the whole container. */
  prefix: string;
  /** Blob service endpoint without trailing `/`: `https://acct.blob.core.windows.net`, `http://127.0.0.1:10000/devstoreaccount1`. */
  blobEndpoint: string;
}

/** A parsed table location. */
export type Location = LocalLocation | BlobLocation;

/** Environment variables consulted, passed explicitly in tests. */
export type Env = Record<string, string | undefined>;

/** Options of `openStore`. */
export interface OpenStoreOptions {
  /** Credential for Azure locations; defaults to one shared `DefaultAzureCredential`. */
  credential?: TokenCredential;
  /** Where to read `AZURITE_BLOB_ENDPOINT` and connection strings; defaults to `process.env`. */
  env?: Env;
}

/** The public Azurite development account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
/** The documented, public key of the Azurite development account; not a secret. */
export const AZURITE_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
/** Where Azurite listens for Blob requests unless told otherwise. */
export const AZURITE_DEFAULT_BLOB_ENDPOINT = `http://127.0.0.1:10000/${AZURITE_ACCOUNT}`;

const ACCEPTED_FORMS = [
  'a local path or file:///path',
  'abfss://<container>@<account>.dfs.core.windows.net/<path> (also abfs://, or a .blob.core.windows.net host)',
  'https://<account>.blob.core.windows.net/<container>/<path>',
  'http://<host>:<port>/<account>/<container>/<path> (Azurite)',
  'azurite://<container>/<path> (Azurite at $AZURITE_BLOB_ENDPOINT or 127.0.0.1:10000)',
].join('; ');

/** `<account>.<blob|dfs>.<core.windows.net or another cloud's suffix>` */
const AZURE_HOST = /^([a-z0-9]{3,24})\.(?:blob|dfs)\.(core\.[a-z0-9.-]+)$/;
/** Blob container names: 3–63 of lowercase letters, digits and single hyphens, or the special `$root`/`$web`. */
const CONTAINER_NAME = /^(?:\$root|\$web|(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*)$/;

/** Parse a table location URI. Throws naming the URI and the accepted forms when it is not understood. */
export function parseLocation(uri: string, env: Env = process.env): Location {
  const fail = (why: string): never => {
    throw new Error(`unsupported storage location ${JSON.stringify(uri)}: ${why}; accepted forms: ${ACCEPTED_FORMS}`);
  };
  if (!uri) return fail('empty location');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1].toLowerCase();
  // No scheme, or a Windows drive letter, means a plain path.
  if (!scheme || /^[a-zA-Z]:[\\/]/.test(uri)) return { kind: 'local', path: nodePath.resolve(uri) };

  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return fail('not a valid URL');
  }
  if (url.search || url.hash) fail('query strings (such as SAS tokens) and fragments are not accepted; Azure access is identity-based');

  switch (scheme) {
    case 'file':
      try {
        return { kind: 'local', path: fileURLToPath(url) };
      } catch (err) {
        return fail((err as Error).message);
      }
    case 'abfs':
    case 'abfss': {
      const host = AZURE_HOST.exec(url.hostname.toLowerCase()) ?? fail('the host must be <account>.dfs.core.windows.net');
      if (!url.username || url.password) fail('the container must be given as <container>@ before the host');
      return azure(host[1], host[2], decode(url.username, fail), pathSegments(url, fail));
    }
    case 'http':
    case 'https': {
      const segments = pathSegments(url, fail);
      const host = AZURE_HOST.exec(url.hostname.toLowerCase());
      if (host) {
        if (segments.length === 0) fail('the container is missing from the path');
        return azure(host[1], host[2], segments[0], segments.slice(1));
      }
      // Anything else is an emulator addressed path-style: /<account>/<container>/<path>.
      if (segments.length < 2) fail('an emulator URL needs /<account>/<container> in its path');
      return emulator(`${url.protocol}//${url.host}/${segments[0]}`, segments[0], segments[1], segments.slice(2), fail);
    }
    case 'azurite': {
      const container = decode(url.hostname, fail);
      const endpoint = (env.AZURITE_BLOB_ENDPOINT || AZURITE_DEFAULT_BLOB_ENDPOINT).replace(/\/+$/, '');
      let account: string | undefined;
      try {
        account = new URL(endpoint).pathname.split('/').filter(Boolean)[0];
      } catch {
        // reported below
      }
      if (!account) fail(`AZURITE_BLOB_ENDPOINT ${JSON.stringify(endpoint)} must look like http://<host>:<port>/<account>`);
      return emulator(endpoint, account!, container, pathSegments(url, fail), fail);
    }
    default:
      return fail(`scheme ${scheme}: is not supported`);
  }

  function azure(account: string, suffix: string, container: string, rest: string[]): BlobLocation {
    checkContainer(container, fail);
    return { kind: 'azure', account, container, prefix: rest.join('/'), blobEndpoint: `https://${account}.blob.${suffix}` };
  }
}

/** Open the store a location URI names. Nothing is contacted until the first operation. */
export function openStore(uri: string, options: OpenStoreOptions = {}): ObjectStore {
  const env = options.env ?? process.env;
  const location = parseLocation(uri, env);
  if (location.kind === 'local') return new LocalStore(location.path);
  const { ContainerClient } = storageBlob();
  let client: ContainerClient;
  if (location.kind === 'azure') {
    const credential = options.credential ?? defaultCredential();
    client = new ContainerClient(`${location.blobEndpoint}/${location.container}`, credential);
  } else {
    client = new ContainerClient(emulatorConnectionString(location, env), location.container);
  }
  return new AzureBlobStore(client, location.prefix);
}

/**
 * The connection string to reach an emulator location: `SLUICE_STORAGE_CONNECTION_STRING` or
 * `AzureWebJobsStorage` when its Blob endpoint is the location's (`UseDevelopmentStorage=true` counting
 * as the default Azurite endpoint), else one built from the public development account key.
 */
export function emulatorConnectionString(location: BlobLocation, env: Env = process.env): string {
  const wanted = normalizeEndpoint(location.blobEndpoint);
  for (const name of ['SLUICE_STORAGE_CONNECTION_STRING', 'AzureWebJobsStorage']) {
    const value = env[name];
    if (!value) continue;
    const parts = parseConnectionString(value);
    if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') {
      if (normalizeEndpoint(AZURITE_DEFAULT_BLOB_ENDPOINT) === wanted) return devConnectionString(AZURITE_DEFAULT_BLOB_ENDPOINT);
      continue;
    }
    const endpoint = parts.get('blobendpoint');
    if (endpoint && normalizeEndpoint(endpoint) === wanted) return value;
  }
  if (location.account !== AZURITE_ACCOUNT) {
    throw new Error(
      `no connection string for emulator account ${location.account} at ${location.blobEndpoint}: set SLUICE_STORAGE_CONNECTION_STRING ` +
        `with BlobEndpoint=${location.blobEndpoint} (only ${AZURITE_ACCOUNT} has a well-known key)`,
    );
  }
  return devConnectionString(location.blobEndpoint);
}

/** Connection string of the public Azurite development account at a Blob endpoint. */
export function devConnectionString(blobEndpoint: string): string {
  const protocol = new URL(blobEndpoint).protocol.replace(':', '');
  return `DefaultEndpointsProtocol=${protocol};AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`;
}

/** `Key=Value;…` into a map with lower-cased keys; values may contain `=` (keys and SAS tokens do). */
function parseConnectionString(value: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) parts.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return parts;
}

/** Compare endpoints loosely: case of scheme and host, `localhost` versus `127.0.0.1`, trailing slash. */
function normalizeEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    const host = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname;
    return `${url.protocol}//${host}:${url.port || (url.protocol === 'https:' ? '443' : '80')}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return endpoint;
  }
}

function emulator(blobEndpoint: string, account: string, container: string, rest: string[], fail: (why: string) => never): BlobLocation {
  checkContainer(container, fail);
  return { kind: 'azurite', account, container, prefix: rest.join('/'), blobEndpoint };
}

function checkContainer(container: string, fail: (why: string) => never): void {
  if (!CONTAINER_NAME.test(container)) fail(`${JSON.stringify(container)} is not a valid container name (3-63 lowercase letters, digits, single hyphens)`);
}

/** Non-empty path segments, percent-decoded: URIs encode, object paths are literal. */
function pathSegments(url: URL, fail: (why: string) => never): string[] {
  const segments = url.pathname
    .split('/')
    .filter(Boolean)
    .map((s) => decode(s, fail));
  if (segments.some((s) => s === '.' || s === '..')) fail('the path must not contain . or .. segments');
  return segments;
}

function decode(text: string, fail: (why: string) => never): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return fail(`bad percent-encoding in ${JSON.stringify(text)}`);
  }
}

// The Azure SDKs take a few hundred milliseconds to load; a CLI working on local tables should not wait.
function storageBlob(): typeof import('@azure/storage-blob') {
  return require('@azure/storage-blob');
}

let sharedCredential: TokenCredential | undefined;

/** One credential per process, so its token cache serves every store. */
function defaultCredential(): TokenCredential {
  if (!sharedCredential) {
    const { DefaultAzureCredential } = require('@azure/identity') as typeof import('@azure/identity');
    sharedCredential = new DefaultAzureCredential();
  }
  return sharedCredential;
}
