#!/usr/bin/env node
// Smoke test of a deployed Sluice, run by the CI/CD workflow after `azd up` (and by hand after yours):
//
//   1. the app answers: GET /api/health is 200;
//   2. a file dropped in the landing container reaches bronze: the sample sales file is uploaded under a
//      new name and the bronze table's version goes up (GET /api/tables/bronze/<table>);
//   3. a run completes: POST /api/pipelines/<name>/runs, then GET /api/pipelines/<name>/runs/<id>
//      until it answers 200 with runtimeStatus Completed.
//
//   node scripts/smoke-test.mjs                 # all three
//   node scripts/smoke-test.mjs --no-data       # 1 and 3 only: nothing is written to the lake
//
// Where: the azd environment's values (`azd env get-values`), or the same names in the environment:
// SLUICE_FUNCTION_APP_URL, AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME (for
// the function key, read through Azure Resource Manager), SLUICE_LAKE__blobServiceUri,
// SLUICE_LANDING_CONTAINER, SLUICE_NETWORK_ISOLATION, SLUICE_EASY_AUTH_CLIENT_ID (a token for that app
// registration is sent when Easy Auth is on). Credentials: DefaultAzureCredential (in CI the
// azd or az sign-in of the workflow's federated identity). With the network option the lake is not
// reachable from outside its virtual network, so step 2 is skipped with a note. What is dropped and
// run: SLUICE_SMOKE_PIPELINE (pos), SLUICE_SMOKE_LANDING (pos/sales/), SLUICE_SMOKE_TABLE
// (pos_sales), SLUICE_SMOKE_FILE (examples/data/pos/sales-2026-03-01.csv). Against the local host
// (a loopback URL) no key is used and the file goes to the storage of SLUICE_LAKE, a full connection
// string (the local host prints Azurite's).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';

const ROOT = nodePath.resolve(import.meta.dirname, '..');
const args = new Set(process.argv.slice(2));
const unknown = [...args].filter((a) => a !== '--no-data');
if (unknown.length) fail(`unknown argument ${unknown.join(' ')} (usage: node scripts/smoke-test.mjs [--no-data])`);

/** Seconds each wait may take before the test fails. */
const WAIT = { health: 300, bronze: 600, run: 900 };

const env = { ...azdValues(), ...definedOnly(process.env) };
const appUrl = required('SLUICE_FUNCTION_APP_URL').replace(/\/+$/, '');
const local = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(appUrl);
const pipeline = env.SLUICE_SMOKE_PIPELINE ?? 'pos';
const landingFolder = env.SLUICE_SMOKE_LANDING ?? 'pos/sales/';
const table = env.SLUICE_SMOKE_TABLE ?? 'pos_sales';
const sampleFile = nodePath.resolve(ROOT, env.SLUICE_SMOKE_FILE ?? 'examples/data/pos/sales-2026-03-01.csv');

let credential;
async function azureCredential() {
  const { DefaultAzureCredential } = await import('@azure/identity');
  credential ??= new DefaultAzureCredential();
  return credential;
}

const key = local ? undefined : await functionKey();
// With Easy Auth on, routes other than /api/health also want an Entra ID token for the app registration.
const bearer = env.SLUICE_EASY_AUTH_CLIENT_ID
  ? (await (await azureCredential()).getToken(`api://${env.SLUICE_EASY_AUTH_CLIENT_ID}/.default`)).token
  : undefined;

step(`1. ${appUrl}/api/health answers 200`);
await until(WAIT.health, async () => {
  const answer = await call('GET', '/api/health', { key: false });
  return answer.status === 200 ? answer.body : undefined;
});

if (args.has('--no-data')) note('2. skipped (--no-data): nothing is written to the lake');
else if (env.SLUICE_NETWORK_ISOLATION === 'true') note('2. skipped: with the network option the lake takes no traffic from outside its virtual network');
else {
  const before = await bronzeVersion();
  const name = `${landingFolder}smoke-${new Date().toISOString().replace(/[:.]/g, '-')}.csv`;
  step(`2. ${name} dropped in landing reaches bronze/${table} (now at version ${before ?? 'none'})`);
  await upload(name, readFileSync(sampleFile));
  const after = await until(WAIT.bronze, async () => {
    const version = await bronzeVersion();
    return version !== undefined && (before === undefined || version > before) ? version : undefined;
  });
  note(`bronze/${table} is at version ${after}`);
}

