/**
 * Delta log actions: their shapes, and parsing and serialising commit files (newline-delimited JSON,
 * one action per line). Unknown actions and unknown fields are kept out of the way, never rejected,
 * as the protocol requires; a missing required field is a corrupt log.
 */
import { CorruptLogError } from './errors';

/** `protocol` action. */
export interface Protocol {
  minReaderVersion: number;
  minWriterVersion: number;
  readerFeatures?: string[];
  writerFeatures?: string[];
}

/** `metaData` action. */
export interface Metadata {
  id: string;
  name?: string | null;
  description?: string | null;
  format: { provider: string; options?: Record<string, string> };
  schemaString: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
  createdTime?: number | null;
}

/** Deletion vector descriptor of a logical file (deletion-vectors.ts reads what it points to). */
export interface DeletionVector {
  storageType: string;
  pathOrInlineDv: string;
  offset?: number;
  sizeInBytes: number;
  cardinality: number;
}

/** `add` action. */
export interface AddFile {
  path: string;
  partitionValues: Record<string, string | null>;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  stats?: string | null;
  tags?: Record<string, string> | null;
  deletionVector?: DeletionVector | null;
  baseRowId?: number | null;
  defaultRowCommitVersion?: number | null;
  clusteringProvider?: string | null;
}

/** `remove` action (tombstone). */
export interface RemoveFile {
  path: string;
  dataChange: boolean;
  deletionTimestamp?: number | null;
  extendedFileMetadata?: boolean | null;
  partitionValues?: Record<string, string | null> | null;
  size?: number | null;
  stats?: string | null;
  tags?: Record<string, string> | null;
  deletionVector?: DeletionVector | null;
}

/** `txn` action: the last batch an idempotent writer applied. */
export interface Txn {
  appId: string;
  version: number;
  lastUpdated?: number | null;
}

/** `domainMetadata` action. */
export interface DomainMetadata {
  domain: string;
  configuration: string;
  removed: boolean;
}

/** `commitInfo`: free-form provenance; these are the conventional keys. */
export interface CommitInfo {
  timestamp?: number;
  inCommitTimestamp?: number;
  operation?: string;
  operationParameters?: Record<string, unknown>;
  readVersion?: number;
  isBlindAppend?: boolean;
  engineInfo?: string;
  txnId?: string;
  [key: string]: unknown;
}

/** One line of a commit file. Exactly one key is set. */
export type Action =
  | { protocol: Protocol }
  | { metaData: Metadata }
  | { add: AddFile }
  | { remove: RemoveFile }
  | { txn: Txn }
  | { domainMetadata: DomainMetadata }
  | { commitInfo: CommitInfo }
  | { cdc: { path: string } };

const REQUIRED: Record<string, string[]> = {
  protocol: ['minReaderVersion', 'minWriterVersion'],
  metaData: ['id', 'format', 'partitionColumns'],
  add: ['path', 'partitionValues', 'size', 'modificationTime', 'dataChange'],
  remove: ['path', 'dataChange'],
  txn: ['appId', 'version'],
  domainMetadata: ['domain', 'configuration', 'removed'],
};

/** `schemaString` of a table without columns. */
const EMPTY_SCHEMA = '{"type":"struct","fields":[]}';

/**
 * Parse the text of one commit file into its known actions.
 *
 * @param text file content
 * @param where file name or URL, for error messages
 * @returns the known actions in file order (unknown action kinds are skipped)
 */
export function parseCommit(text: string, where: string): Action[] {
  const actions: Action[] = [];
  for (const { value, line } of parseActionLines(text, where)) {
    const action = normaliseAction(value, `${where} line ${line}`);
    if (action) actions.push(action);
  }
  return actions;
}

/**
 * Split newline-delimited JSON (a commit, a JSON checkpoint) into its objects, unchecked.
 *
 * @param text file content
 * @param where file name or URL, for error messages
 * @returns each object with its 1-based line number
 */
