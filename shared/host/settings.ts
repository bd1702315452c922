/**
 * The settings only the ingestion triggers need, read beside shared/config/settings.ts in the same
 * style (every problem collected, each naming its setting; values never echoed when they may hold a
 * key):
 *
 * | setting | default | expected value |
 * |---|---|---|
 * | `SLUICE_EVENTHUB` | — | Event Hubs connection string (`Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…`, or the emulator's with `UseDevelopmentEmulator=true`). Use this **or** the identity form, not both |
 * | `SLUICE_EVENTHUB__fullyQualifiedNamespace` | — | identity-based: the namespace host, e.g. `evhns-sluice.servicebus.windows.net` (+ `__credential`, `__clientId` as for the lake) |
 * | `SLUICE_EVENTHUB_NAME` | `EntityPath` of the connection string | the Event Hub the `eventHubIngest` function reads |
 * | `SLUICE_EVENTHUB_CONSUMER_GROUP` | `$Default` | its consumer group |
 * | `SLUICE_RECONCILE_SCHEDULE` | every 5 minutes (`DEFAULT_RECONCILE_SCHEDULE`) | NCRONTAB (six fields) of the `reconcile` timer |
 * | `SLUICE_MAINTENANCE_SCHEDULE` | nightly at 02:00 UTC (`DEFAULT_MAINTENANCE_SCHEDULE`) | NCRONTAB (six fields) of the `maintenance` timer |
 * | `SLUICE_METRICS_SCHEDULE` | every 5 minutes (`DEFAULT_METRICS_SCHEDULE`) | NCRONTAB (six fields) of the `metrics` timer (shared/monitoring) |
 * | `SLUICE_TIERING_SCHEDULE` | daily at 03:00 UTC (`DEFAULT_TIERING_SCHEDULE`) | NCRONTAB (six fields) of the `tierLake` timer |
 * | `SLUICE_BACKUP_LOCATION` | unset: no backups | where the `backup` timer backs up the platform: a location as `sluice` takes it (`https://<account>.blob.core.windows.net/<container>[/<path>]`, `abfss://…`, Azurite, a local path); reached with the lake connection's identity |
 * | `SLUICE_BACKUP_SCHEDULE` | `0 0 2 * * *` (`DEFAULT_BACKUP_SCHEDULE`, daily 02:00 UTC) | NCRONTAB (six fields) of the `backup` timer |
 * | `SLUICE_BACKUP_RETENTION_DAYS` | `30` | keep each table's backed-up versions of this many days; whole number ≥ 0 |
 * | `SLUICE_BACKUP_MIN_VERSIONS` | `7` | and at least this many of the newest versions of each table, whatever their age; whole number ≥ 1 |
 * | `SLUICE_BACKUP_COPY_CONCURRENCY` | `16` (`DEFAULT_BACKUP_COPY_CONCURRENCY`) | files of one table the `backup` timer copies at once; whole number from 1 to 256 |
 * | `SLUICE_BACKUP_TABLE_CONCURRENCY` | `4` (`DEFAULT_BACKUP_TABLE_CONCURRENCY`) | tables the `backup` timer backs up at once (among tables none of which reads another); whole number from 1 to 64 |
 *
 * No Event Hubs setting at all means the app reads no Event Hub: `eventHubIngest` is not registered.
 *
 * The function definitions name these settings as `%SETTING%` (the host's syntax); `index.ts` resolves
 * them here before registering, because the host cannot apply our defaults to an unset setting.
 */
import { DEFAULT_BACKUP_COPY_CONCURRENCY, DEFAULT_BACKUP_TABLE_CONCURRENCY } from '../backup';
import { ConfigError, SettingsEnv } from '../config/settings';
import { ncrontabProblem } from '../pipeline/ncrontab';
import { parseLocation } from '../storage/location';

/** The Event Hub the app reads. */
export interface EventHubSettings {
  /** Name of the connection setting the trigger binding uses. */
  readonly connection: 'SLUICE_EVENTHUB';
  /** Which form the connection was given in. */
  readonly kind: 'connectionString' | 'identity';
  /** Fully qualified namespace, lower case (e.g. `evhns-sluice.servicebus.windows.net`). */
  readonly namespace: string;
  /** Event Hub name. */
  readonly name: string;
  readonly consumerGroup: string;
}

