/**
 * The metrics table `SluiceMetrics` (Azure Table Storage of the lake account, Azurite locally): one
 * row per point of a series (table, metric), and one per objective breach.
 *
 * Keys: PartitionKey is the point's UTC day (`YYYY-MM-DD`), RowKey
 * `<table>|<metric>|<ISO time>|<discriminator>` with each part key-encoded (storage/table-keys.ts),
 * so a query for one table (and metric) over a range is one RowKey range per day, and retention
 * deletes whole old days. The discriminator tells apart points of one series at the same instant
 * (the run id of an update); a point written again with the same keys replaces itself, so a timer
 * tick that reads the same event-log record twice stores it once.
 *
 * The timer's own state (the time it last read the event log up to) is the row `_state|collector`,
 * whose PartitionKey sorts after every day, so retention and range queries never meet it.
 */
import type { TableClient, TableTransaction } from '@azure/data-tables';
import { tableCreation } from '../storage/lake';
import { encodeKey } from '../storage/table-keys';

/** One point of a series. */
export interface MetricPoint {
  /** Table path in the lake container (`silver/sales`), or `pipeline:<name>` for run metrics. */
  table: string;
  metric: string;
  time: Date;
  value: number;
  /** The pipeline the table belongs to. */
  pipeline?: string;
  /** Tells apart points of one series at the same time (e.g. the run id). */
  key?: string;
}

/** An objective not met at one evaluation. */
export interface ObjectiveBreach {
  time: Date;
  pipeline: string;
  table: string;
  /** `freshness`, `minPassRate` or `maxDeadLetteredRows`. */
  objective: string;
  /** What was measured (seconds, ratio or rows, as the objective's metric). */
  value: number;
  /** The objective's limit, in the same unit. */
  threshold: number;
  /** The metric the objective is about. */
  metric: string;
  message: string;
}

/** What a query asks for. */
export interface MetricQuery {
  from: Date;
  to: Date;
  table?: string;
  metric?: string;
}

/** One series as the API answers it. */
export interface MetricSeries {
  table: string;
  metric: string;
  pipeline?: string;
  points: [time: string, value: number][];
}

const STATE_PARTITION = '_state';
const DAY_MS = 86_400_000;
/** Entities per batch transaction (the service's limit). */
const BATCH = 100;

const dayOf = (time: Date) => time.toISOString().slice(0, 10);
const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;

function rowKey(table: string, metric: string, time: Date, key = ''): string {
  return `${encodeKey(table)}|${encodeKey(metric)}|${time.toISOString()}|${encodeKey(key)}`;
}

/** The UTC days from `from` to `to`, both included. */
function days(from: Date, to: Date): string[] {
  const out: string[] = [];
  for (let t = Date.parse(dayOf(from)); t <= to.getTime(); t += DAY_MS) out.push(dayOf(new Date(t)));
  return out;
}

/** The metrics table. */
export class MetricStore {
  private readonly ensure: () => Promise<void>;

  /** @param client client of the metrics table (created on first use) */
  constructor(readonly client: TableClient) {
    this.ensure = tableCreation(client);
  }

  /**
   * Store points (idempotent per table, metric, time and key).
   *
   * @param points the points
   */
  async write(points: readonly MetricPoint[]): Promise<void> {
    await this.ensure();
    const entities = points
      .filter((p) => Number.isFinite(p.value))
      .map((p) => ({
        partitionKey: dayOf(p.time),
        rowKey: rowKey(p.table, p.metric, p.time, p.key),
        kind: 'point',
        table: p.table,
        metric: p.metric,
        time: p.time.toISOString(),
        value: p.value,
        ...(p.pipeline ? { pipeline: p.pipeline } : {}),
      }));
    await this.upsertAll(entities);
  }

  /**
   * Record objective breaches (each also a point of the series `breach.<objective>` of its table).
   *
   * @param breaches the breaches
   */
  async recordBreaches(breaches: readonly ObjectiveBreach[]): Promise<void> {
    await this.ensure();
    await this.upsertAll(
      breaches.map((b) => ({
        partitionKey: dayOf(b.time),
        rowKey: rowKey(b.table, `breach.${b.objective}`, b.time),
        kind: 'breach',
        table: b.table,
        metric: `breach.${b.objective}`,
        time: b.time.toISOString(),
        value: b.value,
        pipeline: b.pipeline,
        objective: b.objective,
        threshold: b.threshold,
        objectiveMetric: b.metric,
        message: b.message.slice(0, 8_000),
      })),
    );
  }

  private async upsertAll(entities: ({ partitionKey: string; rowKey: string } & Record<string, unknown>)[]): Promise<void> {
    const byDay = new Map<string, typeof entities>();
    for (const e of entities) byDay.set(e.partitionKey, [...(byDay.get(e.partitionKey) ?? []), e]);
    for (const group of byDay.values()) {
      for (let i = 0; i < group.length; i += BATCH) {
        const actions: TableTransaction['actions'] = group.slice(i, i + BATCH).map((e) => ['upsert', e, 'Replace']);
        await this.client.submitTransaction(actions);
      }
    }
  }