export function parseActionLines(text: string, where: string): { value: Record<string, unknown>; line: number }[] {
  const out: { value: Record<string, unknown>; line: number }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      const truncated = i >= lines.length - 2 && !text.endsWith('\n') ? ' (the file looks truncated)' : '';
      throw new CorruptLogError(`delta log: ${where} line ${i + 1} is not valid JSON${truncated}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new CorruptLogError(`delta log: ${where} line ${i + 1} is not a JSON object`);
    }
    out.push({ value: value as Record<string, unknown>, line: i + 1 });
  }
  return out;
}

/**
 * Check one decoded action object and bring it to the typed shape; returns null for unknown kinds.
 *
 * @param value the decoded JSON object of one line (or one checkpoint row)
 * @param where location for error messages
 * @returns the action, or null when its kind is not one this reader uses
 */
export function normaliseAction(value: Record<string, unknown>, where: string): Action | null {
  for (const kind of Object.keys(value)) {
    const body = value[kind];
    if (body === null || body === undefined) continue;
    if (kind === 'commitInfo' || kind === 'cdc') return { [kind]: body } as Action;
    const required = REQUIRED[kind];
    if (!required) continue;
    if (typeof body !== 'object') throw new CorruptLogError(`delta log: ${where}: "${kind}" is not an object`);
    const fields = body as Record<string, unknown>;
    for (const field of required) {
      if (fields[field] === undefined || fields[field] === null) {
        throw new CorruptLogError(`delta log: ${where}: ${kind} action is missing required field "${field}"`);
      }
    }
    if (kind === 'metaData') {
      const md = fields as unknown as Metadata;
      md.configuration ??= {};
      // Delta Live Tables creates a table with a placeholder metaData that has no schema and replaces
      // it one commit later; delta-rs and Spark read that version as having no columns.
      if (md.schemaString === undefined || md.schemaString === null) md.schemaString = EMPTY_SCHEMA;
      if (typeof md.schemaString !== 'string') throw new CorruptLogError(`delta log: ${where}: metaData.schemaString is not a string`);
      if (!Array.isArray(md.partitionColumns)) {
        throw new CorruptLogError(`delta log: ${where}: metaData.partitionColumns is not an array`);
      }
    }
    if (kind === 'add' || kind === 'remove') {
      if (typeof fields.path !== 'string') throw new CorruptLogError(`delta log: ${where}: ${kind}.path is not a string`);
      if (kind === 'add') {
        const add = fields as unknown as AddFile;
        add.size = Number(add.size);
        add.modificationTime = Number(add.modificationTime);
      }
    }
    if (kind === 'txn') (fields as unknown as Txn).version = Number(fields.version);
    return { [kind]: fields } as Action;
  }
  return null;
}

/**
 * Serialise actions to commit-file text: one JSON object per line, newline-terminated.
 *
 * @param actions actions in the order they should appear
 * @returns the file content
 */
export function serialiseCommit(actions: Action[]): string {
  return actions.map((a) => JSON.stringify(a)).join('\n') + '\n';
}

/**
 * Key of a file action for reconciliation: path plus deletion-vector id, as the protocol defines.
 *
 * @param path the action's path as logged
 * @param dv its deletion vector, if any
 * @returns a string that is equal for actions on the same logical file
 */
export function fileActionKey(path: string, dv?: DeletionVector | null): string {
  if (!dv) return path;
  return `${path}\u0000${dv.storageType}${dv.pathOrInlineDv}${dv.offset === undefined || dv.offset === null ? '' : '@' + dv.offset}`;
}

/**
 * The tombstone of a live file: every writer that drops a file (overwrite, upsert, optimize) says the
 * same things of it, so a reader or a later vacuum sees one shape. The deletion vector goes with it:
 * it is part of the logical file's key, and without it the remove would not match the add.
 *
 * @param file the file's `add`, as in the snapshot
 * @param dataChange false for rearrangements that change no row (optimize)
 * @param deletionTimestamp when it was removed (ms)
 * @returns the `remove` action
 */
export function removeAction(file: AddFile, dataChange: boolean, deletionTimestamp: number): { remove: RemoveFile } {
  return {
    remove: {
      path: file.path,
      dataChange,
      deletionTimestamp,
      extendedFileMetadata: true,
      partitionValues: file.partitionValues,
      size: file.size,
      stats: file.stats ?? null,
      ...(file.deletionVector ? { deletionVector: file.deletionVector } : {}),
    },
  };
}
