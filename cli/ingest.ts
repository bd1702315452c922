/**
 * `sluice ingest` and `sluice backfill`: the bronze ingest stage (shared/ingest) on local files or
 * Blob/Azurite locations, with a progress line on a TTY and a closing summary.
 *
 * Where things go (decided here, documented in the help):
 * - The landing: a local file or folder is the landing store itself (`_source_file` is the path
 *   relative to the folder given); a Blob location is read from its container root (`_source_file` is
 *   the blob path in the container, as the Functions app records it).
 * - The ledger: for a table on Blob storage, the Azure Table `SluiceLedger` of the same account — the
 *   one the Functions app uses, so a CLI run and the event path never ingest a file twice. It is
 *   reached through the settings (`SLUICE_LAKE` / `AzureWebJobsStorage`), else
 *   `SLUICE_STORAGE_CONNECTION_STRING` when it names a table endpoint, else (Azurite only) the
 *   emulator's table endpoint (`AZURITE_TABLE_ENDPOINT`, default 127.0.0.1:10002). For a local table,
 *   JSON entries under `<table>/_sluice/ledger/` (no Table Storage needed; Delta readers and vacuum
 *   ignore `_` folders). `--ledger <location>` puts the ledger in any folder instead.
 * - Dead-letter records: `<container>/_sluice/dead-letter/<table path>/…` for a Blob table (the
 *   app's layout, docs/lake-layout.md), `<table>/_sluice/dead-letter/…` for a local one; `--dead-letter <location>`
 *   overrides.
 */
import { stat } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { ConfigError, CsvEngine, loadCsvEngine, loadMaxRecordMb, loadSettings } from '../shared/config/settings';
import {
  backfill,
  deadLetterLocation,
  DeadLetterTarget,
  IngestLedger,
  IngestOutcome,
  IngestSource,
  ingestFile,
  StoreLedger,
  TableLedger,
  tableKeyOf,
} from '../shared/ingest';
import { parseSchemaEvolution, parseSchemaHints, SOURCE_FORMATS } from '../shared/pipeline';
import { AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, LocalStore, openStore, parseLocation } from '../shared/storage';
import type { BlobLocation, Env } from '../shared/storage';
import type { ObjectStore } from '../shared/storage/types';
import type { InputFormat } from '../shared/formats/types';
import { UsageError } from '../shared/command-line/usage';
import { DEAD_LETTER_FOLDER, LOCAL_LEDGER_FOLDER, SLUICE_FOLDER } from '../shared/storage/lake-layout';

/** A wrong command line (exit status 2). */

/** Output sinks. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Options of `sluice ingest` / `sluice backfill` as parsed by cli/main.ts. */
export interface IngestCommandOptions {
  table?: string;
  format?: string;
  'schema-evolution'?: string;
  'schema-hints'?: string;
  'partition-by'?: string;
  ledger?: string;
  'dead-letter'?: string;
  'max-record-mb'?: string;
  'csv-engine'?: string;
  json?: boolean;
}

/** Test seams: the environment, whether stderr is a terminal. */
export interface IngestCommandDeps {
  env?: Env;
  tty?: boolean;
}

