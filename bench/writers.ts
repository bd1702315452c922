/**
 * Run bench/writer-process.ts as real, separate processes (`node --import tsx`), each with its
 * own connection pool, module state and clock reads, sharing nothing but storage. Used by the
 * concurrency and crash tests and by bench/run.ts, so it imports nothing from vitest; with the schema
 * and batches those processes write.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as nodePath from 'node:path';
import * as os from 'node:os';
import * as arrow from 'apache-arrow';
import type { DeltaStruct } from '../shared/delta';

/** The writer-process table schema (what arrowToDeltaSchema makes of its batches). */
export const WRITER_SCHEMA: DeltaStruct = {
  type: 'struct',
  fields: [
    { name: 'writer', type: 'integer', nullable: true, metadata: {} },
    { name: 'batch', type: 'integer', nullable: true, metadata: {} },
    { name: 'value', type: 'long', nullable: true, metadata: {} },
  ],
};

/** One batch of the writer-process table: `rows` rows, all with the same writer, batch and value. */
export function writerBatch(writer: number, batch: number, rows: number): arrow.RecordBatch {
  const table = arrow.tableFromArrays({
    writer: Int32Array.from({ length: rows }, () => writer),
    batch: Int32Array.from({ length: rows }, () => batch),
    value: BigInt64Array.from({ length: rows }, () => BigInt(writer * 1000 + batch)),
  });
  return table.batches[0];
}

/** The writer script. */
export const WRITER_SCRIPT = nodePath.join(__dirname, 'writer-process.ts');

/** What one writer process is asked to do. */
export interface WriterSpec {
  table: string;
  writer: number;
  batches: number;
  mode: 'lane' | 'direct';
  /** Tag batches with txn {appId: `writer-<id>`, version: batch}. */
  txn?: boolean;
  /** Rows per batch (default 3). */
  rows?: number;
  /** First batch number (default 0). */
  first?: number;
  /** Extra environment (e.g. SLUICE_FAULT_KILL_AT); the parent's environment is inherited. */
  env?: Record<string, string>;
  /** Niceness of the process (default 10, below Azurite; see startWriter). */
  nice?: number;
}

/** One committed batch as the writer reported it. */
export interface BatchLine {
  writer: number;
  batch: number;
  version: number;
  skipped: boolean;
  rows: number;
  ms: number;
}

/** How a writer process ended. */
export interface WriterOutcome {
  spec: WriterSpec;
  code: number | null;
  signal: NodeJS.Signals | null;
  batches: BatchLine[];
  stderr: string;
  /** Whether it printed its final `done` line. */
  done: boolean;
}

/** A started writer. */
export interface WriterHandle {
  child: ChildProcess;
  /** Resolves when the process has loaded and waits for `go()` (only with `waitGo`). */
  ready: Promise<void>;
  go(): void;
  exited: Promise<WriterOutcome>;
}

/**
 * Start one writer process.
 *
 * @param spec what it writes
 * @param waitGo load, then wait for `go()` before writing
 * @returns the handle
 */
export function startWriter(spec: WriterSpec, waitGo = false): WriterHandle {
  const args = [
    '--import',
    'tsx',
    WRITER_SCRIPT,
    '--table',
    spec.table,
    '--writer',
    String(spec.writer),
    '--batches',
    String(spec.batches),
    '--mode',
    spec.mode,
    '--rows',
    String(spec.rows ?? 3),
    '--first',
    String(spec.first ?? 0),
    ...(spec.txn ? ['--txn'] : []),
    ...(waitGo ? ['--wait-go'] : []),
  ];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...spec.env },
    stdio: [waitGo ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  // Azurite is one process on the same few cores; dozens of writers at the default priority starve
  // it, and the run measures CPU contention instead of the commit protocol (32×20 lane appends took
  // 148 s instead of 71 s on 2 cores). Real storage does not share the writers' CPU, so writers yield.
  if (child.pid) {
    try {
      os.setPriority(child.pid, spec.nice ?? 10);
    } catch {
      // not permitted here: run at normal priority
    }
  }
  const batches: BatchLine[] = [];
  let done = false;
  let stderr = '';
  let pending = '';
  let markReady: () => void = () => {};
  let failReady: (err: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  if (!waitGo) markReady();
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (!line) continue;
      const message = JSON.parse(line);
      if (message.ready) markReady();
      else if (message.done) done = true;
      else batches.push(message as BatchLine);
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  const exited = new Promise<WriterOutcome>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      failReady(new Error(`writer ${spec.writer} exited (${code ?? signal}) before it was ready: ${stderr}`));
      resolve({ spec, code, signal, batches, stderr, done });
    });
  });
  // A rejected `ready` that nobody awaits must not crash the parent.
  ready.catch(() => {});
  return {
    child,
    ready,
    go: () => child.stdin?.end('go\n'),
    exited,
  };
}

/** Outcome of a group of writers started together. */
export interface GroupOutcome {
  outcomes: WriterOutcome[];
  /** Wall time from `go` to the last exit, ms. */
  ms: number;
}

/**
 * Start writers, wait until all have loaded, release them at the same instant and wait for all to exit.
 *
 * @param specs one per process
 * @param options timeoutMs: kill every writer still running after this long (from the start) and throw
 * @returns every outcome (in spec order) and the wall time of the writing
 */
export async function runWriters(specs: WriterSpec[], options: { timeoutMs?: number } = {}): Promise<GroupOutcome> {
  const handles = specs.map((spec) => startWriter(spec, true));
  const killAll = () => {
    for (const h of handles) if (h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGKILL');
  };
  let timedOut = false;
  const timer = options.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        killAll();
      }, options.timeoutMs)
    : undefined;
  try {
    try {
      await Promise.all(handles.map((h) => h.ready));
    } catch (err) {
      killAll();
      await Promise.allSettled(handles.map((h) => h.exited));
      throw err;
    }
    const t0 = Date.now();
    for (const h of handles) h.go();
    const outcomes = await Promise.all(handles.map((h) => h.exited));
    if (timedOut) throw new Error(`writers did not finish within ${options.timeoutMs} ms and were killed`);
    return { outcomes, ms: Date.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Throw with every failed writer's stderr when any exited non-zero or by a signal.
 *
 * @param outcomes writer outcomes
 */
export function assertAllSucceeded(outcomes: WriterOutcome[]): void {
  const failed = outcomes.filter((o) => o.code !== 0 || !o.done);
  if (failed.length) {
    throw new Error(`${failed.length} writer(s) failed:\n${failed.map((o) => `writer ${o.spec.writer} (${o.code ?? o.signal}): ${o.stderr}`).join('\n')}`);
  }
}
