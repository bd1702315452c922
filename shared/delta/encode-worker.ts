/**
 * Parquet encoding in worker threads. Encoding is most of a bronze ingest's CPU time; in a worker it
 * runs beside the input reader instead of after it, so both cores of an instance work.
 *
 * Two writers, chosen here for each file: DuckDB (duckdb-parquet.ts), when the worker loaded it and
 * the schema is one it takes (flat columns of the usual types: what CSV and most NDJSON give), else
 * parquet-wasm (IPC import, column encoding, zstd). DuckDB writes the file to the local temporary
 * folder; once it is complete it is read back to the upload in 1 MiB chunks and removed. While DuckDB
 * encodes, the worker sits inside DuckDB's scan waiting for the next batch and does not run its event
 * loop: every message posted to it also bumps a shared counter it waits on, and it takes the message
 * itself (`receiveMessageOnPort`). Giving up a DuckDB file (the upload failed) sends `abort`, which
 * fails the COPY from inside the scan; the worker is then discarded.
 *
 * The main thread serialises each record batch to Arrow IPC (cheap) into one of two buffers it shares
 * with the worker, which feeds them to parquet-wasm's streaming writer and transfers the Parquet bytes
 * back. Shared buffers, reused batch after batch, rather than a transferred buffer per batch: a worker
 * allocates so little JS that it seldom collects garbage, and the dead buffers added some 40 MiB to the
 * peak resident set. In-flight data is bounded both ways: `push` waits while two batches are waiting
 * for the encoder or 32 MiB of encoded bytes are waiting for the upload, so memory does not grow with
 * the file.
 *
 * Workers are pooled (at most two, none on a one-core machine: a worker there only adds memory),
 * one file per worker at a time; a file that finds no idle worker is encoded on the main thread. A
 * worker that cannot start (its script missing, `tsx` absent when running from TypeScript source)
 * disables the pool with a logged reason and everything is encoded on the main thread: slower, never
 * failed. This module is also the worker's entry point (see the end of the file).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { isMainThread, parentPort, receiveMessageOnPort, Worker, workerData } from 'node:worker_threads';
import * as arrow from 'apache-arrow';
import { duckdbEncodable, duckdbUnavailable, encodeWithDuckdb } from './duckdb-parquet';
import { batchToIpc, encodeParquet, encodeParquetIpc, ParquetWriteOptions } from './parquet';

/** Batches handed to an encoder and not yet taken in by WASM before `push` waits. */
const MAX_PENDING_BATCHES = 2;
/** Encoded bytes not yet taken by the upload before `push` waits. */
const MAX_PENDING_OUTPUT = 32 * 1024 * 1024;
/** An idle worker is stopped after this long, giving its WASM memory (which never shrinks) back. */
const IDLE_MS = 30_000;
/**
 * Bytes per read of a file DuckDB wrote, as it goes to the upload. Small, because a local disk gives
 * them faster than an upload takes them, and a blob upload's stream (shared/storage/azure.ts) reads
 * up to 16 chunks ahead: 64 MiB with 4 MiB chunks, 16 MiB with these.
 */
const FILE_CHUNK_BYTES = 1024 * 1024;
/** Marks a worker started by this module. */
const WORKER_MARK = 'sluiceParquetEncoder';

/** One Parquet file being encoded, fed batch by batch. */
export interface ParquetEncoder {
  /** The Parquet bytes; consume them (the encoder waits for the consumer). Throws if encoding failed. */
  readonly output: AsyncIterable<Uint8Array>;
  /** Where the encoding runs. */
  readonly thread: 'worker' | 'main';
  /** Which Parquet writer. */
  readonly engine: 'duckdb' | 'wasm';
  /**
   * Bytes encoded so far that `output` has not necessarily given yet: DuckDB's file as it grows on
   * local disk (its bytes come out only once it is complete), 0 for parquet-wasm, whose bytes come
   * out as they are encoded. Lets the writer roll to a new file at its size target either way.
   */
  encodedBytes(): number;
  /** Hand over one batch; resolves once the encoder can take more. */
  push(batch: arrow.RecordBatch): Promise<void>;
  /** No more batches: the footer follows and `output` ends. */
  end(): void;
  /** Give up (the consumer failed): pending and later `push` calls reject with `reason`. */
  abort(reason: Error): void;
}

/** Where to encode: `auto` uses an idle worker when there is one, `main` never does. */
export type EncodeThread = 'auto' | 'main';

/**
 * Which Parquet writer: `auto` is DuckDB where it can (a worker with DuckDB loaded, a schema
 * `duckdbEncodable` takes), else parquet-wasm; `wasm` is always parquet-wasm.
 */