/** Settings of the ingestion triggers. */
export interface IngestTriggerSettings {
  /** The Event Hub, or null when none is configured. */
  readonly eventHub: EventHubSettings | null;
  /** NCRONTAB schedule of the reconcile timer. */
  readonly reconcileSchedule: string;
  /** NCRONTAB schedule of the maintenance timer (`SLUICE_MAINTENANCE_SCHEDULE`). */
  readonly maintenanceSchedule: string;
  /** NCRONTAB schedule of the metrics timer. */
  readonly metricsSchedule: string;
  /** NCRONTAB schedule of the tiering timer. */
  readonly tieringSchedule: string;
}

/** Default schedule of the reconcile timer: every five minutes. */
export const DEFAULT_RECONCILE_SCHEDULE = '0 */5 * * * *';
/** Default schedule of the maintenance timer: every night at 02:00 UTC. */
export const DEFAULT_MAINTENANCE_SCHEDULE = '0 0 2 * * *';
/** Default schedule of the metrics timer: every five minutes. */
export const DEFAULT_METRICS_SCHEDULE = '0 */5 * * * *';
/** Default schedule of the tiering timer: daily at 03:00 UTC, when little else runs. */
export const DEFAULT_TIERING_SCHEDULE = '0 0 3 * * *';
/** Default consumer group. */
export const DEFAULT_CONSUMER_GROUP = '$Default';

const CONNECTION = 'SLUICE_EVENTHUB';
const IDENTITY_KEYS = ['fullyQualifiedNamespace', 'credential', 'clientId'];
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HOST = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const HUB_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,254}[A-Za-z0-9])?$/;
const CONSUMER_GROUP = /^(\$Default|[A-Za-z0-9](?:[A-Za-z0-9._-]{0,48}[A-Za-z0-9])?)$/;

/**
 * Read and validate the ingestion trigger settings.
 *
 * @param env variables to read (default `process.env`)
 * @param problems where to add problems instead of throwing (to report them with other settings')
 * @returns the settings, or undefined when `problems` was given and something is wrong
 * @throws ConfigError listing every problem, when `problems` is not given
 */
export function readIngestTriggerSettings(env: SettingsEnv = process.env, problems?: string[]): IngestTriggerSettings | undefined {
  const found: string[] = [];
  const eventHub = readEventHub(env, found);
  const reconcileSchedule = readSchedule(env, 'SLUICE_RECONCILE_SCHEDULE', DEFAULT_RECONCILE_SCHEDULE, found);
  const maintenanceSchedule = readSchedule(env, 'SLUICE_MAINTENANCE_SCHEDULE', DEFAULT_MAINTENANCE_SCHEDULE, found);
  const metricsSchedule = readSchedule(env, 'SLUICE_METRICS_SCHEDULE', DEFAULT_METRICS_SCHEDULE, found);
  const tieringSchedule = readSchedule(env, 'SLUICE_TIERING_SCHEDULE', DEFAULT_TIERING_SCHEDULE, found);
  if (found.length) {
    if (problems) {
      problems.push(...found);
      return undefined;
    }
    throw new ConfigError(found);
  }
  return Object.freeze({
    eventHub: eventHub ? Object.freeze(eventHub) : null,
    reconcileSchedule: reconcileSchedule!,
    maintenanceSchedule: maintenanceSchedule!,
    metricsSchedule: metricsSchedule!,
    tieringSchedule: tieringSchedule!,
  });
}

/**
 * Replace `%SETTING%` references (the Functions host's syntax in binding options) with their values.
 *
 * @param text a binding option, e.g. `%SLUICE_EVENTHUB_NAME%`
 * @param values setting name → value
 * @returns the text with every reference replaced
 * @throws Error naming a referenced setting that has no value
 */
export function resolveSettingReferences(text: string, values: Readonly<Record<string, string | undefined>>): string {
  return text.replace(/%([A-Za-z0-9_]+)%/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`function binding refers to %${name}%, but ${name} has no value`);
    return value;
  });
}

/**
 * The values `%SETTING%` references in function definitions resolve to (with defaults applied).
 *
 * @param settings the trigger settings
 * @returns setting name → value
 */
export function bindingSettingValues(settings: IngestTriggerSettings): Record<string, string> {
  return {
    SLUICE_RECONCILE_SCHEDULE: settings.reconcileSchedule,
    SLUICE_MAINTENANCE_SCHEDULE: settings.maintenanceSchedule,
    SLUICE_METRICS_SCHEDULE: settings.metricsSchedule,
    SLUICE_TIERING_SCHEDULE: settings.tieringSchedule,
    ...(settings.eventHub ? { SLUICE_EVENTHUB_NAME: settings.eventHub.name, SLUICE_EVENTHUB_CONSUMER_GROUP: settings.eventHub.consumerGroup } : {}),
  };
}

