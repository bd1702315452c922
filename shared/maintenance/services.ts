/**
 * What the maintenance activities need from the process they run in: the pipelines it serves, the
 * lake, Sluice's own tables, the landing container, and the maintenance settings. In the Functions
 * app and the local host these come from the runtime context (validated at start-up); tests pass
 * their own.
 */
import type { TableClient } from '@azure/data-tables';
import { getRuntime } from '../host/context';
import type { PipelineDefinition } from '../pipeline';
import type { LakeTables } from '../refresh/types';
import { openLakeStore, openLakeTables } from '../storage/lake';
import { EVENTS_TABLE, LEDGER_TABLE } from '../storage/lake-layout';
import type { ObjectStore } from '../storage/types';
import type { MaintainOptions } from './maintain';
import { maintenanceOptions } from './options';
import type { Catalog } from '../catalog';
import { runtimeCatalog } from '../host/catalog';

/** The maintenance activities' view of their process. */
export interface MaintenanceServices {
  /** The pipelines whose tables are maintained. */
  pipelines(): readonly PipelineDefinition[];
  lake: LakeTables;
  /** The per-table options (target size, small-file count, default retention, checkpoint interval). */
  options: MaintainOptions;
  /** `SluiceEvents`, pruned after `eventsRetentionDays`. */
  events: TableClient;
  eventsRetentionDays: number;
  /** `SluiceLedger` and the landing container, for `pruneLedger` (absent: the ledger is left alone). */
  ledger?: { table: TableClient; landing: ObjectStore };
  /** The catalog a table's maintenance commits (optimize) are recorded in (absent: not recorded). */
  catalog?: Catalog;
}

let cached: MaintenanceServices | undefined;

/**
 * The services of this process, from the runtime context (built on first use and kept).
 *
 * @returns the services
 * @throws ConfigError as `getRuntime` does
 */
export function runtimeMaintenanceServices(): MaintenanceServices {
  if (cached) return cached;
  const runtime = getRuntime();
  const { settings } = runtime;
  const tables = openLakeTables(settings.lake);
  cached = {
    pipelines: () => runtime.pipelines,
    lake: (path) => openLakeStore(settings, path),
    options: maintenanceOptions(settings, settings.checkpointInterval),
    events: tables(EVENTS_TABLE),
    eventsRetentionDays: settings.eventsRetentionDays,
    ledger: { table: tables(LEDGER_TABLE), landing: runtime.landing },
    catalog: runtimeCatalog(runtime),
  };
  return cached;
}
