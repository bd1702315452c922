/**
 * Sluice settings: read from environment variables (app settings in Azure, `local.settings.json` under
 * Core Tools, the process environment for `npm start` and the CLI), validated once, returned frozen.
 *
 * Names follow the Functions convention for connections: a plain setting holds a connection string
 * (Azurite, local runs), `<NAME>__<key>` settings describe an identity-based connection (Azure).
 * A setting that is unset, empty or only whitespace counts as unset and takes its default.
 *
 * | setting | default | expected value |
 * |---|---|---|
 * | `SLUICE_LAKE` | — | connection string of the lake storage account (`UseDevelopmentStorage=true` for Azurite, or `DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…`). Use this **or** the identity form below, not both. |
 * | `SLUICE_LAKE__accountName` | — | identity-based: storage account name (3–24 lowercase letters/digits); endpoints are derived as `https://<name>.blob.core.windows.net` and `…table…` |
 * | `SLUICE_LAKE__blobServiceUri` | derived | identity-based: blob endpoint URL (`https://`; `http://` only for loopback); wins over `__accountName`. `SLUICE_LAKE__serviceUri` is accepted as an alias |
 * | `SLUICE_LAKE__tableServiceUri` | derived | identity-based: table endpoint for the Sluice tables (`SluiceLedger`, `SluiceEvents`, …), which live on the lake account |
 * | `SLUICE_LAKE__credential` | unset | `managedidentity` in Azure; unset means the developer credential chain (environment, Azure CLI, …) |
 * | `SLUICE_LAKE__clientId` | unset | client ID (GUID) of the user-assigned managed identity |
 * | `AzureWebJobsStorage`, `AzureWebJobsStorage__*` | — | fallback for the lake connection when no `SLUICE_LAKE` / `SLUICE_LAKE__*` setting exists at all (same two forms) |
 * | `SLUICE_LAKE_CONTAINER` | `lake` | blob container holding the tables (`<layer>/<table>`) and `_sluice/` records |
 * | `SLUICE_LANDING_CONTAINER` | `landing` | blob container files arrive in; must differ from the lake container |
 * | `SLUICE_CHECKPOINT_INTERVAL` | `10` | Delta commits between checkpoints; whole number ≥ 1 |
 * | `SLUICE_TASK_HUB` | `SluiceHub` | Durable task hub name: 3–45 letters/digits, starting with a letter. `host.json` reads the same setting (`%SLUICE_TASK_HUB%`), so it must be set as an app setting too |
 * | `SLUICE_PIPELINES` | `pipelines/*.yaml` | path or glob of the pipeline definitions, relative to the app root |
 * | `SLUICE_SQL_MEMORY_LIMIT` | derived: (instance memory − reserve) ÷ activity concurrency | DuckDB memory limit of one refresh activity (e.g. `512MB`); it spills to disk beyond it. The app refuses to start when this limit × the activity concurrency + the reserve exceeds `SLUICE_INSTANCE_MEMORY_MB` (shared/sql/engine.ts) |
 * | `SLUICE_SQL_THREADS` | CPUs, at most 4 | DuckDB threads of one refresh activity, 1–64 |
 * | `SLUICE_SQL_TEMP_DIR` | OS temp folder | where each refresh's private run folder (staged files, spill) is created |
 * | `SLUICE_SQL_CACHE_SIZE` | `256MB` | local cache of the data files refreshes read (hard-linked into each run folder); `0` turns it off |
 * | `SLUICE_PII_KEY` | unset | HMAC key (≥ 16 characters) for columns tagged `pii: hash`; required when a loaded pipeline has one. Keep it in Key Vault, referenced from the app setting |
 * | `SLUICE_VACUUM_RETENTION_HOURS` | `168` | retention, in hours, of tables without `delta.deletedFileRetentionDuration`: how long vacuum keeps a removed data file, and the shortest retention `sluice vacuum` accepts without `--force`; whole number ≥ 0. Below 168 (7 days) time travel and slow concurrent readers may break |
 * | `SLUICE_REHYDRATION_POLL_SECONDS` | `300` | seconds between two checks of a rehydration from Archive (the `rehydrate` orchestration's durable timer, `sluice rehydrate --wait`); whole number 1–86400. Each check is one listing of the table's files |
 * | `SLUICE_REHYDRATION_HOLD_DAYS` | `7` | days a rehydrated file stays out of the tiering run's reach after it was read (or, unread, after its rehydration completed); whole number 0–365 |
 * | `SLUICE_OPTIMIZE_TARGET_MB` | `128` | default target size of files written by optimize (`sluice optimize` without `--target-mb`), in MiB; whole number 1–1024 (a file is assembled in memory) |
 * | `SLUICE_OPTIMIZE_MIN_FILES` | `10` | the maintenance timer and `sluice maintain` compact a partition only when it has at least this many small files (below 75% of the target size); whole number 2–100000 |
 * | `SLUICE_HISTORY_RETENTION_DAYS` | `30` | the maintenance timer purges the Durable history of finished orchestration instances created more than this many days ago; whole number 1–3650 |
 * | `SLUICE_EVENTS_RETENTION_DAYS` | `90` | the maintenance timer deletes `SluiceEvents` rows (table updates, run requests) recorded more than this many days ago; whole number 1–3650 |
 * | `SLUICE_INSTANCE_MEMORY_MB` | `2048` | memory of one instance of the app in MB (Flex Consumption: 512, 2048 or 4096; the Bicep sets it from the plan's `instanceMemoryMB`); whole number ≥ 512. Refresh activities share it (see `SLUICE_SQL_MEMORY_LIMIT`) |
 * | `AzureFunctionsJobHost__extensions__durableTask__maxConcurrentActivityFunctions` | host.json's `maxConcurrentActivityFunctions` | activities one instance runs at once; whole number ≥ 1. The Functions host applies this app setting over host.json, and Sluice reads the value the same way, so the memory split uses the number the Durable extension uses (the Bicep sets it) |
 * | `SLUICE_EXPOSE_DURABLE_URLS` | `false` | `true` adds the Durable extension's management URLs to the start-run answer. In Azure they carry the extension's system key, which grants control (status, terminate, purge) of every instance of every pipeline to whoever holds the start function's key |
 * | `SLUICE_POISON_ATTEMPTS` | `5` | attempts of a landing file failing for a non-transient reason before it is dead-lettered whole (`poison: <last error>`); whole number 1–100 |
 * | `SLUICE_OPENLINEAGE_URL` | unset (off) | endpoint every table update's OpenLineage run events (START, COMPLETE, FAIL) are POSTed to, e.g. `https://marquez.example.com/api/v1/lineage`; `https://`, or `http://` on a loopback host |
 * | `SLUICE_OPENLINEAGE_CONTAINER` | unset (off) | blob container of the lake account the same events are written to as JSON blobs (`<namespace>/<pipeline>.<table>/…`); must not be the landing or the lake container |
 * | `SLUICE_OPENLINEAGE_NAMESPACE` | `sluice` | OpenLineage job namespace of the events (jobs are named `<pipeline>.<table>`) |
 * | `SLUICE_METRICS_RETENTION_DAYS` | `30` | days the metrics timer keeps points and objective breaches in the Azure Table `SluiceMetrics`; older rows are removed by the timer; whole number 1–3650 |
 * | `SLUICE_MAX_RECORD_MB` | `16` | longest CSV/TSV/JSON/NDJSON record ingestion turns into a row, and most an Avro block (or its header) may take and inflate to, in MiB of decompressed input; whole number 1–256. A longer one is dead-lettered (offset, first bytes) and reading goes on after it |
 * | `SLUICE_CSV_ENGINE` | `auto` | who reads CSV and TSV files: `auto` DuckDB for files of 8 MiB and more where it reads them exactly as Sluice's reader would (else the reader), `duckdb` the same for files of any size, `reader` always Sluice's reader |
 */

