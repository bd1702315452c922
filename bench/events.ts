/**
 * Event Hubs ingest (bench section `events`): batches of ~200-byte JSON events through `ingestEvents`
 * (the stage the `eventHubIngest` function and the local host's Event Hubs stand-in both reach through
 * `ingestHubBatch`, with the same options) into one bronze table, on local disk and on Azurite.
 *
 * | setting | default | what |
 * |---|---|---|
 * | BENCH_EVENTS | 300000 | events per cell on local disk |
 * | BENCH_EVENTS_AZURITE | 50000 | events per cell on Azurite (its in-memory store slows as it fills) |
 * | BENCH_EVENT_PARTITIONS | 4 | partitions ingested at the same time (one batch in flight each) |
 * | BENCH_EVENT_BATCHES | 100,1000 | batch sizes (host.json's `maxEventBatchSize`) |
 * | BENCH_EVENTS_BUDGET_S | 120 | seconds per cell at most; a cell cut short reports what it did |
 * | BENCH_EVENTS_WARMUP | 20000 | events ingested first, in the same process, into a table of their own (not timed) |
 * | BENCH_EVENTS_PROFILE | unset | a folder: the cells run under `node --cpu-prof` and write their profiles there |
 *
 * A cell is one backend and one batch size. The events are spread over the partitions as a hub spreads
 * them, and each partition's batches go in order, one at a time, as the Functions host delivers them
 * (one invocation per partition in flight); the partitions run concurrently in one process, so their
 * intents meet in the table's commit lane and are committed together, as on one instance. Bodies are
 * JSON objects as the Node Functions library hands them (already decoded), taken from a pool of 8,192
 * made before the cell starts (bodyOf).
 *
 * Each cell runs in a child process of its own (this file run as a script), so its CPU seconds and peak
 * RSS are its own; time is taken around the ingestion alone. A Functions instance ingests for hours:
 * the cell first sends `BENCH_EVENTS_WARMUP` events the same way into a table of their own, so that the
 * figure is the instance's steady pace, not its start (module compilation, the encoding workers'
 * start-up); the warm-up's own pace is reported beside it as the cold figure. After the cell, the child checks that the
 * table holds exactly the events sent (row counts of the added files) and that every partition's txn
 * is its last sequence number: a figure of a run that lost or doubled events is an error, not a figure.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { loadSnapshot, txnVersion } from '../shared/delta';
import { hubAppId, ingestEvents } from '../shared/ingest/events';
import type { HubEvent, HubPartition } from '../shared/ingest/types';
import { openStore } from '../shared/storage/location';
import { runReportingChild } from './report-child';

const REPORT_PREFIX = 'events-child-report ';
const T0 = Date.UTC(2026, 0, 31, 12, 0, 0);

/** One cell, as the parent hands it to the child. */
interface CellSpec {
  backend: 'local' | 'azurite';
  /** Table and dead-letter locations (paths or Azurite URLs). */
  table: string;
  deadLetter: string;
  batchSize: number;
  events: number;
  partitions: number;
  budgetMs: number;
  /** Events sent first into a table of their own, untimed in the figure. */
  warmup: number;
}

/** One cell's figures. */
export interface EventsFigure {
  backend: 'local' | 'azurite';
  batchSize: number;
  partitions: number;
  /** Events ingested (fewer than asked when the cell hit its time budget). */
  events: number;
  /** Mean body size in bytes (JSON text). */
  bodyBytes: number;
  seconds: number;
  eventsPerSecond: number;
  cpuSeconds: number;
  peakRssMiB: number;
  /** Events of the warm-up, and its pace (the process starting cold). */
  warmupEvents: number;
  coldEventsPerSecond: number;
  batches: number;
  /** Table versions the batches took (commits through the lane). */
  commits: number;
  /** Data files the table holds afterwards. */
  files: number;
  cutShort: boolean;
  error?: string;
}

