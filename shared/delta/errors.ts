/**
 * Errors of the Delta layer. Every message starts with `delta` and names the table and, where one is
 * involved, the log or data file, so a user can go straight to the problem.
 *
 * `transient` is true only where retrying the same call may succeed (a lost commit race that exhausted
 * its retries); everything else is terminal: retrying without changing the table or the input fails
 * again.
 */

/** Root of all Delta errors. */
export class DeltaError extends Error {
  readonly transient: boolean;
  constructor(message: string, options?: { cause?: unknown; transient?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeltaError';
    this.transient = options?.transient ?? false;
  }
}

/** The location holds no Delta table (no commit and no checkpoint in `_delta_log/`). */
export class NotATableError extends DeltaError {
  constructor(tableUrl: string) {
    super(`delta: no Delta table at ${tableUrl} (no commits or checkpoints under _delta_log/)`);
    this.name = 'NotATableError';
  }
}

/** The table needs a protocol version or feature this implementation does not support. */
export class UnsupportedProtocolError extends DeltaError {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedProtocolError';
  }
}

/** The log is damaged: unreadable commit, version gap, broken checkpoint, missing required field. */
export class CorruptLogError extends DeltaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CorruptLogError';
  }
}

/** A data file the log references cannot be read (missing, truncated, not Parquet). */
export class DataFileError extends DeltaError {
  readonly path: string;
  constructor(message: string, path: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataFileError';
    this.path = path;
  }
}

/** A write was refused because the data or the request does not fit the table. */
export class WriteRejectedError extends DeltaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WriteRejectedError';
  }
}

/** A concurrent commit made this transaction invalid; it must be rebuilt from a fresh snapshot. */
export class CommitConflictError extends DeltaError {
  readonly version: number;
  constructor(message: string, version: number) {
    super(message, { transient: true });
    this.name = 'CommitConflictError';
    this.version = version;
  }
}

/** The commit did not land after the configured number of attempts. */
export class CommitRetriesExhaustedError extends DeltaError {
  constructor(message: string) {
    super(message, { transient: true });
    this.name = 'CommitRetriesExhaustedError';
  }
}

/** The requested version or timestamp does not exist in the retained log. */
export class VersionNotFoundError extends DeltaError {
  constructor(message: string) {
    super(message);
    this.name = 'VersionNotFoundError';
  }
}

/**
 * A commit-lane intent can never be committed as written: a column its files have was added to the
 * table concurrently with another type (see evolve.ts). The intent was withdrawn; write the data again
 * against the table's new schema.
 */
export class SchemaChangedError extends DeltaError {
  readonly column: string;
  constructor(message: string, column: string) {
    super(message, { transient: true });
    this.name = 'SchemaChangedError';
    this.column = column;
  }
}
