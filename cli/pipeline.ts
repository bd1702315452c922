/**
 * `sluice pipeline validate|run|updates` and `sluice quarantine replay`: the pipeline commands. They
 * call the same stage functions as the app: the definition loader and `checkPipelineSql`, the
 * `refresh` orchestration and its activities on the local engine, the event log, `replayQuarantine`.
 *
 * Where things are: the lake is the one the app's settings name (`SLUICE_LAKE` or
 * `AzureWebJobsStorage`, container `SLUICE_LAKE_CONTAINER`); when neither is set,
 * `SLUICE_STORAGE_CONNECTION_STRING` is used as the lake connection (handy with Azurite). Orchestration
 * state goes to the Table Storage tables `SluiceCli*` of that account (not the local host's
 * `SluiceDev*`, whose engine serves the app's own definitions), table updates to `SluiceEvents`.
 */
import { randomUUID } from 'node:crypto';
import { ConfigError, loadInstanceResources, loadSettings } from '../shared/config/settings';
import { OrchestrationEngine } from '../shared/orchestration';
import { loadPipelineDefinition, PipelineDefinitionError, QUARANTINE_SUFFIX, tableNamed, type PipelineDefinition } from '../shared/pipeline';
import { checkPipelineSql, replayQuarantine, type LakeTables, type ReplayResult } from '../shared/refresh';
import {
  EngineRunClient,
  EventLog,
  orchestrationRegistry,
  requestProgress,
  tableUpdateReport,
  planRefresh,
  startRunAfterTableCommit,
  tablesReadingSource,
  type RefreshInput,
  type RefreshOutput,
  type RefreshProgress,
  type RunStart,
  type RunStatus,
} from '../shared/run';
import { pipelineName } from '../shared/pipeline';
import { CATALOG_TABLE, CLI_ENGINE_TABLES, EVENTS_TABLE, orchestrationPayloadsFolder } from '../shared/storage/lake-layout';
import { Catalog, CatalogStore } from '../shared/catalog';
import { appRoot, loadPipelines } from '../shared/host';
import { sqlOptionsFromEnv } from '../shared/sql';
import { openLakeStore, openLakeTables } from '../shared/storage/lake';
import type { Io } from './ingest';
import { ProgressReporter } from './progress';
import { parseCommandLine, UsageError } from '../shared/command-line/usage';

/** Help text of the pipeline commands (part of `sluice --help`). */
export const PIPELINE_HELP = `  pipeline validate <file>   check a pipeline definition: structure, references, cycles, and every
                       table's SQL, expectations and columns (bound by DuckDB); every problem is
                       listed with its YAML path and line
      --json               { valid, problems: [{ path, line, message }], notes, levels }
  pipeline run <file>  refresh the pipeline's silver and gold tables now, in this process, through the
                       same orchestration and activities as the app (bronze first, gold last), and
                       print what each table update did. While it runs, a progress line on stderr
                       (stage, level x/y, tables done/running/failed), rewritten in place on a
                       terminal, one line per change otherwise
      --full-refresh [table …]  rebuild every table (or the tables named) from the sources' current
                           versions instead of applying only new bronze rows
      --json               the run's output: per-table metrics and totals
  pipeline updates <file> <table>  what the latest updates of a table did, newest first: run, status,
                       source versions → table version, where the rows went, and the landing files
                       and event ranges the bronze rows came from (from the event log SluiceEvents)
      --limit <n>          how many updates (default 10)
      --json               the recorded updates, lineage included
  quarantine replay <table>  run <table>__quarantine through the table's current contract and
                       expectations again: rows that pass move to the table, the rest stay; then
                       the tables reading it are refreshed (a run in this process, as for pipeline
                       run; a pipeline with a schedule trigger takes it in at its next run)
      --pipeline <file>    the definition holding <table> (default: the app's SLUICE_PIPELINES)
      --json               counts and versions, and the refresh run's output under "refresh"
  The pipeline commands use the app's lake settings (SLUICE_LAKE or AzureWebJobsStorage, or
  SLUICE_STORAGE_CONNECTION_STRING, and SLUICE_LAKE_CONTAINER) and its Table Storage.
`;