export type ParquetEngine = 'auto' | 'wasm';

/**
 * Start encoding one Parquet file.
 *
 * @param options row group size and footer metadata
 * @param thread `main` to keep the encoding on this thread (small files: a worker is not worth it)
 * @param engine the Parquet writer (see `ParquetEngine`)
 * @param schema the file's schema (without it, parquet-wasm)
 * @returns the encoder
 */
export async function openParquetEncoder(
  options: ParquetWriteOptions,
  thread: EncodeThread = 'auto',
  engine: ParquetEngine = 'auto',
  schema?: arrow.Schema,
): Promise<ParquetEncoder> {
  const slot = thread === 'auto' ? await pool.acquire() : null;
  if (!slot) return new MainThreadEncoder(options);
  const duckdb = engine === 'auto' && slot.duckdb && schema !== undefined && duckdbEncodable(schema);
  return new WorkerEncoder(slot, options, duckdb ? nodePath.join(os.tmpdir(), `sluice-encode-${randomUUID()}.parquet`) : null);
}

/**
 * Start an encoding worker now, when none is idle or starting and the pool has room, so that its
 * start (loading DuckDB; about half a second from TypeScript source) overlaps the reading of a large
 * input instead of holding up its first file. Not taken within the idle time, it is stopped.
 */
export function prewarmParquetEncoder(): void {
  pool.prewarm();
}

/** Why the worker pool is off (null while it works): for logs and tests. */
export function encoderPoolDisabledReason(): string | null {
  return pool.disabled;
}

/** A queue with a consumer side (async iteration), a byte count, and a signal when items are taken. */
class Channel<T> {
  private readonly items: T[] = [];
  private done = false;
  private error: Error | null = null;
  private wakeConsumer: (() => void) | null = null;
  bytes = 0;
  constructor(
    private readonly sizeOf: (item: T) => number,
    private readonly onTake: () => void,
  ) {}

  push(item: T): void {
    this.items.push(item);
    this.bytes += this.sizeOf(item);
    this.wakeConsumer?.();
  }

  close(): void {
    this.done = true;
    this.wakeConsumer?.();
  }

  fail(error: Error): void {
    this.error ??= error;
    this.wakeConsumer?.();
  }

  get length(): number {
    return this.items.length;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.error) throw this.error;
      if (this.items.length) {
        const item = this.items.shift()!;
        this.bytes -= this.sizeOf(item);
        this.onTake();
        yield item;
        continue;
      }
      if (this.done) return;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
      this.wakeConsumer = null;
    }
  }
}

/** Waiting for "may I push more?" until a condition holds or the encoder failed. */
class Gate {
  private waiters: (() => void)[] = [];
  failure: Error | null = null;

  async until(ready: () => boolean): Promise<void> {
    while (!ready()) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.failure) throw this.failure;
  }

  wake(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }
}

class MainThreadEncoder implements ParquetEncoder {
  readonly thread = 'main';
  readonly engine = 'wasm';
  encodedBytes = () => 0;
  readonly output: AsyncIterable<Uint8Array>;
  private readonly gate = new Gate();
  private readonly input = new Channel<arrow.RecordBatch>(
    () => 0,
    () => this.gate.wake(),
  );

  constructor(options: ParquetWriteOptions) {
    this.output = encodeParquet(this.input, options);
  }

  async push(batch: arrow.RecordBatch): Promise<void> {
    if (this.gate.failure) throw this.gate.failure;
    this.input.push(batch);
    // The upload pulls the encoder, which pulls batches: waiting here lets both catch up.
    await this.gate.until(() => this.input.length <= MAX_PENDING_BATCHES);
  }

  end(): void {
    this.input.close();
  }

  abort(reason: Error): void {
    this.gate.fail(reason);
    this.input.fail(reason);
  }
}

/** Messages from a worker to the main thread; `ready` says whether DuckDB loaded there (null) or why not. */
type FromWorker =
  | { type: 'ready'; duckdbUnavailable: string | null }
  | { type: 'consumed' }
  | { type: 'chunk'; bytes: Uint8Array }
  | { type: 'done' }
  | { type: 'error'; message: string };

/**
 * Messages from the main thread to a worker. A batch is `length` bytes of IPC in shared buffer `slot`;
 * `buffer` comes along when the slot got a new (larger) buffer. With `path`, the file is written there
 * by DuckDB (and `abort` gives it up) instead of coming back as chunks.
 */
type ToWorker =
  | { type: 'open'; options: ParquetWriteOptions; path?: string }
  | { type: 'batch'; slot: number; length: number; buffer?: SharedArrayBuffer }
  | { type: 'end' }
  | { type: 'abort'; message: string };

