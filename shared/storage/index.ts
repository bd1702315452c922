/** The storage layer: the `ObjectStore` contract, its backends, and table-location parsing. */
export * from './types';
export { LocalStore } from './local';
export { AzureBlobStore } from './azure';
export { AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, AZURITE_DEFAULT_BLOB_ENDPOINT, emulatorConnectionString, openStore, parseLocation } from './location';
export { encodeKey } from './table-keys';
export type { BlobLocation, Env, LocalLocation, Location, OpenStoreOptions } from './location';
