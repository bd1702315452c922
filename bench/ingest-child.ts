/**
 * One `sluice ingest` in a process of its own, so that its memory is its own: the capped-heap test
 * (test/ingest/ingest-memory.test.ts) and the ingest benchmark (bench/ingest.ts) start it as
 * `node [--max-old-space-size=N] --import tsx bench/ingest-child.ts '<json>'` with
 * `{ file, table, format?, ledger?, maxRecordMb? }` and read the one JSON line it prints last:
 * `{ exitCode, result, seconds, maxRssBytes, userCpuSeconds, systemCpuSeconds, heapLimitBytes }`,
 * where `result` is the command's own `--json` document and `maxRssBytes` the peak resident set of
 * the whole process (main thread and encoding workers): `VmHWM` of /proc/self/status where there is
 * one, else `process.resourceUsage()`. Linux keeps `ru_maxrss` across exec, so there it starts at the
 * parent's resident set at the fork (a test process that built a big input reports that, not the
 * child's own peak); `VmHWM` belongs to the new program alone.
 *
 * It runs the command's function (cli/ingest.ts `runIngestCommand`) rather than bin/sluice.js so it
 * works from source without a build and can report its resource usage after the command finished.
 */
import { spawn } from 'node:child_process';
import * as nodePath from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { readFileSync } from 'node:fs';
import { runIngestCommand } from '../cli/ingest';

/** What the parent asks for. */
export interface IngestChildSpec {
  /** The input file (local path). */
  file: string;
  /** The table location (local path or Azurite URL). */
  table: string;
  /** `--format` (default: detected). */
  format?: string;
  /** `--ledger` (default: the command's own default for the table). */
  ledger?: string;
  /** `--max-record-mb` (default: `SLUICE_MAX_RECORD_MB` of the child's environment, else 16). */
  maxRecordMb?: string;
  /** `--csv-engine` (default: `SLUICE_CSV_ENGINE` of the child's environment, else auto). */
  csvEngine?: string;
}

/** What the child reports. */
export interface IngestChildReport {
  exitCode: number;
  result: {
    totals: { rowsRead: number; rowsWritten: number; rowsDeadLettered: number; bytes: number; errors: number };
    files: { status: string; reason?: string; readBy?: string }[];
  } | null;
  seconds: number;
  maxRssBytes: number;
  userCpuSeconds: number;
  systemCpuSeconds: number;
  heapLimitBytes: number;
  stderr: string;
}

/** Marks the report line among whatever else the process prints. */
export const REPORT_PREFIX = 'ingest-child-report ';

/** This process's own peak resident set (`VmHWM`), or undefined where /proc does not say. */
function peakResidentBytes(): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as IngestChildSpec;
  let out = '';
  let err = '';
  const started = performance.now();
  const exitCode = await runIngestCommand(
    'ingest',
    spec.file,
    {
      table: spec.table,
      json: true,
      ...(spec.format ? { format: spec.format } : {}),
      ...(spec.ledger ? { ledger: spec.ledger } : {}),
      ...(spec.maxRecordMb ? { 'max-record-mb': spec.maxRecordMb } : {}),
      ...(spec.csvEngine ? { 'csv-engine': spec.csvEngine } : {}),
    },
    { out: (text) => (out += text), err: (text) => (err += text) },
    { tty: false },
  );
  const seconds = (performance.now() - started) / 1000;
  const usage = process.resourceUsage();
  const report: IngestChildReport = {
    exitCode,
    result: out.trim() ? JSON.parse(out) : null,
    seconds,
    maxRssBytes: peakResidentBytes() ?? usage.maxRSS * 1024,
    userCpuSeconds: usage.userCPUTime / 1e6,
    systemCpuSeconds: usage.systemCPUTime / 1e6,
    heapLimitBytes: getHeapStatistics().heap_size_limit,
    stderr: err.slice(0, 4000),
  };
  process.stdout.write(`\n${REPORT_PREFIX}${JSON.stringify(report)}\n`);
}

const ROOT = nodePath.resolve(__dirname, '..');

/**
 * Run this file as a child under a capped heap, from the repository root.
 *
 * @param spec what to ingest
 * @param heapMb `--max-old-space-size` of the child
 * @param env extra environment variables of the child (e.g. `SLUICE_MAX_RECORD_MB`)
 * @returns its report; rejects with its output when it printed none
 */
export function ingestInChild(spec: IngestChildSpec, heapMb: number, env: Record<string, string> = {}): Promise<IngestChildReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${heapMb}`, '--import', 'tsx', __filename, JSON.stringify(spec)], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith(REPORT_PREFIX));
      if (code !== 0 || !line) {
        reject(
          new Error(
            `ingest child for ${spec.file} ended with code ${code} signal ${signal} and no report\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-4000)}`,
          ),
        );
        return;
      }
      resolve(JSON.parse(line.slice(REPORT_PREFIX.length)) as IngestChildReport);
    });
  });
}

// Only as a process of its own: the test imports this file for its types and report prefix.
if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(`ingest-child: ${(error as Error).stack ?? error}\n`);
      process.exit(1);
    },
  );
}
