/**
 * OpenLineage run events of table updates (spec 2-0-2, openlineage.io): one job per table, named
 * `<pipeline>.<table>` in the configured job namespace, whose runs are the updates. An update emits
 * START when it begins and COMPLETE or FAIL when it ends, all three with the same run id.
 *
 * Datasets are named as OpenLineage's naming conventions name Azure storage: namespace
 * `abfss://<container>@<account>.dfs.core.windows.net`, name the table's path in the container
 * (`silver/sales`), which is how Spark on Databricks names the same Delta table, so events from both
 * meet on the same dataset. Azurite and local stores keep their container URL as the namespace.
 *
 * Facets: the job carries `jobType` (BATCH, integration SLUICE) and `sql` (the table's SELECT); the
 * run carries `parent` (the pipeline run that ran the update) and, on FAIL, `errorMessage`. Inputs
 * carry `schema` and `version` (the Delta version applied); the output carries `schema`, `version`
 * (the version committed), `columnLineage` (when derivable from the SQL), `dataQualityAssertions`
 * (one per expectation: passed when no row violated it) and, as output facet, `outputStatistics`
 * (rows and files written).
 *
 * The run id must be a UUID: it is derived from the Sluice run id and the table (a name-based UUID),
 * so a retried activity reports on the same run.
 */
import { createHash } from 'node:crypto';
import type { ExpectationCount, TableUpdateMetrics } from '../refresh/types';
import type { TableColumnLineage } from './columns';

/** The spec version the events follow. */
export const OPENLINEAGE_SCHEMA_URL = 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent';
/** Producer URI of every event and facet (a URN: the project publishes no URL of its own to name). */
export const SLUICE_PRODUCER = 'urn:sluice';

const FACET = 'https://openlineage.io/spec/facets';
const SCHEMA_URLS = {
  schema: `${FACET}/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet`,
  version: `${FACET}/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet`,
  columnLineage: `${FACET}/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet`,
  outputStatistics: `${FACET}/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet`,
  dataQualityAssertions: `${FACET}/1-1-0/DataQualityAssertionsDatasetFacet.json#/$defs/DataQualityAssertionsDatasetFacet`,
  errorMessage: `${FACET}/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet`,
  parent: `${FACET}/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet`,
  jobType: `${FACET}/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet`,
  sql: `${FACET}/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet`,
} as const;

/** Event types a table update emits. */
export type RunEventType = 'START' | 'COMPLETE' | 'FAIL';

type Facet = { _producer: string; _schemaURL: string; [field: string]: unknown };

/** An OpenLineage dataset as the events carry it. */
export interface OpenLineageDataset {
  namespace: string;
  name: string;
  facets?: Record<string, Facet>;
  outputFacets?: Record<string, Facet>;
}

/** An OpenLineage run event. */
export interface OpenLineageRunEvent {
  eventType: RunEventType;
  eventTime: string;
  producer: string;
  schemaURL: string;
  run: { runId: string; facets?: Record<string, Facet> };
  job: { namespace: string; name: string; facets?: Record<string, Facet> };
  inputs: OpenLineageDataset[];
  outputs: OpenLineageDataset[];
}

/** A dataset of an update: where it is, and what is known of it. */
export interface DatasetInfo {
  namespace: string;
  /** Path in its container. */
  name: string;
  /** Column names and Delta type names, in order. */
  fields?: { name: string; type: string }[];
  /** Delta version (read, or committed). */
  version?: number;
}

/** Everything one event says. */
export interface TableRunEventInput {
  eventType: RunEventType;
  eventTime: Date;
  /** Job namespace (setting `SLUICE_OPENLINEAGE_NAMESPACE`). */
  namespace: string;
  pipeline: string;
  /** Table name in the pipeline, e.g. `silver.sales`. */
  table: string;
  /** Sluice run id (`refresh-<pipeline>@<start>`). */
  runId: string;
  sql?: string;
  inputs: DatasetInfo[];
  output: DatasetInfo;
  /** COMPLETE: what the update did. */
  metrics?: TableUpdateMetrics;
  /** FAIL: why. */
  error?: string;
  columnLineage?: TableColumnLineage;
}

/**
 * A name-based UUID (version 5 layout over SHA-1) of a text, so the same text always gives the same id.
 *
 * @param text the name
 * @returns a UUID
 */