import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as nodePath from 'node:path';

/** The environment shape `loadSettings` reads; `process.env` fits. */
export type SettingsEnv = Readonly<Record<string, string | undefined>>;

/** Lake storage reached with a connection string (Azurite, shared key or SAS). */
export interface LakeConnectionString {
  readonly kind: 'connectionString';
  /** The setting the value came from: `SLUICE_LAKE` or `AzureWebJobsStorage`. */
  readonly setting: string;
  readonly connectionString: string;
}

/** Lake storage reached with a Microsoft Entra ID token (managed identity in Azure). */
export interface LakeIdentityConnection {
  readonly kind: 'identity';
  /** The setting prefix the values came from: `SLUICE_LAKE` or `AzureWebJobsStorage`. */
  readonly setting: string;
  /** Account name (`SLUICE_LAKE__accountName`), when given or derivable from the blob endpoint. */
  readonly accountName?: string;
  /** Blob endpoint (`SLUICE_LAKE__blobServiceUri`, else derived from `SLUICE_LAKE__accountName`) without a trailing slash, e.g. `https://stlake.blob.core.windows.net`. */
  readonly blobServiceUri: string;
  /** Table endpoint (`SLUICE_LAKE__tableServiceUri`, else derived from the blob endpoint) without a trailing slash, when given or derivable. */
  readonly tableServiceUri?: string;
  /** `SLUICE_LAKE__credential`: `managedidentity` uses the managed identity; `default` the developer credential chain. */
  readonly credential: 'managedidentity' | 'default';
  /** Client ID of a user-assigned managed identity (`SLUICE_LAKE__clientId`). */
  readonly clientId?: string;
}

/** How to reach the lake storage account. */
export type LakeConnection = LakeConnectionString | LakeIdentityConnection;

