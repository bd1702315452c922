/**
 * What the refresh activity tells about each table update it runs (`TableRunReporter`), and the
 * reporter that turns it into OpenLineage events: it looks up the datasets' schemas and versions in
 * the Delta logs and the column lineage from the SQL (see ./columns.ts), builds the event and hands it
 * to the emitter.
 *
 * The run layer holds a `TableRunReporter` in its services (none when OpenLineage is off), so this
 * folder never imports the run. A reporter never throws: what goes wrong is logged and counted.
 */
import { formatDeltaType, loadSnapshot } from '../delta';
import { pipelineName } from '../pipeline/name';
import type { PipelineDefinition, SourceDefinition } from '../pipeline';
import type { IngestOutcome } from '../ingest/types';
import type { ObjectStore } from '../storage/types';
import type { LakeTables, TableUpdateMetrics } from '../refresh/types';
import type { SqlEngineOptions } from '../sql';
import { tablesColumnLineage, type TableColumnLineage } from './columns';
import type { OpenLineageEmitter } from './emitters';
import { datasetNamespace, fileIngestEvents, tableRunEvent, type DatasetInfo, type RunEventType } from './openlineage';

/** One table update, as the activity knows it. */
export interface TableRunContext {
  definition: PipelineDefinition;
  /** Table name in the pipeline. */
  table: string;
  /** The Sluice run id. */
  runId: string;
  lake: LakeTables;
  /** Where problems are reported (the activity's log). */
  log: (line: string) => void;
}

/** Told of each table update's start and end. */
export interface TableRunReporter {
  started(update: TableRunContext): Promise<void>;
  completed(update: TableRunContext, metrics: TableUpdateMetrics): Promise<void>;
  failed(update: TableRunContext, error: string): Promise<void>;
}

/** A landing file's ingestion into its bronze table, as the host knows it. */
export interface FileIngestion {
  definition: PipelineDefinition;
  source: SourceDefinition;
  /** Store rooted at the landing container. */
  landing: ObjectStore;
  /** Store rooted at the bronze table. */
  table: ObjectStore;
  outcome: IngestOutcome;
  startedAt: Date;
  log: (line: string) => void;
}

/** Reports table updates as OpenLineage run events. */
export class OpenLineageReporter implements TableRunReporter {
  /**
   * @param emitter where events go
   * @param namespace the job namespace
   * @param sql engine options for parsing the SQL (column lineage)
   */
  constructor(
    readonly emitter: OpenLineageEmitter,
    private readonly namespace: string,
    private readonly sql: SqlEngineOptions = {},
  ) {}

  started(update: TableRunContext): Promise<void> {
    return this.report(update, 'START');
  }

  completed(update: TableRunContext, metrics: TableUpdateMetrics): Promise<void> {
    return this.report(update, 'COMPLETE', { metrics });
  }

  failed(update: TableRunContext, error: string): Promise<void> {
    return this.report(update, 'FAIL', { error });
  }

  /**
   * Report a landing file committed to bronze (START and COMPLETE); other outcomes are not reported.
   *
   * @param ingestion the file, its table and the outcome
   */
  async fileIngested(ingestion: FileIngestion): Promise<void> {
    const { outcome, source } = ingestion;
    if (outcome.status !== 'committed' || outcome.version === undefined) return;
    try {
      const path = source.table;
      const output = await this.dataset(ingestion.table, path, outcome.version);
      const events = fileIngestEvents({
        namespace: this.namespace,
        pipeline: pipelineName(ingestion.definition),
        source: source.name,
        startedAt: ingestion.startedAt,
        endedAt: new Date(),
        file: { namespace: datasetNamespace(ingestion.landing.url), name: outcome.path, ...(outcome.etag ? { etag: outcome.etag } : {}) },
        output,
        rowsWritten: outcome.rowsWritten,
      });
      for (const event of events) await this.emitter.emit(event, ingestion.log);
    } catch (err) {
      ingestion.log(`OpenLineage: ingestion of ${outcome.path} not reported (the commit is not affected): ${(err as Error).message}`);
    }
  }

  private async report(update: TableRunContext, eventType: RunEventType, outcome: { metrics?: TableUpdateMetrics; error?: string } = {}): Promise<void> {
    const eventTime = new Date();
    try {
      const table = update.definition.tables[update.table];
      const metrics = outcome.metrics;
      const inputs = await Promise.all(
        table.from.map((name) => {
          const applied = metrics?.sources.find((s) => s.name === name)?.toVersion;
          const path = update.definition.sources[name]?.table ?? update.definition.tables[name].table;
          return this.dataset(update.lake(path), path, applied);
        }),
      );
      const target = metrics?.targetVersion ?? undefined;
      const output = await this.dataset(update.lake(table.table), table.table, eventType === 'COMPLETE' ? target : undefined);
      const columnLineage = eventType === 'COMPLETE' ? await this.columnLineage(update) : undefined;
      const event = tableRunEvent({
        eventType,
        eventTime,
        namespace: this.namespace,
        pipeline: pipelineName(update.definition),
        table: update.table,
        runId: update.runId,
        sql: table.sql,
        inputs,
        output,
        ...(metrics ? { metrics } : {}),
        ...(outcome.error !== undefined ? { error: outcome.error } : {}),
        ...(columnLineage ? { columnLineage } : {}),
      });
      await this.emitter.emit(event, update.log);
    } catch (err) {
      update.log(`OpenLineage: ${eventType} of ${update.table} not built (the update is not affected): ${(err as Error).message}`);
    }
  }

  /** A dataset with its schema at a version (the latest when none is given; none while it has no table). */
  private async dataset(store: ObjectStore, path: string, version: number | undefined): Promise<DatasetInfo> {
    const containerUrl = store.url.endsWith(`/${path}`) ? store.url.slice(0, -path.length - 1) : store.url;
    const base: DatasetInfo = { namespace: datasetNamespace(containerUrl), name: path };
    try {
      const snapshot = await loadSnapshot(store, version !== undefined && version >= 0 ? { version } : {});
      return { ...base, version: snapshot.version, fields: snapshot.schema.fields.map((f) => ({ name: f.name, type: formatDeltaType(f.type) })) };
    } catch (err) {
      if ((err as Error).name === 'NotATableError') return base;
      throw err;
    }
  }

  private async columnLineage(update: TableRunContext): Promise<TableColumnLineage> {
    const [found] = await tablesColumnLineage([{ definition: update.definition, table: update.table }], update.lake, this.sql);
    return found;
  }
}
