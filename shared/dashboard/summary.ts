/**
 * What the dashboard shows, in one answer (`GET /api/dashboard/summary`): each pipeline as a graph of
 * its inputs and tables with each table's state, volume and freshness, the expectation pass rates and
 * quarantine/drop counts of the latest updates, recent runs, dead letters with their reasons, and
 * storage by layer and tier.
 *
 * It is read from the same places the other routes read (table logs, the event log, the dead-letter
 * folder), so a number on the page is the number those routes answer; the page draws, it does not
 * compute. A table whose log cannot be read is shown with its reason, never left out.
 */
import { loadSnapshot, tableHistory, describeSnapshot } from '../delta';
import type { PipelineDefinition } from '../pipeline';
import { listDeadLetters } from '../ingest/deadletter-records';
import type { AccessTier, ObjectStore } from '../storage/types';
import { monthlyCost, TIERS, type PriceTable } from '../tiering/prices';
import type { EventLog, TableUpdateEvent } from '../run/event-log';
import type { DashboardNode, DashboardPipeline, DashboardRun, DashboardSummary, DashboardUpdate } from './types';

/** Where the summary reads from. */
export interface SummarySources {
  pipelines: readonly PipelineDefinition[];
  /** A store rooted at a path of the lake container. */
  lake(path: string): ObjectStore;
  events: EventLog | null;
  /** The dead-letter folder. */
  deadLetters: ObjectStore;
  /** Prices the monthly storage cost is estimated from (the tiering price table); none: no cost shown. */
  prices?: PriceTable;
  now?: Date;
}

/** Updates read per table: enough for a day of runs every quarter hour. */
const UPDATES_PER_TABLE = 100;
/** Dead letters listed; the total says when there are more. */
const DEAD_LETTERS_SHOWN = 50;
/** Commits looked back through for the last one that added rows. */
const WRITE_LOOKBACK = 20;
/** Tables read at once. */
const PARALLEL_TABLES = 8;

function layerOf(path: string): DashboardNode['layer'] {
  const first = path.split('/')[0];
  return first === 'bronze' || first === 'silver' || first === 'gold' ? first : 'other';
}

const LAYER_ORDER = ['bronze', 'silver', 'gold', 'other'];

const STAGE: Record<NonNullable<DashboardNode['layer']>, number> = { bronze: 1, silver: 2, gold: 3, other: 2 };

function toUpdate(e: TableUpdateEvent): DashboardUpdate {
  const m = e.metrics;
  return {
    runId: e.runId,
    table: e.table,
    status: e.status,
    recordedAt: e.recordedAt,
    ...(m
      ? {
          durationMs: m.durationMs,
          rowsRead: m.rowsRead,
          rowsOut: m.rowsOut,
          quarantined: m.quarantined,
          dropped: m.dropped,
          expectations: m.expectations.map((x) => ({
            name: x.name,
            onViolation: x.onViolation,
            passed: x.passed,
            failed: x.failed,
            passRate: x.passed + x.failed > 0 ? x.passed / (x.passed + x.failed) : null,
          })),
        }
      : {}),
    ...(e.error ? { error: e.error } : {}),
  };
}

/** The run start a run id carries (`refresh-<pipeline>@<ISO time>`). */
function runStart(runId: string): string | null {
  const at = Date.parse(runId.slice(runId.lastIndexOf('@') + 1));
  return Number.isNaN(at) ? null : new Date(at).toISOString();
}

async function inBatches<T, R>(items: readonly T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(work))));
  return out;
}

