/**
 * `sluice backup | restore | verify | clone`: the stage functions of shared/backup on any two table
 * locations (local paths, Azure, Azurite). Copies between Blob locations are server-side; between the
 * local disk and Blob Storage the bytes stream through this process (the JSON says which: `methods`).
 */
import { backupTable, cloneTable, restoreBackup, verifyLocation, type BackupResult, type CopyTableResult } from '../shared/backup';
import { openStore } from '../shared/storage/location';
import type { CommandIo as Io } from '../shared/command-line/usage';
import { parseCommandLine, UsageError } from '../shared/command-line/usage';
import { restoreAllCommand } from './backup-platform';
import { parsePriority, REHYDRATION_DEADLINE_HOURS } from '../shared/tiering/rehydrate';
import { loadRehydrationSettings } from '../shared/config/settings';

/** The commands this file runs. */
export const BACKUP_COMMANDS = ['backup', 'restore', 'verify', 'clone'] as const;

/** Help of the backup commands (part of `sluice --help`). */
export const BACKUP_HELP = `  backup <table> --to <location>   back up the table's current version: the data files it references,
                       the log up to it and a checkpoint, so the backup is itself a Delta table; run
                       again, it copies only new files and commits. One manifest per backed-up version
                       (_sluice_backup/manifests/) lists each file with size and checksum. Files
                       vacuumed while copying make it move on to the newest version
      --json               { version, previousVersion, unchanged, copied, bytesCopied, reused, files,
                             methods: { server | local | stream: n }, movedFrom: [{ version, reason }] }
  restore <backup> --to <location>  a new table equal to the source at a backed-up version (the target
                       must hold no table). Backup files in the Archive tier are rehydrated to Hot
                       first; nothing is copied until they are online
      --version N          a version a backup ran at (default: the newest)  --json
      --priority standard|high  rehydration priority (default standard)
      --wait               wait for the rehydration (checks every SLUICE_REHYDRATION_POLL_SECONDS, at
                           most 48 hours) instead of stopping with how many files are still offline
  restore --all <backup-location>   the platform backup the backup timer writes (SLUICE_BACKUP_LOCATION):
                       every table, the ingestion ledger and the event log, into the lake the app
                       settings name (SLUICE_LAKE, SLUICE_LAKE_CONTAINER), which must be empty
      --run ID             a backup run of the index (default: the newest)
      --definitions-to DIR write the backed-up pipeline definitions there  --json
  verify <table-or-backup>         every file the newest version references present with the log's
                       size, every commit readable; for a backup also every manifest's files and
                       checksums. Exit status 1 with the list of problems
      --json               { location, kind, version, backupVersions, filesChecked, checksumsChecked, ok, problems }
  clone <source> <target>          a deep clone at a version (default: the newest); towards an earlier
                       clone of the same table only what changed is copied
      --version N  --json
`;

