/**
 * What the refresh activity tells about each table update it runs (`TableRunReporter`), and the
 * reporter that turns it into OpenLineage events: it looks up the datasets' schemas and versions in
 * the Delta logs, the column lineage from the SQL (cached per table and input schemas: parsing opens
 * a DuckDB), builds the event and hands it to the emitter.
 *
 * The run layer holds a `TableRunReporter` in its services (none when OpenLineage is off), so this
 * folder never imports the run. A reporter never throws: what goes wrong is logged and counted.
 */
import { formatDeltaType, loadSnapshot } from '../delta';
import { pipelineName } from '../pipeline/name';
import type { PipelineDefinition } from '../pipeline';
import type { LakeTables, TableUpdateMetrics } from '../refresh/types';
import type { SqlEngineOptions } from '../sql';
import { tablesColumnLineage, type TableColumnLineage } from './columns';
import type { OpenLineageEmitter } from './emitters';
import { datasetNamespace, tableRunEvent, type DatasetInfo, type RunEventType } from './openlineage';

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

/** Most tables whose column lineage is kept. */
const CACHE_LIMIT = 256;

/** Reports table updates as OpenLineage run events. */
export class OpenLineageReporter implements TableRunReporter {
  private readonly columns = new Map<string, Promise<TableColumnLineage>>();

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

  private async report(update: TableRunContext, eventType: RunEventType, outcome: { metrics?: TableUpdateMetrics; error?: string } = {}): Promise<void> {
    const eventTime = new Date();
    try {
      const table = update.definition.tables[update.table];
      const metrics = outcome.metrics;
      const inputs = await Promise.all(
        table.from.map((name) => {
          const applied = metrics?.sources.find((s) => s.name === name)?.toVersion;
          return this.dataset(update, update.definition.sources[name]?.table ?? update.definition.tables[name].table, applied);
        }),
      );
      const target = metrics?.targetVersion ?? undefined;
      const output = await this.dataset(update, table.table, eventType === 'COMPLETE' ? target : undefined);
      const columnLineage = eventType === 'COMPLETE' ? await this.columnLineage(update, inputs) : undefined;
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
  private async dataset(update: TableRunContext, path: string, version: number | undefined): Promise<DatasetInfo> {
    const store = update.lake(path);
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

  private columnLineage(update: TableRunContext, inputs: DatasetInfo[]): Promise<TableColumnLineage> {
    const table = update.definition.tables[update.table];
    const key = JSON.stringify([pipelineName(update.definition), update.table, table.sql, inputs.map((d) => d.fields?.map((f) => f.name) ?? null)]);
    let found = this.columns.get(key);
    if (!found) {
      if (this.columns.size >= CACHE_LIMIT) this.columns.delete(this.columns.keys().next().value!);
      found = tablesColumnLineage([{ definition: update.definition, table: update.table }], update.lake, this.sql).then(([c]) => c);
      // A failure is not kept: the next update tries again.
      found.catch(() => this.columns.delete(key));
      this.columns.set(key, found);
    }
    return found;
  }
}
