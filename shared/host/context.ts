/**
 * The runtime context: everything the ingestion entry points (the Functions adapters, later the local
 * host and the CLI) need, built once per process from the settings and the pipeline definitions —
 * the landing store, the ledger, and per source its bronze table, ledger key, dead-letter target and
 * read options — plus the routing of a landing blob or an Event Hub to its source.
 *
 * Where things are (docs/lake-layout.md): tables at `<lake>/<source.table>` (default `bronze/<source>`),
 * dead-letter records under `<lake>/_sluice/dead-letter/<source.table>/`, the ledger in the Azure
 * Table `SluiceLedger` of the lake account. These are the places `sluice ingest --table` uses by
 * default for the same table, so the CLI and the app never ingest one file twice.
 *
 * `createRuntime` takes everything as arguments (tests, other hosts); `loadRuntime` reads the
 * environment and the definition files; `getRuntime` is the process-wide instance the adapters use.
 */
import { openLineageReporter, type OpenLineageReporter } from '../lineage';
import { ConfigError, getSettings, loadSettings, readPiiKey, SettingsEnv, SluiceSettings } from '../config/settings';
import type { LaneOptions } from '../delta';
import { DeadLetterTarget, IngestLedger, IngestSource, TableLedger, tableKeyOf } from '../ingest';
import { PipelineDefinition, routeBlob, SourceDefinition } from '../pipeline';
import { openContainerStore, openLakeStore } from '../storage/lake';
import { DEAD_LETTER_FOLDER } from '../storage/lake-layout';
import type { ObjectStore } from '../storage/types';
import { requirePiiKey } from '../refresh/pii';
import { sqlOptionsFromEnv } from '../sql/engine';
import { appRoot, loadPipelines } from './pipelines';
import { BackupSettings, bindingSettingValues, IngestTriggerSettings, readBackupSettings, readIngestTriggerSettings } from './settings';
import { readTieringSettings } from '../tiering/settings';

/** Folder of the lake container holding dead-letter records. */

/** One bronze source with everything needed to ingest into it. */
export interface SourceRoute {
  /** The pipeline it belongs to (its `file` names the definition). */
  readonly pipeline: PipelineDefinition;
  readonly source: SourceDefinition;
  /** Store rooted at the bronze table. */
  readonly table: ObjectStore;
  /** Ledger key of the table (`<lake container>/<table path>`). */
  readonly tableKey: string;
  /** Read and evolution options for the ingest stage. */
  readonly ingest: IngestSource;
  readonly deadLetter: DeadLetterTarget;
}

/** The runtime context of one process. */
export interface SluiceRuntime {
  readonly settings: SluiceSettings;
  readonly triggers: IngestTriggerSettings;
  /** The backup timer's settings (off without `SLUICE_BACKUP_LOCATION`). */
  readonly backup: BackupSettings;
  readonly pipelines: readonly PipelineDefinition[];
  /** Store rooted at the landing container (paths are blob paths). */
  readonly landing: ObjectStore;
  readonly ledger: IngestLedger;
  /** Commit lane settings (checkpoint interval from the settings). */
  readonly lane: LaneOptions;
  /** Sources fed by landing files, in definition order. */
  readonly fileSources: readonly SourceRoute[];
  /** Sources fed by an Event Hub. */
  readonly hubSources: readonly SourceRoute[];
  /** The source reading the app's Event Hub; null when no hub is set or no source reads it (then no trigger is registered). */
  readonly eventHubRoute: SourceRoute | null;
  /** Things worth a line in the start-up log (e.g. a source nothing feeds). */
  readonly warnings: readonly string[];
  /** Values of the `%SETTING%` references in function definitions. */
  readonly bindingSettings: Readonly<Record<string, string>>;
  /** The source a landing blob path belongs to, or null. */
  routeBlob(path: string): SourceRoute | null;
  /** The source reading this Event Hub, or null. */
  routeHub(hubName: string): SourceRoute | null;
  /** Where ingestions and table updates are reported as OpenLineage events (settings `SLUICE_OPENLINEAGE_*`); absent: off. */
  readonly openLineage?: OpenLineageReporter;
}

