/**
 * Staging Delta data files for DuckDB: exactly the files a query needs are copied from the table's
 * store into the engine's run folder, in bounded ranged reads, so a file on Blob Storage never sits
 * whole in Node's memory and DuckDB needs no network access (its Azure extension is not available
 * here, and the sandbox forbids it anyway). A file already fetched by an earlier run of this process
 * comes from the staged-file cache (file-cache.ts) instead of storage.
 */
import { mkdir } from 'node:fs/promises';
import type { AddFile, DeletionVector } from '../delta/actions';
import { decodeAddPath } from '../delta/partitions';
import type { ObjectStore } from '../storage/types';
import { ObjectNotFoundError } from '../storage/types';
import type { SqlEngine } from './engine';
import { writeFileFrom } from '../storage/file-sink';

/** A data file to read, as the Delta log describes it. */
export interface SourceFile {
  /** `add.path` as logged (URI-encoded, relative to the table). */
  path: string;
  partitionValues: Record<string, string | null>;
  /** Bytes, from the log. */
  size?: number;
  /** Table version whose commit added the file (lineage), when known. */
  version?: number;
  /** The logical file's deletion vector, if it has one (such files are refused, see `stageFiles`). */
  deletionVector?: DeletionVector | null;
}

/** A file copied into the run folder. */
export interface StagedFile extends SourceFile {
  /** Position in the staged list: the provenance id rows carry as `_sluice_file`. */
  id: number;
  /** Absolute path of the local copy. */
  localPath: string;
}

/** The staged file is missing or damaged; names the table, file and version. */
export class StagingError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StagingError';
  }
}

const CHUNK_BYTES = 8 * 1024 * 1024;
const PARALLEL_FILES = 4;

let staged = 0;

/**
 * Copy data files of a table into the engine's run folder.
 *
 * @param engine the engine (its run folder receives the copies)
 * @param store store rooted at the table
 * @param files the files, in the order their ids should follow
 * @param what how to name the table in messages (e.g. `bronze table pos_sales`)
 * @returns the staged files, ids 0… in input order
 */
export async function stageFiles(engine: SqlEngine, store: ObjectStore, files: (SourceFile | AddFile)[], what: string): Promise<StagedFile[]> {
  // DuckDB would read every row of the file, the deleted ones too: refuse rather than resurrect them.
  const withDv = files.find((f) => f.deletionVector);
  if (withDv) {
    throw new StagingError(
      `${what}: data file ${decodeAddPath(withDv.path, store.url)} has a deletion vector (rows deleted by another engine's DELETE, UPDATE or MERGE), ` +
        `which pipeline runs do not apply; rewrite the table's files without them with \`sluice optimize ${store.url}\` and run again`,
    );
  }
  const dir = engine.path(`staged-${++staged}`);
  await mkdir(dir, { recursive: true });
  const out: StagedFile[] = files.map((f, id) => ({
    path: f.path,
    partitionValues: f.partitionValues ?? {},
    size: f.size,
    version: (f as SourceFile).version,
    id,
    localPath: `${dir}/${id}.parquet`,
  }));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < out.length) {
      const file = out[next++];
      await copyFile(engine, store, file, what);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_FILES, out.length) }, worker));
  return out;
}

async function copyFile(engine: SqlEngine, store: ObjectStore, file: StagedFile, what: string): Promise<void> {
  const path = decodeAddPath(file.path, store.url);
  const where = `${what}: data file ${path}${file.version !== undefined ? ` (added in version ${file.version})` : ''}`;
  if (/^[a-z][a-z0-9+.-]*:/i.test(path)) throw new StagingError(`${where} is an absolute path outside the table, which Sluice does not read`);
  const fetch = async (local: string, size: number) => {
    try {
      await download(store, path, size, local, where);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) {
        throw new StagingError(`${where} is missing from storage (vacuumed or deleted); rebuild the target with a full refresh`, { cause: err });
      }
      throw err;
    }
  };
  // Only a file whose size the log records is cached: the size is part of what identifies its bytes.
  if (file.size !== undefined)
    return engine.fileCache.place(`${store.url}\n${path}\n${file.size}`, file.size, file.localPath, (local) => fetch(local, file.size!));
  let size: number;
  try {
    size = (await store.properties(path)).size;
  } catch (err) {
    if (err instanceof ObjectNotFoundError)
      throw new StagingError(`${where} is missing from storage (vacuumed or deleted); rebuild the target with a full refresh`, { cause: err });
    throw err;
  }
  await fetch(file.localPath, size);
}

/** Copy `size` bytes of an object to a local file in bounded ranged reads. */
async function download(store: ObjectStore, path: string, size: number, local: string, where: string): Promise<void> {
  await writeFileFrom(
    local,
    (async function* () {
      for (let offset = 0; offset < size; offset += CHUNK_BYTES) {
        const length = Math.min(CHUNK_BYTES, size - offset);
        const bytes = await store.read(path, { offset, length });
        if (bytes.length !== length) throw new StagingError(`${where} is shorter than the ${size} bytes the log records (truncated or replaced)`);
        yield bytes;
      }
    })(),
  );
}
