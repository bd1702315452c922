/**
 * The event log of table updates: one record per table per run, in the Azure Table `SluiceEvents` of
 * the lake account (Azurite locally), with rows in and out, every expectation's pass/fail counts, the
 * completeness of mandatory fields (tables declaring some), the duration, the source versions
 * applied → the target version, the run id, and the update's lineage (which bronze commits, hence
 * which landing files or event ranges, the rows came from).
 *
 * Each record is stored twice, under two keys, so both questions are one partition query:
 * - events of a run: PartitionKey `run|<runId>`, RowKey `<table>`;
 * - updates of a table: PartitionKey `table|<pipeline>|<table>`, RowKey `<inverted run start>|<runId>`
 *   (newest first in key order).
 * Writes are upserts with keys derived from the run id (deterministic in the orchestrator), so a
 * retried activity rewrites its record instead of adding a second one.
 *
 * Requests to run a pipeline (`POST /api/pipelines/{name}/runs`) are recorded under PartitionKey
 * `request|<pipeline>`, RowKey `<request id>`: when asked, then which run served them (the run's plan
 * step records it). A run ends and its instance continues as the next run at once, so the status of
 * the instance alone cannot answer "how did my run end"; this record and the run's table updates can.
 */
import type { TableClient } from '@azure/data-tables';
import type { TableUpdateMetrics } from '../refresh/types';
import { tableCreation } from '../storage/lake';
import type { TableLineage } from './lineage';

/** One table update, as recorded. */
export interface TableUpdateEvent {
  runId: string;
  pipeline: string;
  table: string;
  /** `failed` when the update stopped with an error (nothing committed). */
  status: TableUpdateMetrics['status'] | 'failed';
  /** When the activity finished (ISO). */
  recordedAt: string;
  /** The metrics (absent for a failure). */
  metrics?: TableUpdateMetrics;
  lineage?: TableLineage;
  /** The error of a failed update. */
  error?: string;
}

/** A request to run a pipeline, as recorded. */
export interface RunRequestRecord {
  requestId: string;
  pipeline: string;
  /** When it was asked for (ISO); absent when only the serving run recorded it. */
  requestedAt?: string;
  /** The run serving it, once that run has planned. */
  runId?: string;
}

/** Table Storage forbids these in keys. */
const KEY_UNSAFE = /[/\\#?\u0000-\u001f\u007f]/g;
const key = (text: string) => text.replace(KEY_UNSAFE, '_');
/** Properties are limited to 64 KiB (32 K UTF-16 characters); JSON is split over numbered parts. */
const PART = 30_000;
const MAX_TICKS = 9_999_999_999_999;

/** The run start encoded in a run id (`<instance>@<ISO time>`), for ordering; 0 when absent. */
function runStartMs(runId: string): number {
  const at = Date.parse(runId.slice(runId.lastIndexOf('@') + 1));
  return Number.isNaN(at) ? 0 : at;
}

/** The event log. */
export class EventLog {
  private readonly ensure: () => Promise<void>;

  /** @param client client of the events table (created on first use) */
  constructor(readonly client: TableClient) {
    this.ensure = tableCreation(client);
  }

  /**
   * Record one table update (idempotent per run and table).
   *
   * @param event the update
   */
  async record(event: TableUpdateEvent): Promise<void> {
    await this.ensure();
    const text = JSON.stringify(event);
    const parts: Record<string, string> = {};
    for (let i = 0; i * PART < text.length; i++) parts[`json${i}`] = text.slice(i * PART, (i + 1) * PART);
    const m = event.metrics;
    const summary = {
      runId: event.runId,
      pipeline: event.pipeline,
      tableName: event.table,
      status: event.status,
      recordedAt: event.recordedAt,
      ...(m
        ? {
            rowsRead: m.rowsRead,
            rowsOut: m.rowsOut,
            inserted: m.inserted,
            updated: m.updated,
            quarantined: m.quarantined,
            dropped: m.dropped,
            durationMs: m.durationMs,
            targetVersion: m.targetVersion ?? -1,
          }
        : {}),
      // A column of its own so a dashboard over the table can chart it without parsing the JSON.
      ...(m?.completeness && m.completeness.pct !== null ? { completenessPct: m.completeness.pct } : {}),
      ...(event.error ? { error: event.error.slice(0, 8_000) } : {}),
      parts: Object.keys(parts).length,
      ...parts,
    };
    const inverted = String(MAX_TICKS - runStartMs(event.runId)).padStart(13, '0');
    await Promise.all([
      this.client.upsertEntity({ partitionKey: key(`run|${event.runId}`), rowKey: key(event.table), ...summary }, 'Replace'),
      this.client.upsertEntity(
        { partitionKey: key(`table|${event.pipeline}|${event.table}`), rowKey: key(`${inverted}|${event.runId}`), ...summary },
        'Replace',
      ),
    ]);
  }

  /**
   * Record a request to run a pipeline, or the run that serves it (idempotent; the two merge).
   *
   * @param request the request id, pipeline, and what is known now
   */
  async recordRequest(request: RunRequestRecord): Promise<void> {
    await this.ensure();
    const { requestId, pipeline, ...known } = request;
    await this.client.upsertEntity({ partitionKey: key(`request|${pipeline}`), rowKey: key(requestId), pipeline, ...known }, 'Merge');
  }

  /**
   * A recorded request.
   *
   * @param pipeline the pipeline name
   * @param requestId the id `POST /api/pipelines/{name}/runs` answered with
   * @returns the record, or undefined when no such request was made
   */
  async request(pipeline: string, requestId: string): Promise<RunRequestRecord | undefined> {
    await this.ensure();
    try {
      const e = await this.client.getEntity<Record<string, unknown>>(key(`request|${pipeline}`), key(requestId));
      return { requestId, pipeline, ...(e.requestedAt ? { requestedAt: String(e.requestedAt) } : {}), ...(e.runId ? { runId: String(e.runId) } : {}) };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  /**
   * Every table update of a run.
   *
   * @param runId the run id (`refresh-<pipeline>@<start>`, as the run's status shows it)
   * @returns the updates, by table name
   */
  async runEvents(runId: string): Promise<TableUpdateEvent[]> {
    return this.query(`PartitionKey eq '${key(`run|${runId}`).replace(/'/g, "''")}'`);
  }

  /**
   * The latest updates of a table, newest first.
   *
   * @param pipeline the pipeline name
   * @param table the table name
   * @param limit at most this many
   * @returns the updates
   */
  async tableUpdates(pipeline: string, table: string, limit = 50): Promise<TableUpdateEvent[]> {
    return this.query(`PartitionKey eq '${key(`table|${pipeline}|${table}`).replace(/'/g, "''")}'`, limit);
  }

  private async query(filter: string, limit = Infinity): Promise<TableUpdateEvent[]> {
    await this.ensure();
    const out: TableUpdateEvent[] = [];
    for await (const entity of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      const parts = Number(entity.parts ?? 0);
      let text = '';
      for (let i = 0; i < parts; i++) text += String(entity[`json${i}`] ?? '');
      out.push(JSON.parse(text) as TableUpdateEvent);
      if (out.length >= limit) break;
    }
    return out;
  }
}