/** State, volume, freshness and tiers of one table. */
async function readTable(store: ObjectStore, now: number): Promise<Partial<DashboardNode>> {
  let snapshot;
  try {
    snapshot = await loadSnapshot(store);
  } catch (err) {
    const e = err as Error;
    if (e.name === 'NotATableError') return { state: 'empty', reason: 'no commit yet' };
    return { state: 'unreadable', reason: e.message.split(store.url).join('') || e.name };
  }
  const description = await describeSnapshot(snapshot);
  const history = await tableHistory(store, WRITE_LOOKBACK);
  const write = history.find((h) => (h.metrics.numOutputRows ?? 0) > 0);
  const bytesByTier: Record<string, number> = {};
  const live = new Set(description.files.map((f) => f.path));
  for await (const info of store.list('')) {
    if (!live.has(info.path)) continue;
    const tier: AccessTier | 'local' = info.accessTier ?? 'local';
    bytesByTier[tier] = (bytesByTier[tier] ?? 0) + info.size;
  }
  return {
    state: 'ok',
    version: description.version,
    rows: description.numRecords,
    files: description.numFiles,
    bytes: description.sizeBytes,
    lastWrite: write ? write.timestamp : null,
    freshnessSeconds: write ? Math.max(0, Math.round((now - Date.parse(write.timestamp)) / 1000)) : null,
    bytesByTier,
  };
}

/**
 * Build the summary.
 *
 * @param sources where to read
 * @returns the summary
 */
export async function buildDashboardSummary(sources: SummarySources): Promise<DashboardSummary> {
  const now = (sources.now ?? new Date()).getTime();
  const pipelines: DashboardPipeline[] = [];
  const updates: DashboardUpdate[] = [];
  const storage = new Map<string, number>();
  for (const definition of sources.pipelines) {
    const name = definition.name ?? 'pipeline';
    const nodes = new Map<string, DashboardNode>();
    const edges: { from: string; to: string }[] = [];
    const byKey = new Map<string, string>();
    for (const [key, source] of Object.entries(definition.sources)) {
      const input: DashboardNode = source.eventHub
        ? { id: `eventHub:${source.eventHub.name}`, kind: 'eventHub', label: source.eventHub.name, stage: 0 }
        : { id: `landing:${source.landing ?? ''}`, kind: 'landing', label: source.landing ?? key, stage: 0 };
      nodes.set(input.id, input);
      nodes.set(source.table, { id: source.table, kind: 'table', label: source.table, stage: 1, layer: layerOf(source.table), key });
      byKey.set(key, source.table);
      edges.push({ from: input.id, to: source.table });
    }
    for (const [key, table] of Object.entries(definition.tables)) {
      const layer = layerOf(table.table);
      nodes.set(table.table, { id: table.table, kind: 'table', label: table.table, stage: STAGE[layer!], layer, key });
      byKey.set(key, table.table);
    }
    for (const table of Object.values(definition.tables))
      for (const from of table.from) {
        const upstream = byKey.get(from);
        if (upstream) edges.push({ from: upstream, to: table.table });
      }
    // Freshness objectives (seconds) as the definition declares them: what the metrics timer judges too.
    const freshness = new Map<string, number>();
    for (const source of Object.values(definition.sources)) if (source.objectives?.freshness) freshness.set(source.table, source.objectives.freshness);
    for (const table of Object.values(definition.tables)) if (table.objectives?.freshness) freshness.set(table.table, table.objectives.freshness);
    const tables = [...nodes.values()].filter((n) => n.kind === 'table');
    await inBatches(tables, PARALLEL_TABLES, async (node) => {
      Object.assign(node, await readTable(sources.lake(node.id), now));
      const objective = freshness.get(node.id);
      if (objective !== undefined) {
        node.freshnessObjectiveSeconds = objective;
        if (node.state === 'ok' && (node.freshnessSeconds ?? Infinity) > objective) node.state = 'stale';
      }
      for (const [tier, bytes] of Object.entries(node.bytesByTier ?? {}))
        storage.set(`${node.layer}\u0000${tier}`, (storage.get(`${node.layer}\u0000${tier}`) ?? 0) + bytes);
      if (!sources.events || node.stage < 2 || !node.key) return;
      const recorded = (await sources.events.tableUpdates(name, node.key, UPDATES_PER_TABLE)).map(toUpdate);
      updates.push(...recorded);
      const change = recorded.find((u) => u.status === 'updated');
      if (change) node.lastChange = change;
      if (recorded[0]) {
        node.lastUpdate = recorded[0];
        if (recorded[0].status === 'failed') {
          node.state = 'failed';
          node.reason = recorded[0].error;
        }
      }
    });
    pipelines.push({ name, ...(definition.description ? { description: definition.description } : {}), nodes: [...nodes.values()], edges });
  }
  updates.sort((a, b) => (a.recordedAt < b.recordedAt ? 1 : -1));
  return {
    generatedAt: new Date(now).toISOString(),
    pipelines,
    updates,
    runs: runsOf(updates, sources.pipelines),
    deadLetters: await deadLetterView(sources.deadLetters),
    storage: [...storage]
      .map(([k, bytes]) => {
        const [layer, tier] = k.split('\u0000');
        const priced = sources.prices && (TIERS as readonly string[]).includes(tier);
        return { layer, tier, bytes, monthlyCostUsd: priced ? monthlyCost(sources.prices!, tier as AccessTier, bytes) : null };
      })
      // Tables are read in parallel: order the rows so every answer lists them alike.
      .sort((a, b) => LAYER_ORDER.indexOf(a.layer) - LAYER_ORDER.indexOf(b.layer) || TIERS.indexOf(a.tier as AccessTier) - TIERS.indexOf(b.tier as AccessTier)),
    ...(sources.prices ? { pricing: { currency: sources.prices.currency, asOf: sources.prices.asOf, source: sources.prices.source } } : {}),
  };
}