const OPTIONS = {
  json: { type: 'boolean' },
  'full-refresh': { type: 'boolean' },
  pipeline: { type: 'string' },
  limit: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Run `sluice pipeline …` or `sluice quarantine …`.
 *
 * @param command `pipeline` or `quarantine`
 * @param argv the arguments after the command
 * @param io output sinks
 * @param env the environment (settings)
 * @returns the exit status
 */
export async function runPipelineCommand(
  command: 'pipeline' | 'quarantine',
  argv: string[],
  io: Io,
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (values.help) {
    io.out(PIPELINE_HELP);
    return 0;
  }
  const [sub, target, ...rest] = positionals;
  const allow = (...names: string[]) => {
    for (const key of Object.keys(values))
      if (key !== 'help' && !names.includes(key)) throw new UsageError(`option --${key} does not apply to '${command} ${sub}'`);
  };
  if (command === 'pipeline' && sub === 'validate') {
    allow('json');
    if (!target || rest.length) throw new UsageError(`'pipeline validate' takes one definition file`);
    return validate(target, values.json === true, io, env);
  }
  if (command === 'pipeline' && sub === 'run') {
    allow('json', 'full-refresh');
    if (!target) throw new UsageError(`'pipeline run' takes a definition file`);
    if (rest.length && !values['full-refresh']) throw new UsageError(`unexpected ${rest.join(' ')} (table names follow --full-refresh)`);
    return run(target, values['full-refresh'] ? (rest.length ? rest : true) : false, values.json === true, io, env);
  }
  if (command === 'pipeline' && sub === 'updates') {
    allow('json', 'limit');
    if (!target || rest.length !== 1) throw new UsageError(`'pipeline updates' takes a definition file and a table name, e.g. pipelines/pos.yaml silver.sales`);
    const limit = values.limit === undefined ? 10 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError(`--limit must be a whole number from 1 to 500, not '${values.limit}'`);
    return updates(target, rest[0], limit, values.json === true, io, env);
  }
  if (command === 'quarantine' && sub === 'replay') {
    allow('json', 'pipeline');
    if (!target || rest.length) throw new UsageError(`'quarantine replay' takes one table name, e.g. silver.sales`);
    return replay(target, values.pipeline, values.json === true, io, env);
  }
  throw new UsageError(
    command === 'pipeline' ? `'pipeline' needs validate, run or updates, not '${sub ?? ''}'` : `'quarantine' needs replay, not '${sub ?? ''}'`,
  );
}

/**
 * The catalog of the lake the settings name, annotated by one definition (the CLI knows no other).
 *
 * @param settings the lake settings
 * @param definition the pipeline
 * @returns the catalog the command's commits are recorded in
 */
function lakeCatalog(settings: ReturnType<typeof lakeSettings>, definition: PipelineDefinition): Catalog {
  return new Catalog({
    store: new CatalogStore(openLakeTables(settings.lake)(CATALOG_TABLE)),
    lake: (path) => openLakeStore(settings, path),
    pipelines: () => [definition],
  });
}

/** The lake from the settings (a connection string in SLUICE_STORAGE_CONNECTION_STRING as a fallback). */
export function lakeSettings(env: Record<string, string | undefined>) {
  return loadSettings(lakeEnv(env));
}

/** The environment with SLUICE_STORAGE_CONNECTION_STRING standing in for an unset lake connection. */
export function lakeEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const configured = Object.keys(env).some((k) => /^(SLUICE_LAKE|AzureWebJobsStorage)(__|$)/.test(k) && env[k]?.trim());
  return configured || !env.SLUICE_STORAGE_CONNECTION_STRING ? env : { ...env, SLUICE_LAKE: env.SLUICE_STORAGE_CONNECTION_STRING };
}

async function validate(file: string, json: boolean, io: Io, env: Record<string, string | undefined>): Promise<number> {
  let definition: PipelineDefinition;
  let notes: string[] = [];
  try {
    definition = await loadPipelineDefinition(file);
    let lake: LakeTables | undefined;
    try {
      const settings = lakeSettings(env);
      lake = (path) => openLakeStore(settings, path);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      notes.push('no lake settings: bronze schemas were taken from the schema hints, not from the tables');
    }
    notes = [...notes, ...(await checkPipelineSql(definition, { lake, sql: sqlOptionsFromEnv(env) })).notes];
  } catch (err) {
    if (!(err instanceof PipelineDefinitionError)) throw err;
    if (json) io.out(JSON.stringify({ valid: false, problems: err.problems, notes }, null, 2) + '\n');
    else io.err(`${err.message}\n`);
    return 1;
  }
  const levels = planRefresh(definition).levels;
  if (json) io.out(JSON.stringify({ valid: true, problems: [], notes, levels }, null, 2) + '\n');
  else {
    io.out(
      `${file}: valid — pipeline ${pipelineName(definition)}, ${Object.keys(definition.sources).length} sources, ${Object.keys(definition.tables).length} tables\n`,
    );
    levels.forEach((l, i) => io.out(`  refresh step ${i + 1}: ${l.join(', ')}\n`));
    for (const n of notes) io.out(`  note: ${n}\n`);
  }
  return 0;
}