const OPTIONS = {
  to: { type: 'string' },
  version: { type: 'string' },
  json: { type: 'boolean' },
  all: { type: 'boolean' },
  run: { type: 'string' },
  'definitions-to': { type: 'string' },
  priority: { type: 'string' },
  wait: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const ALLOWED: Record<(typeof BACKUP_COMMANDS)[number], string[]> = {
  backup: ['to', 'json'],
  restore: ['to', 'version', 'json', 'all', 'run', 'definitions-to', 'priority', 'wait'],
  verify: ['json'],
  clone: ['version', 'json'],
};

/**
 * Run one of the backup commands.
 *
 * @param command backup, restore, verify or clone
 * @param argv its arguments
 * @param io output sinks
 * @param env the environment (app settings for `restore --all`)
 * @returns the exit status
 */
export async function runBackupCommand(command: string, argv: string[], io: Io, env: Record<string, string | undefined> = process.env): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (values.help) {
    io.out(BACKUP_HELP);
    return 0;
  }
  const allowed = ALLOWED[command as (typeof BACKUP_COMMANDS)[number]];
  if (!allowed) throw new UsageError(`unknown command '${command}'`);
  for (const key of Object.keys(values)) if (key !== 'help' && !allowed.includes(key)) throw new UsageError(`option --${key} does not apply to '${command}'`);
  const json = values.json === true;
  const version = values.version === undefined ? undefined : wholeNumber(values.version, '--version');

  if (command === 'restore' && values.all) {
    if (positionals.length !== 1)
      throw new UsageError(`'restore --all' takes the backup location (SLUICE_BACKUP_LOCATION), got ${positionals.length} arguments`);
    if (values.to !== undefined || version !== undefined)
      throw new UsageError("'restore --all' restores into the lake the app settings name; --to and --version do not apply");
    return restoreAllCommand(positionals[0], { run: values.run, definitionsTo: values['definitions-to'], json }, io, env);
  }
  if (values.run !== undefined || values['definitions-to'] !== undefined) throw new UsageError('--run and --definitions-to go with restore --all');

  switch (command) {
    case 'backup': {
      if (positionals.length !== 1 || !values.to) throw new UsageError("'backup' takes one table location and --to <backup location>");
      const result = await backupTable(openStore(positionals[0]), openStore(values.to));
      io.out(json ? JSON.stringify(result) + '\n' : describeBackup(result));
      return 0;
    }
    case 'restore': {
      if (positionals.length !== 1 || !values.to) throw new UsageError("'restore' takes one backup location and --to <new table location>");
      const priority = values.priority === undefined ? undefined : parsePriority(values.priority);
      if (priority === undefined && values.priority !== undefined) throw new UsageError(`--priority must be standard or high, not '${values.priority}'`);
      const rehydrate = {
        ...(priority ? { priority } : {}),
        ...(values.wait ? { waitMs: REHYDRATION_DEADLINE_HOURS * 3_600_000, pollMs: loadRehydrationSettings(env).rehydrationPollSeconds * 1000 } : {}),
      };
      const result = await restoreBackup(openStore(positionals[0]), openStore(values.to), { version, rehydrate });
      io.out(json ? JSON.stringify(result) + '\n' : describeCopy('restored', result));
      return 0;
    }
    case 'clone': {
      if (positionals.length !== 2) throw new UsageError(`'clone' takes a source and a target location, got ${positionals.length}`);
      const result = await cloneTable(openStore(positionals[0]), openStore(positionals[1]), { version });
      io.out(json ? JSON.stringify(result) + '\n' : describeCopy('cloned', result));
      return 0;
    }
    default: {
      if (positionals.length !== 1) throw new UsageError(`'verify' takes one table or backup location, got ${positionals.length}`);
      const result = await verifyLocation(openStore(positionals[0]));
      if (json) io.out(JSON.stringify(result) + '\n');
      else {
        io.out(
          `${result.kind} ${result.location}: version ${result.version ?? 'unreadable'}` +
            (result.kind === 'backup' ? `, backed-up versions ${result.backupVersions.join(', ')}` : '') +
            `; ${result.filesChecked} file(s) checked, ${result.checksumsChecked} checksum(s)\n`,
        );
        for (const p of result.problems) io.err(`problem: ${p}\n`);
        io.out(result.ok ? 'ok\n' : `${result.problems.length} problem(s)\n`);
      }
      return result.ok ? 0 : 1;
    }
  }
}

function describeBackup(r: BackupResult): string {
  if (r.unchanged) return `${r.source} is still at version ${r.version}, backed up already: nothing copied\n`;
  const moved = r.movedFrom.map((m) => `  moved on from version ${m.version}: ${m.reason}\n`).join('');
  return (
    `${moved}backed up version ${r.version}${r.previousVersion === null ? '' : ` (previous backup: ${r.previousVersion})`} to ${r.backup}: ` +
    `${r.copied} file(s) copied (${r.bytesCopied} bytes), ${r.reused} already held${copyMethods(r.methods)}\n`
  );
}

function describeCopy(verb: string, r: CopyTableResult): string {
  return `${verb} version ${r.version} of ${r.source} to ${r.target}: ${r.copied} file(s) copied (${r.bytesCopied} bytes), ${r.reused} already there${copyMethods(r.methods)}\n`;
}

function copyMethods(methods: BackupResult['methods']): string {
  return methods.stream ? `; ${methods.stream} streamed through this process (local disk and Blob Storage cannot copy between each other)` : '';
}

function wholeNumber(text: string, option: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${option} must be a whole number ≥ 0, not '${text}'`);
  return Number(text);
}
