/**
 * The error of a wrong command line (unknown command or option, a missing or bad argument), shared by
 * `sluice` and `sluice dev`: the commands print its message with a hint and exit with status 2,
 * where a failure of the work itself exits with 1.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}
