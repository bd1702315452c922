/**
 * `sluice deadletter list|show|replay`: the dead-letter records of the lake the app's settings name
 * (as for `sluice quarantine replay`), under `<lake container>/_sluice/dead-letter/`. The stage
 * functions are shared/ingest's (deadletter-records.ts, deadletter-replay.ts); the HTTP routes
 * `GET /api/deadletter[/{id}]` serve the same listing and records.
 */
import {
  checkDeadLetterId,
  deadLetterLocation,
  listDeadLetters,
  readDeadLetter,
  readDeadLetterBytes,
  replayDeadLetter,
  type DeadLetterEntry,
} from '../shared/ingest';
import { appRoot, catalogAfterCommit, loadRuntime } from '../shared/host';
import { DEAD_LETTER_FOLDER } from '../shared/storage/lake-layout';
import { openLakeStore } from '../shared/storage/lake';
import type { Io } from './ingest';
import { lakeEnv, lakeSettings } from './pipeline';
import { parseCommandLine, UsageError } from '../shared/command-line/usage';

/** Help text of the dead-letter commands (part of `sluice --help`). */
export const DEADLETTER_HELP = `  deadletter list      the dead-letter records of the lake (what ingestion could not read), one line
                       each: when, id, rows set aside, reason
      --table <layer>/<table>  only this table's records (e.g. bronze/pos_sales)
      --since <ISO-8601>   only records written at or after this time
      --json               { records: [{ id, table, location, url, lastModified, source, reason, counts }] }
  deadletter show <id> one record: the file or events it came from, the reason, and each bad record
                       with its row, byte offset or sequence number (<id> as 'list --json' prints it)
      --json               the record as stored
  deadletter replay <id>  ingest again, with the source's current definition (SLUICE_PIPELINES),
                       what a file's record set aside: the whole file when none of it landed, else
                       only the rows the record lists; once only (a second replay adds nothing).
                       Rows still unreadable go to a new record under <table>/replays/
      --json               the outcome: rows read = written + dead-lettered again
  The dead-letter commands use the app's lake settings, as the pipeline commands do.
`;

const OPTIONS = {
  table: { type: 'string' },
  since: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const TABLE_PATH = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$/;

/**
 * Run `sluice deadletter …`.
 *
 * @param argv the arguments after `deadletter`
 * @param io output sinks
 * @param env the environment (settings)
 * @returns the exit status
 */
export async function runDeadLetterCommand(argv: string[], io: Io, env: Record<string, string | undefined> = process.env): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (values.help) {
    io.out(DEADLETTER_HELP);
    return 0;
  }
  const [sub, ...rest] = positionals;
  const allow = (...names: string[]) => {
    for (const key of Object.keys(values))
      if (key !== 'help' && !names.includes(key)) throw new UsageError(`option --${key} does not apply to 'deadletter ${sub}'`);
  };
  const json = values.json === true;
  if (sub === 'list') {
    allow('table', 'since', 'json');
    if (rest.length) throw new UsageError(`'deadletter list' takes no arguments (filter with --table and --since), got ${rest.join(' ')}`);
    if (values.table !== undefined && !TABLE_PATH.test(values.table))
      throw new UsageError(`--table takes a table's path in the lake container, such as bronze/pos_sales, not '${values.table}'`);
    let since: Date | undefined;
    if (values.since !== undefined) {
      since = new Date(values.since);
      if (Number.isNaN(since.getTime())) throw new UsageError(`--since must be an ISO-8601 time such as 2026-01-31T12:00:00Z, not '${values.since}'`);
    }
    return list(deadLetterFolder(env), { table: values.table, since }, json, io);
  }
  if (sub === 'show' || sub === 'replay') {
    allow('json');
    if (rest.length !== 1) throw new UsageError(`'deadletter ${sub}' takes one record id, as 'sluice deadletter list --json' prints it`);
    return sub === 'show' ? show(deadLetterFolder(env), rest[0], json, io) : replay(rest[0], json, io, env);
  }
  throw new UsageError(`'deadletter' needs list, show or replay, not '${sub ?? ''}'`);
}

function deadLetterFolder(env: Record<string, string | undefined>) {
  return openLakeStore(lakeSettings(env), DEAD_LETTER_FOLDER);
}

async function list(folder: ReturnType<typeof deadLetterFolder>, filter: { table?: string; since?: Date }, json: boolean, io: Io): Promise<number> {
  let n = 0;
  // Printed as found: a lake may hold many records, and each costs a read.
  if (json) io.out('{ "records": [');
  for await (const entry of listDeadLetters(folder, filter)) {
    if (json) io.out(`${n ? ',' : ''}\n  ${JSON.stringify(entry)}`);
    else io.out(describeEntry(entry));
    n++;
  }
  if (json) io.out(`${n ? '\n' : ''}] }\n`);
  else
    io.out(
      `${n} record${n === 1 ? '' : 's'} in ${deadLetterLocation(folder, '').location}${filter.table ? ` for ${filter.table}` : ''}${filter.since ? ` since ${filter.since.toISOString()}` : ''}\n`,
    );
  return 0;
}

