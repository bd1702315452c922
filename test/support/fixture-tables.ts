/** Copies of fixture tables that tests may change: in a temporary folder, or uploaded to Azurite. */
import { cpSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { openStore } from '../../shared/storage/location';

/**
 * Every file below a folder, as paths relative to it (dot files included: they are part of real tables).
 *
 * @param dir the folder
 * @returns relative paths with `/` separators
 */
export function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split('\\').join('/'));
}

/**
 * Upload a fixture table byte for byte to a storage location.
 *
 * @param dir the local table folder
 * @param uri where to put it (an `azurite://` or other table URI)
 * @returns the URI
 */
export async function uploadTable(dir: string, uri: string): Promise<string> {
  const store = openStore(uri);
  const files = filesBelow(dir);
  for (let i = 0; i < files.length; i += 16) await Promise.all(files.slice(i, i + 16).map((rel) => store.write(rel, readFileSync(join(dir, rel)))));
  return uri;
}

/**
 * Copy a fixture table to a fresh temporary folder, for tests that write to it.
 *
 * @param dir the fixture folder
 * @returns the copy's path
 */
export function scratchCopy(dir: string): string {
  const copy = join(mkdtempSync(join(tmpdir(), 'sluice-fixture-')), 'table');
  cpSync(dir, copy, { recursive: true });
  return copy;
}