class WorkerEncoder implements ParquetEncoder {
  readonly thread = 'worker';
  readonly engine: 'duckdb' | 'wasm';
  private readonly gate = new Gate();
  private readonly chunks = new Channel<Uint8Array>(
    (c) => c.length,
    () => this.gate.wake(),
  );
  private inFlight = 0;
  private sent = 0;
  private finished = false;

  /**
   * @param slot the worker
   * @param options row group size and footer metadata
   * @param path with DuckDB, the local file it writes (removed once read back), else null
   */
  constructor(
    private readonly slot: PooledWorker,
    options: ParquetWriteOptions,
    private readonly path: string | null,
  ) {
    this.engine = path ? 'duckdb' : 'wasm';
    slot.onMessage = (message) => this.receive(message);
    slot.onFailure = (error) => this.fail(error);
    this.post({ type: 'open', options, ...(path ? { path } : {}) });
  }

  get output(): AsyncIterable<Uint8Array> {
    return this.path ? this.fileOutput(this.path) : this.chunks;
  }

  encodedBytes(): number {
    if (!this.path) return 0;
    try {
      return statSync(this.path).size;
    } catch {
      return 0; // not created yet
    }
  }

  /** DuckDB's file, read once the worker says it is complete (the channel then closes). */
  private async *fileOutput(path: string): AsyncGenerator<Uint8Array> {
    try {
      for await (const unexpected of this.chunks) throw new Error(`parquet encoding worker: ${unexpected.length} bytes sent back for a file it writes`);
      for await (const chunk of createReadStream(path, { highWaterMark: FILE_CHUNK_BYTES })) yield chunk as Uint8Array;
    } finally {
      await rm(path, { force: true });
    }
  }

  async push(batch: arrow.RecordBatch): Promise<void> {
    if (this.gate.failure) throw this.gate.failure;
    const ipc = batchToIpc(batch);
    // Batches are taken in order and at most MAX_PENDING_BATCHES are in flight, so this slot is free.
    const slot = this.sent++ % MAX_PENDING_BATCHES;
    let buffer: SharedArrayBuffer | undefined;
    if ((this.slot.buffers[slot]?.byteLength ?? 0) < ipc.length) {
      buffer = new SharedArrayBuffer(Math.ceil((ipc.length * 1.25) / 65536) * 65536);
      this.slot.buffers[slot] = buffer;
    }
    new Uint8Array(this.slot.buffers[slot]).set(ipc);
    this.inFlight++;
    this.post({ type: 'batch', slot, length: ipc.length, ...(buffer ? { buffer } : {}) });
    await this.gate.until(() => this.inFlight < MAX_PENDING_BATCHES && this.chunks.bytes < MAX_PENDING_OUTPUT);
  }

  end(): void {
    if (!this.gate.failure) this.post({ type: 'end' });
  }

  abort(reason: Error): void {
    if (this.path && !this.finished && !this.gate.failure) {
      // DuckDB's scan is waiting for the next batch inside a call from DuckDB: let it fail the COPY
      // rather than stop the thread under it. The worker then reports the error and is discarded.
      this.post({ type: 'abort', message: reason.message });
      this.gate.fail(reason);
      this.chunks.fail(reason);
      void rm(this.path, { force: true });
      return;
    }
    // The worker may be mid-file: it cannot be reused for another one.
    this.fail(reason);
  }

  private post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.slot.worker.postMessage(message, transfer);
    // A worker waiting inside DuckDB's scan does not run its event loop: it waits on this counter and
    // takes the message itself (receiveMessageOnPort).
    Atomics.add(this.slot.signal, 0, 1);
    Atomics.notify(this.slot.signal, 0);
  }

  private receive(message: FromWorker): void {
    switch (message.type) {
      case 'consumed':
        this.inFlight--;
        this.gate.wake();
        break;
      case 'chunk':
        this.chunks.push(message.bytes);
        break;
      case 'done':
        this.finished = true;
        this.chunks.close();
        pool.release(this.slot);
        break;
      case 'error':
        if (this.gate.failure) pool.discard(this.slot);
        else this.fail(new Error(`parquet encoding worker: ${message.message}`));
        break;
    }
  }

  private fail(error: Error): void {
    if (this.finished || this.gate.failure) return;
    this.gate.fail(error);
    this.chunks.fail(error);
    if (this.path) void rm(this.path, { force: true });
    pool.discard(this.slot);
  }
}