/** What `createRuntime` builds from. */
export interface RuntimeOptions {
  settings: SluiceSettings;
  triggers: IngestTriggerSettings;
  pipelines: readonly PipelineDefinition[];
  /** Ledger (default: the `SluiceLedger` table of the lake account). */
  ledger?: IngestLedger;
  /** Backup settings (default: off). */
  backup?: BackupSettings;
}

/**
 * The ingest stage's options of a source, from its definition.
 *
 * @param source the source definition
 * @returns the IngestSource
 */
export function ingestSourceOf(source: SourceDefinition): IngestSource {
  return {
    name: source.name,
    format: source.format,
    compression: source.compression,
    ...(source.csv ? { csv: source.csv } : {}),
    schemaEvolution: source.schemaEvolution,
    schemaHints: source.schemaHints,
    partitionBy: source.partitionBy,
  };
}

/**
 * Build the runtime context from settings and definitions (no I/O: stores and clients are lazy).
 *
 * @param options settings, trigger settings, definitions, optional ledger
 * @returns the context
 * @throws ConfigError when the source reading the app's Event Hub asks for another consumer group or connection
 */
export function createRuntime(options: RuntimeOptions): SluiceRuntime {
  const { settings, triggers, pipelines } = options;
  const deadLetterStore = openLakeStore(settings, DEAD_LETTER_FOLDER);
  const routes = new Map<SourceDefinition, SourceRoute>();
  for (const pipeline of pipelines) {
    for (const source of Object.values(pipeline.sources)) {
      const table = openLakeStore(settings, source.table);
      routes.set(source, {
        pipeline,
        source,
        table,
        tableKey: tableKeyOf(table),
        ingest: { ...ingestSourceOf(source), maxRecordBytes: settings.maxRecordBytes, csvEngine: settings.csvEngine },
        deadLetter: { store: deadLetterStore, prefix: `${source.table}/` },
      });
    }
  }
  const all = [...routes.values()];
  const fileSources = all.filter((r) => r.source.landing !== undefined);
  const hubSources = all.filter((r) => r.source.eventHub !== undefined);
  const routeHub = (hubName: string) => hubSources.find((r) => r.source.eventHub!.name.toLowerCase() === hubName.toLowerCase()) ?? null;

  const warnings: string[] = [];
  const hub = triggers.eventHub;
  for (const r of hubSources) {
    const wanted = r.source.eventHub!;
    const where = `sources.${r.source.name} of ${r.pipeline.file ?? r.pipeline.name ?? 'the pipeline'}`;
    if (!hub) warnings.push(`${where} reads Event Hub ${wanted.name}, but no Event Hubs connection is set (SLUICE_EVENTHUB): nothing feeds it`);
    else if (wanted.name.toLowerCase() !== hub.name.toLowerCase())
      warnings.push(`${where} reads Event Hub ${wanted.name}, but the app reads ${hub.name} (SLUICE_EVENTHUB_NAME): nothing feeds it`);
  }
  const eventHubRoute = hub ? routeHub(hub.name) : null;
  if (hub && !eventHubRoute) {
    const files =
      pipelines
        .map((p) => p.file ?? p.name)
        .filter(Boolean)
        .join(', ') || 'none loaded';
    // Not an error: without the trigger nothing is consumed, so the events wait in the hub.
    warnings.push(
      `SLUICE_EVENTHUB_NAME names Event Hub ${hub.name}, but no source of the pipelines (${files}) has eventHub: ${hub.name}: it is not read until one does`,
    );
  }
  if (hub && eventHubRoute) {
    const wanted = eventHubRoute.source.eventHub!;
    const where = `sources.${eventHubRoute.source.name} of ${eventHubRoute.pipeline.file ?? 'the pipeline'}`;
    if (wanted.consumerGroup !== undefined && wanted.consumerGroup !== hub.consumerGroup) {
      throw new ConfigError([`SLUICE_EVENTHUB_CONSUMER_GROUP is "${hub.consumerGroup}", but ${where} asks for consumer group "${wanted.consumerGroup}"`]);
    }
    if (wanted.connection !== undefined && wanted.connection !== hub.connection) {
      throw new ConfigError([`${where} names connection ${wanted.connection}, but the app's Event Hubs trigger uses ${hub.connection}`]);
    }
  }
  if (fileSources.length === 0) warnings.push('no pipeline source has a landing folder: landing files are not ingested');
  const openLineage = openLineageReporter(settings);

  const backup = options.backup ?? readBackupSettings({})!;
  return {
    settings,
    triggers,
    backup,
    pipelines,
    landing: openContainerStore(settings.lake, settings.landingContainer, ''),
    ledger: options.ledger ?? TableLedger.fromConnection(settings.lake),
    lane: { checkpointInterval: settings.checkpointInterval },
    fileSources,
    hubSources,
    eventHubRoute,
    warnings,
    bindingSettings: { ...bindingSettingValues(triggers), SLUICE_BACKUP_SCHEDULE: backup.schedule },
    routeBlob(path: string): SourceRoute | null {
      for (const pipeline of pipelines) {
        const source = routeBlob(pipeline, path);
        if (source) return routes.get(source) ?? null;
      }
      return null;
    },
    routeHub,
    ...(openLineage ? { openLineage } : {}),
  };
}

