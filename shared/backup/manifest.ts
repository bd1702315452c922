/**
 * Backup manifests: one JSON object per backed-up version, at
 * `<backup>/_sluice_backup/manifests/<20-digit version>.json`, listing every file that version needs
 * (data files, deletion-vector files, the commits up to it, its checkpoint) with size and checksum.
 *
 * The folder starts with `_`, so Delta readers (Spark, delta-rs, DuckDB, Sluice) never take it for
 * data: the backup stays a plain Delta table. A manifest is written last, once everything it lists
 * is in place, and only if absent: a version with a manifest is complete.
 */
import { ObjectAlreadyExistsError, type ObjectStore } from '../storage/types';
import { pad20 } from '../delta/log';
import { BackupError } from './errors';

/** Folder of the backup's own records, relative to the backup table's root. */
export const BACKUP_FOLDER = '_sluice_backup';
/** Folder of the manifests. */
export const MANIFEST_FOLDER = `${BACKUP_FOLDER}/manifests/`;

/** What a file is to the table. */
export type FileKind = 'data' | 'deletionVector' | 'commit' | 'checkpoint';

/**
 * A file's checksum: the service's Content-MD5 where the copy has one, else our SHA-256 of the
 * content; the CRC64 a server-side copy returned, where it did, besides.
 */
export interface FileChecksum {
  /** Base64 MD5, as Azure's Content-MD5. */
  md5?: string;
  /** Hex SHA-256, computed by Sluice when the store keeps no MD5. */
  sha256?: string;
  /** Base64 CRC64 returned by Copy Blob From URL (recorded, not re-checked: Node has no CRC64). */
  crc64?: string;
}

/** One file of a backed-up version. */
export interface ManifestFile extends FileChecksum {
  /** Path relative to the table root, as stored. */
  path: string;
  size: number;
  kind: FileKind;
}

/** The manifest of one backed-up version. */
export interface BackupManifest {
  format: 'sluice-backup-manifest';
  formatVersion: 1;
  /** The source table's URL (without credentials). */
  source: string;
  /** The source's `metaData.id`: backups of a table that was replaced by another one are refused. */
  tableId: string;
  version: number;
  /** When the backup of this version finished (ISO). */
  createdAt: string;
  /** Versions tried first and given up because a file vanished while copying (vacuum), with why. */
  movedFrom: { version: number; reason: string }[];
  /** Files copied by this backup, and bytes. */
  copied: number;
  bytesCopied: number;
  /** Files already held by the backup and not copied again. */
  reused: number;
  files: ManifestFile[];
}

/**
 * Path of the manifest of a version.
 *
 * @param version the table version
 * @returns its path relative to the backup root
 */
export function manifestPath(version: number): string {
  return `${MANIFEST_FOLDER}${pad20(version)}.json`;
}

/**
 * The versions a backup holds a manifest for, ascending.
 *
 * @param store store rooted at the backup table
 * @returns the versions
 */
export async function manifestVersions(store: ObjectStore): Promise<number[]> {
  const versions: number[] = [];
  for await (const info of store.list(MANIFEST_FOLDER)) {
    const m = /^(\d{20})\.json$/.exec(info.path.slice(MANIFEST_FOLDER.length));
    if (m) versions.push(Number(m[1]));
  }
  return versions.sort((a, b) => a - b);
}

/**
 * Read one manifest.
 *
 * @param store store rooted at the backup table
 * @param version the version
 * @returns the manifest
 * @throws BackupError naming the file when it is not a manifest
 */
export async function readManifest(store: ObjectStore, version: number): Promise<BackupManifest> {
  const path = manifestPath(version);
  let value: BackupManifest;
  try {
    value = JSON.parse(new TextDecoder().decode(await store.read(path))) as BackupManifest;
  } catch (err) {
    throw new BackupError(`backup manifest ${store.url}/${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  if (value?.format !== 'sluice-backup-manifest' || value.version !== version || !Array.isArray(value.files)) {
    throw new BackupError(`backup manifest ${store.url}/${path} is not a Sluice backup manifest of version ${version}`);
  }
  return value;
}

/**
 * Write a manifest unless one exists for its version (a concurrent backup of the same version wrote
 * an equivalent one).
 *
 * @param store store rooted at the backup table
 * @param manifest the manifest
 * @returns whether this call wrote it
 */
export async function writeManifest(store: ObjectStore, manifest: BackupManifest): Promise<boolean> {
  try {
    await store.createIfAbsent(manifestPath(manifest.version), JSON.stringify(manifest, null, 1), { contentType: 'application/json' });
    return true;
  } catch (err) {
    if (err instanceof ObjectAlreadyExistsError) return false;
    throw err;
  }
}

/**
 * Whether a location holds a Sluice backup (at least one manifest).
 *
 * @param store store rooted at the location
 * @returns true for a backup
 */
export async function isBackup(store: ObjectStore): Promise<boolean> {
  for await (const info of store.list(MANIFEST_FOLDER)) if (info.path.endsWith('.json')) return true;
  return false;
}

/**
 * The data and deletion-vector files a backup holds under some kept manifest: what tiering may
 * archive in the source without losing the only readable copy (an archived blob cannot be copied to
 * another account until it is rehydrated).
 *
 * @param backup store rooted at the table's backup
 * @returns paths relative to the table root
 */
export async function backedUpFiles(backup: ObjectStore): Promise<Set<string>> {
  const out = new Set<string>();
  for (const version of await manifestVersions(backup)) {
    for (const f of (await readManifest(backup, version)).files) if (f.kind === 'data' || f.kind === 'deletionVector') out.add(f.path);
  }
  return out;
}

/**
 * `isBackedUp(file)` for a tiering plan: true when the table's backup holds the file (path relative to
 * the table root, as stored).
 *
 * @param backup store rooted at the table's backup
 * @returns the predicate (reads the manifests once)
 */
export async function isBackedUpPredicate(backup: ObjectStore): Promise<(path: string) => boolean> {
  const files = await backedUpFiles(backup);
  return (path) => files.has(path);
}
