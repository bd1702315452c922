/**
 * What the refresh activities need from the process they run in: the pipelines it serves, the lake,
 * the event log, SQL engine limits, the PII key and the OpenLineage reporter. In the Functions app and the local host these come
 * from the runtime context (settings and `SLUICE_PIPELINES`, validated at start-up); the CLI and tests
 * pass their own.
 */
import type { PipelineDefinition } from '../pipeline';
import type { LakeTables } from '../refresh/types';
import type { Catalog } from '../catalog';
import { runtimeCatalog } from '../host/catalog';
import { getRuntime } from '../host/context';
import { sqlOptionsFromEnv, type SqlEngineOptions } from '../sql';
import { openLakeStore, openLakeTables } from '../storage/lake';
import { EVENTS_TABLE } from '../storage/lake-layout';
import { EventLog } from './event-log';
import type { TableRunReporter } from '../lineage';

/** The refresh activities' view of their process. */
export interface RunServices {
  /** The pipelines this process can refresh. */
  pipelines(): readonly PipelineDefinition[];
  lake: LakeTables;
  /** Where table updates are recorded (null: not recorded). */
  events: EventLog | null;
  sql?: SqlEngineOptions;
  /** HMAC key of `pii: hash` columns (setting `SLUICE_PII_KEY`). */
  piiKey?: string;
  /** Told of each table update's start and end (OpenLineage, settings `SLUICE_OPENLINEAGE_*`); none: not reported. */
  tableRuns?: TableRunReporter;
  /** The catalog each table update is recorded in (absent: not recorded). */
  catalog?: Catalog;
}

let cached: RunServices | undefined;

/**
 * The services of this process, from the runtime context (built on first use and kept).
 *
 * @returns the services
 * @throws ConfigError as `getRuntime` does
 */
export function runtimeServices(): RunServices {
  if (cached) return cached;
  const runtime = getRuntime();
  const tables = openLakeTables(runtime.settings.lake);
  const key = runtime.settings.piiKey;
  const sql = sqlOptionsFromEnv();
  // One reporter per process (the runtime's), so its counts cover ingestion and table updates alike.
  const reporter = runtime.openLineage;
  cached = {
    pipelines: () => runtime.pipelines,
    lake: (path) => openLakeStore(runtime.settings, path),
    events: new EventLog(tables(EVENTS_TABLE)),
    sql,
    ...(key ? { piiKey: key } : {}),
    ...(reporter ? { tableRuns: reporter } : {}),
    catalog: runtimeCatalog(runtime),
  };
  return cached;
}
