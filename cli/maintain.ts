/**
 * `sluice maintain <table>`: the maintenance the nightly timer does for each table of the served
 * pipelines, for one table location (shared/maintenance/maintain.ts does the work).
 */
import { loadMaintenanceSettings, type SettingsEnv } from '../shared/config/settings';
import { maintainTable, maintenanceFailed, maintenanceLines } from '../shared/maintenance/maintain';
import { maintenanceOptions } from '../shared/maintenance/options';
import { openStore } from '../shared/storage/location';
import { parseCommandLine, UsageError, type CommandIo } from '../shared/command-line/usage';

/** Help text of `sluice maintain` (part of `sluice --help`). */
export const MAINTAIN_HELP = `  maintain <table>     what the nightly maintenance timer does, for one table: optimize the partitions
                       with SLUICE_OPTIMIZE_MIN_FILES (10) or more small files to SLUICE_OPTIMIZE_TARGET_MB,
                       checkpoint when delta.checkpointInterval (else 10) commits came since the last
                       one, vacuum with the table's retention (never shorter), and delete _delta_log
                       entries older than delta.logRetentionDuration (30 days) and than the newest
                       checkpoint before it. A table another maintenance run holds is left alone.
                       Exit status 1 when the table was skipped or a step failed (each is reported)
      --dry-run            report what each step would do, change nothing
      --json               the report: { table, dryRun, skipped?, versionBefore, versionAfter,
                           optimize, checkpoint, vacuum, logCleanup }, each step with a status
                           (done, not-needed, would-run, failed) and a detail line
`;

const OPTIONS = {
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Run `sluice maintain …`.
 *
 * @param argv the arguments after `maintain`
 * @param io output sinks
 * @param env the environment (maintenance settings)
 * @returns the exit status
 */
export async function runMaintainCommand(argv: string[], io: CommandIo, env: SettingsEnv = process.env): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (values.help) {
    io.out(MAINTAIN_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`'maintain' takes exactly one table location, got ${positionals.length}`);
  const options = maintenanceOptions(loadMaintenanceSettings(env));
  const report = await maintainTable(openStore(positionals[0]), { ...options, dryRun: values['dry-run'] });
  io.out(values.json ? JSON.stringify(report) + '\n' : maintenanceLines(report).join('\n') + '\n');
  return maintenanceFailed(report) ? 1 : 0;
}
