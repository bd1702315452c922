/**
 * A store rooted at a folder of another store, of the same backend (so server-side and local copies
 * between them stay possible), e.g. one table's backup inside a platform backup location.
 */
import * as nodePath from 'node:path';
import { AzureBlobStore } from './azure';
import { LocalStore } from './local';
import { checkObjectPath, ObjectInfo, ObjectStore } from './types';

/**
 * Open a folder of a store.
 *
 * @param root the store
 * @param folder path of the folder inside it (no leading or trailing `/` needed)
 * @returns a store rooted there
 */
export function openFolder(root: ObjectStore, folder: string): ObjectStore {
  const prefix = checkObjectPath(folder.replace(/^\/+|\/+$/g, ''));
  if (root instanceof AzureBlobStore) return root.folder(prefix);
  if (root instanceof LocalStore) return new LocalStore(nodePath.join(root.root, ...prefix.split('/')));
  // Any other implementation: prefix the paths, strip them from what comes back.
  const p = (path: string) => `${prefix}/${path}`;
  const strip = <T extends ObjectInfo>(info: T): T => ({ ...info, path: info.path.slice(prefix.length + 1) });
  return {
    url: `${root.url.replace(/\/$/, '')}/${prefix}`,
    read: (path, range) => root.read(p(path), range),
    write: async (path, content, options) => strip(await root.write(p(path), content, options)),
    createIfAbsent: async (path, content, options) => strip(await root.createIfAbsent(p(path), content, options)),
    list: async function* (inside) {
      for await (const info of root.list(p(inside))) yield strip(info);
    },
    delete: (path) => root.delete(p(path)),
    copy: async (from, to) => strip(await root.copy(p(from), p(to))),
    properties: async (path) => strip(await root.properties(p(path))),
    setAccessTier: (path, tier) => root.setAccessTier(p(path), tier),
  };
}
