/**
 * The refresh benchmark (issue 4), a section of `npm run bench`: silver+gold refresh throughput for
 * 1M new bronze rows on local disk. The rows are generated deterministically (a fixed-seed generator:
 * keys, stores, SKUs, quantities, prices, currencies, times, with 1% rows quarantined by an
 * expectation, 1% dropped and 2% repeated keys) and written straight into a bronze table with the
 * Delta writer, as one commit. Then `refreshTable` (the activity's work) builds silver (contract,
 * expectations, quarantine, upsert by key with key buckets) and gold (daily revenue per store,
 * partitioned by day), and applies a second increment of 100,000 rows of which half update existing
 * keys, to show what an upsert rewrites (files rewritten per update).
 *
 * Figures: seconds and rows/s per step, and rows/s of silver+gold for the 1M rows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import * as arrow from 'apache-arrow';
import { writeTable, type DeltaStruct } from '../shared/delta';
import { buildVector } from '../shared/delta/values';
import { parsePipelineDefinition } from '../shared/pipeline';
import { refreshTable, type LakeTables, type TableUpdateMetrics } from '../shared/refresh';
import { LocalStore } from '../shared/storage';
import { seededRandom } from './dataset';

/** One step's figures. */
export interface RefreshStep {
  step: string;
  table: string;
  rowsRead: number;
  seconds: number;
  rowsPerSecond: number;
  filesAdded: number;
  filesRewritten: number;
}

/** The section's result. */
export interface RefreshBenchResult {
  rows: number;
  steps: RefreshStep[];
  /** Rows per second of the silver and gold refresh of the first `rows` rows, together. */
  silverGoldRowsPerSecond: number;
}

const PIPELINE = `
name: bench
sources:
  sales:
    landing: bench/sales/
tables:
  silver.sales:
    from: sales
    sql: SELECT transaction_id, store_id, sku, quantity, unit_price, currency, event_time FROM source
    keys: [transaction_id]
    sequenceBy: event_time
    expectations:
      valid_quantity: { check: "quantity <> 0", onViolation: quarantine }
      known_currency: { check: "currency IN ('KRW','USD','EUR')", onViolation: drop }
  gold.daily_store_sales:
    from: silver.sales
    sql: SELECT store_id, CAST(event_time AS DATE) AS day, SUM(quantity * unit_price) AS revenue, COUNT(*) AS sales FROM source GROUP BY ALL
    partitionBy: [day]
`;

const SCHEMA: DeltaStruct = {
  type: 'struct',
  fields: [
    { name: 'transaction_id', type: 'string', nullable: true, metadata: {} },
    { name: 'store_id', type: 'string', nullable: true, metadata: {} },
    { name: 'sku', type: 'string', nullable: true, metadata: {} },
    { name: 'quantity', type: 'integer', nullable: true, metadata: {} },
    { name: 'unit_price', type: 'decimal(12,2)', nullable: true, metadata: {} },
    { name: 'currency', type: 'string', nullable: true, metadata: {} },
    { name: 'event_time', type: 'timestamp', nullable: true, metadata: {} },
    { name: '_load_date', type: 'date', nullable: true, metadata: {} },
  ],
};

/** Rows `[first, first + count)` as batches of 100,000; `updateShare` of them reuse earlier keys. */
function* salesBatches(first: number, count: number, seed: number, updateShare: number): Generator<arrow.RecordBatch> {
  const next = seededRandom(seed);
  const day0 = Date.UTC(2026, 0, 1);
  const currencies = ['EUR', 'USD', 'KRW'];
  for (let start = 0; start < count; start += 100_000) {
    const n = Math.min(100_000, count - start);
    const cols: unknown[][] = SCHEMA.fields.map(() => new Array(n));
    for (let i = 0; i < n; i++) {
      const seq = first + start + i;
      const r = next();
      const key = r < updateShare && first > 0 ? Math.floor(next() * first) : r < updateShare + 0.02 && seq > 0 ? seq - 1 : seq;
      cols[0][i] = `T-${String(key).padStart(9, '0')}`;
      cols[1][i] = `S${Math.floor(next() * 200)}`;
      cols[2][i] = `SKU-${Math.floor(next() * 5000)}`;
      cols[3][i] = next() < 0.01 ? 0 : 1 + Math.floor(next() * 9);
      cols[4][i] = BigInt(100 + Math.floor(next() * 99_900));
      cols[5][i] = next() < 0.01 ? 'GBP' : currencies[Math.floor(next() * 3)];
      // Microseconds; later rows of a key get later times, so updates win.
      cols[6][i] = BigInt(day0 + Math.floor((seq / 1_100_000) * 30 * 86_400_000) + Math.floor(next() * 3_600_000)) * 1000n;
      cols[7][i] = Math.floor(day0 / 86_400_000) + Math.floor((seq / 1_100_000) * 30);
    }
    const vectors: Record<string, arrow.Vector> = {};
    SCHEMA.fields.forEach((f, j) => (vectors[f.name] = buildVector(f.type, cols[j])));
    yield new arrow.Table(vectors).batches[0];
  }
}

