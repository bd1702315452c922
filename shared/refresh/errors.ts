/**
 * Refresh errors. Every one is terminal (retrying the same inputs gives the same failure) unless it
 * says otherwise; storage and commit-contention errors from the layers below keep their own `transient`
 * flag, so an orchestrator retries those and stops on these.
 */

/** Why a refresh stopped. */
export type RefreshErrorCode =
  /** The source had a non-append change (a delete, an overwrite) since the last applied version. */
  | 'source-changed'
  /** The source's log no longer has a version that was not applied yet. */
  | 'source-history-missing'
  /** An expectation with `onViolation: fail` was violated. */
  | 'expectation-failed'
  /** The SQL, a hook or a setting is wrong. */
  | 'definition'
  /** The target's schema or layout does not match what the definition now produces. */
  | 'target-mismatch';

/** A refresh stopped; nothing was committed to the target. */
export class RefreshError extends Error {
  readonly code: RefreshErrorCode;
  /** The target table (definition name). */
  readonly table: string;
  readonly transient = false;
  constructor(code: RefreshErrorCode, table: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RefreshError';
    this.code = code;
    this.table = table;
  }
}

/** An expectation with `onViolation: fail` was violated; carries the expectation and a sample row. */
export class ExpectationFailedError extends RefreshError {
  readonly expectation: string;
  readonly sample: Record<string, unknown>;
  readonly violations: number;
  constructor(table: string, expectation: string, check: string, violations: number, sample: Record<string, unknown>) {
    super(
      'expectation-failed',
      table,
      `refresh ${table}: expectation "${expectation}" (${check}) failed for ${violations} row${violations === 1 ? '' : 's'}; nothing was committed. Sample row: ${JSON.stringify(sample)}`,
    );
    this.name = 'ExpectationFailedError';
    this.expectation = expectation;
    this.sample = sample;
    this.violations = violations;
  }
}

/**
 * The command that rebuilds a table from its sources, for messages.
 *
 * @param definitionFile the pipeline file (or a placeholder)
 * @param table the table name
 * @returns the command line
 */
export function fullRefreshCommand(definitionFile: string | undefined, table: string): string {
  return `sluice pipeline run ${definitionFile ?? '<pipeline.yaml>'} --full-refresh ${table}`;
}
