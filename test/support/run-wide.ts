/**
 * A wide pipeline for the fan-out tests: one bronze table of readings and many silver tables reading
 * it, so a single plan level holds more tables than the fan-out limit. Each silver table shifts the
 * amounts by its number (so the tables differ) and quarantines the reading without an amount.
 * The helpers build the lake on Azurite and gather table facts; the tests assert.
 */
import { loadSnapshot, writeTable, type DeltaStruct } from '../../shared/delta';
import { parsePipelineDefinition, type PipelineDefinition } from '../../shared/pipeline';
import type { LakeTables } from '../../shared/refresh';
import { EventLog, type RunServices } from '../../shared/run';
import { connectionStringTables } from '../../shared/storage/lake';
import { openStore } from '../../shared/storage';
import { deltaBatch } from './refresh-helpers';
import { azuriteUri, uniqueContainer } from './azurite';
import { connectionString, sortedRows, uniqueName } from './run-lake';

/** Bronze rows: ids 1..READINGS, amount = id, except READING_WITHOUT_AMOUNT whose amount is null. */
export const READINGS = 30;
/** The id whose amount is missing (quarantined by every silver table). */
export const READING_WITHOUT_AMOUNT = 17;

const BRONZE_SCHEMA: DeltaStruct = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'integer', nullable: true, metadata: {} },
    { name: 'amount', type: 'integer', nullable: true, metadata: {} },
  ],
};

/** Silver table names of a wide pipeline (`silver.t01`…). */
export function wideTableNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `silver.t${String(i + 1).padStart(2, '0')}`);
}

/**
 * The YAML of a pipeline `wide` with `count` silver tables reading one bronze source.
 *
 * @param count number of silver tables
 * @returns the definition text
 */
export function widePipelineText(count: number): string {
  const tables = wideTableNames(count).map(
    (name, i) => `  ${name}:
    from: readings
    sql: SELECT id, amount + ${i + 1} AS amount FROM source
    expectations:
      amount_present: { check: "amount IS NOT NULL", onViolation: quarantine }`,
  );
  return `name: wide\nsources:\n  readings: { landing: wide/readings/ }\ntables:\n${tables.join('\n')}\n`;
}

/**
 * The definition of a pipeline `wide` (see widePipelineText), or of a variant of its text.
 *
 * @param count number of silver tables
 * @param edit changes to the text (default none)
 * @returns the validated definition
 */
export function widePipeline(count: number, edit: (text: string) => string = (t) => t): PipelineDefinition {
  return parsePipelineDefinition(edit(widePipelineText(count)), 'wide.yaml');
}

/** A wide lake on Azurite. */
export interface WideLake {
  container: string;
  lake: LakeTables;
  definition: PipelineDefinition;
  events: EventLog;
  services: RunServices;
}

/**
 * A fresh lake with the bronze readings written and run services over it (private event log).
 *
 * @param label container name prefix
 * @param count number of silver tables
 * @param definition the pipeline (default: widePipeline(count))
 * @returns the lake
 */
export async function wideLake(label: string, count: number, definition = widePipeline(count)): Promise<WideLake> {
  const container = uniqueContainer(label);
  const lake: LakeTables = (path) => openStore(azuriteUri(container, path));
  const rows = Array.from({ length: READINGS }, (_, i) => [i + 1, i + 1 === READING_WITHOUT_AMOUNT ? null : i + 1]);
  await writeTable(lake('bronze/readings'), [deltaBatch(BRONZE_SCHEMA, rows)]);
  const events = new EventLog(connectionStringTables(connectionString())(uniqueName('Events')));
  return { container, lake, definition, events, services: { pipelines: () => [definition], lake, events, sql: { memoryLimit: '256MB', threads: 1 } } };
}

/**
 * Every silver table's and quarantine's rows and Delta version, for comparing lakes.
 *
 * @param lake the lake
 * @param count number of silver tables
 * @returns table path → rows (quarantine times and bronze file names left out) and version
 */
export async function wideTables(lake: LakeTables, count: number): Promise<Record<string, { version: number; rows: unknown[] }>> {
  const out: Record<string, { version: number; rows: unknown[] }> = {};
  for (const name of wideTableNames(count)) {
    for (const path of [name.replace('.', '/'), `${name.replace('.', '/')}__quarantine`]) {
      out[path] = { version: (await loadSnapshot(lake(path))).version, rows: await sortedRows(lake, path, ['_quarantined_at', '_source_file']) };
    }
  }
  return out;
}
