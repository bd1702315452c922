/**
 * The local host (`npm start`) in a test file: started on ports the system hands out, with its own
 * in-memory Azurite, an HTTP client for its routes, a bounded poll, and a clean stop.
 *
 * Ports: the HTTP server binds port 0 itself, so the system picks it as it listens. Azurite is given
 * three ports the system handed out a moment before (`freePorts`), which another process may take in
 * between; so a start that finds one of them taken — or finds another test's Azurite already answering
 * there, which the host would otherwise use as its own — is stopped and retried on three new ports.
 *
 * One host per test file: the app reads its settings once per process, and each file brings its own
 * pipeline, clock and telemetry providers, so files do not share a host.
 */
import { freePorts } from '../../dev/azurite';
import { type LocalHost, startLocalHost } from '../../dev/host';

/** What a route answered: the body parsed as JSON when it is JSON, the text always. */
export interface HostAnswer {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, checked by the assertions that read it
  body: any;
}

/** A local host started for a test file. */
export interface TestLocalHost {
  host: LocalHost;
  /** Every line the host logged, in order (the tail goes into timeout messages). */
  lines: string[];
  /**
   * Call a route of the host.
   *
   * @param path a path on the host (`/api/health`), or an absolute URL
   * @param init fetch options
   */
  api(path: string, init?: RequestInit): Promise<HostAnswer>;
  /**
   * Poll `probe` every 250 ms until it returns something other than undefined, at most `ms`; a
   * timeout throws naming `what`, with the host's last 40 log lines.
   */
  until<T>(what: string, probe: () => Promise<T | undefined>, ms?: number): Promise<T>;
  /** Stop the host and its Azurite. */
  stop(): Promise<void>;
}

/** How to start the host. */
export interface TestLocalHostOptions {
  /** Pipeline file or glob. */
  pipeline: string;
  /** Landing listing interval (the host's default when omitted). */
  watchIntervalMs?: number;
}

const ATTEMPTS = 3;
/** Start failures that a fresh set of ports can cure. */
const PORT_TROUBLE = /\bports?\b.*\b(in use|taken)\b|EADDRINUSE|exited .* before listening|already running at/i;

/**
 * Start the local host for a test file.
 *
 * @param options pipeline and landing interval
 * @returns the host with its client, poll and stop
 */
export async function startTestLocalHost(options: TestLocalHostOptions): Promise<TestLocalHost> {
  const lines: string[] = [];
  let host: LocalHost | undefined;
  for (let attempt = 1; !host; attempt++) {
    const [blob, queue, table] = await freePorts(3);
    let started: LocalHost;
    try {
      started = await startLocalHost({
        pipeline: options.pipeline,
        port: 0,
        azuritePorts: [blob, queue, table],
        inMemory: true,
        ...(options.watchIntervalMs !== undefined ? { watchIntervalMs: options.watchIntervalMs } : {}),
        log: (line) => lines.push(line),
      });
    } catch (err) {
      if (attempt < ATTEMPTS && PORT_TROUBLE.test((err as Error).message)) continue;
      throw err;
    }
    if (started.azurite.started) {
      host = started;
    } else {
      // Another test's Azurite took one of the ports and answered there: never share its data.
      await started.stop();
      if (attempt >= ATTEMPTS) throw new Error(`the local host found another Azurite on its ports ${ATTEMPTS} times (last ${blob}, ${queue}, ${table})`);
    }
  }
  const running = host;
  return {
    host: running,
    lines,
    async api(path, init) {
      const response = await fetch(path.startsWith('http') ? path : `${running.url}${path}`, init);
      const text = await response.text();
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      return { status: response.status, headers: response.headers, text, body };
    },
    async until<T>(what: string, probe: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
      const deadline = Date.now() + ms;
      for (;;) {
        const value = await probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${lines.slice(-40).join('\n')}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    stop: () => running.stop(),
  };
}
