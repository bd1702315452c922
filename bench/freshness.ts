/**
 * Freshness: how long from a file landing to gold showing it, on the local host (`npm start`) with
 * the POS example pipeline.
 *
 * Setup, chosen to be what a long-running landing container looks like: Azurite is started first and
 * `pos/sales/archive/` (inside the folder the `pos_sales` source reads) is filled with PREFILL
 * (default 10,000) small sales files from earlier days; then the local host starts against that
 * Azurite, so its landing watch lists those blobs on every pass but treats them as old (its baseline),
 * as Event Grid would (the reconcile timer, which would ingest them all, is moved out of the way). A
 * deliveries file and one sales file warm the pipeline up (first DuckDB start, first table versions).
 * Then FILES (default 20) sales files are dropped one per second, each for a store of its own; the
 * time to "gold updated" is from the upload's return to the first moment `gold/daily_store_sales` has
 * a row for that store (one poller reads the table every 100 ms for all the files waiting). A run may
 * cover several files (a drop during a run makes it catch up once more). The result also gives, per
 * file, the time to its bronze commit (from the host's log line), which splits the freshness into
 * discovery plus ingestion and the refresh, and the number of refresh runs the drops caused.
 *
 * Runs in a child process of its own (`runFreshnessBench`), because the app reads its settings once per
 * process. `node --import tsx bench/freshness.ts` runs it alone and prints the JSON result.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { connectOrStartAzurite, freePorts } from '../dev/azurite';
import { startLocalHost } from '../dev/host';
import { batchToRows, loadSnapshot, readTable, refreshSnapshot, type Snapshot } from '../shared/delta';
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
  /** Seconds from drop to the file's bronze commit (found by the landing watch and ingested), per file. */
  bronzeSecondsPerFile: number[];
  /** Median of `bronzeSecondsPerFile`: the part of the freshness spent before the refresh. */
  p50BronzeSeconds: number;
  /** Refresh runs completed from the first drop to the last file reaching gold. */
  runs: number;
  /** Duration of the landing watch's last folder listing before the drops (health `lastPassMs`). */
  watchPassMs: number;
  prefillSeconds: number;
  error?: string;
}

const SALES_HEADER = 'transaction_id,store_id,sku,quantity,unit_price,currency,event_time,status,card_number';

