/**
 * Vitest global setup: one Azurite (Blob, Queue, Table) for the whole run, started from node_modules on
 * free ports with in-memory persistence, so tests need nothing installed globally and leave no files.
 *
 * Endpoints reach tests through `inject(...)` and through environment variables, which test workers and
 * any child processes the tests spawn inherit.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    azuriteBlobEndpoint: string;
    azuriteQueueEndpoint: string;
    azuriteTableEndpoint: string;
    azuriteConnectionString: string;
  }
}

const ACCOUNT = 'devstoreaccount1';
// The public, documented key of Azurite's development account.
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 30_000;

/** Start Azurite and return the teardown that stops it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Resolved from the project, so the pinned devDependency runs and nothing global is needed.
  const entry = createRequire(nodePath.join(project.config.root, 'package.json')).resolve('azurite/dist/src/azurite.js');
  const [blobPort, queuePort, tablePort] = await freePorts(3);
  const workspace = await mkdtemp(nodePath.join(tmpdir(), 'sluice-azurite-'));
  const child = spawn(
    process.execPath,
    [
      entry,
      '--blobHost', HOST, '--blobPort', String(blobPort),
      '--queueHost', HOST, '--queuePort', String(queuePort),
      '--tableHost', HOST, '--tablePort', String(tablePort),
      // Azurite refuses --location together with in-memory persistence; the working directory catches
      // anything it might still write.
      '--inMemoryPersistence',
      // The SDK speaks a newer service version than this Azurite knows.
      '--skipApiVersionCheck',
      '--loose',
      '--silent',
      '--disableTelemetry',
    ],
    { cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  // If vitest dies without running teardown, do not leave the emulator behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  try {
    await Promise.all([blobPort, queuePort, tablePort].map((port) => waitForPort(port, child, () => output)));
  } catch (err) {
    child.kill('SIGKILL');
    await rm(workspace, { recursive: true, force: true });
    throw err;
  }

  const blob = `http://${HOST}:${blobPort}/${ACCOUNT}`;
  const queue = `http://${HOST}:${queuePort}/${ACCOUNT}`;
  const table = `http://${HOST}:${tablePort}/${ACCOUNT}`;
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};` +
    `BlobEndpoint=${blob};QueueEndpoint=${queue};TableEndpoint=${table};`;
  process.env.AZURITE_BLOB_ENDPOINT = blob;
  process.env.AZURITE_QUEUE_ENDPOINT = queue;
  process.env.AZURITE_TABLE_ENDPOINT = table;
  process.env.SLUICE_STORAGE_CONNECTION_STRING = connectionString;
  project.provide('azuriteBlobEndpoint', blob);
  project.provide('azuriteQueueEndpoint', queue);
  project.provide('azuriteTableEndpoint', table);
  project.provide('azuriteConnectionString', connectionString);

  return async () => {
    process.off('exit', killOnExit);
    await stop(child);
    await rm(workspace, { recursive: true, force: true });
  };
}

/** Ports the OS considers free right now; all are held open together so they differ. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, HOST, () => resolve(server));
    })),
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
