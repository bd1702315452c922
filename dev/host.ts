/**
 * The local host: Sluice's Function App on this machine, assembled from the same parts as in Azure.
 * `startLocalHost` starts (or reuses) Azurite, points the app's settings at it, loads the runtime
 * with the chosen pipeline, creates the containers and tables, starts the orchestration engine in the
 * background, and then the triggers: the HTTP functions and host routes on one port, the landing
 * watch (BlobCreated events), the timers, and the Event Hubs feed. `npm start` (dev/start.ts), the
 * end-to-end tests and the freshness benchmark all start it this way.
 *
 * The app reads its settings from `process.env` once per process (shared/host), so this function
 * writes the settings it decides there, and one process runs one local host.
 */
import { readFileSync } from 'node:fs';
import { ContainerClient } from '@azure/storage-blob';
import * as net from 'node:net';
import * as nodePath from 'node:path';
import { FUNCTIONS } from '../functions/definitions';
import { loadInstanceResources } from '../shared/config/settings';
import { connectionStringTables, OrchestrationEngine } from '../shared/orchestration';
import { EngineRunClient, markLocalHost } from '../shared/run';
import { appRoot, getRuntime, loadRuntime, resolveSettingReferences, type SluiceRuntime } from '../shared/host';
import { openContainerStore, openLakeStore } from '../shared/storage/lake';
import { connectOrStartAzurite, type LocalAzurite } from './azurite';
import { tableJournal } from './deliveries';
import {
  LOCAL_HOST_DELIVERIES_TABLE,
  LOCAL_HOST_ENGINE_TABLES,
  LOCAL_HOST_EVENT_HUBS_TABLE,
  LOCAL_HOST_TIMERS_TABLE,
  orchestrationPayloadsFolder,
} from '../shared/storage/lake-layout';
import { bindFunctions, registryOf } from './functions';
import { LocalEventHubs } from './eventhubs';
import { serveHttp } from './http';
import { type DevLog, invokeFunction } from './invoke';
import { containerLister, type LandingWatch, startLandingWatch } from './landing-watch';
import { builtinRoutes } from './routes';
import { startTimers, type TimerScheduler } from './timers';

/** Event Hubs connection string of the emulator's well-known form: names a hub, holds no secret. */
export const DEV_EVENTHUB_CONNECTION =
  'Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;';
/** Default pipeline of `npm start`. */
export const DEFAULT_DEV_PIPELINE = 'examples/pipelines/pos.yaml';

/** How to start the local host. */
export interface LocalHostOptions {
  /** Project root (default: the folder holding package.json). */
  root?: string;
  /** Pipeline file or glob (default `SLUICE_PIPELINES`, else the POS example). */
  pipeline?: string;
  /** HTTP port (default 7071; 0 for a free one). */
  port?: number;
  /** Azurite's blob, queue and table ports (default 10000–10002; an Azurite already there is used). */
  azuritePorts?: [number, number, number];
  /** Discard Azurite's data (default: kept in `<root>/.azurite`). */
  inMemory?: boolean;
  /** Landing listing interval (default 500 ms). */
  watchIntervalMs?: number;
  /** Where lines go (default: stdout with a time stamp). */
  log?: DevLog;
}

/** A running local host. */
export interface LocalHost {
  /** e.g. `http://127.0.0.1:7071` */
  url: string;
  port: number;
  azurite: LocalAzurite;
  runtime: SluiceRuntime;
  engine: OrchestrationEngine;
  /** Stop the triggers, let running activities finish, stop Azurite if it was started here. */
  stop(): Promise<void>;
}

let running = false;

/** Fail fast, before Azurite starts, when the HTTP port is taken. */
async function checkPortFree(port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `port ${port} is already in use (is another 'npm start' or 'func start' running?); choose another with --port`
            : `cannot listen on 127.0.0.1:${port}: ${err.message}`,
        ),
      ),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

function hostJsonBatchSize(root: string): number {
  try {
    const host = JSON.parse(readFileSync(nodePath.join(root, 'host.json'), 'utf8')) as { extensions?: { eventHubs?: { maxEventBatchSize?: number } } };
    return host.extensions?.eventHubs?.maxEventBatchSize ?? 100;
  } catch {
    return 100;
  }
}

/** The landing container as a Blob client (the watch lists it one folder level at a time). */
function landingContainer(runtime: SluiceRuntime, azurite: LocalAzurite): ContainerClient {
  const lake = runtime.settings.lake;
  if (lake.kind !== 'connectionString')
    throw new Error(`the local host reaches storage with a connection string; ${lake.setting}__* (an identity-based connection) is for Azure`);
  const connection = /usedevelopmentstorage\s*=\s*true/i.test(lake.connectionString) ? azurite.connectionString : lake.connectionString;
  return new ContainerClient(connection, runtime.settings.landingContainer);
}

/**
 * Start the local host.
 *
 * @param options ports, pipeline, persistence, log
 * @returns the running host
 * @throws Error with a message for the user: port taken, Azurite not starting, bad settings or pipeline
 */