/** One pooled worker and the encoder currently using it. */
interface PooledWorker {
  worker: Worker;
  busy: boolean;
  /** The shared input buffers (kept from file to file). */
  buffers: SharedArrayBuffer[];
  /** Counts messages posted, so a worker blocked inside DuckDB's scan can wait for the next one. */
  signal: Int32Array;
  /** Whether DuckDB loaded in the worker. */
  duckdb: boolean;
  idleTimer?: NodeJS.Timeout;
  onMessage: (message: FromWorker) => void;
  onFailure: (error: Error) => void;
}

class EncoderPool {
  private readonly workers: PooledWorker[] = [];
  private starting: Promise<PooledWorker | null> | null = null;
  disabled: string | null = null;
  private duckdbWarned = false;
  private readonly size = os.availableParallelism() > 1 ? 2 : 0;

  /** An idle worker (started if needed), or null when all are busy or workers cannot run here. */
  async acquire(): Promise<PooledWorker | null> {
    for (;;) {
      if (this.disabled !== null || this.size === 0) return null;
      const idle = this.workers.find((w) => !w.busy);
      if (idle) return this.take(idle);
      if (this.starting) {
        // Another file is starting a worker: wait for it, then look again.
        await this.starting;
        continue;
      }
      if (this.workers.length >= this.size) return null;
      this.starting = this.start().finally(() => (this.starting = null));
      const started = await this.starting;
      if (!started) return null;
    }
  }

  prewarm(): void {
    if (this.disabled !== null || this.size === 0 || this.starting || this.workers.length >= this.size) return;
    if (this.workers.some((w) => !w.busy)) return;
    this.starting = this.start()
      .then((slot) => {
        if (slot && !slot.busy) slot.idleTimer = setTimeout(() => this.discard(slot), IDLE_MS).unref();
        return slot;
      })
      .finally(() => (this.starting = null));
  }

  release(slot: PooledWorker): void {
    slot.busy = false;
    slot.onMessage = () => undefined;
    slot.onFailure = () => undefined;
    slot.worker.unref();
    slot.idleTimer = setTimeout(() => this.discard(slot), IDLE_MS).unref();
  }

  discard(slot: PooledWorker): void {
    clearTimeout(slot.idleTimer);
    const at = this.workers.indexOf(slot);
    if (at >= 0) this.workers.splice(at, 1);
    void slot.worker.terminate();
  }

  private take(slot: PooledWorker): PooledWorker {
    clearTimeout(slot.idleTimer);
    slot.busy = true;
    // A busy worker keeps the process alive until its file is done.
    slot.worker.ref();
    return slot;
  }

  private async start(): Promise<PooledWorker | null> {
    let worker: Worker;
    const signal = new Int32Array(new SharedArrayBuffer(4));
    try {
      worker = spawnWorker(signal);
    } catch (err) {
      this.disable((err as Error).message);
      return null;
    }
    const slot: PooledWorker = { worker, busy: false, buffers: [], signal, duckdb: false, onMessage: () => undefined, onFailure: () => undefined };
    let settle: (outcome: true | string) => void = () => undefined;
    const onMessage = (m: FromWorker) => {
      if (m.type === 'ready') {
        slot.duckdb = m.duckdbUnavailable === null;
        if (!slot.duckdb && !this.duckdbWarned) {
          this.duckdbWarned = true;
          console.warn(`sluice: Parquet files are encoded by parquet-wasm (DuckDB did not load in the encoding worker): ${m.duckdbUnavailable}`);
        }
      }
      settle(m.type === 'ready' ? true : `unexpected first message ${m.type}`);
    };
    const onError = (err: Error) => settle(err.message);
    const onExit = (code: number) => settle(`the worker exited with code ${code} while starting`);
    const ready = await new Promise<true | string>((resolve) => {
      settle = resolve;
      worker.once('message', onMessage).once('error', onError).once('exit', onExit);
    });
    worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    if (ready !== true) {
      void worker.terminate();
      this.disable(ready);
      return null;
    }
    worker.on('message', (m: FromWorker) => slot.onMessage(m));
    worker.on('error', (err) => slot.onFailure(new Error(`parquet encoding worker failed: ${err.message}`)));
    worker.on('exit', (code) => {
      slot.onFailure(new Error(`parquet encoding worker exited with code ${code}`));
      this.discard(slot);
    });
    worker.unref();
    this.workers.push(slot);
    return slot;
  }

  private disable(reason: string): void {
    this.disabled = reason;
    console.warn(`sluice: Parquet encoding stays on the main thread (no worker threads): ${reason}`);
  }
}

const pool = new EncoderPool();