/**
 * The settings of table maintenance, the only ones `sluice vacuum` and `sluice optimize` need (they
 * work on any table location, with or without a lake connection).
 */
export interface MaintenanceSettings {
  /** `SLUICE_VACUUM_RETENTION_HOURS`: the retention of tables without `delta.deletedFileRetentionDuration`. */
  readonly vacuumRetentionHours: number;
  /** `SLUICE_OPTIMIZE_TARGET_MB`: optimize's default target file size. */
  readonly optimizeTargetMb: number;
  /** `SLUICE_OPTIMIZE_TARGET_MB` in bytes. */
  readonly optimizeTargetBytes: number;
  /** `SLUICE_OPTIMIZE_MIN_FILES`: fewest small files that make maintenance compact a partition. */
  readonly optimizeMinFiles: number;
  /** `SLUICE_HISTORY_RETENTION_DAYS`: age after which finished orchestration instances are purged. */
  readonly historyRetentionDays: number;
  /** `SLUICE_EVENTS_RETENTION_DAYS`: age after which event log rows are deleted. */
  readonly eventsRetentionDays: number;
}

/**
 * What one instance of the app has to share between the activities it runs at once. Each property's
 * comment names the setting it comes from (test/config/settings-readers.test.ts relies on that).
 */
export interface InstanceResources {
  /** `SLUICE_INSTANCE_MEMORY_MB`: memory of one instance, in MB. */
  readonly instanceMemoryMb: number;
  /** `AzureFunctionsJobHost__extensions__durableTask__maxConcurrentActivityFunctions`, else host.json's value. */
  readonly activityConcurrency: number;
  /** Where `activityConcurrency` came from, for messages (the app setting, host.json's path, or the extension's default). */
  readonly activityConcurrencySource: string;
}

/** The settings of rehydration from Archive (shared/tiering/rehydrate.ts), which `sluice rehydrate` needs on any table location. */
export interface RehydrationSettings {
  /** `SLUICE_REHYDRATION_POLL_SECONDS`: seconds between two checks of a rehydration. */
  readonly rehydrationPollSeconds: number;
  /** `SLUICE_REHYDRATION_HOLD_DAYS`: days a rehydrated file is held from tiering after its read. */
  readonly rehydrationHoldDays: number;
}

/** All Sluice settings, validated. See the table at the top of this file. */
export interface SluiceSettings extends MaintenanceSettings, RehydrationSettings {
  /** `SLUICE_LAKE`, `SLUICE_LAKE__*`, else `AzureWebJobsStorage`, `AzureWebJobsStorage__*`. */
  readonly lake: LakeConnection;
  /** `SLUICE_LAKE_CONTAINER` */
  readonly lakeContainer: string;
  /** `SLUICE_LANDING_CONTAINER` */
  readonly landingContainer: string;
  /** `SLUICE_CHECKPOINT_INTERVAL` */
  readonly checkpointInterval: number;
  /** `SLUICE_TASK_HUB` */
  readonly taskHub: string;
  /** `SLUICE_PIPELINES` */
  readonly pipelines: string;
  /** `SLUICE_EXPOSE_DURABLE_URLS`: whether the start-run answer includes the Durable management URLs (they hold the system key in Azure). */
  readonly exposeDurableUrls: boolean;
  /** `SLUICE_POISON_ATTEMPTS`: failed attempts (non-transient) after which a landing file is dead-lettered whole. */
  readonly poisonAttempts: number;
  /** `SLUICE_MAX_RECORD_MB`: the longest text record ingestion turns into a row. */
  readonly maxRecordMb: number;
  /** `SLUICE_MAX_RECORD_MB` in bytes. */
  readonly maxRecordBytes: number;
  /** `SLUICE_CSV_ENGINE`: who reads CSV and TSV files. */
  readonly csvEngine: CsvEngine;
  /** `SLUICE_METRICS_RETENTION_DAYS`: how long the metrics timer keeps points and breaches. */
  readonly metricsRetentionDays: number;
  /** `SLUICE_PII_KEY`: HMAC key of `pii: hash` columns (unset: none; runtime/context.ts requires it when a pipeline hashes a column). */
  readonly piiKey?: string;
  /** `SLUICE_OPENLINEAGE_*`: where OpenLineage events go (absent: nowhere). */
  readonly openLineage?: OpenLineageSettings;
}

/** Where OpenLineage run events are sent; at least one of `url` and `container` is set. */
export interface OpenLineageSettings {
  /** `SLUICE_OPENLINEAGE_URL` */
  readonly url?: string;
  /** `SLUICE_OPENLINEAGE_CONTAINER` (in the lake account) */
  readonly container?: string;
  /** `SLUICE_OPENLINEAGE_NAMESPACE` */
  readonly namespace: string;
}

