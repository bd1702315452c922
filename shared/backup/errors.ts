/**
 * The error of a backup, restore, clone or verification that cannot be done as asked. Its message
 * starts with what was attempted and names the table, version and files involved.
 */
export class BackupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackupError';
  }
}