/** Runs, newest first, from the updates their tables recorded. */
function runsOf(updates: readonly DashboardUpdate[], pipelines: readonly PipelineDefinition[]): DashboardRun[] {
  const runs = new Map<string, DashboardRun>();
  for (const u of updates) {
    const pipeline = pipelines.find((p) => u.runId.startsWith(`refresh-${p.name}@`))?.name ?? u.runId.replace(/^refresh-|@.*$/g, '');
    const run = runs.get(u.runId) ?? {
      pipeline,
      runId: u.runId,
      status: 'completed',
      startedAt: runStart(u.runId),
      endedAt: u.recordedAt,
      durationMs: null,
      tables: 0,
      rowsOut: 0,
    };
    run.tables++;
    run.rowsOut += u.rowsOut ?? 0;
    if (u.status === 'failed') run.status = 'failed';
    if (u.recordedAt > run.endedAt) run.endedAt = u.recordedAt;
    run.durationMs = run.startedAt ? Date.parse(run.endedAt) - Date.parse(run.startedAt) : null;
    runs.set(u.runId, run);
  }
  return [...runs.values()].sort((a, b) => (a.endedAt < b.endedAt ? 1 : -1));
}

/** Bytes read from a record for its first bad record's reason. */
const REASON_BYTES = 16 * 1024;

/**
 * A record without a file-level reason (bad records, not a poison file) is shown with its first bad
 * record's reason, read from the record's first bytes rather than the whole document.
 */
async function firstRecordReason(folder: ObjectStore, id: string): Promise<string> {
  try {
    const head = new TextDecoder().decode(await folder.read(id, { offset: 0, length: REASON_BYTES }));
    const records = head.indexOf('"records":[');
    const match = records < 0 ? null : /"reason":("(?:[^"\\]|\\.)*")/.exec(head.slice(records));
    if (match) {
      const first = JSON.parse(match[1]) as string;
      const row = /"row":(\d+)/.exec(head.slice(records, records + match.index))?.[1];
      return row ? `row ${row}: ${first}` : first;
    }
  } catch {
    // Gone since the listing, or unreadable: the table and counts are still worth showing.
  }
  return 'bad records (see sluice deadletter show)';
}

async function deadLetterView(folder: ObjectStore): Promise<DashboardSummary['deadLetters']> {
  const records: DashboardSummary['deadLetters']['records'] = [];
  let total = 0;
  for await (const entry of listDeadLetters(folder)) {
    total++;
    if (records.length < DEAD_LETTERS_SHOWN)
      records.push({
        id: entry.id,
        table: entry.table,
        reason: entry.reason ?? (await firstRecordReason(folder, entry.id)),
        createdAt: entry.createdAt,
        rows: entry.counts?.rowsDeadLettered ?? null,
      });
  }
  records.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
  return { total, truncated: total > records.length, records };
}