  /**
   * The series with points in a range, in table then metric order, points oldest first.
   *
   * @param query range and optional table and metric
   * @returns the series (breach points included, as series `breach.<objective>`)
   */
  async query(query: MetricQuery): Promise<MetricSeries[]> {
    await this.ensure();
    const series = new Map<string, MetricSeries>();
    for await (const e of this.entities(query)) {
      const id = `${e.table}\u0000${e.metric}`;
      let s = series.get(id);
      if (!s) {
        s = { table: String(e.table), metric: String(e.metric), ...(e.pipeline ? { pipeline: String(e.pipeline) } : {}), points: [] };
        series.set(id, s);
      }
      s.points.push([String(e.time), Number(e.value)]);
    }
    const out = [...series.values()].sort((a, b) => (a.table === b.table ? (a.metric < b.metric ? -1 : 1) : a.table < b.table ? -1 : 1));
    for (const s of out) s.points.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out;
  }

  /**
   * The objective breaches recorded in a range, oldest first.
   *
   * @param query range and optional table
   * @returns the breaches
   */
  async breaches(query: Omit<MetricQuery, 'metric'>): Promise<ObjectiveBreach[]> {
    await this.ensure();
    const out: ObjectiveBreach[] = [];
    for await (const e of this.entities(query, "kind eq 'breach'")) {
      out.push({
        time: new Date(String(e.time)),
        pipeline: String(e.pipeline ?? ''),
        table: String(e.table),
        objective: String(e.objective),
        value: Number(e.value),
        threshold: Number(e.threshold),
        metric: String(e.objectiveMetric ?? ''),
        message: String(e.message ?? ''),
      });
    }
    return out.sort((a, b) => a.time.getTime() - b.time.getTime());
  }

  private async *entities(query: MetricQuery, extra?: string): AsyncGenerator<Record<string, unknown>> {
    const { from, to } = query;
    for (const day of days(from, to)) {
      const parts = [`PartitionKey eq ${quote(day)}`];
      if (query.table !== undefined) {
        const prefix = query.metric !== undefined ? `${encodeKey(query.table)}|${encodeKey(query.metric)}|` : `${encodeKey(query.table)}|`;
        // '}' sorts right after '|': the range holds exactly the keys starting with the prefix.
        parts.push(`RowKey ge ${quote(prefix)}`, `RowKey lt ${quote(`${prefix.slice(0, -1)}}`)}`);
      } else if (query.metric !== undefined) parts.push(`metric eq ${quote(query.metric)}`);
      if (extra) parts.push(extra);
      const filter = parts.join(' and ');
      for await (const e of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
        const time = Date.parse(String(e.time));
        if (time >= from.getTime() && time <= to.getTime()) yield e;
      }
    }
  }

  /**
   * Remove every row older than the cutoff (the retention).
   *
   * @param cutoff rows with an earlier time go
   * @returns how many rows were removed
   */
  async removeBefore(cutoff: Date): Promise<number> {
    await this.ensure();
    const byDay = new Map<string, string[]>();
    const filter = `PartitionKey le ${quote(dayOf(cutoff))}`;
    for await (const e of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter, select: ['PartitionKey', 'RowKey', 'time'] } })) {
      if (e.partitionKey === STATE_PARTITION || !(Date.parse(String(e.time)) < cutoff.getTime())) continue;
      byDay.set(e.partitionKey!, [...(byDay.get(e.partitionKey!) ?? []), e.rowKey!]);
    }
    let removed = 0;
    for (const [day, rows] of byDay) {
      for (let i = 0; i < rows.length; i += BATCH) {
        const chunk = rows.slice(i, i + BATCH);
        await this.client.submitTransaction(chunk.map((row) => ['delete', { partitionKey: day, rowKey: row }]));
        removed += chunk.length;
      }
    }
    return removed;
  }

  /**
   * The time the collector last read the event log up to.
   *
   * @returns the time, or undefined before the first collection
   */
  async readWatermark(): Promise<Date | undefined> {
    await this.ensure();
    try {
      const e = await this.client.getEntity<{ eventsUntil?: string }>(STATE_PARTITION, 'collector');
      return e.eventsUntil ? new Date(e.eventsUntil) : undefined;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  /**
   * Remember the time the collector read the event log up to.
   *
   * @param time the time
   */
  async writeWatermark(time: Date): Promise<void> {
    await this.ensure();
    await this.client.upsertEntity({ partitionKey: STATE_PARTITION, rowKey: 'collector', eventsUntil: time.toISOString() }, 'Replace');
  }
}