function step(name: string, m: TableUpdateMetrics, seconds: number): RefreshStep {
  return {
    step: name,
    table: m.table,
    rowsRead: m.rowsRead,
    seconds: Number(seconds.toFixed(2)),
    rowsPerSecond: Math.round(m.rowsRead / seconds),
    filesAdded: m.filesAdded,
    filesRewritten: m.filesRewritten,
  };
}

/**
 * Run the refresh benchmark.
 *
 * @param rows new bronze rows of the first increment (default 1,000,000)
 * @param log progress lines
 * @returns the figures
 */
export async function runRefreshBench(rows = 1_000_000, log: (line: string) => void = console.log): Promise<RefreshBenchResult> {
  const root = await mkdtemp(nodePath.join(os.tmpdir(), 'sluice-bench-refresh-'));
  const lake: LakeTables = (path) => new LocalStore(nodePath.join(root, path));
  const definition = parsePipelineDefinition(PIPELINE, 'bench.yaml');
  const refresh = async (table: string) => {
    const started = performance.now();
    const m = await refreshTable({ definition, table, lake, sql: { memoryLimit: '1GB' } });
    return { m, seconds: (performance.now() - started) / 1000 };
  };
  const steps: RefreshStep[] = [];
  try {
    let t = performance.now();
    await writeTable(lake('bronze/sales'), salesBatches(0, rows, 42, 0), { partitionColumns: ['_load_date'] });
    log(`  bronze: ${rows} rows written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const silver = await refresh('silver.sales');
    steps.push(step('first build', silver.m, silver.seconds));
    log(
      `  silver.sales: ${silver.m.rowsRead} rows in ${silver.seconds.toFixed(1)} s (${silver.m.inserted} inserted, ${silver.m.duplicates} duplicates, ${silver.m.quarantined} quarantined, ${silver.m.dropped} dropped)`,
    );
    const gold = await refresh('gold.daily_store_sales');
    steps.push(step('first build', gold.m, gold.seconds));
    log(`  gold.daily_store_sales: ${gold.m.rowsRead} rows in ${gold.seconds.toFixed(1)} s`);
    const silverGoldRowsPerSecond = Math.round(rows / (silver.seconds + gold.seconds));

    t = performance.now();
    const increment = Math.max(1, Math.round(rows / 10));
    await writeTable(lake('bronze/sales'), salesBatches(rows, increment, 7, 0.5), { partitionColumns: ['_load_date'] });
    log(`  bronze: ${increment} more rows (half of them updates) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const silver2 = await refresh('silver.sales');
    steps.push(step('increment', silver2.m, silver2.seconds));
    log(
      `  silver.sales: ${silver2.m.rowsRead} rows in ${silver2.seconds.toFixed(1)} s (${silver2.m.inserted} inserted, ${silver2.m.updated} updated, ${silver2.m.filesRewritten} files rewritten)`,
    );
    const gold2 = await refresh('gold.daily_store_sales');
    steps.push(step('increment', gold2.m, gold2.seconds));
    log(`  gold.daily_store_sales: ${gold2.m.partitionsRecomputed ?? 'all'} partitions recomputed in ${gold2.seconds.toFixed(1)} s`);
    return { rows, steps, silverGoldRowsPerSecond };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * Print the figures.
 *
 * @param result what runRefreshBench returned
 * @param printTable the bench's table printer
 */
export function printRefreshResults(result: RefreshBenchResult, printTable: (title: string, header: string[], rows: (string | number)[][]) => void): void {
  printTable(
    `Silver/gold refresh on local disk (${result.rows} new bronze rows; silver+gold ${result.silverGoldRowsPerSecond} rows/s)`,
    ['step', 'table', 'rows read', 'seconds', 'rows/s', 'files added', 'files rewritten'],
    result.steps.map((s) => [s.step, s.table, s.rowsRead, s.seconds, s.rowsPerSecond, s.filesAdded, s.filesRewritten]),
  );
}