/** Help text of the two commands (part of `sluice --help`). */
export const INGEST_HELP = `  ingest <file-or-dir>  ingest landing files into a bronze table, each (file, ETag) exactly once
      --table <table>      the bronze table (created by the first file)
      --format F           auto (default) | csv | tsv | json | ndjson | parquet | avro | binary
      --schema-evolution M addNewColumns (default) | rescue | failOnNewColumns | none
                           (dlt: evolve, freeze, discard_value)
      --schema-hints H     column types that win over inference: "qty:int,price:decimal(12,2)";
                           a name with spaces: "Contact Phone Number:string" or
                           "\`Contact Phone Number\` string" (Spark DDL); dates: "day date d/M/yyyy"
      --partition-by C,…   partition columns of a new table (default _load_date; "" for none)
      --ledger L           where the ledger lives (default: Azure Table SluiceLedger for a Blob
                           table, <table>/_sluice/ledger/ for a local one)
      --dead-letter D      where dead-letter records go (default: <container>/_sluice/dead-letter/
                           <table path>/ for a Blob table, <table>/_sluice/dead-letter/ locally)
      --max-record-mb N    longest CSV/TSV/JSON/NDJSON record made a row, in MiB (1-256; default
                           SLUICE_MAX_RECORD_MB, else 16); a longer one is dead-lettered and
                           reading goes on after it
      --csv-engine E       who reads CSV/TSV: auto (default; SLUICE_CSV_ENGINE) has DuckDB copy
                           files of 8 MiB and more where it reads them exactly as Sluice's reader
                           would, duckdb the same at any size, reader always Sluice's reader; each
                           file's outcome says which read it (readBy)
      --json               one JSON document: per-file outcomes and totals
  backfill <landing>   ingest what the ledger does not have yet from a landing folder (the
                       reconcile pass of the event path); same options as ingest
`;

/**
 * Run `sluice ingest` or `sluice backfill`.
 *
 * @param command `ingest` or `backfill`
 * @param input the file, folder or landing location
 * @param options parsed options
 * @param io output sinks
 * @param deps test seams
 * @returns the exit status (1 when a file failed with an error; dead-lettered files are outcomes, not errors)
 */