/** Thrown by `loadSettings` with every problem found, so one start-up shows them all. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    const noun = problems.length === 1 ? 'problem' : 'problems';
    super(`sluice config: ${problems.length} ${noun} in settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

const DEFAULTS = {
  lakeContainer: 'lake',
  landingContainer: 'landing',
  checkpointInterval: 10,
  taskHub: 'SluiceHub',
  pipelines: 'pipelines/*.yaml',
  vacuumRetentionHours: 168,
  optimizeTargetMb: 128,
  optimizeMinFiles: 10,
  historyRetentionDays: 30,
  eventsRetentionDays: 90,
  instanceMemoryMb: 2048,
  exposeDurableUrls: false,
  poisonAttempts: 5,
  maxRecordMb: 16,
  csvEngine: 'auto',
  rehydrationPollSeconds: 300,
  rehydrationHoldDays: 7,
  metricsRetentionDays: 30,
} as const;

/** Default of `SLUICE_POISON_ATTEMPTS`, also the ingest stage's when no setting is passed (the CLI). */
export const DEFAULT_POISON_ATTEMPTS = DEFAULTS.poisonAttempts;

/** Keys understood after `SLUICE_LAKE__`; anything else there is reported as a likely typo. */
const IDENTITY_KEYS = ['accountName', 'blobServiceUri', 'serviceUri', 'tableServiceUri', 'queueServiceUri', 'credential', 'clientId'];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;
const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$/;
const TASK_HUB = /^[A-Za-z][A-Za-z0-9]{2,44}$/;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Read, validate and freeze the Sluice settings.
 * @param env variables to read; defaults to `process.env`
 * @returns the settings, deeply frozen
 * @throws ConfigError listing every problem found, each naming its variable
 */
export function loadSettings(env: SettingsEnv = process.env): SluiceSettings {
  const problems: string[] = [];

  const lake = readLakeConnection(env, problems);
  const lakeContainer = readContainer(env, 'SLUICE_LAKE_CONTAINER', DEFAULTS.lakeContainer, problems);
  const landingContainer = readContainer(env, 'SLUICE_LANDING_CONTAINER', DEFAULTS.landingContainer, problems);
  if (lakeContainer !== undefined && lakeContainer === landingContainer) {
    problems.push(
      `SLUICE_LANDING_CONTAINER and SLUICE_LAKE_CONTAINER must name different containers (both are "${lakeContainer}"): ` +
        'every blob created in the landing container is ingested',
    );
  }
  const checkpointInterval = readWholeNumber(env, 'SLUICE_CHECKPOINT_INTERVAL', DEFAULTS.checkpointInterval, 1, undefined, problems);
  const taskHub = readTaskHub(env, problems);
  const pipelines = readString(env, 'SLUICE_PIPELINES') ?? DEFAULTS.pipelines;
  const maintenance = readMaintenanceSettings(env, problems);
  const rehydration = readRehydrationSettings(env, problems);
  const exposeDurableUrls = readBoolean(env, 'SLUICE_EXPOSE_DURABLE_URLS', DEFAULTS.exposeDurableUrls, problems);
  const poisonAttempts = readWholeNumber(env, 'SLUICE_POISON_ATTEMPTS', DEFAULTS.poisonAttempts, 1, 100, problems);
  const maxRecordMb = readMaxRecordMb(env, problems);
  const csvEngine = readCsvEngine(env, problems);
  const metricsRetentionDays = readWholeNumber(env, 'SLUICE_METRICS_RETENTION_DAYS', DEFAULTS.metricsRetentionDays, 1, 3650, problems);
  const piiKey = readPiiKey(env);
  const openLineage = readOpenLineage(env, [lakeContainer, landingContainer], problems);

  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    // Every reader returns a value whenever it added no problem, so the assertions hold here.
    lake: Object.freeze(lake!),
    lakeContainer: lakeContainer!,
    landingContainer: landingContainer!,
    checkpointInterval: checkpointInterval!,
    taskHub: taskHub!,
    pipelines,
    ...maintenance!,
    ...rehydration!,
    exposeDurableUrls: exposeDurableUrls!,
    poisonAttempts: poisonAttempts!,
    maxRecordMb: maxRecordMb!,
    maxRecordBytes: maxRecordMb! * 1024 * 1024,
    csvEngine: csvEngine!,
    metricsRetentionDays: metricsRetentionDays!,
    ...(piiKey ? { piiKey } : {}),
    ...(openLineage ? { openLineage: Object.freeze(openLineage) } : {}),
  });
}

/**
 * Read and validate the maintenance settings alone (what `sluice vacuum` and `sluice optimize` use).
 * @param env variables to read; defaults to `process.env`
 * @returns the settings, frozen
 * @throws ConfigError naming every bad setting
 */
