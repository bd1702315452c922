/**
 * The input reader the stage uses — `readInput` of shared/formats (the contract is
 * shared/formats/types.ts); hosts and tests may pass another function with the same contract — and
 * how a source's settings become its options. A setting the reader refuses is the configuration's
 * fault, not the file's: `IngestConfigError`, naming the setting and the file.
 */
import type { Snapshot } from '../delta';
import { readInput } from '../formats';
import { checkReadOptions, ReadOptionsError } from '../formats/options';
import type { ReadOptions, ReadResult } from '../formats/types';
import type { ObjectStore } from '../storage/types';
import { dataSchema, SYSTEM_COLUMN_NAMES } from './columns';
import type { IngestSource } from './types';

/** `readInput` of shared/formats: bytes of one input (streamed) and its name → rows and bad records. */
export type ReadInput = (input: AsyncIterable<Uint8Array>, name: string, options: ReadOptions) => Promise<ReadResult>;

/**
 * `readInput` from shared/formats.
 *
 * @returns the reader
 */
export function formatsReader(): ReadInput {
  // A static import: a lazy `require('../formats')` resolved only in compiled output and under tsx,
  // not where TypeScript sources are loaded as ES modules (vitest), and the readers' dependencies load
  // in milliseconds.
  return readInput;
}

/** Thrown when the file cannot be ingested because of the configuration (not the input). */
export class IngestConfigError extends Error {
  /**
   * @param message the whole message (it names the setting and the file)
   * @param setting the source setting at fault (`csv.delimiter`, `schemaHints.qty`, `partitionBy`)
   * @param file the landing file (store URL and path)
   */
  constructor(
    message: string,
    readonly setting?: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = 'IngestConfigError';
  }
}

/**
 * The reader options of a source for one file: the source's settings, the blob's last-modified time
 * (the `modificationTime` of binary rows), the stage's own columns as reserved names, and the table's
 * data schema once the table exists.
 *
 * @param source the source settings
 * @param lastModified the blob's last-modified time
 * @param snapshot the table, or null before it exists
 * @returns the options
 */
export function sourceReadOptions(source: IngestSource, lastModified?: Date, snapshot?: Snapshot | null): ReadOptions {
  return {
    format: source.format ?? 'auto',
    compression: source.compression ?? 'auto',
    ...(source.csv ? { csv: source.csv } : {}),
    schemaHints: source.schemaHints ?? {},
    reservedColumns: [...SYSTEM_COLUMN_NAMES],
    ...(lastModified ? { modificationTime: lastModified } : {}),
    ...(snapshot ? { targetSchema: dataSchema(snapshot.schema) } : {}),
    ...(source.maxRecordBytes !== undefined ? { maxRecordBytes: source.maxRecordBytes } : {}),
  };
}

/**
 * How a source is named in messages.
 *
 * @param source the source settings
 * @returns `source <name>`, or `the source` when it has no name
 */
export function sourceName(source: IngestSource | undefined): string {
  return source?.name ? `source ${source.name}` : 'the source';
}

/** The file being ingested, for `checkSourceOptions` and `readSource`. */
interface SourceFile {
  landing: ObjectStore;
  path: string;
  source?: IngestSource;
}

/** The configuration error for a reader option the reader refused. */
function optionError(err: ReadOptionsError, file: SourceFile): IngestConfigError {
  const where = `${file.landing.url.replace(/\/+$/, '')}/${file.path}`;
  const detail = err.message.replace(/^formats: [^:]*: /, '');
  return new IngestConfigError(`ingest: ${where} not ingested: setting ${err.setting} of ${sourceName(file.source)}: ${detail}`, err.setting, where);
}

/**
 * Check a source's reader settings before anything is recorded about the file.
 *
 * @param file the file and its source; throws `IngestConfigError` naming the setting and the file
 */
export function checkSourceOptions(file: SourceFile): void {
  try {
    checkReadOptions(sourceReadOptions(file.source ?? {}));
  } catch (err) {
    throw err instanceof ReadOptionsError ? optionError(err, file) : err;
  }
}

/**
 * Start reading the file with the source's settings.
 *
 * @param reader the reader
 * @param input the file's bytes
 * @param file the file and its source
 * @param lastModified the blob's last-modified time
 * @param snapshot the table, or null before it exists
 * @returns the read; a refused option throws `IngestConfigError`
 */
export async function readSource(
  reader: ReadInput,
  input: AsyncIterable<Uint8Array>,
  file: SourceFile,
  lastModified: Date,
  snapshot: Snapshot | null,
): Promise<ReadResult> {
  try {
    return await reader(input, file.path, sourceReadOptions(file.source ?? {}, lastModified, snapshot));
  } catch (err) {
    throw err instanceof ReadOptionsError ? optionError(err, file) : err;
  }
}
