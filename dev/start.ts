/**
 * `npm start`: Sluice on this machine. Starts Azurite from node_modules (data kept in `.azurite/`),
 * creates the landing and lake containers, validates the settings as the Function App would, and
 * serves the app's HTTP functions on http://127.0.0.1:7071/api/… until Ctrl-C.
 *
 * Settings come from the environment like in Azure. Without any, the local Azurite is used; an Azurite
 * already listening on port 10000 is reused rather than started twice.
 */
import * as net from 'node:net';
import * as nodePath from 'node:path';
import { loadSettings } from '../shared/config';
import { openContainerStore } from '../shared/storage/lake';
import { devConnectionString, AZURITE_DEFAULT_BLOB_ENDPOINT } from '../shared/storage/location';
import { FUNCTIONS, HttpFunctionDefinition } from '../functions/definitions';
import { startAzurite } from './azurite';
import { serveHttpFunctions } from './http';

const ROOT = nodePath.resolve(__dirname, '..', '..');

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 7071);
  const log = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);
  let stopAzurite: (() => Promise<void>) | undefined;

  if (!process.env.SLUICE_LAKE && !process.env.AzureWebJobsStorage && !process.env.SLUICE_LAKE__accountName) {
    if (await portOpen(10000)) {
      log('Azurite already listening on 127.0.0.1:10000; using it');
    } else {
      const location = nodePath.join(ROOT, '.azurite');
      const azurite = await startAzurite(ROOT, { ports: [10000, 10001, 10002], location });
      stopAzurite = azurite.stop;
      log(`Azurite started (blob :10000, queue :10001, table :10002), data in ${location}`);
    }
    process.env.AzureWebJobsStorage = devConnectionString(AZURITE_DEFAULT_BLOB_ENDPOINT);
  }
  const settings = loadSettings();
  for (const container of [settings.landingContainer, settings.lakeContainer]) {
    // Writing and deleting a marker creates the container if it is missing.
    const store = openContainerStore(settings.lake, container, '');
    await store.write('.sluice-start', 'ok');
    await store.delete('.sluice-start');
  }
  const httpFunctions = FUNCTIONS.filter((f): f is HttpFunctionDefinition => f.kind === 'http');
  const server = await serveHttpFunctions(httpFunctions, port, log);
  const lakeUri = settings.lake.kind === 'connectionString' ? `${AZURITE_DEFAULT_BLOB_ENDPOINT}/${settings.lakeContainer}` : `${settings.lake.blobServiceUri}/${settings.lakeContainer}`;
  process.stdout.write(`
Sluice is running.
  lake      ${lakeUri}/<layer>/<table>
  landing   container '${settings.landingContainer}'
  functions ${httpFunctions.map((f) => `\n    ${f.methods.join(',')} http://127.0.0.1:${port}/api/${f.route}`).join('')}

Try:
  npx sluice describe ${lakeUri}/bronze/<table>
  curl http://127.0.0.1:${port}/api/tables/bronze/<table>

Ctrl-C stops it.
`);
  const shutdown = async () => {
    log('stopping');
    server.close();
    await stopAzurite?.();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err) => {
  process.stderr.write(`sluice start: ${(err as Error).message}\n`);
  process.exit(1);
});