function readString(env: SettingsEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function readEventHub(env: SettingsEnv, problems: string[]): EventHubSettings | undefined {
  const plain = readString(env, CONNECTION);
  const keys = Object.keys(env).filter((k) => k.startsWith(`${CONNECTION}__`) && readString(env, k) !== undefined);
  const nameValue = readString(env, 'SLUICE_EVENTHUB_NAME');
  const groupValue = readString(env, 'SLUICE_EVENTHUB_CONSUMER_GROUP');
  if (plain === undefined && keys.length === 0) {
    if (nameValue !== undefined || groupValue !== undefined) {
      const set = [nameValue !== undefined ? 'SLUICE_EVENTHUB_NAME' : '', groupValue !== undefined ? 'SLUICE_EVENTHUB_CONSUMER_GROUP' : '']
        .filter(Boolean)
        .join(' and ');
      problems.push(
        `${set} ${set.includes(' and ') ? 'are' : 'is'} set but the Event Hubs connection is not: set SLUICE_EVENTHUB (a connection string) or SLUICE_EVENTHUB__fullyQualifiedNamespace (identity-based)`,
      );
    }
    return undefined;
  }
  if (plain !== undefined && keys.length > 0) {
    problems.push(`${CONNECTION} is set as a connection string and ${keys.join(', ')} as an identity-based connection; set only one form`);
    return undefined;
  }
  const before = problems.length;
  let namespace: string | undefined;
  let entityPath: string | undefined;
  if (plain !== undefined) {
    const parts = new Map<string, string>();
    for (const part of plain.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0) parts.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
    }
    const endpoint = parts.get('endpoint');
    const host = endpoint ? /^sb:\/\/([^/:]+)/i.exec(endpoint)?.[1] : undefined;
    if (!host) problems.push(`${CONNECTION} must be an Event Hubs connection string with Endpoint=sb://<namespace>/; it names no sb:// endpoint`);
    else if (!parts.has('sharedaccesskey') && !parts.has('sharedaccesssignature')) {
      problems.push(
        `${CONNECTION} must be an Event Hubs connection string with SharedAccessKeyName/SharedAccessKey or SharedAccessSignature (for managed identity set ${CONNECTION}__fullyQualifiedNamespace instead)`,
      );
    } else namespace = host.toLowerCase();
    entityPath = parts.get('entitypath') || undefined;
  } else {
    for (const key of keys) {
      const suffix = key.slice(CONNECTION.length + 2);
      if (IDENTITY_KEYS.includes(suffix)) continue;
      const near = IDENTITY_KEYS.find((k) => k.toLowerCase() === suffix.toLowerCase());
      problems.push(
        near
          ? `${key} is not a recognised setting; did you mean ${CONNECTION}__${near}? (names are case-sensitive)`
          : `${key} is not a recognised setting; expected one of ${IDENTITY_KEYS.map((k) => `${CONNECTION}__${k}`).join(', ')}`,
      );
    }
    const fqns = readString(env, `${CONNECTION}__fullyQualifiedNamespace`);
    if (fqns === undefined)
      problems.push(
        `${CONNECTION} identity-based connection needs ${CONNECTION}__fullyQualifiedNamespace (e.g. <namespace>.servicebus.windows.net); only ${keys.join(', ')} ${keys.length === 1 ? 'is' : 'are'} set`,
      );
    else if (!HOST.test(fqns))
      problems.push(
        `${CONNECTION}__fullyQualifiedNamespace must be a host name such as <namespace>.servicebus.windows.net, without sb:// or https://; got "${fqns}"`,
      );
    else namespace = fqns.toLowerCase();
    const credential = readString(env, `${CONNECTION}__credential`);
    if (credential !== undefined && credential.toLowerCase() !== 'managedidentity')
      problems.push(`${CONNECTION}__credential must be "managedidentity" (or unset); got "${credential}"`);
    const clientId = readString(env, `${CONNECTION}__clientId`);
    if (clientId !== undefined && !GUID.test(clientId))
      problems.push(`${CONNECTION}__clientId must be the client ID (a GUID) of a user-assigned managed identity; got "${clientId}"`);
  }

  const name = nameValue ?? entityPath;
  if (name === undefined) problems.push(`SLUICE_EVENTHUB_NAME is not set: name the Event Hub the app reads (or put EntityPath= in ${CONNECTION})`);
  else if (!HUB_NAME.test(name))
    problems.push(`SLUICE_EVENTHUB_NAME must be an Event Hub name (letters, digits, . _ -, starting and ending with a letter or digit); got "${name}"`);
  else if (nameValue !== undefined && entityPath !== undefined && nameValue.toLowerCase() !== entityPath.toLowerCase()) {
    problems.push(`SLUICE_EVENTHUB_NAME is "${nameValue}" but the EntityPath of ${CONNECTION} is "${entityPath}"; the host would read "${entityPath}"`);
  }
  const consumerGroup = groupValue ?? DEFAULT_CONSUMER_GROUP;
  if (!CONSUMER_GROUP.test(consumerGroup))
    problems.push(`SLUICE_EVENTHUB_CONSUMER_GROUP must be $Default or a consumer group name (letters, digits, . _ -, up to 50); got "${consumerGroup}"`);
  if (problems.length > before) return undefined;
  return { connection: CONNECTION, kind: plain !== undefined ? 'connectionString' : 'identity', namespace: namespace!, name: name!, consumerGroup };
}

