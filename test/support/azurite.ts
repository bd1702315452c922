/** Helpers to address the Azurite started by `test/support/azurite-setup.ts`. */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

/** Blob endpoint of the test Azurite, `http://127.0.0.1:<port>/devstoreaccount1`. */
export function azuriteBlobEndpoint(): string {
  // The environment also reaches child processes; inject() covers runs where it was not inherited.
  const endpoint = process.env.AZURITE_BLOB_ENDPOINT || inject('azuriteBlobEndpoint');
  if (!endpoint) throw new Error('AZURITE_BLOB_ENDPOINT is not set: is test/support/azurite-setup.ts the vitest globalSetup?');
  return endpoint.replace(/\/+$/, '');
}

/** Path-style Azurite URI of `path` inside `container`, as `openStore` accepts it. */
export function azuriteUri(container: string, path = ''): string {
  const encoded = path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
  return `${azuriteBlobEndpoint()}/${container}${encoded ? `/${encoded}` : ''}`;
}

/** A fresh container name (valid: lowercase, digits, hyphens, 3–63 characters). */
export function uniqueContainer(label = 'test'): string {
  return `${label}-${randomBytes(8).toString('hex')}`;
}
