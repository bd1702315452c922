/**
 * The error of a wrong command line (unknown command or option, a missing or bad argument), shared by
 * `sluice` and `sluice dev`: the commands print its message with a hint and exit with status 2,
 * where a failure of the work itself exits with 1.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Parse a subcommand's arguments strictly (positionals allowed); a bad option is a `UsageError`.
 *
 * @param args the arguments
 * @param options the options it takes
 * @returns what node:util's parseArgs returns
 */
export function parseCommandLine<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
