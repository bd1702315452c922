/**
 * Start and stop an Azurite (Blob, Queue, Table) from node_modules: on free ports in memory for tests
 * and benchmarks, or on the default ports with data kept in a folder for `npm start`.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';

import { AZURITE_ACCOUNT as ACCOUNT, AZURITE_ACCOUNT_KEY as ACCOUNT_KEY } from '../shared/storage/location';
const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 30_000;

/** A running Azurite. */
export interface AzuriteServer {
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  /** Connection string naming all three endpoints with the development account key. */
  connectionString: string;
  /** SIGTERM (then SIGKILL after 5 s) and remove the working directory. */
  stop(): Promise<void>;
}

/** Where and how to run Azurite. */
export interface AzuriteOptions {
  /** Ports for blob, queue and table (default: free ports). */
  ports?: [number, number, number];
  /** Keep data in this folder (default: in memory, gone when stopped). */
  location?: string;
}

/**
 * Start Azurite from the project's node_modules (the pinned devDependency, nothing global).
 *
 * @param root project root, where `azurite` is resolved from
 * @param options ports and persistence
 * @returns endpoints and a stop function
 */
export async function startAzurite(root: string, options: AzuriteOptions = {}): Promise<AzuriteServer> {
  let entry: string;
  try {
    entry = createRequire(nodePath.join(root, 'package.json')).resolve('azurite/dist/src/azurite.js');
  } catch {
    throw new Error("azurite is not installed: run 'npm ci' (it is a development dependency of Sluice)");
  }
  const [blobPort, queuePort, tablePort] = options.ports ?? (await freePorts(3));
  const workspace = options.location ?? (await mkdtemp(nodePath.join(tmpdir(), 'sluice-azurite-')));
  await mkdir(workspace, { recursive: true });
  const child = spawn(
    process.execPath,
    [
      entry,
      '--blobHost',
      HOST,
      '--blobPort',
      String(blobPort),
      '--queueHost',
      HOST,
      '--queuePort',
      String(queuePort),
      '--tableHost',
      HOST,
      '--tablePort',
      String(tablePort),
      // Azurite refuses --location together with in-memory persistence; the working directory catches
      // anything it might still write.
      ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']),
      // The SDK speaks a newer service version than this Azurite knows.
      '--skipApiVersionCheck',
      '--loose',
      '--silent',
      '--disableTelemetry',
    ],
    // Its own process group: a Ctrl-C in the terminal reaches only the parent, which stops Azurite
    // itself once everything that still writes to it (running activities) has finished.
    { cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  // If the parent dies without calling stop(), do not leave the emulator behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  try {
    await Promise.all([blobPort, queuePort, tablePort].map((port) => waitForPort(port, child, () => output)));
  } catch (err) {
    child.kill('SIGKILL');
    process.off('exit', killOnExit);
    if (!options.location) await rm(workspace, { recursive: true, force: true });
    throw err;
  }

  const blobEndpoint = `http://${HOST}:${blobPort}/${ACCOUNT}`;
  const queueEndpoint = `http://${HOST}:${queuePort}/${ACCOUNT}`;
  const tableEndpoint = `http://${HOST}:${tablePort}/${ACCOUNT}`;
  return {
    blobEndpoint,
    queueEndpoint,
    tableEndpoint,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};` +
      `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};TableEndpoint=${tableEndpoint};`,
    stop: async () => {
      process.off('exit', killOnExit);
      await stop(child);
      if (!options.location) await rm(workspace, { recursive: true, force: true });
    },
  };
}

/**
 * Ports the OS considers free right now; all are held open together so they differ.
 *
 * @param count how many
 * @returns the port numbers
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen(0, HOST, () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Resolve once `port` accepts a connection; reject if Azurite exits or does not come up in time. */
async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`azurite exited (${child.exitCode ?? child.signalCode}) before listening on ${HOST}:${port}:\n${output()}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, HOST);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`azurite did not listen on ${HOST}:${port} within ${START_TIMEOUT_MS} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM, then SIGKILL if Azurite has not exited after a few seconds. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** An Azurite the local host uses: one it started, or one that was already running. */
export interface LocalAzurite extends AzuriteServer {
  /** False when an Azurite was already listening and is left running on stop. */
  started: boolean;
  /** Where its data is kept, when the local host started it with a folder. */
  location?: string;
}

/**
 * Use the Azurite listening on `ports` or start one there. A port held by something else than
 * Azurite, or a blob port with Azurite but no table service beside it, is an error naming the port.
 *
 * @param root project root (where Azurite is installed)
 * @param options ports (blob, queue, table) and where to keep the data (undefined: in memory)
 * @returns the Azurite
 * @throws Error naming the port or saying why Azurite did not start
 */
export async function connectOrStartAzurite(root: string, options: { ports: [number, number, number]; location?: string }): Promise<LocalAzurite> {
  const [blobPort, queuePort, tablePort] = options.ports;
  const blob = await serverHeader(blobPort);
  if (blob !== null) {
    if (!/azurite/i.test(blob))
      throw new Error(
        `port ${blobPort} is in use by something that is not Azurite (server: ${blob || 'unknown'}); stop it or choose other ports with --azurite-ports`,
      );
    const table = await serverHeader(tablePort);
    if (table === null || !/azurite/i.test(table))
      throw new Error(
        `an Azurite Blob service is running on port ${blobPort}, but no Azurite Table service on port ${tablePort}; start Azurite with its table service (npx azurite) or stop it so Sluice starts its own`,
      );
    const endpoints = {
      blobEndpoint: `http://${HOST}:${blobPort}/${ACCOUNT}`,
      queueEndpoint: `http://${HOST}:${queuePort}/${ACCOUNT}`,
      tableEndpoint: `http://${HOST}:${tablePort}/${ACCOUNT}`,
    };
    return {
      ...endpoints,
      connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};BlobEndpoint=${endpoints.blobEndpoint};QueueEndpoint=${endpoints.queueEndpoint};TableEndpoint=${endpoints.tableEndpoint};`,
      started: false,
      stop: async () => {},
    };
  }
  for (const port of [queuePort, tablePort]) {
    if ((await serverHeader(port)) !== null)
      throw new Error(`port ${port} is in use, so Azurite cannot start there; stop what holds it or choose other ports with --azurite-ports`);
  }
  const server = await startAzurite(root, { ports: options.ports, ...(options.location ? { location: options.location } : {}) });
  return { ...server, started: true, ...(options.location ? { location: options.location } : {}) };
}

/**
 * The `Server` header of whatever answers HTTP on a port: null when nothing listens, '' when
 * something listens but says no name (or does not speak HTTP).
 */
async function serverHeader(port: number): Promise<string | null> {
  if (
    !(await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, HOST);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    }))
  )
    return null;
  try {
    const response = await fetch(`http://${HOST}:${port}/${ACCOUNT}?comp=list`, { signal: AbortSignal.timeout(3000) });
    return response.headers.get('server') ?? '';
  } catch {
    return '';
  }
}