export async function runIngestCommand(
  command: 'ingest' | 'backfill',
  input: string,
  options: IngestCommandOptions,
  io: Io,
  deps: IngestCommandDeps = {},
): Promise<number> {
  const env = deps.env ?? process.env;
  if (!options.table) throw new UsageError(`'${command}' needs --table <table>`);
  const source = { ...sourceOptions(options), maxRecordBytes: maxRecordMb(options, env) * 1024 * 1024, csvEngine: csvEngine(options, env) };
  const target = tableTarget(options.table, options, env);
  const progress = new Progress(io, !options.json && (deps.tty ?? !!process.stderr.isTTY));
  const started = Date.now();
  const outcomes: (IngestOutcome | { status: 'error'; path: string; reason: string })[] = [];
  const common = { table: target.store, tableKey: target.key, ledger: target.ledger, deadLetter: target.deadLetter, source };

  if (command === 'ingest') {
    const { landing, files } = await resolveInputs(input, env);
    if (files.length === 0) throw new UsageError(`no files found at ${input}`);
    progress.total = files.length;
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const path = files[next++];
        try {
          const outcome = await ingestFile({ ...common, landing, path, onProgress: (p) => progress.update(path, p.bytesRead, p.rowsWritten) });
          outcomes.push(outcome);
          progress.done(path, outcome.bytes, outcome.rowsWritten);
        } catch (err) {
          outcomes.push({ status: 'error', path, reason: (err as Error).message });
          progress.done(path, 0, 0);
          progress.message(`sluice: ${path}: ${(err as Error).message}\n`);
        }
      }
    };
    await Promise.all([worker(), worker()]);
  } else {
    const { landing, prefix } = landingFolder(input, env);
    const result = await backfill({
      ...common,
      landing,
      prefix,
      inProgressGraceMs: 0,
      onProgress: (path, p) => progress.update(path, p.bytesRead, p.rowsWritten),
      onFile: (o) => {
        if (o.status === 'error') progress.message(`sluice: ${o.path}: ${o.error.message}\n`);
        else progress.done(o.path, o.bytes, o.rowsWritten);
      },
    });
    // One push per file: a landing folder can hold more files than push() takes arguments.
    for (const outcome of result.outcomes) outcomes.push(outcome);
    for (const f of result.failures) outcomes.push({ status: 'error', path: f.path, reason: f.error.message });
    progress.backfill = { listed: result.listed, checked: result.checked, done: result.done };
  }
  progress.finish();

  const seconds = (Date.now() - started) / 1000;
  const ok = outcomes.filter((o): o is IngestOutcome => o.status !== 'error');
  const totals = {
    files: outcomes.length,
    committed: ok.filter((o) => o.status === 'committed').length,
    duplicate: ok.filter((o) => o.status === 'duplicate').length,
    deadlettered: ok.filter((o) => o.status === 'deadlettered').length,
    skipped: ok.filter((o) => o.status === 'superseded' || o.status === 'missing').length,
    errors: outcomes.length - ok.length,
    // Rows and bytes of this run's work (files found already ingested count as duplicates, not again).
    rowsRead: sum(ok.filter(fresh), (o) => o.rowsRead),
    rowsWritten: sum(ok.filter(fresh), (o) => o.rowsWritten),
    rowsRescued: sum(ok.filter(fresh), (o) => o.rowsRescued),
    rowsDeadLettered: sum(ok.filter(fresh), (o) => o.rowsDeadLettered),
    bytes: sum(ok.filter(fresh), (o) => o.bytes),
  };
  const mbPerSecond = seconds > 0 ? totals.bytes / 1e6 / seconds : 0;
  const version = Math.max(-1, ...ok.map((o) => o.version ?? -1));
  if (options.json) {
    io.out(
      JSON.stringify({
        command,
        table: target.store.url,
        ledger: target.ledger.description,
        ...(progress.backfill ? { backfill: progress.backfill } : {}),
        totals,
        seconds: round(seconds, 3),
        mbPerSecond: round(mbPerSecond, 2),
        ...(version >= 0 ? { version } : {}),
        files: outcomes,
      }) + '\n',
    );
  } else {
    for (const o of outcomes) {
      // The full URL: the stage names the record relative to the dead-letter folder only.
      const record = (id: string) => deadLetterLocation(target.deadLetter.store, id).url;
      if (o.status === 'deadlettered')
        io.out(`dead-lettered ${o.path}: ${o.reason ?? ''}${'deadLetter' in o && o.deadLetter ? ` (record ${record(o.deadLetter)})` : ''}\n`);
      else if ('rowsDeadLettered' in o && o.rowsDeadLettered > 0 && o.status === 'committed' && o.deadLetter)
        io.out(`${o.path}: ${o.rowsDeadLettered} row(s) dead-lettered (record ${record(o.deadLetter)})\n`);
    }
    const parts = [`${totals.committed} ingested`, `${totals.duplicate} already ingested`, `${totals.deadlettered} dead-lettered`];
    if (totals.skipped) parts.push(`${totals.skipped} skipped (changed or gone)`);
    if (totals.errors) parts.push(`${totals.errors} failed`);
    if (progress.backfill) io.out(`landing    ${progress.backfill.listed} file(s) listed, ${progress.backfill.checked} checked against the ledger\n`);
    io.out(`files      ${totals.files} (${parts.join(', ')})\n`);
    io.out(
      `rows       ${fmt(totals.rowsRead)} read, ${fmt(totals.rowsWritten)} written (${fmt(totals.rowsRescued)} with rescued values), ${fmt(totals.rowsDeadLettered)} dead-lettered\n`,
    );
    io.out(`data       ${(totals.bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s (${mbPerSecond.toFixed(1)} MB/s)\n`);
    io.out(`table      ${target.store.url}${version >= 0 ? ` (version ${version})` : ''}\n`);
  }
  return totals.errors ? 1 : 0;
}

function fresh(o: IngestOutcome): boolean {
  return o.status === 'committed' || o.status === 'deadlettered';
}

