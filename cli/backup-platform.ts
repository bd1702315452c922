/**
 * `sluice restore --all <backup location>`: the platform backup the backup timer writes, restored
 * into the lake and Table Storage the app settings name (run it with the new account's settings).
 */
import { restorePlatform } from '../shared/backup';
import type { CommandIo as Io } from '../shared/command-line/usage';
import { openBackupLocation, platformLake } from '../shared/host';
import { lakeSettings } from './pipeline';

/**
 * Run `restore --all`.
 *
 * @param location the backup location
 * @param options run, definitions folder, JSON output
 * @param io output sinks
 * @param env the app settings
 * @returns the exit status
 */
export async function restoreAllCommand(
  location: string,
  options: { run?: string; definitionsTo?: string; json: boolean },
  io: Io,
  env: Record<string, string | undefined>,
): Promise<number> {
  const settings = lakeSettings(env);
  const result = await restorePlatform(openBackupLocation(settings, location, env), platformLake(settings), {
    run: options.run,
    definitionsTo: options.definitionsTo,
  });
  if (options.json) io.out(JSON.stringify(result) + '\n');
  else {
    io.out(`restored backup run ${result.run} of ${result.backup} into ${settings.lakeContainer}:\n`);
    for (const t of result.tables) io.out(`  ${t.path} at version ${t.version}\n`);
    for (const s of result.state) io.out(`  ${s.table}: ${s.entities} entities\n`);
    io.out(`  catalog rebuilt: ${result.catalog.tables} table(s)\n`);
    for (const d of result.catalog.definitionsNotRead ?? []) io.err(`warning: the catalog has no owners, tags or descriptions from ${d}\n`);
    for (const d of result.definitions) io.out(`  definition ${d}\n`);
    if (!options.definitionsTo) io.out('  (definitions not written: give --definitions-to DIR to get them)\n');
  }
  return 0;
}
