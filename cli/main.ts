/**
 * The `sluice` command. Each subcommand parses its options, opens the table location and calls one
 * function of the Delta layer; nothing here re-implements table logic.
 *
 * Exit status: 0 on success, 1 when the operation failed, 2 when the command line is wrong.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { parseArgs } from 'node:util';
import { appRoot } from '../shared/host/pipelines';
import { openStore } from '../shared/storage/location';
import {
  batchToRows,
  checkpointTable,
  describeSnapshot,
  flushLane,
  formatDeltaType,
  loadSnapshot,
  optimizeTable,
  RetentionTooShortError,
  scanTable,
  stringifyJson,
  tableHistory,
  vacuumTable,
} from '../shared/delta';
import type { JsonValue } from '../shared/delta/rows';
import { READ_FORMATS, ReadFormat, rowWriter } from './format';
import { INGEST_HELP, runIngestCommand } from './ingest';
import { PIPELINE_HELP, runPipelineCommand } from './pipeline';
import { DEADLETTER_HELP, runDeadLetterCommand } from './deadletter';
import { LINEAGE_HELP, runLineageCommand } from './lineage';
import { CATALOG_HELP, runCatalogCommand } from './catalog';
import { MAINTAIN_HELP, runMaintainCommand } from './maintain';
import { noteRehydratedRead, REHYDRATE_HELP, runRehydrateCommand } from './rehydrate';
import { requireOnline } from '../shared/tiering/archived-files';
import { METRICS_HELP, runMetricsCommand } from './metrics';
import { BACKUP_COMMANDS, BACKUP_HELP, runBackupCommand } from './backup';
import { runTierCommand, TIER_HELP } from './tier';
import { processIo } from '../shared/command-line/stdout';
import { runCommandLine, UsageError, type CommandIo as Io } from '../shared/command-line/usage';
import { loadMaintenanceSettings } from '../shared/config/settings';

const VERSION = packageVersion();

/** Help of the `dev` commands (dev/cli.ts runs them; bin/sluice.js hands it `sluice dev …`). */
const DEV_HELP = `  dev [options]        run the whole pipeline locally (same as npm start; sluice dev --help)
  dev events --hub <hub> <file.json|file.ndjson> [--url U]  send events to the local Event Hubs feed
  dev events --hub <hub> --rate N --duration S [--url U]    send generated telemetry events
                       (the hub may also be given as the first word: dev events <hub> …)
  dev drop <file>… --to <folder> [--container C]            upload files to the local landing container
                       (Azurite on :10000; set AZURITE_BLOB_ENDPOINT when it listens elsewhere)
`;

const HELP = `sluice ${VERSION} — Delta Lake tables on Azure Blob Storage, ADLS Gen2, Azurite or local disk

Usage: sluice <command> <table> [options]

Commands:
  read <table>         print rows
      --version N          read table version N (time travel)
      --timestamp T        read the latest version committed at or before T (ISO-8601)
      --limit N            print at most N rows
      --format F           ndjson (default) | csv | table
      --partition-time-zone Z  zone for partition timestamps written without one (default UTC)
  describe <table>     version, schema, partitioning, files, rows and bytes
      --version N | --timestamp T
      --json               the stable machine-readable form
  history <table>      commits still in the log, newest first
      --limit N  --json
  optimize <table>     compact small files per partition, and rewrite files with deletion vectors
                       without their deleted rows (dataChange=false)
      --target-mb N        target file size (default SLUICE_OPTIMIZE_TARGET_MB, else 128)  --json
  vacuum <table>       delete data and deletion-vector files no version in the retention window uses
      --retention-hours H  default: the table's retention, i.e. its delta.deletedFileRetentionDuration,
                           else SLUICE_VACUUM_RETENTION_HOURS, else 168; a shorter one is refused
                           (exit status 2) unless --force
      --force              vacuum with a retention shorter than the table's: readers of older
                           versions and time travel may fail
      --dry-run            list the files, delete nothing  --json
  checkpoint <table>   write a checkpoint for the latest version now  --json
  flush <table>        commit appends left pending in the table's commit lane  --json
${MAINTAIN_HELP}${TIER_HELP}${REHYDRATE_HELP}${INGEST_HELP}${PIPELINE_HELP}${DEADLETTER_HELP}${CATALOG_HELP}${LINEAGE_HELP}${METRICS_HELP}${BACKUP_HELP}${DEV_HELP}
<table> is a location:
  ./path or /abs/path or file:///abs/path          local disk
  abfss://<container>@<account>.dfs.core.windows.net/<path>   ADLS Gen2 (signs in with DefaultAzureCredential)
  https://<account>.blob.core.windows.net/<container>/<path>  Blob Storage (DefaultAzureCredential)
  http://127.0.0.1:10000/devstoreaccount1/<container>/<path>  Azurite (its well-known dev key, or
                                                   SLUICE_STORAGE_CONNECTION_STRING / AzureWebJobsStorage)
  azurite://<container>/<path>                     short form of the above (AZURITE_BLOB_ENDPOINT overrides)

Values in ndjson/csv: 64-bit integers exact, decimals as strings with their scale, binary as hex,
dates YYYY-MM-DD, timestamps ISO-8601 UTC with microseconds.
`;

