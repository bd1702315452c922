/**
 * The ingest benchmark (issue 3, item 9), a section of `npm run bench`: the point-of-sale dataset
 * (bench/dataset.ts; cached under bench/data/) as CSV and NDJSON, ingested by
 * `sluice ingest` into a fresh local table, beside DuckDB converting the same file to Parquet (zstd)
 * with one and with two threads, in the same run. The CSV goes in twice: as `sluice ingest` does by
 * default (DuckDB copies it, shared/ingest/csv-copy.ts; the figure says who read it) and with
 * `--csv-engine reader` (`sluice-reader`, Sluice's reader and encoder). Then the CSV once more, by
 * default, into a table on Azurite.
 *
 * Every engine runs in a child process of its own, so the peak resident set it reports is its own:
 * Sluice through bench/ingest-child.ts (the command's function, all of the stage: ledger,
 * table creation, commit), DuckDB through this file run as a script (`duckdb <json>`). Times are taken
 * inside the children around the work itself (not process start-up); each figure is the fastest of
 * `repeat` runs and the peak RSS the highest, as in the perf notes.
 *
 * The memory bound is "under 512 MiB, growing less than 10% from 1M to 5M rows": give two row counts
 * (`--rows 1000000,5000000`, or `--memory-check` for exactly those) to get Sluice's peak RSS at both,
 * for each format run.
 */
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import type { IngestChildReport } from './ingest-child';
import { REPORT_PREFIX } from './ingest-child';
import { runReportingChild } from './report-child';
import { cachedDataset, DatasetFormat } from './dataset';

const ROOT = nodePath.resolve(__dirname, '..');
const DATA_DIR = nodePath.join(ROOT, 'bench', 'data');
const INGEST_CHILD = nodePath.join(ROOT, 'bench', 'ingest-child.ts');
const MIB = 2 ** 20;