function sourceOptions(options: IngestCommandOptions): IngestSource {
  const source: IngestSource = {};
  if (options.format !== undefined) {
    if (!(SOURCE_FORMATS as readonly string[]).includes(options.format))
      throw new UsageError(`--format must be one of ${SOURCE_FORMATS.join(', ')}, not '${options.format}'`);
    source.format = options.format as InputFormat;
  }
  if (options['schema-evolution'] !== undefined) {
    const mode = parseSchemaEvolution(options['schema-evolution']);
    if (!mode.ok) throw new UsageError(`--schema-evolution: ${mode.message}`);
    source.schemaEvolution = mode.mode;
  }
  if (options['schema-hints'] !== undefined) {
    const { hints, problems } = parseSchemaHints(options['schema-hints']);
    if (problems.length) throw new UsageError(`--schema-hints: ${problems.join('; ')}`);
    source.schemaHints = hints;
  }
  if (options['partition-by'] !== undefined)
    source.partitionBy = options['partition-by']
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean);
  return source;
}

/** `--max-record-mb`, else `SLUICE_MAX_RECORD_MB`, else the default; both checked by the settings' rule. */
function maxRecordMb(options: IngestCommandOptions, env: Env): number {
  const flag = options['max-record-mb'];
  if (flag === undefined) return loadMaxRecordMb(env);
  try {
    return loadMaxRecordMb({ '--max-record-mb': flag }, '--max-record-mb');
  } catch (err) {
    throw err instanceof ConfigError ? new UsageError(err.problems.join('; ')) : err;
  }
}

/** `--csv-engine`, else `SLUICE_CSV_ENGINE`, else `auto`; both checked by the settings' rule. */
function csvEngine(options: IngestCommandOptions, env: Env): CsvEngine {
  const flag = options['csv-engine'];
  try {
    return flag === undefined ? loadCsvEngine(env) : loadCsvEngine({ '--csv-engine': flag }, '--csv-engine');
  } catch (err) {
    throw err instanceof ConfigError ? new UsageError(err.problems.join('; ')) : err;
  }
}

interface TableTarget {
  store: ObjectStore;
  key: string;
  ledger: IngestLedger;
  deadLetter: DeadLetterTarget;
}

function tableTarget(uri: string, options: IngestCommandOptions, env: Env): TableTarget {
  const location = parseLocation(uri, env);
  const store = openStore(uri, { env });
  const deadLetterOverride = options['dead-letter'] !== undefined ? { store: openStore(options['dead-letter'], { env }), prefix: '' } : undefined;
  const ledgerOverride = options.ledger !== undefined ? new StoreLedger(openStore(options.ledger, { env })) : undefined;
  if (location.kind === 'local') {
    return {
      store,
      key: tableKeyOf(store),
      ledger: ledgerOverride ?? new StoreLedger(new LocalStore(nodePath.join(location.path, LOCAL_LEDGER_FOLDER))),
      deadLetter: deadLetterOverride ?? { store: new LocalStore(location.path), prefix: `${DEAD_LETTER_FOLDER}/` },
    };
  }
  if (!location.prefix) throw new UsageError(`--table ${uri} names a whole container; give the table's folder, e.g. ${uri.replace(/\/+$/, '')}/bronze/<name>`);
  const container = `${location.blobEndpoint}/${location.container}`;
  return {
    store,
    key: `${location.container}/${location.prefix}`,
    ledger: ledgerOverride ?? tableLedger(location, env),
    deadLetter: deadLetterOverride ?? { store: openStore(`${container}/${DEAD_LETTER_FOLDER}`, { env }), prefix: `${location.prefix}/` },
  };
}

