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
 * | `SLUICE_LAKE__tableServiceUri` | derived | identity-based: table endpoint for the Sluice tables (`SluiceLedger`, `SluiceCatalog`, …), which live on the lake account |
 * | `SLUICE_LAKE__credential` | unset | `managedidentity` in Azure; unset means the developer credential chain (environment, Azure CLI, …) |
 * | `SLUICE_LAKE__clientId` | unset | client ID (GUID) of the user-assigned managed identity |
 * | `AzureWebJobsStorage`, `AzureWebJobsStorage__*` | — | fallback for the lake connection when no `SLUICE_LAKE` / `SLUICE_LAKE__*` setting exists at all (same two forms) |
 * | `SLUICE_LAKE_CONTAINER` | `lake` | blob container holding the tables (`<layer>/<table>`) and `_sluice/` records |
 * | `SLUICE_LANDING_CONTAINER` | `landing` | blob container files arrive in; must differ from the lake container |
 * | `SLUICE_CHECKPOINT_INTERVAL` | `10` | Delta commits between checkpoints; whole number ≥ 1 |
 * | `SLUICE_TASK_HUB` | `SluiceHub` | Durable task hub name: 3–45 letters/digits, starting with a letter. `host.json` reads the same setting (`%SLUICE_TASK_HUB%`), so it must be set as an app setting too |
 * | `SLUICE_PIPELINES` | `pipelines/*.yaml` | path or glob of the pipeline definitions, relative to the app root |
 * | `SLUICE_VACUUM_RETENTION_HOURS` | `168` | hours a removed data file is kept before vacuum deletes it; whole number ≥ 0. Below 168 (7 days) time travel and slow concurrent readers may break |
 * | `SLUICE_SQL_MEMORY_LIMIT` | `1GB` | DuckDB memory limit of one refresh activity (e.g. `512MB`); it spills to disk beyond it (checked by shared/runtime) |
 * | `SLUICE_SQL_THREADS` | CPUs, at most 4 | DuckDB threads of one refresh activity, 1–64 |
 * | `SLUICE_SQL_TEMP_DIR` | OS temp folder | where each refresh's private run folder (staged files, spill) is created |
 * | `SLUICE_SQL_CACHE_SIZE` | `256MB` | local cache of the data files refreshes read (hard-linked into each run folder); `0` turns it off |
 * | `SLUICE_PII_KEY` | unset | HMAC key (≥ 16 characters) for columns tagged `pii: hash`; required when a loaded pipeline has one. Keep it in Key Vault, referenced from the app setting |
 * | `SLUICE_OPTIMIZE_TARGET_MB` | `128` | target size of files written by optimize, in MiB; whole number 1–1024 (a file is assembled in memory) |
 * | `SLUICE_MAX_RECORD_MB` | `16` | longest CSV/TSV/JSON/NDJSON record ingestion turns into a row, in MiB of decompressed input; whole number 1–256. A longer one is dead-lettered (offset, first bytes) and reading goes on after it |
 */

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
  /** Account name, when given or derivable from the blob endpoint. */
  readonly accountName?: string;
  /** Blob endpoint without a trailing slash, e.g. `https://stlake.blob.core.windows.net`. */
  readonly blobServiceUri: string;
  /** Table endpoint without a trailing slash, when given or derivable. */
  readonly tableServiceUri?: string;
  /** `managedidentity`: use the managed identity; `default`: use the developer credential chain. */
  readonly credential: 'managedidentity' | 'default';
  /** Client ID of a user-assigned managed identity. */
  readonly clientId?: string;
}

/** How to reach the lake storage account. */
export type LakeConnection = LakeConnectionString | LakeIdentityConnection;

/** All Sluice settings, validated. See the table at the top of this file. */
export interface SluiceSettings {
  readonly lake: LakeConnection;
  readonly lakeContainer: string;
  readonly landingContainer: string;
  readonly checkpointInterval: number;
  readonly taskHub: string;
  readonly pipelines: string;
  readonly vacuumRetentionHours: number;
  readonly optimizeTargetMb: number;
  /** `optimizeTargetMb` in bytes. */
  readonly optimizeTargetBytes: number;
  readonly maxRecordMb: number;
  /** `maxRecordMb` in bytes. */
  readonly maxRecordBytes: number;
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
  maxRecordMb: 16,
} as const;

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
  const vacuumRetentionHours = readWholeNumber(env, 'SLUICE_VACUUM_RETENTION_HOURS', DEFAULTS.vacuumRetentionHours, 0, undefined, problems);
  const optimizeTargetMb = readWholeNumber(env, 'SLUICE_OPTIMIZE_TARGET_MB', DEFAULTS.optimizeTargetMb, 1, 1024, problems);
  const maxRecordMb = readMaxRecordMb(env, problems);

  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    // Every reader returns a value whenever it added no problem, so the assertions hold here.
    lake: Object.freeze(lake!),
    lakeContainer: lakeContainer!,
    landingContainer: landingContainer!,
    checkpointInterval: checkpointInterval!,
    taskHub: taskHub!,
    pipelines,
    vacuumRetentionHours: vacuumRetentionHours!,
    optimizeTargetMb: optimizeTargetMb!,
    optimizeTargetBytes: optimizeTargetMb! * 1024 * 1024,
    maxRecordMb: maxRecordMb!,
    maxRecordBytes: maxRecordMb! * 1024 * 1024,
  });
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
  const problems: string[] = [];
  const value = readMaxRecordMb(env, problems, name);
  if (value === undefined) throw new ConfigError(problems);
  return value;
}

/** A record is held whole in memory (as a string for JSON), so the limit stays far below V8's string limit. */
function readMaxRecordMb(env: SettingsEnv, problems: string[], name = 'SLUICE_MAX_RECORD_MB'): number | undefined {
  return readWholeNumber(env, name, DEFAULTS.maxRecordMb, 1, 256, problems);
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

function readWholeNumber(
  env: SettingsEnv,
  name: string,
  fallback: number,
  min: number,
  max: number | undefined,
  problems: string[],
): number | undefined {
  const raw = readString(env, name);
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (Number.isSafeInteger(value) && value >= min && (max === undefined || value <= max)) return value;
  const range = max === undefined ? `${min} or more` : `from ${min} to ${max}`;
  problems.push(`${name} must be a whole number ${range}; got "${raw}"`);
  return undefined;
}

function readTaskHub(env: SettingsEnv, problems: string[]): string | undefined {
  const value = readString(env, 'SLUICE_TASK_HUB') ?? DEFAULTS.taskHub;
  if (TASK_HUB.test(value)) return value;
  problems.push(
    `SLUICE_TASK_HUB must be a Durable task hub name: 3 to 45 letters or digits, starting with a letter; got "${value}"`,
  );
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

function readStorageConnection(
  env: SettingsEnv,
  prefix: string,
  strictKeys: boolean,
  problems: string[],
): LakeConnection | undefined {
  const plain = readString(env, prefix);
  const keys = sectionKeys(env, prefix);
  if (plain !== undefined && keys.length > 0) {
    problems.push(
      `${prefix} is set as a connection string and ${keys.join(', ')} as an identity-based connection; set only one form`,
    );
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

function readIdentityConnection(
  env: SettingsEnv,
  prefix: string,
  keys: string[],
  strictKeys: boolean,
  problems: string[],
): LakeIdentityConnection | undefined {
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
    problems.push(
      `${name('credential')} must be "managedidentity" (or unset to use the developer credential chain); got "${credentialValue}"`,
    );
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