function describeEntry(e: DeadLetterEntry): string {
  const { rowsRead, rowsDeadLettered } = e.counts;
  const why = e.reason ?? 'some rows could not be read';
  return `${e.lastModified}  ${e.id}\n    ${rowsDeadLettered} of ${rowsRead} rows set aside: ${why}\n`;
}

async function show(folder: ReturnType<typeof deadLetterFolder>, id: string, json: boolean, io: Io): Promise<number> {
  if (json) {
    io.out(new TextDecoder().decode(await readDeadLetterBytes(folder, id)));
    return 0;
  }
  const record = await readDeadLetter(folder, id);
  const { location, url } = deadLetterLocation(folder, id);
  const s = record.source as DeadLetterEntry['source'] & { eventHub?: { namespace: string; hub: string; consumerGroup: string; partitionId: string } };
  io.out(`record   ${location}\n         ${url}\n`);
  io.out(`table    ${record.table}\n`);
  io.out(
    s.eventHub
      ? `events   ${s.eventHub.namespace}/${s.eventHub.hub} (${s.eventHub.consumerGroup}) partition ${s.eventHub.partitionId}, ${s.etag}\n`
      : `file     ${s.landing.replace(/\/+$/, '')}/${s.path} (ETag ${s.etag}, ${s.size} bytes)\n`,
  );
  if (record.reason) io.out(`reason   ${record.reason}\n`);
  io.out(
    `rows     ${record.counts.rowsRead} read, ${record.counts.rowsWritten} written, ${record.counts.rowsDeadLettered} dead-lettered\ncreated  ${record.createdAt}\n`,
  );
  for (const r of record.records as ((typeof record.records)[number] & { sequenceNumber?: number })[]) {
    const where = [
      r.row !== undefined ? `row ${r.row}` : '',
      r.byteOffset !== undefined ? `byte ${r.byteOffset}` : '',
      r.sequenceNumber !== undefined ? `sequence number ${r.sequenceNumber}` : '',
      r.column ? `column ${r.column}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    io.out(`  ${where || 'input'}: ${r.reason}\n`);
    if (r.raw !== undefined) io.out(`    ${JSON.stringify(r.raw.length > 200 ? `${r.raw.slice(0, 200)}…` : r.raw)}\n`);
  }
  return 0;
}

async function replay(id: string, json: boolean, io: Io, env: Record<string, string | undefined>): Promise<number> {
  checkDeadLetterId(id);
  const runtime = loadRuntime(lakeEnv(env), appRoot());
  const folder = openLakeStore(runtime.settings, DEAD_LETTER_FOLDER);
  const record = await readDeadLetter(folder, id);
  const route = runtime.fileSources.find((r) => r.tableKey === record.table);
  if (!route)
    throw new Error(
      `dead-letter record ${id} belongs to ${record.table}, which no file source of the loaded pipelines (SLUICE_PIPELINES=${runtime.settings.pipelines}) writes`,
    );
  const result = await replayDeadLetter({
    folder,
    id,
    landing: runtime.landing,
    table: route.table,
    tableKey: route.tableKey,
    source: route.ingest,
    deadLetter: route.deadLetter,
    ledger: runtime.ledger,
    lane: runtime.lane,
    onCommitted: catalogAfterCommit(runtime, route.source.table),
  });
  if (json) {
    io.out(JSON.stringify(result, null, 2) + '\n');
    return 0;
  }
  const what = result.replayed === 'all' ? `the whole file ${record.source.path}` : `${result.replayed} record(s) of ${record.source.path}`;
  if (result.status === 'duplicate')
    io.out(`${id}: already replayed${result.version !== undefined ? ` (${route.tableKey} version ${result.version})` : ''}; nothing added\n`);
  else {
    io.out(
      `${id}: replayed ${what} into ${route.tableKey}: ${result.rowsRead} rows read, ${result.rowsWritten} written, ${result.rowsDeadLettered} dead-lettered again${result.version !== undefined ? ` (version ${result.version})` : ''}\n`,
    );
    if (result.deadLetter) io.out(`  still unreadable: ${deadLetterLocation(folder, result.deadLetter).location}\n`);
    // Bronze changed outside an ingestion event: the app's pipelineSchedule sweep starts the run of
    // the tables reading it (afterBronze pipelines), as for any bronze version no run has applied.
  }
  return 0;
}