function tableLedger(location: BlobLocation, env: Env): IngestLedger {
  const configured = Object.keys(env).some(
    (k) => (k === 'SLUICE_LAKE' || k.startsWith('SLUICE_LAKE__') || k === 'AzureWebJobsStorage' || k.startsWith('AzureWebJobsStorage__')) && env[k]?.trim(),
  );
  if (configured) return TableLedger.fromConnection(loadSettings(env).lake);
  const connection = env.SLUICE_STORAGE_CONNECTION_STRING;
  if (connection && /TableEndpoint=|UseDevelopmentStorage=true/i.test(connection)) return TableLedger.fromConnectionString(connection);
  if (location.kind === 'azurite') {
    const table = (env.AZURITE_TABLE_ENDPOINT || `http://127.0.0.1:10002/${AZURITE_ACCOUNT}`).replace(/\/+$/, '');
    return TableLedger.fromConnectionString(
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_ACCOUNT_KEY};TableEndpoint=${table};`,
    );
  }
  throw new UsageError(
    `the ledger of a table on Azure lives in the SluiceLedger table of the storage account: set SLUICE_LAKE (or SLUICE_LAKE__accountName) ` +
      `as for the Functions app, or pass --ledger <location> to keep it in blob or local storage`,
  );
}

async function resolveInputs(input: string, env: Env): Promise<{ landing: ObjectStore; files: string[] }> {
  const location = parseLocation(input, env);
  if (location.kind === 'local') {
    let info;
    try {
      info = await stat(location.path);
    } catch {
      throw new UsageError(`no such file or folder: ${input}`);
    }
    if (info.isFile()) return { landing: new LocalStore(nodePath.dirname(location.path)), files: [nodePath.basename(location.path)] };
    const landing = new LocalStore(location.path);
    const files: string[] = [];
    for await (const o of landing.list('')) if (!o.path.split('/').some((s) => s.startsWith('.') || s === SLUICE_FOLDER)) files.push(o.path);
    return { landing, files };
  }
  const landing = openStore(`${location.blobEndpoint}/${location.container}`, { env });
  if (location.prefix) {
    try {
      await landing.properties(location.prefix);
      return { landing, files: [location.prefix] };
    } catch (err) {
      if ((err as Error).name !== 'ObjectNotFoundError') throw err;
    }
  }
  const files: string[] = [];
  for await (const o of landing.list(location.prefix ? `${location.prefix}/` : '')) if (!o.path.endsWith('/')) files.push(o.path);
  return { landing, files };
}

function landingFolder(input: string, env: Env): { landing: ObjectStore; prefix: string } {
  const location = parseLocation(input, env);
  if (location.kind === 'local') return { landing: new LocalStore(location.path), prefix: '' };
  return { landing: openStore(`${location.blobEndpoint}/${location.container}`, { env }), prefix: location.prefix ? `${location.prefix}/` : '' };
}

/** A one-line progress display on stderr (TTY only). */
class Progress {
  total = 0;
  backfill?: { listed: number; checked: number; done: number };
  private files = 0;
  private bytesDone = 0;
  private rowsDone = 0;
  private readonly current = new Map<string, { bytes: number; rows: number }>();
  private readonly started = Date.now();
  private last = 0;
  private shown = false;

  constructor(
    private readonly io: Io,
    private readonly enabled: boolean,
  ) {}

  update(path: string, bytes: number, rows: number): void {
    this.current.set(path, { bytes, rows });
    this.render();
  }

  done(path: string, bytes: number, rows: number): void {
    this.current.delete(path);
    this.files++;
    this.bytesDone += bytes;
    this.rowsDone += rows;
    this.render(true);
  }

  message(text: string): void {
    if (this.shown) this.io.err('\r\x1b[K');
    this.io.err(text);
    this.render(true);
  }

  private render(force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    let bytes = this.bytesDone;
    let rows = this.rowsDone;
    for (const c of this.current.values()) {
      bytes += c.bytes;
      rows += c.rows;
    }
    const seconds = Math.max(0.001, (now - this.started) / 1000);
    const of = this.total ? `/${this.total}` : '';
    const width = 20;
    const bar = this.total ? `[${'#'.repeat(Math.round((this.files / this.total) * width)).padEnd(width, '.')}] ` : '';
    this.io.err(`\r\x1b[K${bar}${this.files}${of} files · ${fmt(rows)} rows · ${(bytes / 1e6).toFixed(1)} MB · ${(bytes / 1e6 / seconds).toFixed(1)} MB/s`);
    this.shown = true;
  }

  finish(): void {
    if (this.shown) this.io.err('\n');
  }
}

function sum<T>(items: T[], f: (item: T) => number): number {
  return items.reduce((n, item) => n + f(item), 0);
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