export function loadMaintenanceSettings(env: SettingsEnv = process.env): MaintenanceSettings {
  const problems: string[] = [];
  const maintenance = readMaintenanceSettings(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(maintenance!);
}

function readMaintenanceSettings(env: SettingsEnv, problems: string[]): MaintenanceSettings | undefined {
  const vacuumRetentionHours = readWholeNumber(env, 'SLUICE_VACUUM_RETENTION_HOURS', DEFAULTS.vacuumRetentionHours, 0, undefined, problems);
  const optimizeTargetMb = readWholeNumber(env, 'SLUICE_OPTIMIZE_TARGET_MB', DEFAULTS.optimizeTargetMb, 1, 1024, problems);
  const optimizeMinFiles = readWholeNumber(env, 'SLUICE_OPTIMIZE_MIN_FILES', DEFAULTS.optimizeMinFiles, 2, 100_000, problems);
  const historyRetentionDays = readWholeNumber(env, 'SLUICE_HISTORY_RETENTION_DAYS', DEFAULTS.historyRetentionDays, 1, 3650, problems);
  const eventsRetentionDays = readWholeNumber(env, 'SLUICE_EVENTS_RETENTION_DAYS', DEFAULTS.eventsRetentionDays, 1, 3650, problems);
  if (
    vacuumRetentionHours === undefined ||
    optimizeTargetMb === undefined ||
    optimizeMinFiles === undefined ||
    historyRetentionDays === undefined ||
    eventsRetentionDays === undefined
  )
    return undefined;
  return {
    vacuumRetentionHours,
    optimizeTargetMb,
    optimizeTargetBytes: optimizeTargetMb * 1024 * 1024,
    optimizeMinFiles,
    historyRetentionDays,
    eventsRetentionDays,
  };
}

/**
 * Read and validate the rehydration settings alone (what `sluice rehydrate` uses on any location).
 * @param env variables to read; defaults to `process.env`
 * @returns the settings, frozen
 * @throws ConfigError naming every bad setting
 */
export function loadRehydrationSettings(env: SettingsEnv = process.env): RehydrationSettings {
  const problems: string[] = [];
  const rehydration = readRehydrationSettings(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(rehydration!);
}

function readRehydrationSettings(env: SettingsEnv, problems: string[]): RehydrationSettings | undefined {
  const rehydrationPollSeconds = readWholeNumber(env, 'SLUICE_REHYDRATION_POLL_SECONDS', DEFAULTS.rehydrationPollSeconds, 1, 86_400, problems);
  const rehydrationHoldDays = readWholeNumber(env, 'SLUICE_REHYDRATION_HOLD_DAYS', DEFAULTS.rehydrationHoldDays, 0, 365, problems);
  if (rehydrationPollSeconds === undefined || rehydrationHoldDays === undefined) return undefined;
  return { rehydrationPollSeconds, rehydrationHoldDays };
}

/** The app setting through which the Functions host overrides host.json's activity concurrency. */
export const ACTIVITY_CONCURRENCY_SETTING = 'AzureFunctionsJobHost__extensions__durableTask__maxConcurrentActivityFunctions';

/**
 * Read and validate what one instance has to share: its memory (`SLUICE_INSTANCE_MEMORY_MB`) and how
 * many activities it runs at once. The Durable extension takes that number from host.json, unless the
 * app setting `AzureFunctionsJobHost__extensions__durableTask__maxConcurrentActivityFunctions`
 * overrides it (the host applies such settings over host.json); this reads it in the same order, so
 * the memory split always uses the number the extension uses and nothing repeats it.
 * @param env variables to read; defaults to `process.env`
 * @param hostJsonPath the app's host.json (default: the nearest one above this module)
 * @returns the resources, frozen
 * @throws ConfigError naming the bad setting or host.json
 */
export function loadInstanceResources(env: SettingsEnv = process.env, hostJsonPath: string | undefined = findHostJson()): InstanceResources {
  const problems: string[] = [];
  const instanceMemoryMb = readWholeNumber(env, 'SLUICE_INSTANCE_MEMORY_MB', DEFAULTS.instanceMemoryMb, 512, undefined, problems);
  let activityConcurrency: number | undefined;
  let activityConcurrencySource = ACTIVITY_CONCURRENCY_SETTING;
  if (readString(env, ACTIVITY_CONCURRENCY_SETTING) !== undefined) {
    activityConcurrency = readWholeNumber(env, ACTIVITY_CONCURRENCY_SETTING, 1, 1, undefined, problems);
  } else if (hostJsonPath !== undefined) {
    activityConcurrencySource = `${hostJsonPath} extensions.durableTask.maxConcurrentActivityFunctions`;
    activityConcurrency = hostJsonActivityConcurrency(hostJsonPath, activityConcurrencySource, problems);
  } else {
    // No host.json: what the Durable extension itself would use.
    activityConcurrencySource = 'the Durable extension default (10 × CPUs; no host.json found)';
    activityConcurrency = 10 * Math.max(1, availableParallelism());
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ instanceMemoryMb: instanceMemoryMb!, activityConcurrency: activityConcurrency!, activityConcurrencySource });
}

function hostJsonActivityConcurrency(file: string, source: string, problems: string[]): number | undefined {
  let host: { extensions?: { durableTask?: { maxConcurrentActivityFunctions?: unknown } } };
  try {
    host = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    problems.push(`${file} cannot be read as JSON (${(err as Error).message}); it sets the activity concurrency`);
    return undefined;
  }
  const value = host.extensions?.durableTask?.maxConcurrentActivityFunctions;
  if (value === undefined) return 10 * Math.max(1, availableParallelism());
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return value;
  problems.push(`${source} must be a whole number 1 or more; got ${JSON.stringify(value)}`);
  return undefined;
}

/** The host.json of the app this module belongs to: the nearest one in this folder or above. */
function findHostJson(from: string = __dirname): string | undefined {
  for (let dir = nodePath.resolve(from); ; dir = nodePath.dirname(dir)) {
    const candidate = nodePath.join(dir, 'host.json');
    if (existsSync(candidate)) return candidate;
    if (existsSync(nodePath.join(dir, 'package.json')) || nodePath.dirname(dir) === dir) return undefined;
  }
}

/**
 * `SLUICE_MAX_RECORD_MB` alone, for the command line, which reads files without the app's other
 * settings (and checks its `--max-record-mb` by the same rule, passing that name).
 * @param env variables to read; defaults to `process.env`
 * @param name the variable holding the value, also the name in the message
 * @returns the limit in MiB
 * @throws ConfigError naming the setting when it is not a whole number from 1 to 256
 */
export function loadMaxRecordMb(env: SettingsEnv = process.env, name = 'SLUICE_MAX_RECORD_MB'): number {
  return loadOne(readMaxRecordMb, env, name);
}

/** One setting read alone by its reader: its value, or a ConfigError naming it. */
function loadOne<T>(read: (env: SettingsEnv, problems: string[], name: string) => T | undefined, env: SettingsEnv, name: string): T {
  const problems: string[] = [];
  const value = read(env, problems, name);
  if (value === undefined) throw new ConfigError(problems);
  return value;
}

/** A record is held whole in memory (as a string for JSON), so the limit stays far below V8's string limit. */
function readMaxRecordMb(env: SettingsEnv, problems: string[], name = 'SLUICE_MAX_RECORD_MB'): number | undefined {
  return readWholeNumber(env, name, DEFAULTS.maxRecordMb, 1, 256, problems);
}

/** Who reads CSV and TSV files (see `SLUICE_CSV_ENGINE`). */
export type CsvEngine = 'auto' | 'duckdb' | 'reader';
const CSV_ENGINES: readonly CsvEngine[] = ['auto', 'duckdb', 'reader'];

/**
 * `SLUICE_CSV_ENGINE` alone, for the command line (which checks its `--csv-engine` by the same rule).
 * @param env variables to read; defaults to `process.env`
 * @param name the variable holding the value, also the name in the message
 * @returns the engine
 * @throws ConfigError naming the setting when it is not one of `auto`, `duckdb`, `reader`
 */
export function loadCsvEngine(env: SettingsEnv = process.env, name = 'SLUICE_CSV_ENGINE'): CsvEngine {
  return loadOne(readCsvEngine, env, name);
}

function readCsvEngine(env: SettingsEnv, problems: string[], name = 'SLUICE_CSV_ENGINE'): CsvEngine | undefined {
  const text = env[name]?.trim();
  if (!text) return DEFAULTS.csvEngine;
  if ((CSV_ENGINES as string[]).includes(text)) return text as CsvEngine;
  problems.push(`${name}: expected one of ${CSV_ENGINES.join(', ')}, got ${JSON.stringify(text)}`);
  return undefined;
}

let cached: SluiceSettings | undefined;

/**
 * The settings of this process, loaded from `process.env` on first call and kept. Call it at start-up so
 * a bad setting stops the app with a clear message instead of failing the first invocation.
 * @returns the settings
 * @throws ConfigError as `loadSettings` does
 */
export function getSettings(): SluiceSettings {
  cached ??= loadSettings(process.env);
  return cached;
}

/** Trimmed value of a setting, or `undefined` when unset, empty or whitespace. */
/**
 * `SLUICE_PII_KEY` alone: what the start-up check of the refresh settings reads before the lake
 * settings are known to be complete. Its length is checked where a pipeline needs it (refresh/pii.ts).
 * @param env variables to read
 * @returns the key, or undefined when unset
 */
export function readPiiKey(env: SettingsEnv = process.env): string | undefined {
  return readString(env, 'SLUICE_PII_KEY');
}

function readOpenLineage(env: SettingsEnv, taken: (string | undefined)[], problems: string[]): OpenLineageSettings | undefined {
  const url = readString(env, 'SLUICE_OPENLINEAGE_URL');
  const hasContainer = readString(env, 'SLUICE_OPENLINEAGE_CONTAINER') !== undefined;
  const container = hasContainer ? readContainer(env, 'SLUICE_OPENLINEAGE_CONTAINER', '', problems) : undefined;
  const namespace = readString(env, 'SLUICE_OPENLINEAGE_NAMESPACE') ?? 'sluice';
  if (url !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      // reported below
    }
    const secure = parsed?.protocol === 'https:' || (parsed?.protocol === 'http:' && LOOPBACK_HOSTS.has(parsed.hostname));
    if (!secure) problems.push(`SLUICE_OPENLINEAGE_URL must be an https:// URL (http:// only on a loopback host); got "${url}"`);
  }
  if (container !== undefined && taken.includes(container))
    problems.push(`SLUICE_OPENLINEAGE_CONTAINER must name a container of its own, not the lake or landing container ("${container}")`);
  if (/[\s/]/.test(namespace)) problems.push(`SLUICE_OPENLINEAGE_NAMESPACE must be one word without spaces or slashes; got "${namespace}"`);
  if (url === undefined && !hasContainer) return undefined;
  return { ...(url !== undefined ? { url } : {}), ...(container !== undefined ? { container } : {}), namespace };
}