/** What the section measured. */
export interface EventsBenchResult {
  figures: EventsFigure[];
  /** 1, 5 and 15 minute load averages before the first cell and after the last (other work skews the figures). */
  loadAverage: { start: number[]; end: number[] };
  /** When the section ran (ISO 8601). */
  date: string;
}

/** Options of the section. */
export interface EventsBenchOptions {
  /** Blob endpoint of a running Azurite (its cells are skipped when absent). */
  azuriteEndpoint?: string;
  log?: (line: string) => void;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

function whole(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: '${text}' is not a positive whole number`);
  return n;
}

/**
 * Run every cell (local disk first, then Azurite), each in a child process.
 *
 * @param options Azurite endpoint, progress output
 * @returns the figures
 */
export async function runEventsBench(options: EventsBenchOptions): Promise<EventsBenchResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const batchSizes = (process.env.BENCH_EVENT_BATCHES ?? '100,1000').split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_EVENT_BATCHES: '${s}' is not a positive whole number`);
    return n;
  });
  const counts = { local: whole('BENCH_EVENTS', 300_000), azurite: whole('BENCH_EVENTS_AZURITE', 50_000) };
  const partitions = whole('BENCH_EVENT_PARTITIONS', 4);
  const budgetMs = whole('BENCH_EVENTS_BUDGET_S', 120) * 1000;
  const warmup = process.env.BENCH_EVENTS_WARMUP === '0' ? 0 : whole('BENCH_EVENTS_WARMUP', 20_000);
  const work = await mkdtemp(nodePath.join(os.tmpdir(), 'sluice-bench-events-'));
  const figures: EventsFigure[] = [];
  const start = os.loadavg().map((n) => round(n, 2));
  let cell = 0;
  try {
    for (const backend of ['local', 'azurite'] as const) {
      if (backend === 'azurite' && !options.azuriteEndpoint) continue;
      for (const batchSize of batchSizes) {
        const base = backend === 'local' ? nodePath.join(work, `cell-${cell}`) : `${options.azuriteEndpoint}/bench-events-${process.pid}-${cell}`;
        cell++;
        const spec: CellSpec = {
          backend,
          table: `${base}/bronze/events`,
          deadLetter: `${base}/deadletter`,
          batchSize,
          events: counts[backend],
          partitions,
          budgetMs,
          warmup,
        };
        let figure: EventsFigure;
        try {
          figure = await runChild(spec, work);
        } catch (err) {
          figure = {
            backend,
            batchSize,
            partitions,
            events: 0,
            bodyBytes: NaN,
            seconds: NaN,
            eventsPerSecond: NaN,
            cpuSeconds: NaN,
            peakRssMiB: NaN,
            warmupEvents: 0,
            coldEventsPerSecond: NaN,
            batches: 0,
            commits: NaN,
            files: NaN,
            cutShort: false,
            error: (err as Error).message.slice(0, 500),
          };
        }
        figures.push(figure);
        log(
          `  events ${backend.padEnd(7)} batch ${String(batchSize).padStart(5)}: ${
            figure.error
              ? `FAILED: ${figure.error}`
              : `${figure.events} events in ${figure.seconds} s, ${figure.eventsPerSecond} events/s${figure.cutShort ? ' (cut short by the budget)' : ''}${figure.warmupEvents ? ` (after ${figure.warmupEvents} warm-up events at ${figure.coldEventsPerSecond} events/s from a cold start)` : ''}`
          }`,
        );
        if (backend === 'local') await rm(base, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { figures, loadAverage: { start, end: os.loadavg().map((n) => round(n, 2)) }, date: new Date().toISOString() };
}

/**
 * Print the section's table.
 *
 * @param result the figures
 * @param printTable the bench's table printer
 */
export function printEventsResults(result: EventsBenchResult, printTable: (title: string, header: string[], rows: (string | number)[][]) => void): void {
  const f = result.figures[0];
  printTable(
    `Event Hubs ingest: ~${f ? Math.round(f.bodyBytes) : 200}-byte JSON events through ingestEvents into one bronze table, ${f?.partitions ?? '?'} partitions at once (goal: ≥ 100,000 events/s on local disk at batch 1,000)`,
    ['backend', 'batch', 'events', 'seconds', 'events/s', 'CPU s', 'peak RSS MiB', 'batches', 'commits', 'files', 'warm-up events', 'cold events/s', 'note'],
    result.figures.map((r) => [
      r.backend,
      r.batchSize,
      r.events,
      r.seconds,
      r.eventsPerSecond,
      r.cpuSeconds,
      r.peakRssMiB,
      r.batches,
      r.commits,
      r.files,
      r.warmupEvents,
      r.warmupEvents ? r.coldEventsPerSecond : '',
      r.error ? `FAILED: ${r.error.slice(0, 80)}` : r.cutShort ? 'cut short by the time budget' : '',
    ]),
  );
  console.log(`events: load average ${result.loadAverage.start.join(' ')} before, ${result.loadAverage.end.join(' ')} after`);
}

function runChild(spec: CellSpec, cwd: string): Promise<EventsFigure> {
  const profile = process.env.BENCH_EVENTS_PROFILE;
  const nodeFlags = profile ? ['--cpu-prof', `--cpu-prof-dir=${nodePath.resolve(profile)}`] : [];
  return runReportingChild({ script: [__filename, 'cell'], spec, prefix: REPORT_PREFIX, tmpdir: cwd, nodeFlags }) as Promise<EventsFigure>;
}

/** A telemetry reading of about 200 bytes of JSON, varied enough that the columns compress like real ones. */
function body(n: number): Record<string, unknown> {
  return {
    deviceId: `dev-${String((n * 7919) % 5000).padStart(5, '0')}`,
    site: `plant-${n % 12}`,
    ts: new Date(T0 + n * 10).toISOString(),
    temperature: round(18 + ((n * 37) % 1500) / 100, 2),
    humidity: round(30 + ((n * 13) % 400) / 10, 1),
    pressure: round(990 + ((n * 7) % 4000) / 100, 2),
    status: n % 97 === 0 ? 'warning' : 'ok',
    unit: 'celsius',
    firmware: '1.4.2+build.118',
    line: n % 8,
    reading: n,
  };
}

/** Distinct bodies a cell makes before it starts timing; more than a batch holds, so each file's rows differ. */
const BODY_POOL = 8192;
let bodies: readonly Record<string, unknown>[] | undefined;

/**
 * The body of event `n`, from a pool made once per process, frozen (a stage that changed a body it was
 * handed would fail the cell). Making each body in the timed loop cost about 15% of the cell's
 * main-thread time (the dates' ISO text above all): work of the bench, not of the stage, which the
 * Functions host hands bodies already made.
 */
function bodyOf(n: number): Record<string, unknown> {
  bodies ??= Array.from({ length: BODY_POOL }, (_, i) => Object.freeze(body(i)));
  return bodies[n % BODY_POOL];
}

/** The partitions of a cell, as the hub has them. */
function hubPartitions(count: number): HubPartition[] {
  return Array.from({ length: count }, (_, i) => ({
    namespace: 'bench.servicebus.windows.net',
    hub: 'telemetry',
    consumerGroup: '$Default',
    partitionId: String(i),
  }));
}

/** What one run of batches did. */
interface Sent {
  events: number;
  batches: number;
  bodyBytes: number;
  cutShort: boolean;
  lastSequence: Map<string, number>;
}

/** Send `count` events into a table, each partition's batches in order, the partitions at once. */
async function sendEvents(tableLocation: string, deadLetterLocation: string, spec: CellSpec, count: number, deadline: number): Promise<Sent> {
  const table = openStore(tableLocation);
  const deadLetter = { store: openStore(deadLetterLocation), prefix: '' };
  const partitions = hubPartitions(spec.partitions);
  const perPartition = Math.ceil(count / spec.partitions);
  const sent: Sent = { events: 0, batches: 0, bodyBytes: 0, cutShort: false, lastSequence: new Map() };
  let sampled = 0;
  // The host's settings as the runtime passes them (checkpoint every 10 commits, the default).
  const lane = { checkpointInterval: 10 };
  await Promise.all(
    partitions.map(async (partition, p) => {
      const total = Math.min(perPartition, count - p * perPartition);
      for (let seq = 0; seq < total; seq += spec.batchSize) {
        if (performance.now() > deadline) {
          sent.cutShort = true;
          return;
        }
        const batch: HubEvent[] = [];
        for (let s = seq; s < Math.min(total, seq + spec.batchSize); s++) {
          const n = p * perPartition + s;
          batch.push({ body: bodyOf(n), sequenceNumber: s, offset: String(s * 256), enqueuedTime: new Date(T0 + n), partitionKey: null });
        }
        if (sampled < 100) {
          sent.bodyBytes += JSON.stringify(batch[0].body).length;
          sampled++;
        }
        const outcome = await ingestEvents({ table, partition, events: batch, deadLetter, lane, deadLetterOnFailure: 'terminal' });
        if (outcome.status !== 'committed' || outcome.eventsWritten !== batch.length)
          throw new Error(`partition ${p} batch at ${seq}: ${outcome.status}, ${outcome.eventsWritten} of ${batch.length} events written`);
        sent.batches++;
        sent.events += batch.length;
        sent.lastSequence.set(partition.partitionId, batch[batch.length - 1].sequenceNumber);
      }
    }),
  );
  sent.bodyBytes /= Math.max(1, sampled);
  return sent;
}

/** The child: one cell, a warm-up, then the events timed around the ingestion. */
async function cellChild(spec: CellSpec): Promise<void> {
  let coldEventsPerSecond = NaN;
  bodyOf(0);
  if (spec.warmup > 0) {
    const warmStarted = performance.now();
    const warm = await sendEvents(`${spec.table}-warmup`, `${spec.deadLetter}-warmup`, spec, spec.warmup, Infinity);
    coldEventsPerSecond = Math.round(warm.events / ((performance.now() - warmStarted) / 1000));
  }
  const started = performance.now();
  const cpu = process.cpuUsage();
  const sent = await sendEvents(spec.table, spec.deadLetter, spec, spec.events, started + spec.budgetMs);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const table = openStore(spec.table);
  const snapshot = await loadSnapshot(table);
  let rows = 0;
  for (const add of snapshot.state.files.values()) rows += JSON.parse(add.stats ?? '{}').numRecords ?? NaN;
  if (rows !== sent.events) throw new Error(`the table holds ${rows} rows, ${sent.events} events were ingested`);
  for (const partition of hubPartitions(spec.partitions)) {
    const want = sent.lastSequence.get(partition.partitionId) ?? -1;
    const have = txnVersion(snapshot, hubAppId(partition));
    if (have !== want) throw new Error(`partition ${partition.partitionId}: txn ${have}, last sequence number ingested ${want}`);
  }
  const figure: EventsFigure = {
    backend: spec.backend,
    batchSize: spec.batchSize,
    partitions: spec.partitions,
    events: sent.events,
    bodyBytes: round(sent.bodyBytes),
    seconds: round(seconds, 2),
    eventsPerSecond: Math.round(sent.events / seconds),
    cpuSeconds: round((used.user + used.system) / 1e6, 2),
    peakRssMiB: Math.round((process.resourceUsage().maxRSS * 1024) / 2 ** 20),
    warmupEvents: spec.warmup,
    coldEventsPerSecond,
    batches: sent.batches,
    commits: snapshot.version, // version 0 created the table
    files: snapshot.state.files.size,
    cutShort: sent.cutShort,
  };
  process.stdout.write(`\n${REPORT_PREFIX}${JSON.stringify(figure)}\n`);
}

if (require.main === module && process.argv[2] === 'cell') {
  cellChild(JSON.parse(process.argv[3]) as CellSpec).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
