/**
 * Helpers of the run tests: an example pipeline's lake (POS, FIRE) in a fresh Azurite container,
 * bronze filled from the example files by the real ingest stage (inference, ledger, lane commits
 * naming each file), run services over it with a private event log table, engines with private
 * orchestration tables, and table contents for comparisons. They gather facts; the tests assert.
 */
import { randomBytes } from 'node:crypto';
import * as nodePath from 'node:path';
import { inject } from 'vitest';
import { batchToRows, loadSnapshot, readTable } from '../../shared/delta';
import type { JsonValue } from '../../shared/delta/rows';
import { ingestFile, TableLedger, type IngestOutcome } from '../../shared/ingest';
import { OrchestrationEngine, type EngineOptions, type OrchestrationRegistry } from '../../shared/orchestration';
import { loadPipelineDefinition, type PipelineDefinition } from '../../shared/pipeline';
import type { LakeTables } from '../../shared/refresh';
import { EventLog, type RunServices } from '../../shared/run';
import { connectionStringTables } from '../../shared/storage/lake';
import { ingestSourceOf } from '../../shared/host';
import { LocalStore, openStore } from '../../shared/storage';
import { azuriteUri, uniqueContainer } from './azurite';

/** Repository root. */
export const ROOT = nodePath.join(__dirname, '..', '..');
/** The example pipeline. */
export const POS_PIPELINE = nodePath.join(ROOT, 'examples', 'pipelines', 'pos.yaml');
/** Folder standing in for the landing container (files under `pos/`). */
export const EXAMPLES_DATA = nodePath.join(ROOT, 'examples', 'data');

/** The test Azurite's connection string. */
export function connectionString(): string {
  return process.env.SLUICE_STORAGE_CONNECTION_STRING || inject('azuriteConnectionString');
}

/** A fresh Table Storage name part. */
export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

/** An example pipeline's lake on Azurite with its event log. */
export interface RunLake {
  container: string;
  lake: LakeTables;
  definition: PipelineDefinition;
  eventsTable: string;
  events: EventLog;
  services: RunServices;
}

/**
 * A fresh lake for the POS pipeline.
 *
 * @param label container name prefix
 * @returns lake, definition, event log and services
 */
export async function posLake(label: string): Promise<RunLake> {
  return exampleLake(label, POS_PIPELINE);
}

/**
 * A fresh lake for an example pipeline.
 *
 * @param label container name prefix
 * @param pipelineFile the definition file
 * @returns lake, definition, event log and services
 */
export async function exampleLake(label: string, pipelineFile: string): Promise<RunLake> {
  const container = uniqueContainer(label);
  const lake: LakeTables = (path) => openStore(azuriteUri(container, path));
  const definition = await loadPipelineDefinition(pipelineFile);
  const eventsTable = uniqueName('Events');
  const events = new EventLog(connectionStringTables(connectionString())(eventsTable));
  return {
    container,
    lake,
    definition,
    eventsTable,
    events,
    services: { pipelines: () => [definition], lake, events, sql: { memoryLimit: '256MB', threads: 1 } },
  };
}

/**
 * Ingest example files into their bronze tables with the ingest stage.
 *
 * @param run the lake
 * @param files `[source, file under examples/data/pos]` pairs
 * @param ledgerTable ledger table name (one per lake)
 * @returns the outcomes, in order
 */
export async function ingestExamples(run: RunLake, files: [source: string, file: string][], ledgerTable: string): Promise<IngestOutcome[]> {
  return ingestLanding(
    run,
    files.map(([source, file]) => [source, `pos/${file}`]),
    ledgerTable,
  );
}

/**
 * Ingest files of examples/data (the landing container's stand-in) into their bronze tables with the
 * ingest stage.
 *
 * @param run the lake
 * @param files `[source, path under examples/data]` pairs
 * @param ledgerTable ledger table name (one per lake)
 * @returns the outcomes, in order
 */
export async function ingestLanding(run: RunLake, files: [source: string, path: string][], ledgerTable: string): Promise<IngestOutcome[]> {
  const landing = new LocalStore(EXAMPLES_DATA);
  const ledger = TableLedger.fromConnectionString(connectionString(), ledgerTable);
  const out: IngestOutcome[] = [];
  for (const [sourceName, path] of files) {
    const source = run.definition.sources[sourceName];
    out.push(
      await ingestFile({
        landing,
        path,
        table: run.lake(source.table),
        source: ingestSourceOf(source),
        ledger,
        deadLetter: { store: run.lake('_sluice/dead-letter'), prefix: `${source.table}/` },
      }),
    );
  }
  return out;
}

/**
 * An engine with private tables.
 *
 * @param registry functions
 * @param options overrides (hostId, tablePrefix…)
 * @returns the engine
 */
export function runEngine(registry: OrchestrationRegistry, options: Partial<EngineOptions> = {}): OrchestrationEngine {
  return new OrchestrationEngine(registry, {
    connectionString: connectionString(),
    tablePrefix: uniqueName('Run'),
    maxConcurrentActivities: 4,
    leaseMs: 15_000,
    pollMs: 25,
    ...options,
  });
}

/**
 * A table's rows sorted by their JSON text (hidden layout columns included).
 *
 * @param lake the lake
 * @param path table path
 * @param omit columns left out (values that differ between lakes by nature: times, data file names)
 * @returns the rows
 */
export async function sortedRows(lake: LakeTables, path: string, omit: string[] = []): Promise<Record<string, JsonValue>[]> {
  const snapshot = await loadSnapshot(lake(path));
  const table = await readTable(snapshot);
  const rows = table.batches.flatMap((b) => batchToRows(b, snapshot.schema));
  for (const row of rows) for (const c of omit) delete row[c];
  const text = (r: unknown) => JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
  return rows.sort((a, b) => (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0));
}

/** Tables of the POS pipeline compared between lakes (quarantine included). */
export const POS_TABLES = [
  'silver/sales',
  'silver/sales__quarantine',
  'silver/deliveries',
  'silver/deliveries__quarantine',
  'gold/daily_store_sales',
  'gold/store_stock',
];

/**
 * Every POS table's rows, for comparing two lakes (quarantine times and bronze file names left out).
 *
 * @param lake the lake
 * @returns table path → sorted rows
 */
export async function posTables(lake: LakeTables): Promise<Record<string, Record<string, JsonValue>[]>> {
  const out: Record<string, Record<string, JsonValue>[]> = {};
  for (const path of POS_TABLES) out[path] = await sortedRows(lake, path, ['_quarantined_at', '_source_file']);
  return out;
}