/** Options of the ingest section. */
export interface IngestBenchOptions {
  /** Row counts to run (each gets its own dataset files). */
  rows: number[];
  /** Runs per figure (the fastest time and the highest RSS are kept). */
  repeat: number;
  /** Formats to run (default both). */
  formats?: DatasetFormat[];
  /** Blob endpoint of a running Azurite for the Azurite figure (skipped when absent). */
  azuriteEndpoint?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** One engine on one file. */
export interface IngestFigure {
  rows: number;
  format: DatasetFormat;
  /** `sluice` as configured by default (CSV: DuckDB's copy where it can), `sluice-reader` with `--csv-engine reader`. */
  engine: 'sluice' | 'sluice-reader' | 'sluice-azurite' | 'duckdb';
  threads: number | 'auto';
  bytes: number;
  seconds: number;
  mbPerSecond: number;
  rowsPerSecond: number;
  peakRssMiB: number;
  cpuSeconds: number;
  /** Sluice only: MB/s divided by DuckDB's with 1 and 2 threads on the same file. */
  vsDuckdb1?: number;
  vsDuckdb2?: number;
  /** Sluice only: who read the file (`readBy` of its outcome; absent when only the reader was asked). */
  readBy?: string;
  error?: string;
}

/** Result of the section. */
export interface IngestBenchResult {
  figures: IngestFigure[];
  /** Sluice's peak RSS on CSV by row count, and growth from the smallest to the largest. */
  memory?: { rows: number; peakRssMiB: number }[];
  memoryGrowthPercent?: number;
  /** The same for NDJSON. */
  memoryNdjson?: { rows: number; peakRssMiB: number }[];
  memoryGrowthPercentNdjson?: number;
  /** The same for CSV read by the reader (`--csv-engine reader`). */
  memoryCsvReader?: { rows: number; peakRssMiB: number }[];
  memoryGrowthPercentCsvReader?: number;
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/**
 * Run the ingest section.
 *
 * @param options row counts, repeats, formats, Azurite endpoint
 * @returns the figures
 */
export async function runIngestBench(options: IngestBenchOptions): Promise<IngestBenchResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const formats = options.formats ?? ['csv', 'ndjson'];
  await mkdir(DATA_DIR, { recursive: true });
  const work = await mkdtemp(nodePath.join(os.tmpdir(), 'sluice-bench-ingest-'));
  const figures: IngestFigure[] = [];
  try {
    for (const rows of options.rows) {
      for (const format of formats) {
        const started = Date.now();
        const file = await cachedDataset(nodePath.join(DATA_DIR, `pos-${rows}.${format}`), rows, format);
        if (Date.now() - started > 1000)
          log(`  generated ${file.path} (${(file.bytes / 1e6).toFixed(0)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        const duck1 = await best(options.repeat, () => duckdbRun(file.path, format, 1, work), rows, file.bytes, format, 'duckdb', 1);
        log(`  ${describe(duck1)}`);
        const duck2 = await best(options.repeat, () => duckdbRun(file.path, format, 2, work), rows, file.bytes, format, 'duckdb', 2);
        log(`  ${describe(duck2)}`);
        figures.push(duck1, duck2);
        let run = 0;
        // CSV twice: as configured by default (DuckDB's copy) and by the reader alone.
        for (const engine of format === 'csv' ? (['sluice', 'sluice-reader'] as const) : (['sluice'] as const)) {
          const csvEngine = engine === 'sluice-reader' ? 'reader' : undefined;
          const sluice = await best(
            options.repeat,
            () => sluiceRun(file.path, nodePath.join(work, `${format}-${rows}-${run++}`), format, work, csvEngine),
            rows,
            file.bytes,
            format,
            engine,
            'auto',
          );
          if (!sluice.error) {
            if (!duck1.error) sluice.vsDuckdb1 = round(sluice.mbPerSecond / duck1.mbPerSecond, 2);
            if (!duck2.error) sluice.vsDuckdb2 = round(sluice.mbPerSecond / duck2.mbPerSecond, 2);
          }
          log(`  ${describe(sluice)}`);
          figures.push(sluice);
        }
      }
      if (options.azuriteEndpoint && formats.includes('csv')) {
        const file = nodePath.join(DATA_DIR, `pos-${rows}.csv`);
        const bytes = (await stat(file)).size;
        let run = 0;
        const table = () => `${options.azuriteEndpoint}/bench-ingest-${process.pid}-${rows}-${run++}/bronze/pos`;
        const azurite = await best(1, () => sluiceRun(file, table(), 'csv', work), rows, bytes, 'csv', 'sluice-azurite', 'auto');
        log(`  ${describe(azurite)}`);
        figures.push(azurite);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const result: IngestBenchResult = { figures };
  const growth = (format: DatasetFormat, engine: IngestFigure['engine'] = 'sluice') => {
    const runs = figures.filter((f) => f.engine === engine && f.format === format && !f.error).sort((a, b) => a.rows - b.rows);
    if (runs.length < 2) return null;
    return {
      memory: runs.map((f) => ({ rows: f.rows, peakRssMiB: f.peakRssMiB })),
      percent: round((runs[runs.length - 1].peakRssMiB / runs[0].peakRssMiB - 1) * 100, 1),
    };
  };
  const csv = growth('csv');
  if (csv) {
    result.memory = csv.memory;
    result.memoryGrowthPercent = csv.percent;
  }
  const csvReader = growth('csv', 'sluice-reader');
  if (csvReader) {
    result.memoryCsvReader = csvReader.memory;
    result.memoryGrowthPercentCsvReader = csvReader.percent;
  }
  const ndjson = growth('ndjson');
  if (ndjson) {
    result.memoryNdjson = ndjson.memory;
    result.memoryGrowthPercentNdjson = ndjson.percent;
  }
  return result;
}

/**
 * Print the section's tables.
 *
 * @param result the figures
 * @param printTable the bench's table printer
 */
export function printIngestResults(result: IngestBenchResult, printTable: (title: string, header: string[], rows: (string | number)[][]) => void): void {
  printTable(
    'Ingest: file → Parquet (zstd). Sluice = `sluice ingest` into a local Delta table (sluice-azurite: into a table on Azurite, one run); fastest run, highest peak RSS',
    ['rows', 'format', 'engine', 'threads', 'MB', 'seconds', 'MB/s', 'rows/s', 'peak RSS MiB', 'CPU s', '× DuckDB t=1', '× DuckDB t=2', 'read by'],
    result.figures.map((f) => [
      String(f.rows),
      f.format,
      f.error ? `${f.engine} FAILED` : f.engine,
      String(f.threads),
      round(f.bytes / 1e6, 0),
      f.seconds,
      f.mbPerSecond,
      Math.round(f.rowsPerSecond),
      f.peakRssMiB,
      f.cpuSeconds,
      f.vsDuckdb1 ?? '',
      f.vsDuckdb2 ?? '',
      f.readBy ?? '',
    ]),
  );
  if (result.memory) {
    console.log(
      `\nSluice peak RSS on CSV: ${result.memory.map((m) => `${m.rows} rows ${m.peakRssMiB} MiB`).join(', ')}; growth ${result.memoryGrowthPercent}% (bound: under 512 MiB, growth under 10%)`,
    );
  }
  if (result.memoryCsvReader) {
    console.log(
      `\nSluice peak RSS on CSV by the reader: ${result.memoryCsvReader.map((m) => `${m.rows} rows ${m.peakRssMiB} MiB`).join(', ')}; growth ${result.memoryGrowthPercentCsvReader}% (bound: under 512 MiB, growth under 10%)`,
    );
  }
  if (result.memoryNdjson) {
    console.log(
      `\nSluice peak RSS on NDJSON: ${result.memoryNdjson.map((m) => `${m.rows} rows ${m.peakRssMiB} MiB`).join(', ')}; growth ${result.memoryGrowthPercentNdjson}% (bound: under 512 MiB, growth under 10%)`,
    );
  }
  for (const f of result.figures.filter((x) => x.error)) console.log(`${f.engine} ${f.format} ${f.rows}: ${f.error}`);
}

/** What one run measured. */
interface Run {
  seconds: number;
  peakRssBytes: number;
  cpuSeconds: number;
  readBy?: string;
}

async function best(
  repeat: number,
  once: () => Promise<Run>,
  rows: number,
  bytes: number,
  format: DatasetFormat,
  engine: IngestFigure['engine'],
  threads: IngestFigure['threads'],
): Promise<IngestFigure> {
  const runs: Run[] = [];
  const base = { rows, format, engine, threads, bytes };
  try {
    for (let i = 0; i < repeat; i++) runs.push(await once());
  } catch (err) {
    return { ...base, seconds: NaN, mbPerSecond: NaN, rowsPerSecond: NaN, peakRssMiB: NaN, cpuSeconds: NaN, error: (err as Error).message.slice(0, 1000) };
  }
  const fastest = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  return {
    ...base,
    seconds: round(fastest.seconds, 2),
    mbPerSecond: round(bytes / 1e6 / fastest.seconds),
    rowsPerSecond: Math.round(rows / fastest.seconds),
    peakRssMiB: Math.round(Math.max(...runs.map((r) => r.peakRssBytes)) / MIB),
    cpuSeconds: round(fastest.cpuSeconds),
    ...(fastest.readBy ? { readBy: fastest.readBy } : {}),
  };
}

function describe(f: IngestFigure): string {
  const what = `${f.engine}${f.engine === 'duckdb' ? ` threads=${f.threads}` : ''} ${f.format} ${f.rows} rows`;
  if (f.error) return `${what}: FAILED ${f.error}`;
  const ratio = f.vsDuckdb1 !== undefined ? `, ${f.vsDuckdb1}× DuckDB t=1, ${f.vsDuckdb2}× t=2` : '';
  return `${what}: ${f.seconds} s, ${f.mbPerSecond} MB/s, peak RSS ${f.peakRssMiB} MiB${ratio}${f.readBy ? `, read by ${f.readBy}` : ''}`;
}

async function sluiceRun(file: string, table: string, format: DatasetFormat, work: string, csvEngine?: string): Promise<Run> {
  const report = (await child([INGEST_CHILD], { file, table, format, ...(csvEngine ? { csvEngine } : {}) }, work)) as IngestChildReport;
  const result = report.result;
  if (report.exitCode !== 0 || !result || result.totals.errors || result.files.some((f) => f.status !== 'committed')) {
    throw new Error(`sluice ingest ${file} → ${table} failed: ${JSON.stringify(result?.files ?? report.stderr)}`);
  }
  const readBy = result.files[0]?.readBy;
  return {
    seconds: report.seconds,
    peakRssBytes: report.maxRssBytes,
    cpuSeconds: report.userCpuSeconds + report.systemCpuSeconds,
    ...(readBy ? { readBy } : {}),
  };
}

async function duckdbRun(file: string, format: DatasetFormat, threads: number, work: string): Promise<Run> {
  const report = (await child([__filename, 'duckdb'], { file, format, threads, out: nodePath.join(work, `duckdb-${threads}.parquet`) }, work)) as DuckdbReport;
  return { seconds: report.seconds, peakRssBytes: report.maxRssBytes, cpuSeconds: report.cpuSeconds };
}

/** Run a TypeScript script in a child `node --import tsx` and parse the report line it prints. */
function child(script: string[], spec: object, cwd: string): Promise<unknown> {
  return runReportingChild({ script, spec, prefix: REPORT_PREFIX, tmpdir: cwd });
}

/** What the DuckDB child reports. */
interface DuckdbReport {
  seconds: number;
  maxRssBytes: number;
  cpuSeconds: number;
}

/** The DuckDB child: the reference conversion of the perf notes, timed around the COPY alone. */
async function duckdbChild(spec: { file: string; format: DatasetFormat; threads: number; out: string }): Promise<void> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  await connection.run(`SET threads = ${Number(spec.threads)}`);
  const read = spec.format === 'csv' ? 'read_csv' : 'read_json';
  const started = performance.now();
  await connection.run(`COPY (SELECT * FROM ${read}(${quote(spec.file)})) TO ${quote(spec.out)} (FORMAT parquet, COMPRESSION zstd)`);
  const seconds = (performance.now() - started) / 1000;
  const usage = process.resourceUsage();
  connection.closeSync();
  instance.closeSync();
  await rm(spec.out, { force: true });
  const report: DuckdbReport = { seconds, maxRssBytes: usage.maxRSS * 1024, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6 };
  process.stdout.write(`\n${REPORT_PREFIX}${JSON.stringify(report)}\n`);
}

if (require.main === module && process.argv[2] === 'duckdb') {
  duckdbChild(JSON.parse(process.argv[3])).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