function readString(env: SettingsEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function readContainer(env: SettingsEnv, name: string, fallback: string, problems: string[]): string | undefined {
  const value = readString(env, name) ?? fallback;
  if (CONTAINER_NAME.test(value)) return value;
  problems.push(
    `${name} must be a blob container name: 3 to 63 lowercase letters, digits and single hyphens, ` +
      `starting and ending with a letter or digit; got "${value}"`,
  );
  return undefined;
}

function readWholeNumber(env: SettingsEnv, name: string, fallback: number, min: number, max: number | undefined, problems: string[]): number | undefined {
  const raw = readString(env, name);
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (Number.isSafeInteger(value) && value >= min && (max === undefined || value <= max)) return value;
  const range = max === undefined ? `${min} or more` : `from ${min} to ${max}`;
  problems.push(`${name} must be a whole number ${range}; got "${raw}"`);
  return undefined;
}

function readBoolean(env: SettingsEnv, name: string, fallback: boolean, problems: string[]): boolean | undefined {
  const raw = readString(env, name);
  if (raw === undefined) return fallback;
  // Exactly true or false: a typo such as "ture" must not quietly leave the setting at its default.
  if (/^true$/i.test(raw)) return true;
  if (/^false$/i.test(raw)) return false;
  problems.push(`${name} must be true or false; got "${raw}"`);
  return undefined;
}

function readTaskHub(env: SettingsEnv, problems: string[]): string | undefined {
  const value = readString(env, 'SLUICE_TASK_HUB') ?? DEFAULTS.taskHub;
  if (TASK_HUB.test(value)) return value;
  problems.push(`SLUICE_TASK_HUB must be a Durable task hub name: 3 to 45 letters or digits, starting with a letter; got "${value}"`);
  return undefined;
}

/** `SLUICE_LAKE` in either form, else `AzureWebJobsStorage` in either form. */
function readLakeConnection(env: SettingsEnv, problems: string[]): LakeConnection | undefined {
  if (hasConnection(env, 'SLUICE_LAKE')) return readStorageConnection(env, 'SLUICE_LAKE', true, problems);
  if (hasConnection(env, 'AzureWebJobsStorage')) return readStorageConnection(env, 'AzureWebJobsStorage', false, problems);
  problems.push(
    'SLUICE_LAKE is not set: set SLUICE_LAKE to a storage connection string (UseDevelopmentStorage=true for Azurite), ' +
      'or SLUICE_LAKE__accountName / SLUICE_LAKE__blobServiceUri for an identity-based connection ' +
      '(AzureWebJobsStorage would be used as a fallback, but it is not set either)',
  );
  return undefined;
}

function hasConnection(env: SettingsEnv, prefix: string): boolean {
  return readString(env, prefix) !== undefined || sectionKeys(env, prefix).length > 0;
}

/** Names of the non-empty `<prefix>__*` settings. */
function sectionKeys(env: SettingsEnv, prefix: string): string[] {
  return Object.keys(env).filter((k) => k.startsWith(`${prefix}__`) && readString(env, k) !== undefined);
}

function readStorageConnection(env: SettingsEnv, prefix: string, strictKeys: boolean, problems: string[]): LakeConnection | undefined {
  const plain = readString(env, prefix);
  const keys = sectionKeys(env, prefix);
  if (plain !== undefined && keys.length > 0) {
    problems.push(`${prefix} is set as a connection string and ${keys.join(', ')} as an identity-based connection; set only one form`);
    return undefined;
  }
  if (plain !== undefined) {
    const problem = connectionStringProblem(plain);
    if (problem === undefined) return { kind: 'connectionString', setting: prefix, connectionString: plain };
    problems.push(`${prefix} ${problem}`);
    return undefined;
  }
  return readIdentityConnection(env, prefix, keys, strictKeys, problems);
}

/**
 * What is wrong with a storage connection string, or `undefined` if it looks usable. Never quotes the
 * value: it may hold an account key.
 */
function connectionStringProblem(value: string): string | undefined {
  const form =
    'must be an Azure Storage connection string (UseDevelopmentStorage=true, or ' +
    'DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…, or BlobEndpoint=…;SharedAccessSignature=…)';
  if (!value.includes('=')) {
    return `${form}; the value has no "key=value" pairs (for an identity-based connection set the __accountName form instead)`;
  }
  const parts = new Map<string, string>();
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) parts.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') return undefined;
  if (!parts.has('accountname') && !parts.has('blobendpoint')) return `${form}; it names neither AccountName nor BlobEndpoint`;
  if (!parts.has('accountkey') && !parts.has('sharedaccesssignature')) {
    return `${form}; it has neither AccountKey nor SharedAccessSignature`;
  }
  return undefined;
}