function readSchedule(env: SettingsEnv, setting: string, fallback: string, problems: string[]): string | undefined {
  const value = readString(env, setting) ?? fallback;
  const problem = ncrontabProblem(value);
  if (!problem) return value;
  problems.push(
    `${setting} must be an NCRONTAB schedule "{second} {minute} {hour} {day} {month} {day-of-week}", e.g. "${fallback}"; got "${value}": ${problem}`,
  );
  return undefined;
}

/** The backup timer's settings (shared/backup; the `SLUICE_BACKUP_*` rows of the table at the top of this file). */
export interface BackupSettings {
  /** `SLUICE_BACKUP_LOCATION`; undefined: the timer does nothing. */
  readonly location?: string;
  /** `SLUICE_BACKUP_SCHEDULE` */
  readonly schedule: string;
  /** `SLUICE_BACKUP_RETENTION_DAYS` */
  readonly retentionDays: number;
  /** `SLUICE_BACKUP_MIN_VERSIONS` */
  readonly minVersions: number;
  /** `SLUICE_BACKUP_COPY_CONCURRENCY` */
  readonly copyConcurrency: number;
  /** `SLUICE_BACKUP_TABLE_CONCURRENCY` */
  readonly tableConcurrency: number;
}

/** Default schedule of the backup timer: daily at 02:00 UTC. */
export const DEFAULT_BACKUP_SCHEDULE = '0 0 2 * * *';

/**
 * Read and validate the backup settings.
 *
 * @param env variables to read (default `process.env`)
 * @param problems where to add problems instead of throwing
 * @returns the settings, or undefined when `problems` was given and something is wrong
 * @throws ConfigError naming every bad setting, when `problems` is not given
 */
export function readBackupSettings(env: SettingsEnv = process.env, problems?: string[]): BackupSettings | undefined {
  const found: string[] = [];
  const location = readString(env, 'SLUICE_BACKUP_LOCATION');
  if (location !== undefined) {
    try {
      parseLocation(location, env);
    } catch (err) {
      found.push(`SLUICE_BACKUP_LOCATION: ${(err as Error).message}`);
    }
  }
  const schedule = readSchedule(env, 'SLUICE_BACKUP_SCHEDULE', DEFAULT_BACKUP_SCHEDULE, found);
  const whole = (name: string, fallback: number, min: number, max = Infinity): number | undefined => {
    const text = readString(env, name);
    if (text === undefined) return fallback;
    if (/^\d+$/.test(text) && Number(text) >= min && Number(text) <= max) return Number(text);
    found.push(`${name} must be a whole number ${max === Infinity ? `≥ ${min}` : `from ${min} to ${max}`}; got "${text}"`);
    return undefined;
  };
  const retentionDays = whole('SLUICE_BACKUP_RETENTION_DAYS', 30, 0);
  const minVersions = whole('SLUICE_BACKUP_MIN_VERSIONS', 7, 1);
  const copyConcurrency = whole('SLUICE_BACKUP_COPY_CONCURRENCY', DEFAULT_BACKUP_COPY_CONCURRENCY, 1, 256);
  const tableConcurrency = whole('SLUICE_BACKUP_TABLE_CONCURRENCY', DEFAULT_BACKUP_TABLE_CONCURRENCY, 1, 64);
  if (found.length) {
    if (problems) {
      problems.push(...found);
      return undefined;
    }
    throw new ConfigError(found);
  }
  return Object.freeze({
    ...(location ? { location } : {}),
    schedule: schedule!,
    retentionDays: retentionDays!,
    minVersions: minVersions!,
    copyConcurrency: copyConcurrency!,
    tableConcurrency: tableConcurrency!,
  });
}