function salesCsv(id: string, store: string, rows: number): string {
  const lines = Array.from(
    { length: rows },
    (_, i) => `${id}-${i},${store},SKU-RED-M,${1 + (i % 3)},19.99,USD,2026-03-05 10:${String(i % 60).padStart(2, '0')}:00,,4111111111111111`,
  );
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
  const ingestedAt = new Map<number, number>();
  let runsCompleted = 0;
  try {
    const prefillStarted = Date.now();
    const landing = openContainerStore({ kind: 'connectionString', setting: 'AzureWebJobsStorage', connectionString: azurite.connectionString }, 'landing', '');
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let i = next++; i < options.prefill; i = next++)
          await landing.write(`pos/sales/archive/2025/old-${String(i).padStart(5, '0')}.csv`, salesCsv(`OLD${i}`, 'S01', 2));
      }),
    );
    const prefillSeconds = (Date.now() - prefillStarted) / 1000;

    // The prefilled blobs stand for files ingested long ago. The reconcile timer (every 5 minutes by
    // default) would take them for missed files and ingest all 10,000 in the middle of the
    // measurement whenever a five-minute mark falls inside it, so it fires only at New Year here.
    process.env.SLUICE_RECONCILE_SCHEDULE = '0 0 0 1 1 *';
    const host = await startLocalHost({
      root: ROOT,
      port,
      azuritePorts: [blob, queue, table],
      inMemory: true,
      log: (line) => {
        lines.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
        const ingested = /^blobCreated: landing\/pos\/sales\/2026\/03\/05\/drop-(\d+)\.csv .*committed/.exec(line);
        if (ingested) ingestedAt.set(Number(ingested[1]), Date.now());
        if (/orchestration refresh refresh-pos: Completed/.test(line)) runsCompleted++;
      },
    });
    try {
      const gold = openLakeStore(host.runtime.settings, 'gold/daily_store_sales');
      // One poller for every waiter: 20 waiters each loading the gold snapshot every 100 ms would put
      // some 200 snapshot loads a second on Azurite and on this process, which runs the host too, and
      // slow down what is being measured.
      const waiting = new Map<string, { resolve: (at: number) => void; reject: (err: Error) => void; deadline: number }>();
      let lastVersion = -2;
      let stores = new Set<string>();
      let polling: Promise<void> | undefined;
      // Once loaded, the snapshot is brought forward by reading the next commit file (one GET, a 404
      // when nothing is new) rather than listing the log each time: Azurite scans every blob of the
      // account for a listing, and 10 listings a second would slow what is being measured.
      let current: Snapshot | undefined;
      const poll = async (): Promise<void> => {
        while (waiting.size > 0) {
          try {
            const snapshot = (current = current ? await refreshSnapshot(current) : await loadSnapshot(gold));
            if (snapshot.version !== lastVersion) {
              lastVersion = snapshot.version;
              stores = new Set((await readTable(snapshot)).batches.flatMap((b) => batchToRows(b, snapshot.schema)).map((r) => String(r.store_id)));
            }
          } catch {
            // Not created yet.
          }
          const now = Date.now();
          for (const [store, waiter] of waiting) {
            if (stores.has(store)) waiter.resolve(now);
            else if (now > waiter.deadline)
              waiter.reject(new Error(`gold has no row for store ${store} after the time allowed; last lines:\n${lines.slice(-20).join('\n')}`));
            else continue;
            waiting.delete(store);
          }
          if (waiting.size > 0) await new Promise((r) => setTimeout(r, 100));
        }
        polling = undefined;
      };
      /** Resolves with the first time gold was seen holding a row of the store. */
      const waitFor = (store: string, timeoutMs: number): Promise<number> =>
        new Promise<number>((resolve, reject) => {
          waiting.set(store, { resolve, reject, deadline: Date.now() + timeoutMs });
          polling ??= poll();
        });

      // Warm-up: deliveries (so silver.deliveries exists) and one sales file through to gold.
      await host.runtime.landing.write(
        'pos/deliveries/warmup.csv',
        'delivery_id,store_id,sku,quantity,delivered_at\nD-1,S01,SKU-RED-M,100,2026-03-05 06:00:00\n',
      );
      await host.runtime.landing.write('pos/sales/warmup.csv', salesCsv('WARM', 'WARM', 5));
      await waitFor('WARM', 120_000);
      const health = (await (await fetch(`${host.url}/api/health`)).json()) as { landing: { watch: { lastPassMs: number } } };

      const runsBefore = runsCompleted;
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
      const bronze = dropped.map((at, i) => (ingestedAt.has(i) ? round((ingestedAt.get(i)! - at) / 1000) : NaN));
      return {
        prefilledBlobs: options.prefill,
        files: options.files,
        secondsPerFile: seconds,
        p50Seconds: percentile(sorted, 50),
        p95Seconds: percentile(sorted, 95),
        maxSeconds: sorted[sorted.length - 1],
        bronzeSecondsPerFile: bronze,
        p50BronzeSeconds: percentile(
          [...bronze].sort((a, b) => a - b),
          50,
        ),
        runs: runsCompleted - runsBefore,
        watchPassMs: health.landing.watch.lastPassMs,
        prefillSeconds: round(prefillSeconds),
      };
    } finally {
      if (process.env.FRESHNESS_LOG) writeFileSync(process.env.FRESHNESS_LOG, lines.join('\n'));
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
    const child = spawn(process.execPath, ['--import', 'tsx', nodePath.join(__dirname, 'freshness.ts'), String(options.prefill), String(options.files)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as FreshnessResult);
      } catch {
        resolve({
          prefilledBlobs: options.prefill,
          files: options.files,
          secondsPerFile: [],
          p50Seconds: NaN,
          p95Seconds: NaN,
          maxSeconds: NaN,
          bronzeSecondsPerFile: [],
          p50BronzeSeconds: NaN,
          runs: NaN,
          watchPassMs: NaN,
          prefillSeconds: NaN,
          error: `child exited ${code}: ${out.slice(-2000)}`,
        });
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