export function nameUuid(text: string): string {
  const hash = createHash('sha1').update(`sluice:${text}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The dataset namespace of a store's container.
 *
 * @param containerUrl URL of the container (`https://<account>.blob.core.windows.net/<container>`, Azurite's, or `file:`)
 * @returns `abfss://<container>@<account>.dfs.core.windows.net` for Azure, the URL itself otherwise
 */
export function datasetNamespace(containerUrl: string): string {
  const m = /^https:\/\/([a-z0-9]{3,24})\.(?:blob|dfs)\.core\.windows\.net\/([^/]+)\/?$/.exec(containerUrl);
  return m ? `abfss://${m[2]}@${m[1]}.dfs.core.windows.net` : containerUrl.replace(/\/+$/, '');
}

const facet = (kind: keyof typeof SCHEMA_URLS, fields: Record<string, unknown>): Facet => ({
  _producer: SLUICE_PRODUCER,
  _schemaURL: SCHEMA_URLS[kind],
  ...fields,
});

function datasetFacets(d: DatasetInfo): Record<string, Facet> {
  return {
    ...(d.fields ? { schema: facet('schema', { fields: d.fields.map((f, i) => ({ name: f.name, type: f.type, ordinal_position: i + 1 })) }) } : {}),
    ...(d.version !== undefined && d.version !== null ? { version: facet('version', { datasetVersion: String(d.version) }) } : {}),
  };
}

function assertion(e: ExpectationCount) {
  return {
    assertion: 'expectation',
    name: e.name,
    success: e.failed === 0,
    content: e.check,
    contentType: 'sql',
    // `fail` stops the update; the other actions keep it going and set the rows aside or keep them.
    severity: e.onViolation === 'fail' ? 'error' : 'warn',
    actual: `${e.failed} of ${e.passed + e.failed} rows violate it`,
    params: { onViolation: e.onViolation, passed: e.passed, failed: e.failed },
  };
}

function columnLineageFacet(lineage: TableColumnLineage, inputPaths: (table: string) => DatasetInfo | undefined): Facet | undefined {
  if (!lineage.derived) return undefined;
  const fields: Record<string, unknown> = {};
  for (const c of lineage.columns) {
    if (!c.derived) continue;
    const subtype = c.transformation === 'identity' ? 'IDENTITY' : c.transformation === 'aggregate' ? 'AGGREGATION' : 'TRANSFORMATION';
    fields[c.name] = {
      inputFields: c.inputs.flatMap((i) => {
        const d = inputPaths(i.table);
        return d
          ? [{ namespace: d.namespace, name: d.name, field: i.column, transformations: [{ type: 'DIRECT', subtype, ...(c.pii ? { masking: true } : {}) }] }]
          : [];
      }),
    };
  }
  return facet('columnLineage', { fields });
}

/**
 * Build one run event of a table update.
 *
 * @param input what the event says
 * @returns the event
 */
export function tableRunEvent(input: TableRunEventInput): OpenLineageRunEvent {
  const m = input.metrics;
  const outputFacets: Record<string, Facet> = { ...datasetFacets(input.output) };
  const lineage = input.columnLineage && columnLineageFacet(input.columnLineage, (path) => input.inputs.find((d) => d.name === path));
  if (lineage) outputFacets.columnLineage = lineage;
  if (m?.expectations.length) outputFacets.dataQualityAssertions = facet('dataQualityAssertions', { assertions: m.expectations.map(assertion) });
  const output: OpenLineageDataset = {
    namespace: input.output.namespace,
    name: input.output.name,
    facets: outputFacets,
    ...(m ? { outputFacets: { outputStatistics: facet('outputStatistics', { rowCount: m.rowsWritten, fileCount: m.filesAdded }) } } : {}),
  };
  const runFacets: Record<string, Facet> = {
    parent: facet('parent', { run: { runId: nameUuid(input.runId) }, job: { namespace: input.namespace, name: input.pipeline } }),
    ...(input.error !== undefined ? { errorMessage: facet('errorMessage', { message: input.error, programmingLanguage: 'TypeScript' }) } : {}),
  };
  return {
    eventType: input.eventType,
    eventTime: input.eventTime.toISOString(),
    producer: SLUICE_PRODUCER,
    schemaURL: OPENLINEAGE_SCHEMA_URL,
    run: { runId: nameUuid(`${input.runId}|${input.table}`), facets: runFacets },
    job: {
      namespace: input.namespace,
      name: `${input.pipeline}.${input.table}`,
      facets: {
        jobType: facet('jobType', { processingType: 'BATCH', integration: 'SLUICE', jobType: 'TABLE_UPDATE' }),
        ...(input.sql ? { sql: facet('sql', { query: input.sql, dialect: 'duckdb' }) } : {}),
      },
    },
    inputs: input.inputs.map((d) => ({ namespace: d.namespace, name: d.name, facets: datasetFacets(d) })),
    outputs: [output],
  };
}

/** A landing file committed to its bronze table. */
export interface FileIngestEventInput {
  /** Job namespace. */
  namespace: string;
  pipeline: string;
  /** The source name (the job is `<pipeline>.<source>`). */
  source: string;
  startedAt: Date;
  endedAt: Date;
  /** The landing file: its container's namespace, its path, its ETag as version. */
  file: DatasetInfo & { etag?: string };
  /** The bronze table, at the version committed. */
  output: DatasetInfo;
  rowsWritten: number;
}

/**
 * The START and COMPLETE events of one landing file's ingestion (sent together, once it committed).
 *
 * @param input the file, the table and what was written
 * @returns the two events
 */
export function fileIngestEvents(input: FileIngestEventInput): [OpenLineageRunEvent, OpenLineageRunEvent] {
  const runId = nameUuid(`ingest|${input.output.namespace}|${input.output.name}|${input.file.name}|${input.file.etag ?? ''}`);
  const job = {
    namespace: input.namespace,
    name: `${input.pipeline}.${input.source}`,
    facets: { jobType: facet('jobType', { processingType: 'BATCH', integration: 'SLUICE', jobType: 'INGEST' }) },
  };
  const fileFacets: Record<string, Facet> = input.file.etag ? { version: facet('version', { datasetVersion: input.file.etag }) } : {};
  const inputs: OpenLineageDataset[] = [{ namespace: input.file.namespace, name: input.file.name, facets: fileFacets }];
  const event = (eventType: RunEventType, at: Date, complete: boolean): OpenLineageRunEvent => ({
    eventType,
    eventTime: at.toISOString(),
    producer: SLUICE_PRODUCER,
    schemaURL: OPENLINEAGE_SCHEMA_URL,
    run: { runId },
    job,
    inputs,
    outputs: [
      {
        namespace: input.output.namespace,
        name: input.output.name,
        facets: datasetFacets(input.output),
        ...(complete ? { outputFacets: { outputStatistics: facet('outputStatistics', { rowCount: input.rowsWritten, fileCount: 1 }) } } : {}),
      },
    ],
  });
  return [event('START', input.startedAt, false), event('COMPLETE', input.endedAt, true)];
}