/**
 * Start a worker running this module: the compiled `.js` beside it (dist/), or the `.ts` source
 * through tsx's require hook when running from source (tsx, vitest), where no `.js` exists.
 */
function spawnWorker(signal: Int32Array): Worker {
  const options = { workerData: { [WORKER_MARK]: true, signal } };
  const compiled = nodePath.join(__dirname, 'encode-worker.js');
  if (existsSync(compiled)) return new Worker(compiled, options);
  const source = nodePath.join(__dirname, 'encode-worker.ts');
  if (!existsSync(source)) throw new Error(`neither ${compiled} nor ${source} exists`);
  let tsx: string;
  try {
    tsx = createRequire(__filename).resolve('tsx/cjs');
  } catch {
    throw new Error(`running from TypeScript source (${source}) needs the tsx package, which is not installed`);
  }
  return new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(source)});`, { ...options, eval: true });
}

/** Bytes in an ArrayBuffer of their own, so transferring it moves exactly them. */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

/**
 * The worker side: one file at a time, IPC streams in; parquet-wasm's Parquet bytes go back as chunks,
 * DuckDB's file is written where the main thread said.
 */
function serveEncoding(): void {
  const port = parentPort!;
  const signal = (workerData as { signal: Int32Array }).signal;
  let input: Channel<Uint8Array> | null = null;
  const buffers: SharedArrayBuffer[] = [];
  /** While DuckDB encodes a file: its messages not taken yet (arrived through the event loop). */
  let duckdbMessages: ToWorker[] | null = null;
  /** A batch's IPC bytes copied out of the shared slot (DuckDB's copy functions take only ArrayBuffers). */
  let local = new ArrayBuffer(0);

  /** The next message for DuckDB's scan: blocks this thread (DuckDB is waiting on it anyway). */
  const nextMessage = (): ToWorker => {
    for (;;) {
      const queued = duckdbMessages?.shift();
      if (queued) return queued;
      const seen = Atomics.load(signal, 0);
      const received = receiveMessageOnPort(port as unknown as import('node:worker_threads').MessagePort);
      if (received) return received.message as ToWorker;
      Atomics.wait(signal, 0, seen);
    }
  };
  const nextBatch = (): arrow.RecordBatch | null => {
    for (;;) {
      const message = nextMessage();
      if (message.type === 'end') return null;
      if (message.type === 'abort') throw new Error(`encoding given up: ${message.message}`);
      if (message.type !== 'batch') throw new Error(`unexpected message ${message.type} while encoding`);
      if (message.buffer) buffers[message.slot] = message.buffer;
      if (local.byteLength < message.length) local = new ArrayBuffer(Math.ceil((message.length * 1.25) / 65536) * 65536);
      const bytes = new Uint8Array(local, 0, message.length);
      bytes.set(new Uint8Array(buffers[message.slot], 0, message.length));
      port.postMessage({ type: 'consumed' });
      const batch = arrow.tableFromIPC(bytes).batches[0];
      if (batch && batch.numRows > 0) return batch;
    }
  };

  port.on('message', (message: ToWorker) => {
    if (duckdbMessages) {
      duckdbMessages.push(message);
      return;
    }
    if (message.type === 'open' && message.path) {
      duckdbMessages = [];
      const path = message.path;
      void (async () => {
        try {
          await encodeWithDuckdb(nextBatch, path, message.options);
          port.postMessage({ type: 'done' });
        } catch (err) {
          port.postMessage({ type: 'error', message: (err as Error).message ?? String(err) });
        } finally {
          duckdbMessages = null;
        }
      })();
    } else if (message.type === 'open') {
      const batches = new Channel<Uint8Array>(
        () => 0,
        () => undefined,
      );
      input = batches;
      void (async () => {
        try {
          for await (const chunk of encodeParquetIpc(batches, message.options, () => port.postMessage({ type: 'consumed' }))) {
            const bytes = ownBuffer(chunk);
            port.postMessage({ type: 'chunk', bytes }, [bytes.buffer as ArrayBuffer]);
          }
          port.postMessage({ type: 'done' });
        } catch (err) {
          port.postMessage({ type: 'error', message: (err as Error).message ?? String(err) });
        }
      })();
    } else if (message.type === 'batch') {
      if (message.buffer) buffers[message.slot] = message.buffer;
      input?.push(new Uint8Array(buffers[message.slot], 0, message.length));
    } else if (message.type === 'end') {
      input?.close();
    }
  });
  void duckdbUnavailable().then((reason) => port.postMessage({ type: 'ready', duckdbUnavailable: reason }));
}

if (!isMainThread && (workerData as Record<string, unknown> | null)?.[WORKER_MARK]) serveEncoding();