step(`3. a run of pipeline ${pipeline} completes`);
const started = await call('POST', `/api/pipelines/${encodeURIComponent(pipeline)}/runs`, { body: { reason: 'smoke test after deployment' } });
if (started.status !== 202) fail(`POST /api/pipelines/${pipeline}/runs answered ${started.status}: ${JSON.stringify(started.body)}`);
const instance = started.body.id;
note(`instance ${instance}${started.body.queued ? ' (a run was going: it was asked to catch up)' : ''}`);
const finished = await until(WAIT.run, async () => {
  const answer = await call('GET', `/api/pipelines/${encodeURIComponent(pipeline)}/runs/${encodeURIComponent(instance)}`);
  if (answer.status === 202) return undefined;
  if (answer.status !== 200) fail(`GET …/runs/${instance} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
});
if (finished.runtimeStatus !== 'Completed') fail(`the run ended ${finished.runtimeStatus}: ${JSON.stringify(finished.output ?? finished).slice(0, 2000)}`);
note(`the run completed`);
console.log('smoke test passed');

// ---- helpers -----------------------------------------------------------------------------------

function azdValues() {
  try {
    return JSON.parse(execFileSync('azd', ['env', 'get-values', '--output', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return {}; // no azd, or no environment: the process environment must then hold the values
  }
}

function definedOnly(values) {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined && v !== ''));
}

function required(name) {
  const value = env[name];
  if (!value) fail(`${name} is not set (neither in the azd environment nor in the process environment)`);
  return value;
}

async function functionKey() {
  // The app's default function key, through Resource Manager (listKeys on the host), with the same
  // credential that deployed: no key is stored anywhere.
  const id = `/subscriptions/${required('AZURE_SUBSCRIPTION_ID')}/resourceGroups/${required('AZURE_RESOURCE_GROUP')}/providers/Microsoft.Web/sites/${required('AZURE_FUNCTION_APP_NAME')}`;
  const token = await (await azureCredential()).getToken('https://management.azure.com/.default');
  const response = await fetch(`https://management.azure.com${id}/host/default/listKeys?api-version=2023-12-01`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token.token}` },
  });
  if (!response.ok) fail(`listKeys on ${id} answered ${response.status}: ${await response.text()}`);
  const keys = await response.json();
  return keys.functionKeys?.default ?? fail('the app has no default function key');
}

async function call(method, path, { body, key: withKey = true } = {}) {
  const headers = {
    ...(body ? { 'content-type': 'application/json' } : {}),
    ...(withKey && key ? { 'x-functions-key': key } : {}),
    ...(withKey && bearer ? { authorization: `Bearer ${bearer}` } : {}),
  };
  let response;
  try {
    response = await fetch(`${appUrl}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(60_000) });
  } catch (err) {
    return { status: 0, body: { error: err.message } };
  }
  const text = await response.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { text: text.slice(0, 500) };
  }
  return { status: response.status, body: parsed };
}

async function bronzeVersion() {
  const answer = await call('GET', `/api/tables/bronze/${encodeURIComponent(table)}`);
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) fail(`GET /api/tables/bronze/${table} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body.version;
}

async function upload(blobName, bytes) {
  const { BlobServiceClient } = await import('@azure/storage-blob');
  const container = env.SLUICE_LANDING_CONTAINER ?? 'landing';
  const service = local
    ? BlobServiceClient.fromConnectionString(required('SLUICE_LAKE'))
    : new BlobServiceClient(required('SLUICE_LAKE__blobServiceUri'), await azureCredential());
  await service.getContainerClient(container).getBlockBlobClient(blobName).uploadData(bytes);
}

async function until(seconds, probe) {
  const deadline = Date.now() + seconds * 1000;
  for (let pause = 2_000; ; pause = Math.min(pause * 2, 15_000)) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) fail(`gave up after ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

function step(text) {
  console.log(`smoke test: ${text}`);
}

function note(text) {
  console.log(`  ${text}`);
}

function fail(message) {
  console.error(`smoke test failed: ${message}`);
  process.exit(1);
}
