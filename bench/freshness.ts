/**
 * Freshness: how long from a file landing to gold showing it, on the local host (`npm start`) with
 * the POS example pipeline.
 *
 * Setup, chosen to be what a long-running landing container looks like: Azurite is started first and
 * `pos/sales/archive/` (inside the folder the `pos_sales` source reads) is filled with PREFILL
 * (default 10,000) small sales files from earlier days; then the local host starts against that
 * Azurite, so its landing watch lists those blobs on every pass but treats them as old (its baseline),
 * as Event Grid would. A deliveries file and one sales file warm the pipeline up (first DuckDB start,
 * first table versions). Then FILES (default 20) sales files are dropped one per second, each for a
 * store of its own; the time to "gold updated" is from the upload's return to the first moment
 * `gold/daily_store_sales` has a row for that store (the table is polled every 100 ms). A run may
 * cover several files (a drop during a run makes it catch up once more).
 *
 * Runs in a child process of its own (`runFreshnessBench`), because the app reads its settings once per
 * process. `node --import tsx bench/freshness.ts` runs it alone and prints the JSON result.
 */
import { spawn } from 'node:child_process';
import * as nodePath from 'node:path';
import { connectOrStartAzurite, freePorts } from '../dev/azurite';
import { startLocalHost } from '../dev/host';
import { batchToRows, loadSnapshot, readTable } from '../shared/delta';
import { openContainerStore, openLakeStore } from '../shared/storage/lake';

const ROOT = nodePath.resolve(__dirname, '..');

/** What the freshness bench measured. */
export interface FreshnessResult {
  prefilledBlobs: number;
  files: number;
  /** Seconds from drop to gold, per file, in drop order. */
  secondsPerFile: number[];
  p50Seconds: number;
  p95Seconds: number;
  maxSeconds: number;
  /** Duration of the landing watch's last folder listing before the drops (health `lastPassMs`). */
  watchPassMs: number;
  prefillSeconds: number;
  error?: string;
}

const SALES_HEADER = 'transaction_id,store_id,sku,quantity,unit_price,currency,event_time,status,card_number';

function salesCsv(id: string, store: string, rows: number): string {
  const lines = Array.from({ length: rows }, (_, i) => `${id}-${i},${store},SKU-RED-M,${1 + (i % 3)},19.99,USD,2026-03-05 10:${String(i % 60).padStart(2, '0')}:00,,4111111111111111`);
  return `${SALES_HEADER}\n${lines.join('\n')}\n`;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/**
 * Run the measurement in this process (it starts Azurite and the local host, and stops both).
 *
 * @param options how many prefilled blobs and measured files
 * @returns the figures
 */
export async function measureFreshness(options: { prefill: number; files: number }): Promise<FreshnessResult> {
  const [port, blob, queue, table] = await freePorts(4);
  const azurite = await connectOrStartAzurite(ROOT, { ports: [blob, queue, table] });
  const lines: string[] = [];
  try {
    const prefillStarted = Date.now();
    const landing = openContainerStore({ kind: 'connectionString', setting: 'AzureWebJobsStorage', connectionString: azurite.connectionString }, 'landing', '');
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      for (let i = next++; i < options.prefill; i = next++) await landing.write(`pos/sales/archive/2025/old-${String(i).padStart(5, '0')}.csv`, salesCsv(`OLD${i}`, 'S01', 2));
    }));
    const prefillSeconds = (Date.now() - prefillStarted) / 1000;

    const host = await startLocalHost({ root: ROOT, port, azuritePorts: [blob, queue, table], inMemory: true, log: (line) => lines.push(`${new Date().toISOString().slice(11, 23)} ${line}`) });
    try {
      const gold = openLakeStore(host.runtime.settings, 'gold/daily_store_sales');
      let lastVersion = -2;
      let stores = new Set<string>();
      const goldStores = async (): Promise<Set<string>> => {
        try {
          const snapshot = await loadSnapshot(gold);
          if (snapshot.version !== lastVersion) {
            lastVersion = snapshot.version;
            stores = new Set((await readTable(snapshot)).batches.flatMap((b) => batchToRows(b, snapshot.schema)).map((r) => String(r.store_id)));
          }
        } catch {
          // Not created yet.
        }
        return stores;
      };
      const waitFor = async (store: string, timeoutMs: number) => {
        const deadline = Date.now() + timeoutMs;
        while (!(await goldStores()).has(store)) {
          if (Date.now() > deadline) throw new Error(`gold has no row for store ${store} after ${timeoutMs / 1000} s; last lines:\n${lines.slice(-20).join('\n')}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        return Date.now();
      };

      // Warm-up: deliveries (so silver.deliveries exists) and one sales file through to gold.
      await host.runtime.landing.write('pos/deliveries/warmup.csv', 'delivery_id,store_id,sku,quantity,delivered_at\nD-1,S01,SKU-RED-M,100,2026-03-05 06:00:00\n');
      await host.runtime.landing.write('pos/sales/warmup.csv', salesCsv('WARM', 'WARM', 5));
      await waitFor('WARM', 120_000);
      const health = (await (await fetch(`${host.url}/api/health`)).json()) as { landing: { watch: { lastPassMs: number } } };

      const dropped: number[] = [];
      const seen: Promise<number>[] = [];
      for (let f = 0; f < options.files; f++) {
        const at = Date.now() + 1000;
        await landing.write(`pos/sales/2026/03/05/drop-${f}.csv`, salesCsv(`F${f}`, `F${f}`, 20));
        dropped.push(Date.now());
        seen.push(waitFor(`F${f}`, 120_000));
        if (f + 1 < options.files) await new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
      }
      const times = await Promise.all(seen);
      const seconds = times.map((t, i) => round((t - dropped[i]) / 1000));
      const sorted = [...seconds].sort((a, b) => a - b);
      return {
        prefilledBlobs: options.prefill,
        files: options.files,
        secondsPerFile: seconds,
        p50Seconds: percentile(sorted, 50),
        p95Seconds: percentile(sorted, 95),
        maxSeconds: sorted[sorted.length - 1],
        watchPassMs: health.landing.watch.lastPassMs,
        prefillSeconds: round(prefillSeconds),
      };
    } finally {
      if (process.env.FRESHNESS_LOG) require('node:fs').writeFileSync(process.env.FRESHNESS_LOG, lines.join('\n'));
      await host.stop();
    }
  } finally {
    await azurite.stop();
  }
}

/**
 * Run the measurement in a child process and return its result.
 *
 * @param options prefilled blobs and measured files
 * @returns the figures (with `error` when the child failed)
 */
export function runFreshnessBench(options: { prefill: number; files: number }): Promise<FreshnessResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', nodePath.join(__dirname, 'freshness.ts'), String(options.prefill), String(options.files)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as FreshnessResult);
      } catch {
        resolve({ prefilledBlobs: options.prefill, files: options.files, secondsPerFile: [], p50Seconds: NaN, p95Seconds: NaN, maxSeconds: NaN, watchPassMs: NaN, prefillSeconds: NaN, error: `child exited ${code}: ${out.slice(-2000)}` });
      }
    });
  });
}

if (require.main === module) {
  const [prefill = '10000', files = '20'] = process.argv.slice(2);
  measureFreshness({ prefill: Number(prefill), files: Number(files) }).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`freshness: ${(err as Error).stack}\n`);
      process.exit(1);
    },
  );
}
