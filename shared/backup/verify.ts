/**
 * `verifyTable` and `verifyBackup`: is a table (or a backup) whole? Every problem found is listed,
 * none stops the check:
 *
 * - the log: every commit from the first one kept to the newest parses, no version is missing, the
 *   newest version loads (protocol, metadata, checkpoint);
 * - the files: every data file and deletion-vector file the newest version references exists, and
 *   each data file has the size the log gives;
 * - for a backup, each manifest: the version loads from the backup, every file listed is there with
 *   its size, and its content matches the checksum (MD5 or SHA-256, recomputed from the bytes).
 *
 * One listing of the location answers "is it there, how big"; only checksums read content.
 */
import { createHash } from 'node:crypto';
import { deletionVectorFiles } from '../delta/deletion-vectors';
import { listLog, readCommit } from '../delta/log';
import { decodeAddPath } from '../delta/partitions';
import { loadSnapshot, type Snapshot } from '../delta/snapshot';
import type { ObjectInfo, ObjectStore } from '../storage/types';
import { forEachLimit } from './copy-version';
import { isBackup, manifestVersions, readManifest, type ManifestFile } from './manifest';

/** The stable JSON of `sluice verify --json`. */
export interface VerifyResult {
  location: string;
  kind: 'table' | 'backup';
  /** The newest version, when it loads. */
  version: number | null;
  /** Versions with a manifest (backups). */
  backupVersions: number[];
  /** Files checked (existence and size), and files whose content was hashed. */
  filesChecked: number;
  checksumsChecked: number;
  ok: boolean;
  problems: string[];
}

/** Chunk of checksum reads. */
const CHUNK = 8 * 1024 * 1024;

/**
 * Verify a table, or a backup (detected by its manifests).
 *
 * @param store store rooted at the table or backup
 * @returns what was found
 */
export async function verifyLocation(store: ObjectStore): Promise<VerifyResult> {
  return (await isBackup(store)) ? verifyBackup(store) : verifyTable(store);
}

/**
 * Verify a table: its log and the files its newest version references.
 *
 * @param store store rooted at the table
 * @returns what was found
 */
export async function verifyTable(store: ObjectStore): Promise<VerifyResult> {
  const problems: string[] = [];
  const objects = await listAll(store);
  const snapshot = await checkLog(store, problems);
  let filesChecked = 0;
  if (snapshot) filesChecked = checkFiles(snapshot, objects, problems);
  return {
    location: store.url,
    kind: 'table',
    version: snapshot?.version ?? null,
    backupVersions: [],
    filesChecked,
    checksumsChecked: 0,
    ok: !problems.length,
    problems,
  };
}

/**
 * Verify a backup: as a table, and every manifest's files with their sizes and checksums.
 *
 * @param store store rooted at the backup
 * @param options concurrency of checksum reads
 * @returns what was found
 */
export async function verifyBackup(store: ObjectStore, options: { concurrency?: number } = {}): Promise<VerifyResult> {
  const base = await verifyTable(store);
  const problems = [...base.problems];
  const objects = await listAll(store);
  const versions = await manifestVersions(store);
  const toHash = new Map<string, ManifestFile>();
  let filesChecked = base.filesChecked;
  for (const version of versions) {
    let files: ManifestFile[];
    try {
      files = (await readManifest(store, version)).files;
    } catch (err) {
      problems.push((err as Error).message);
      continue;
    }
    try {
      await loadSnapshot(store, { version });
    } catch (err) {
      problems.push(`backed-up version ${version} does not load: ${(err as Error).message}`);
    }
    for (const file of files) {
      filesChecked++;
      const info = objects.get(file.path);
      if (!info) problems.push(`version ${version}: ${file.kind} file ${file.path} is missing`);
      else if (info.size !== file.size)
        problems.push(`version ${version}: ${file.kind} file ${file.path} has ${info.size} bytes, the manifest says ${file.size}`);
      else if (file.md5 || file.sha256) toHash.set(file.path, file);
    }
  }
  const mismatched: string[] = [];
  await forEachLimit([...toHash.values()], options.concurrency ?? 8, async (file) => {
    const digest = await contentDigest(store, file.path, file.size, file.md5 ? 'md5' : 'sha256');
    const want = file.md5 ?? file.sha256!;
    if (digest !== want) mismatched.push(`${file.kind} file ${file.path}: content ${file.md5 ? 'MD5' : 'SHA-256'} ${digest}, the manifest says ${want}`);
  });
  problems.push(...mismatched.sort());
  return {
    location: store.url,
    kind: 'backup',
    version: base.version,
    backupVersions: versions,
    filesChecked,
    checksumsChecked: toHash.size,
    ok: !problems.length,
    problems,
  };
}

async function listAll(store: ObjectStore): Promise<Map<string, ObjectInfo>> {
  const objects = new Map<string, ObjectInfo>();
  for await (const info of store.list('')) objects.set(info.path, info);
  return objects;
}

/** Parse every commit kept, check there is no gap, and load the newest version. */
async function checkLog(store: ObjectStore, problems: string[]): Promise<Snapshot | null> {
  let listing;
  try {
    listing = await listLog(store);
  } catch (err) {
    problems.push((err as Error).message);
    return null;
  }
  const versions = [...listing.commits.keys()].sort((a, b) => a - b);
  for (let i = 1; i < versions.length; i++) {
    if (versions[i] !== versions[i - 1] + 1)
      problems.push(`log: versions ${versions[i - 1] + 1}–${versions[i] - 1} are missing (between commits ${versions[i - 1]} and ${versions[i]})`);
  }
  if (versions.length && versions[0] > 0 && ![...listing.checkpoints.keys()].some((v) => v >= versions[0] - 1)) {
    problems.push(`log: it starts at version ${versions[0]} with no checkpoint to start from`);
  }
  await forEachLimit(versions, 16, async (v) => {
    try {
      await readCommit(store, v);
    } catch (err) {
      problems.push((err as Error).message);
    }
  });
  try {
    return await loadSnapshot(store);
  } catch (err) {
    problems.push(`the newest version does not load: ${(err as Error).message}`);
    return null;
  }
}

/** Every data and DV file of the version present, data files with the log's size. */
function checkFiles(snapshot: Snapshot, objects: Map<string, ObjectInfo>, problems: string[]): number {
  let checked = 0;
  const adds = [...snapshot.state.files.values()];
  for (const add of adds) {
    checked++;
    const path = decodeAddPath(add.path, snapshot.table);
    const info = objects.get(path);
    if (!info) problems.push(`version ${snapshot.version}: data file ${path} is missing`);
    else if (info.size !== add.size) problems.push(`version ${snapshot.version}: data file ${path} has ${info.size} bytes, the log says ${add.size}`);
  }
  try {
    for (const path of deletionVectorFiles(
      adds.map((a) => a.deletionVector),
      snapshot.table,
    )) {
      checked++;
      if (!objects.has(path)) problems.push(`version ${snapshot.version}: deletion-vector file ${path} is missing`);
    }
  } catch (err) {
    problems.push((err as Error).message);
  }
  return checked;
}

/** MD5 (base64) or SHA-256 (hex) of an object's content, read in chunks. */
async function contentDigest(store: ObjectStore, path: string, size: number, kind: 'md5' | 'sha256'): Promise<string> {
  const hash = createHash(kind);
  for (let offset = 0; offset < size; offset += CHUNK) hash.update(await store.read(path, { offset, length: Math.min(CHUNK, size - offset) }));
  return hash.digest(kind === 'md5' ? 'base64' : 'hex');
}