/**
 * Run the command line.
 *
 * @param argv arguments after the program name
 * @param io output sinks (stdout/stderr by default)
 * @returns the exit status
 */
export function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runCommandLine(run, argv, io);
}

/** The version of the installed package, so that `--version` and the help never drift from a release. */
function packageVersion(): string {
  const file = nodePath.join(appRoot(__dirname), 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
}

const OPTIONS = {
  version: { type: 'string' },
  timestamp: { type: 'string' },
  limit: { type: 'string' },
  format: { type: 'string' },
  json: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  force: { type: 'boolean' },
  'retention-hours': { type: 'string' },
  'target-mb': { type: 'string' },
  'partition-time-zone': { type: 'string' },
  table: { type: 'string' },
  'schema-evolution': { type: 'string' },
  'schema-hints': { type: 'string' },
  'partition-by': { type: 'string' },
  ledger: { type: 'string' },
  'dead-letter': { type: 'string' },
  'max-record-mb': { type: 'string' },
  'csv-engine': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const ALLOWED: Record<string, (keyof typeof OPTIONS)[]> = {
  read: ['version', 'timestamp', 'limit', 'format', 'partition-time-zone'],
  describe: ['version', 'timestamp', 'json'],
  history: ['limit', 'json'],
  optimize: ['target-mb', 'json'],
  vacuum: ['retention-hours', 'force', 'dry-run', 'json'],
  checkpoint: ['json'],
  flush: ['json'],
  ingest: ['table', 'format', 'schema-evolution', 'schema-hints', 'partition-by', 'ledger', 'dead-letter', 'max-record-mb', 'csv-engine', 'json'],
  backfill: ['table', 'format', 'schema-evolution', 'schema-hints', 'partition-by', 'ledger', 'dead-letter', 'max-record-mb', 'csv-engine', 'json'],
};

async function run(argv: string[], io: Io): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(HELP);
    return 0;
  }
  if (argv[0] === '--version') {
    io.out(`${VERSION}\n`);
    return 0;
  }
  const [command, ...rest] = argv;
  // bin/sluice.js hands `sluice dev …` to the local host's command line (dev/cli.ts) before it gets here.
  if (command === 'dev') throw new UsageError("'sluice dev' runs the local host; start it with the sluice command (bin/sluice.js) or npm start");
  if (command === 'pipeline' || command === 'quarantine') return runPipelineCommand(command, rest, io);
  if (command === 'deadletter') return runDeadLetterCommand(rest, io);
  if (command === 'tier') return runTierCommand(rest, io);
  if (command === 'catalog') return runCatalogCommand(rest, io);
  if (command === 'lineage') return runLineageCommand(rest, io);
  if (command === 'maintain') return runMaintainCommand(rest, io);
  if (command === 'rehydrate') return runRehydrateCommand(rest, io);
  if (command === 'metrics') return runMetricsCommand(rest, io);
  if ((BACKUP_COMMANDS as readonly string[]).includes(command)) return runBackupCommand(command, rest, io);
  if (!ALLOWED[command])
    throw new UsageError(
      unknownCommand(command, [
        ...Object.keys(ALLOWED),
        'pipeline',
        'quarantine',
        'deadletter',
        'catalog',
        'lineage',
        'maintain',
        'rehydrate',
        'metrics',
        'tier',
        ...BACKUP_COMMANDS,
        'dev',
      ]),
    );
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  for (const key of Object.keys(values) as (keyof typeof OPTIONS)[]) {
    if (key !== 'help' && !ALLOWED[command].includes(key)) throw new UsageError(`option --${key} does not apply to '${command}'`);
  }
  if (command === 'ingest' || command === 'backfill') {
    if (positionals.length !== 1)
      throw new UsageError(`'${command}' takes exactly one ${command === 'ingest' ? 'file or folder' : 'landing location'}, got ${positionals.length}`);
    return runIngestCommand(command, positionals[0], values, io);
  }
  if (positionals.length !== 1) throw new UsageError(`'${command}' takes exactly one table location, got ${positionals.length}`);
  const store = openStore(positionals[0]);
  const travel = travelOptions(values.version, values.timestamp);

  switch (command) {
    case 'read': {
      const format = (values.format ?? 'ndjson') as ReadFormat;
      if (!READ_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${READ_FORMATS.join(', ')}, not '${format}'`);
      const limit = values.limit === undefined ? undefined : count(values.limit, '--limit');
      const snapshot = await loadSnapshot(store, travel);
      // Before the first row: a version with files in Archive is refused whole, never half printed.
      await requireOnline(snapshot, positionals[0]);
      const writer = rowWriter(
        format,
        snapshot.schema.fields.map((f) => f.name),
        io.out,
      );
      for await (const batch of scanTable(snapshot, { limit, partitionTimeZone: values['partition-time-zone'] }))
        writer.write(batchToRows(batch, snapshot.schema));
      writer.finish();
      await noteRehydratedRead(snapshot, io);
      return 0;
    }
    case 'describe': {
      const description = await describeSnapshot(await loadSnapshot(store, travel));
      if (values.json) io.out(JSON.stringify(description, null, 2) + '\n');
      else {
        io.out(
          `table      ${description.table}\nversion    ${description.version}\nprotocol   reader ${description.protocol.minReaderVersion}, writer ${description.protocol.minWriterVersion}\n`,
        );
        const deleted = description.numDeletedRecords
          ? ` (${description.numDeletedRecords} more deleted by deletion vectors of ${description.numDeletionVectors} file(s))`
          : '';
        io.out(`files      ${description.numFiles} (${formatBytes(description.sizeBytes)})\nrows       ${description.numRecords ?? 'unknown'}${deleted}\n`);
        const tiers = Object.entries(description.sizeBytesByTier).filter(([, bytes]) => bytes > 0);
        if (tiers.some(([tier]) => tier !== 'Hot')) io.out(`tiers      ${tiers.map(([tier, bytes]) => `${tier} ${formatBytes(bytes)}`).join(', ')}\n`);
        io.out(`partitions ${description.partitionColumns.join(', ') || '(none)'}\ncheckpoint ${description.checkpointVersion ?? '(none)'}\nschema\n`);
        for (const f of description.schema) io.out(`  ${f.name}  ${formatDeltaType(f.type)}${f.nullable ? '' : ' NOT NULL'}\n`);
      }
      return 0;
    }
    case 'history': {
      const entries = await tableHistory(store, values.limit === undefined ? Infinity : count(values.limit, '--limit'));
      if (values.json) io.out(stringifyJson(entries as unknown as JsonValue) + '\n');
      else
        for (const e of entries)
          io.out(
            `${String(e.version).padStart(6)}  ${e.timestamp}  ${(e.operation ?? '?').padEnd(14)} +${e.metrics.numAddedFiles} -${e.metrics.numRemovedFiles} files  ${e.engineInfo ?? ''}\n`,
          );
      return 0;
    }
    case 'optimize': {
      const target =
        values['target-mb'] === undefined ? loadMaintenanceSettings().optimizeTargetBytes : count(values['target-mb'], '--target-mb') * 1024 * 1024;
      const result = await optimizeTable(store, { targetFileBytes: target });
      if (values.json) io.out(JSON.stringify(result) + '\n');
      else
        io.out(
          result.version === null
            ? 'nothing to compact\n'
            : `version ${result.version}: ${result.filesRemoved} files (${formatBytes(result.bytesRemoved)}) → ${result.filesAdded} files (${formatBytes(result.bytesAdded)}) in ${result.partitionsOptimized} partition(s)\n`,
        );
      return 0;
    }
    case 'vacuum': {
      const hours = values['retention-hours'] === undefined ? undefined : Number(values['retention-hours']);
      if (hours !== undefined && (!Number.isFinite(hours) || hours < 0))
        throw new UsageError(`--retention-hours must be a number ≥ 0, not '${values['retention-hours']}'`);
      const defaultRetention = { hours: loadMaintenanceSettings().vacuumRetentionHours, source: 'SLUICE_VACUUM_RETENTION_HOURS, default 168' };
      let result;
      try {
        result = await vacuumTable(store, { retentionHours: hours, defaultRetention, force: values.force, dryRun: values['dry-run'] });
      } catch (err) {
        // Refused before anything was listed or deleted: a command line to correct, not a failure.
        if (err instanceof RetentionTooShortError) throw new UsageError(err.message);
        throw err;
      }
      if (values.json) io.out(JSON.stringify(result) + '\n');
      else {
        for (const f of result.files) io.out(`${f}\n`);
        io.out(
          `${result.dryRun ? 'would delete' : 'deleted'} ${result.files.length} file(s), ${formatBytes(result.bytes)} (retention ${result.retentionHours} h)\n`,
        );
      }
      return 0;
    }
    case 'checkpoint': {
      const result = await checkpointTable(store);
      io.out(values.json ? JSON.stringify(result) + '\n' : `checkpoint for version ${result.version} ${result.created ? 'written' : 'already existed'}\n`);
      return 0;
    }
    case 'flush': {
      const result = await flushLane(store);
      io.out(
        values.json
          ? JSON.stringify(result) + '\n'
          : `committed ${result.intents} pending append(s)${result.versions.length ? ` in version(s) ${result.versions.join(', ')}` : ''}\n`,
      );
      return 0;
    }
  }
  throw new UsageError(`unknown command '${command}'`);
}

/** The message for a mistyped command: the nearest command when one is close, and all of them. */
function unknownCommand(command: string, commands: string[]): string {
  const nearest = commands.map((name) => ({ name, distance: editDistance(command.toLowerCase(), name) })).sort((a, b) => a.distance - b.distance)[0];
  // Two edits cover a transposed pair ('raed') or a dropped and a doubled letter; more is a guess.
  const hint = nearest.distance <= Math.min(2, nearest.name.length - 1) ? `; did you mean '${nearest.name}'?` : '';
  return `unknown command '${command}'${hint}\nCommands: ${commands.join(', ')}`;
}

/** Edits (insert, delete, substitute, swap two neighbours) between two words. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

function travelOptions(version: string | undefined, timestamp: string | undefined): { version?: number; timestamp?: Date } {
  if (version !== undefined && timestamp !== undefined) throw new UsageError('give --version or --timestamp, not both');
  if (version !== undefined) return { version: count(version, '--version') };
  if (timestamp !== undefined) {
    const at = new Date(timestamp);
    if (Number.isNaN(at.getTime())) throw new UsageError(`--timestamp must be an ISO-8601 time such as 2026-01-31T12:00:00Z, not '${timestamp}'`);
    return { timestamp: at };
  }
  return {};
}

function count(text: string, option: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${option} must be a whole number ≥ 0, not '${text}'`);
  return Number(text);
}

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}