function readIdentityConnection(env: SettingsEnv, prefix: string, keys: string[], strictKeys: boolean, problems: string[]): LakeIdentityConnection | undefined {
  const before = problems.length;
  const name = (key: string) => `${prefix}__${key}`;

  if (strictKeys) {
    for (const key of keys) {
      const suffix = key.slice(prefix.length + 2);
      if (IDENTITY_KEYS.includes(suffix)) continue;
      const near = IDENTITY_KEYS.find((k) => k.toLowerCase() === suffix.toLowerCase());
      problems.push(
        near !== undefined
          ? `${key} is not a recognised setting; did you mean ${name(near)}? (names are case-sensitive)`
          : `${key} is not a recognised setting; expected one of ${IDENTITY_KEYS.map(name).join(', ')}`,
      );
    }
  }

  let accountName = readString(env, name('accountName'));
  if (accountName !== undefined && !ACCOUNT_NAME.test(accountName)) {
    problems.push(`${name('accountName')} must be a storage account name: 3 to 24 lowercase letters or digits; got "${accountName}"`);
  }

  const blobSetting = readString(env, name('blobServiceUri')) !== undefined ? name('blobServiceUri') : name('serviceUri');
  const blobValue = readString(env, blobSetting);
  let blobServiceUri = blobValue === undefined ? undefined : readEndpoint(blobSetting, blobValue, problems);
  const tableValue = readString(env, name('tableServiceUri'));
  let tableServiceUri = tableValue === undefined ? undefined : readEndpoint(name('tableServiceUri'), tableValue, problems);

  const credentialValue = readString(env, name('credential'));
  if (credentialValue !== undefined && credentialValue.toLowerCase() !== 'managedidentity') {
    problems.push(`${name('credential')} must be "managedidentity" (or unset to use the developer credential chain); got "${credentialValue}"`);
  }
  const clientId = readString(env, name('clientId'));
  if (clientId !== undefined && !GUID.test(clientId)) {
    problems.push(`${name('clientId')} must be the client ID (a GUID) of a user-assigned managed identity; got "${clientId}"`);
  }

  if (accountName === undefined && blobValue === undefined) {
    problems.push(
      `${prefix} identity-based connection needs ${name('accountName')} or ${name('blobServiceUri')}; ` +
        `only ${keys.join(', ')} ${keys.length === 1 ? 'is' : 'are'} set`,
    );
  }
  if (problems.length > before) return undefined;

  // Derive what was not given: endpoints from the account name, the account name and the table
  // endpoint from a standard `<account>.blob.<suffix>` host.
  if (blobServiceUri === undefined) blobServiceUri = `https://${accountName}.blob.core.windows.net`;
  const standard = /^([a-z0-9]{3,24})\.blob\.(.+)$/.exec(new URL(blobServiceUri).host);
  if (standard !== null) {
    accountName ??= standard[1];
    tableServiceUri ??= `${new URL(blobServiceUri).protocol}//${standard[1]}.table.${standard[2]}`;
  }

  return {
    kind: 'identity',
    setting: prefix,
    ...(accountName === undefined ? {} : { accountName }),
    blobServiceUri,
    ...(tableServiceUri === undefined ? {} : { tableServiceUri }),
    credential: credentialValue === undefined ? 'default' : 'managedidentity',
    ...(clientId === undefined ? {} : { clientId }),
  };
}

/** A service endpoint URL without trailing slashes; `https` except on loopback (Azurite). */
function readEndpoint(setting: string, value: string, problems: string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${setting} must be an absolute URL such as https://<account>.blob.core.windows.net; got "${value}"`);
    return undefined;
  }
  if (url.search !== '' || url.hash !== '') {
    // A query string here is most likely a SAS token: do not echo it.
    problems.push(`${setting} must be a service URL without query string or fragment (use SLUICE_LAKE for SAS access)`);
    return undefined;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    problems.push(`${setting} must be an https:// URL (http:// only for localhost); got "${value}"`);
    return undefined;
  }
  return value.replace(/\/+$/, '');
}