async function run(file: string, fullRefresh: boolean | string[], json: boolean, io: Io, env: Record<string, string | undefined>): Promise<number> {
  const definition = await loadPipelineDefinition(file);
  if (Array.isArray(fullRefresh)) {
    const unknown = fullRefresh.filter((t) => !tableNamed(definition, t));
    if (unknown.length)
      throw new UsageError(`--full-refresh: no table ${unknown.join(', ')} in ${file} (tables: ${Object.keys(definition.tables).join(', ')})`);
  }
  return runHere(definition, { fullRefresh, reason: `sluice pipeline run ${file}` }, (runs, input) => runs.startRun(input), json, io, env);
}

/**
 * Run a pipeline in this process on the SluiceCli engine and report the run: the one `start` asks
 * for (none when it returns null), identified by a request id of its own.
 */
async function runHere(
  definition: PipelineDefinition,
  options: { fullRefresh: boolean | string[]; reason: string },
  start: (runs: EngineRunClient, input: RefreshInput & { requests: string[] }) => Promise<RunStart | null>,
  json: boolean,
  io: Io,
  env: Record<string, string | undefined>,
): Promise<number> {
  const name = pipelineName(definition);
  const settings = lakeSettings(env);
  const tables = openLakeTables(settings.lake);
  const lake: LakeTables = (path) => openLakeStore(settings, path);
  const events = new EventLog(tables(EVENTS_TABLE));
  const registry = orchestrationRegistry({
    pipelines: () => [definition],
    lake,
    events,
    sql: sqlOptionsFromEnv(env),
    ...(settings.piiKey ? { piiKey: settings.piiKey } : {}),
    catalog: lakeCatalog(settings, definition),
  });
  const engine = new OrchestrationEngine(registry, {
    tableClient: tables,
    tablePrefix: CLI_ENGINE_TABLES,
    payloads: openLakeStore(settings, orchestrationPayloadsFolder(CLI_ENGINE_TABLES)),
    pollMs: 50,
    // The DuckDB memory split (sqlOptionsFromEnv) assumes the app's activity concurrency.
    maxConcurrentActivities: loadInstanceResources(env).activityConcurrency,
  });
  // Our run is the one whose input carries this id (a run serving several requests carries them all).
  const request = randomUUID();
  const runs = new EngineRunClient(engine);
  const input = { pipeline: name, fullRefresh: options.fullRefresh, reason: options.reason, requests: [request] };
  // Recorded first, as the HTTP API does, so the wait below reads it the same way.
  await events.recordRequest({ requestId: request, pipeline: name, requestedAt: new Date().toISOString() });
  // Started before asking: a run of this instance left by another process goes on here, and the
  // start may wait for such a run's last look at its catch-up events.
  engine.start();
  // On stderr: stdout carries the report (or the --json output).
  const reporter = new ProgressReporter(name, { write: (text) => io.err(text), tty: process.stderr.isTTY === true, columns: process.stderr.columns });
  let waited: RunWait;
  let started: RunStart | null;
  try {
    started = await start(runs, input);
    if (!started) return 0;
    if (started.queued && !json) io.err(`sluice: a run of ${name} is in progress; it runs again for this request when it ends\n`);
    waited = await waitForRequest(runs, events, definition, request, RUN_WAIT_MS, reporter);
    // The run this request was raised on ended without taking it (terminated or failed): ask once more.
    if (waited.outcome === 'lost') {
      await runs.startRun(input);
      waited = await waitForRequest(runs, events, definition, request, RUN_WAIT_MS, reporter);
    }
  } finally {
    reporter.finish();
    await engine.stop();
  }
  if (waited.outcome !== 'finished') {
    const why =
      waited.outcome === 'timeout'
        ? `did not finish within ${RUN_WAIT_MS / 60_000} minutes (it goes on when a sluice command or host runs the ${CLI_ENGINE_TABLES} engine again)`
        : waited.why;
    if (json) io.out(JSON.stringify({ runtimeStatus: waited.status?.runtimeStatus, error: why }, null, 2) + '\n');
    io.err(`sluice: run ${started.instanceId} of request ${request} ${why}\n`);
    return 1;
  }
  const status = waited.status;
  if (status.runtimeStatus !== 'Completed') {
    const progress = status.customStatus as RefreshProgress | undefined;
    if (json) io.out(JSON.stringify({ runtimeStatus: status.runtimeStatus, error: status.output, progress }, null, 2) + '\n');
    io.err(`sluice: ${typeof status.output === 'string' ? status.output : `run ${started.instanceId} ended ${status.runtimeStatus}`}\n`);
    return 1;
  }
  const output = status.output as RefreshOutput;
  if (json) {
    io.out(JSON.stringify(output, null, 2) + '\n');
    return 0;
  }
  io.out(`pipeline ${name}, run ${output.runId}\n`);
  for (const m of output.tables) io.out(tableUpdateReport(m));
  const t = output.totals;
  io.out(
    `total: ${t.tables} tables (${t.tablesUpdated} updated, ${t.tablesUnchanged} unchanged), ${t.rowsRead} rows read, ${t.inserted} inserted, ${t.updated} updated, ${t.duplicates} duplicates, ${t.filteredBySql} filtered, ${t.dropped} dropped, ${t.quarantined} quarantined\n`,
  );
  return 0;
}

