/**
 * Where Sluice keeps its own records in the lake account, named once: the folders under `_sluice/`
 * in the lake container (never read as tables: no table path starts with `_`), and every Azure Table
 * of the lake account. Every stage, front door and tool opens them by these names, so a record
 * written by one (the app in Azure, the local host, the `sluice` command) is found by the others.
 */

/** The lake container's folder for Sluice's own records; files under it are never ingested or read as tables. */
export const SLUICE_FOLDER = '_sluice';

/** Dead-letter records (`<table path>/…json`), of the app and of `sluice ingest` alike. */
export const DEAD_LETTER_FOLDER = `${SLUICE_FOLDER}/dead-letter`;

/** The ingest ledger of a table on the local disk (`<table>/_sluice/ledger`), where no Azure Table is at hand. */
export const LOCAL_LEDGER_FOLDER = `${SLUICE_FOLDER}/ledger`;

/** Payloads of the local orchestration engine too large for a table entity (the Durable extension's large-message container). */
export const ORCHESTRATION_PAYLOADS_FOLDER = `${SLUICE_FOLDER}/durable`;

/**
 * The payload folder of one local engine: engines with different tables (the local host's, the
 * CLI's) run instances of the same ids, so each purges only its own payloads.
 *
 * @param tablePrefix the engine's table prefix (`LOCAL_HOST_ENGINE_TABLES`, `CLI_ENGINE_TABLES`)
 * @returns the folder, under `ORCHESTRATION_PAYLOADS_FOLDER`
 */
export function orchestrationPayloadsFolder(tablePrefix: string): string {
  return `${ORCHESTRATION_PAYLOADS_FOLDER}/${tablePrefix}`;
}

/** Ingest ledger: one row per landing file and per Event Hubs partition watermark. */
export const LEDGER_TABLE = 'SluiceLedger';

/** Event log: requests, runs and table updates with their lineage. */
export const EVENTS_TABLE = 'SluiceEvents';

/** The catalog: one row per table of the lake container (shared/catalog). */
export const CATALOG_TABLE = 'SluiceCatalog';

/** Table prefix of the local host's orchestration engine (`SluiceDevInstances`, `SluiceDevHistory`, `SluiceDevWork`). */
export const LOCAL_HOST_ENGINE_TABLES = 'SluiceDev';

/** Table prefix of the orchestration engine `sluice pipeline run` and `sluice quarantine replay` run in their own process. */
export const CLI_ENGINE_TABLES = 'SluiceCli';

/** The local host's timer schedule monitor (last and next occurrence of each timer). */
export const LOCAL_HOST_TIMERS_TABLE = `${LOCAL_HOST_ENGINE_TABLES}Timers`;

/** The local host's Event Hubs feed (events posted to it, by hub and partition). */
export const LOCAL_HOST_EVENT_HUBS_TABLE = `${LOCAL_HOST_ENGINE_TABLES}EventHubs`;

/** The local host's journal of landing blobs delivered as BlobCreated events. */
export const LOCAL_HOST_DELIVERIES_TABLE = `${LOCAL_HOST_ENGINE_TABLES}Deliveries`;

/** Metrics: points per table and metric, and objective breaches (shared/monitoring). */
export const METRICS_TABLE = 'SluiceMetrics';
