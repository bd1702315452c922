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

/** Where a command writes: its standard output and its standard error. */
export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/**
 * Run one command line and turn what it threw into the exit status every Sluice command shares, so
 * `sluice …` and `sluice dev …` (two entry points since the CLI may not import the local host) answer
 * a mistake the same way: 2 and a hint for a wrong command line, 1 and the reason for a failed one.
 *
 * @param run the command
 * @param argv its arguments
 * @param io where it writes
 * @returns the exit status
 */
export async function runCommandLine(run: (argv: string[], io: CommandIo) => Promise<number>, argv: string[], io: CommandIo): Promise<number> {
  try {
    return await run(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`sluice: ${err.message}\nRun 'sluice --help' for usage.\n`);
      return 2;
    }
    io.err(`sluice: ${(err as Error)?.message ?? String(err)}\n`);
    if (process.env.SLUICE_DEBUG) io.err(`${(err as Error)?.stack}\n`);
    return 1;
  }
}