/**
 * Read settings and pipeline definitions and build the runtime context; every settings problem is
 * reported at once.
 *
 * @param env the environment (default `process.env`, through shared/config's cached settings)
 * @param root app root for `SLUICE_PIPELINES` (default: the folder holding package.json)
 * @returns the context
 * @throws ConfigError naming every bad setting, or the definition files and their problems
 */
export function loadRuntime(env: SettingsEnv = process.env, root: string = appRoot()): SluiceRuntime {
  const problems: string[] = [];
  let settings: SluiceSettings | undefined;
  try {
    settings = env === process.env ? getSettings() : loadSettings(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  const triggers = readIngestTriggerSettings(env, problems);
  const backup = readBackupSettings(env, problems);
  readTieringSettings(env, root, problems);
  if (problems.length || !settings || !triggers || !backup) throw new ConfigError(problems);
  const explicit = (env.SLUICE_PIPELINES ?? '').trim() !== '';
  const pipelines = loadPipelines(settings.pipelines, root, explicit);
  const refreshProblems = checkRefreshSettings(env, pipelines);
  if (refreshProblems.length) throw new ConfigError(refreshProblems);
  return createRuntime({ settings, triggers, pipelines, backup });
}

/**
 * The settings the silver/gold refresh reads (`SLUICE_SQL_*`, `SLUICE_PII_KEY`), checked at start-up
 * rather than at the first refresh, against what the loaded pipelines need.
 *
 * @param env the environment
 * @param pipelines the loaded definitions
 * @returns one message per problem, naming the setting (and the YAML path that needs it)
 */
export function checkRefreshSettings(env: SettingsEnv, pipelines: readonly PipelineDefinition[]): string[] {
  const problems: string[] = [];
  try {
    sqlOptionsFromEnv(env);
  } catch (err) {
    problems.push((err as Error).message);
  }
  const key = readPiiKey(env);
  for (const pipeline of pipelines) {
    for (const table of Object.values(pipeline.tables)) {
      const hashed = Object.entries(table.pii).find(([, action]) => action === 'hash');
      if (!hashed) continue;
      try {
        requirePiiKey(key, `${pipeline.file ?? pipeline.name}: tables.${table.name}.pii.${hashed[0]}`);
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
  }
  return problems;
}

let cached: SluiceRuntime | undefined;

/**
 * The runtime context of this process, built on first call from `process.env` and kept. Call it at
 * start-up so a bad setting or definition stops the app with a clear message.
 *
 * @returns the context
 * @throws ConfigError as `loadRuntime` does (and again on the next call: nothing is cached then)
 */
export function getRuntime(): SluiceRuntime {
  cached ??= loadRuntime();
  return cached;
}