export async function startLocalHost(options: LocalHostOptions = {}): Promise<LocalHost> {
  if (running) throw new Error('a local host is already running in this process (the app reads its settings once per process)');
  running = true;
  // Runs started, terminated or purged here are audited as `local`: this host checks no key and has no sign-in.
  markLocalHost(true);
  const root = options.root ?? appRoot();
  const log: DevLog = options.log ?? ((line) => process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`));
  const port = options.port ?? 7071;
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((err) => log(`stopping: ${(err as Error).message}`));
    markLocalHost(false);
    running = false;
  };
  try {
    await checkPortFree(port);
    const location = options.inMemory ? undefined : nodePath.join(root, '.azurite');
    const azurite = await connectOrStartAzurite(root, { ports: options.azuritePorts ?? [10000, 10001, 10002], ...(location ? { location } : {}) });
    stops.push(() => azurite.stop());
    log(
      azurite.started
        ? `Azurite started (blob ${azurite.blobEndpoint}), ${location ? `data in ${location}` : 'in memory'}`
        : `Azurite already running at ${azurite.blobEndpoint}; using it`,
    );

    // The app's settings, as local.settings.json would give them to `func start`.
    process.env.AzureWebJobsStorage = azurite.connectionString;
    process.env.SLUICE_STORAGE_CONNECTION_STRING ??= azurite.connectionString;
    if (options.pipeline) process.env.SLUICE_PIPELINES = nodePath.resolve(options.pipeline);
    else process.env.SLUICE_PIPELINES ??= nodePath.join(root, DEFAULT_DEV_PIPELINE);
    const pipelineFiles = process.env.SLUICE_PIPELINES;
    const hasHubSetting = Object.keys(process.env).some((k) => k === 'SLUICE_EVENTHUB' || k.startsWith('SLUICE_EVENTHUB__'));
    if (!hasHubSetting) {
      // No Event Hubs here: name the first hub a source reads, so the Event Hubs function is served.
      const hub = loadRuntime({ ...process.env }, root).hubSources[0]?.source.eventHub?.name;
      if (hub) Object.assign(process.env, { SLUICE_EVENTHUB: DEV_EVENTHUB_CONNECTION, SLUICE_EVENTHUB_NAME: hub });
    }
    const runtime = getRuntime();
    for (const warning of runtime.warnings) log(`warning: ${warning}`);
    log(
      `pipelines from ${pipelineFiles}: ${runtime.pipelines.map((p) => `${p.name ?? p.file} (${Object.keys(p.sources).length} sources, ${Object.keys(p.tables).length} tables)`).join(', ')}`,
    );

    const landing = openContainerStore(runtime.settings.lake, runtime.settings.landingContainer, '');
    for (const container of [runtime.settings.landingContainer, runtime.settings.lakeContainer]) {
      // Writing a marker creates the container when it is missing.
      const store = openContainerStore(runtime.settings.lake, container, '');
      await store.write('.sluice-start', 'ok');
      await store.delete('.sluice-start');
    }
    const tables = connectionStringTables(azurite.connectionString);
    const engine = new OrchestrationEngine(registryOf(FUNCTIONS, log), {
      connectionString: azurite.connectionString,
      tablePrefix: LOCAL_HOST_ENGINE_TABLES,
      hostId: 'sluice-dev',
      payloads: openLakeStore(runtime.settings, orchestrationPayloadsFolder(LOCAL_HOST_ENGINE_TABLES)),
      // As many at once as the Durable extension runs in Azure: the DuckDB memory split assumes it.
      maxConcurrentActivities: loadInstanceResources().activityConcurrency,
      // Activities log their own lines (registryOf, e.g. refreshTable's per table); the engine's line per completed attempt would repeat them.
      log: (line) => {
        if (!/^activity \S+ \S+ attempt \d+: completed in/.test(line)) log(`[durable] ${line}`);
      },
    });
    await engine.ensureTables();
    let engineRunning = false;
    engine.start();
    engineRunning = true;
    stops.push(async () => {
      log('waiting for running activities to finish');
      await engine.stop();
      engineRunning = false;
    });

    let baseUrl = `http://127.0.0.1:${port}`;
    const functions = bindFunctions(FUNCTIONS, new EngineRunClient(engine));
    const eventGrid = functions.eventGrid;
    const eventHubs = functions.eventHub
      ? new LocalEventHubs(tables(LOCAL_HOST_EVENT_HUBS_TABLE), functions.eventHub, hostJsonBatchSize(root), log)
      : undefined;

    let watch: LandingWatch | undefined;
    let timers: TimerScheduler | undefined;
    const http = await serveHttp({
      port,
      functions: functions.http,
      invoke: functions.callHttp,
      routes: builtinRoutes({
        runtime,
        engine,
        engineRunning: () => engineRunning,
        landing,
        eventHubs,
        eventGrid,
        watch: () => watch,
        timers: () => timers,
        baseUrl: () => baseUrl,
        log,
      }),
      log,
    });
    baseUrl = `http://127.0.0.1:${http.port}`;
    stops.push(async () => {
      await new Promise<void>((resolve) => {
        http.server.close(() => resolve());
        http.server.closeAllConnections();
      });
    });

    watch = await startLandingWatch({
      landing: containerLister(landingContainer(runtime, azurite)),
      container: runtime.settings.landingContainer,
      blobEndpoint: azurite.blobEndpoint,
      prefixes: runtime.fileSources.map((r) => r.source.landing!),
      intervalMs: options.watchIntervalMs,
      // In Azurite beside the data, so a host killed mid-delivery delivers again at its next start.
      journal: tableJournal(tables(LOCAL_HOST_DELIVERIES_TABLE), runtime.settings.landingContainer),
      deliver: async (event) => {
        for (const f of eventGrid) await invokeFunction(f.name, log, (context) => f.call(event, context));
      },
      log,
    });
    stops.push(() => watch!.stop());

    const resolve = (text: string) => resolveSettingReferences(text, runtime.bindingSettings);
    timers = await startTimers(functions.timers, resolve, tables(LOCAL_HOST_TIMERS_TABLE), log);
    stops.push(() => timers!.stop());

    return { url: baseUrl, port: http.port, azurite, runtime, engine, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