/** How long `pipeline run` waits for its run. */
const RUN_WAIT_MS = 60 * 60_000;

/** The end of a wait for one request's run (its final status, from the instance or the event log). */
type RunWait =
  | { outcome: 'finished'; status: Pick<RunStatus, 'runtimeStatus' | 'output' | 'customStatus'> }
  | { outcome: 'timeout'; status: RunStatus | undefined }
  | { outcome: 'lost'; why: string; status?: undefined };

/**
 * Wait for the run serving a request, as `GET …/requests/{id}` judges it (requestProgress): the
 * instance may first finish the run going on, then continue as new with ours.
 */
async function waitForRequest(
  runs: EngineRunClient,
  events: EventLog,
  definition: PipelineDefinition,
  request: string,
  timeoutMs: number,
  reporter?: ProgressReporter,
): Promise<RunWait> {
  const deadline = Date.now() + timeoutMs;
  const name = pipelineName(definition);
  for (;;) {
    const progress = await requestProgress(runs, events, name, request, Object.keys(definition.tables).length);
    if (progress.state === 'running' || progress.state === 'ended') reporter?.update(progress.status.customStatus);
    switch (progress.state) {
      case 'ended':
        return { outcome: 'finished', status: progress.status };
      case 'recorded': {
        const { outcome } = progress;
        return {
          outcome: 'finished',
          status:
            outcome.state === 'failed'
              ? { runtimeStatus: 'Failed', output: outcome.error, customStatus: undefined }
              : { runtimeStatus: 'Completed', output: outcome.output, customStatus: undefined },
        };
      }
      case 'stopped':
        return { outcome: 'lost', why: `was stopped with ${progress.recorded} tables recorded (the instance was terminated)` };
      case 'lost':
        return { outcome: 'lost', why: progress.why };
      case 'unknown':
        return { outcome: 'lost', why: 'is not recorded in the event log' };
      default:
        if (Date.now() >= deadline) return { outcome: 'timeout', status: progress.status };
        // Polled rather than waited for: the instance moves on to the next run at once.
        await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function updates(file: string, table: string, limit: number, json: boolean, io: Io, env: Record<string, string | undefined>): Promise<number> {
  const definition = await loadPipelineDefinition(file);
  const name = pipelineName(definition);
  if (!tableNamed(definition, table)) throw new UsageError(`no table ${table} in ${file} (tables: ${Object.keys(definition.tables).join(', ')})`);
  const events = new EventLog(openLakeTables(lakeSettings(env).lake)(EVENTS_TABLE));
  const recorded = await events.tableUpdates(name, table, limit);
  if (json) {
    io.out(JSON.stringify(recorded, null, 2) + '\n');
    return 0;
  }
  if (recorded.length === 0) io.out(`${table}: no recorded updates yet\n`);
  for (const e of recorded) {
    io.out(`${e.recordedAt}  run ${e.runId}\n`);
    if (e.status === 'failed') {
      io.out(`  failed: ${e.error ?? ''}\n`);
      continue;
    }
    if (e.metrics) io.out(tableUpdateReport(e.metrics).replace(/^(?=.)/gm, '  '));
    for (const s of e.lineage?.sources ?? []) {
      const inputs = (s.inputs ?? []).map((i) =>
        i.file
          ? `${i.file}${i.rowsWritten !== undefined ? ` (${i.rowsWritten} rows)` : ''}`
          : i.eventHub
            ? `${i.eventHub} partition ${i.partitionId} #${i.firstSequenceNumber}–${i.lastSequenceNumber}`
            : `version ${i.version}: ${i.operation ?? 'commit'}`,
      );
      io.out(
        `    from ${s.kind} ${s.name} ${s.fromVersion}→${s.toVersion}${inputs.length ? `: ${inputs.join(', ')}` : ''}${s.truncated ? ` (+${s.truncated} commits not listed)` : ''}\n`,
      );
    }
  }
  return 0;
}

async function replay(table: string, file: string | undefined, json: boolean, io: Io, env: Record<string, string | undefined>): Promise<number> {
  let definition: PipelineDefinition | undefined;
  if (file) definition = await loadPipelineDefinition(file);
  else {
    const settings = lakeSettings(env);
    definition = loadPipelines(settings.pipelines, appRoot(), !!env.SLUICE_PIPELINES?.trim()).find((p) => tableNamed(p, table));
    if (!definition)
      throw new UsageError(`no pipeline of SLUICE_PIPELINES (${settings.pipelines}) has a table ${table}; name the definition with --pipeline <file>`);
  }
  if (!tableNamed(definition, table)) throw new UsageError(`no table ${table} in ${file} (tables: ${Object.keys(definition.tables).join(', ')})`);
  const settings = lakeSettings(env);
  const result = await replayQuarantine({ definition, table, lake: (path) => openLakeStore(settings, path), sql: sqlOptionsFromEnv(env) });
  if (result.replayed > 0 || result.resumed) {
    const catalog = lakeCatalog(settings, definition);
    const path = tableNamed(definition, table)!.table;
    for (const committed of [path, `${path}${QUARANTINE_SUFFIX}`]) await catalog.afterCommit(committed, (line) => io.err(`${line}\n`))();
  }
  // With --json the replay's counts and the refresh run's output are printed as one document, last.
  if (!json) io.out(describeReplay(table, result));
  const readers = tablesReadingSource(definition, table);
  const afterCommits = (definition.trigger?.mode ?? 'afterBronze') === 'afterBronze';
  if ((result.replayed === 0 && !result.resumed) || result.targetVersion === null || readers.length === 0 || !afterCommits) {
    if (json) io.out(JSON.stringify({ ...result, refresh: null }, null, 2) + '\n');
    else if (result.replayed && readers.length && !afterCommits) io.out(`  ${readers.join(', ')} follow at the pipeline's next scheduled run\n`);
    return 0;
  }
  // The replay's commit starts the run of the tables reading the table, as a bronze commit does.
  if (!json) io.out(`refreshing the tables that read ${table}: ${readers.join(', ')}\n`);
  let captured = '';
  const version = result.targetVersion;
  const status = await runHere(
    definition,
    { fullRefresh: false, reason: `sluice quarantine replay ${table}` },
    (runs, input) => startRunAfterTableCommit({ pipeline: definition, table, version, by: 'quarantine replay', requests: input.requests }, runs),
    json,
    json ? { out: (t) => (captured += t), err: io.err } : io,
    env,
  );
  if (json) io.out(JSON.stringify({ ...result, refresh: captured ? JSON.parse(captured) : null }, null, 2) + '\n');
  return status;
}

function describeReplay(table: string, result: ReplayResult): string {
  if (result.quarantineVersion === null) return `${table}: no quarantine table, nothing to replay\n`;
  if (result.resumed) return `${table}: finished an interrupted replay (quarantine version ${result.quarantineVersionAfter})\n`;
  const moved = `${table}: ${result.rowsRead} quarantined rows checked: ${result.replayed} now pass and moved to the table (${result.inserted} inserted, ${result.updated} updated, ${result.duplicates} older than the stored rows), ${result.remaining} still fail and stay\n`;
  return result.replayed ? `${moved}  table version ${result.targetVersion}, quarantine version ${result.quarantineVersionAfter}\n` : moved;
}
