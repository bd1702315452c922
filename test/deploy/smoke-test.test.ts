/**
 * scripts/smoke-test.mjs, the check CI runs after each deployment, run here against the local host
 * (`npm start`'s entry, dist/dev/start.js) on an Azurite of its own: the local host serves the same
 * HTTP routes as the function app (health, tables, pipeline runs), so everything but the Azure
 * sign-in and the function key is exercised for real: the health probe, a file uploaded to landing
 * reaching bronze, and a run started over HTTP followed to completion. Also: a wrong pipeline fails
 * with the answer that made it fail.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AzuriteServer, freePorts, startAzurite } from '../../dev/azurite';
import { REPO_ROOT } from '../support/bicep-text';

const PIPELINE = `name: smoke
sources:
  drops: { landing: drops/, format: csv, schemaHints: { id: string, amount: int } }
tables:
  silver.drops:
    from: drops
    sql: SELECT id, amount FROM source
    keys: [id]
`;

let azurite: AzuriteServer;
let host: ChildProcess | undefined;
let url: string;
let work: string;
const output: string[] = [];

beforeAll(async () => {
  azurite = await startAzurite(REPO_ROOT);
  work = mkdtempSync(nodePath.join(tmpdir(), 'sluice-smoke-'));
  const pipelineFile = nodePath.join(work, 'smoke.yaml');
  writeFileSync(pipelineFile, PIPELINE);
  writeFileSync(nodePath.join(work, 'drops.csv'), 'id,amount\na,1\nb,2\n');
  const [port] = await freePorts(1);
  const ports = [azurite.blobEndpoint, azurite.queueEndpoint, azurite.tableEndpoint].map((e) => new URL(e).port).join(',');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_') && !k.startsWith('AzureWebJobs')));
  host = spawn(
    process.execPath,
    [
      nodePath.join(REPO_ROOT, 'dist', 'dev', 'start.js'),
      '--pipeline',
      pipelineFile,
      '--port',
      String(port),
      '--azurite-ports',
      ports,
      '--watch-interval',
      '200',
    ],
    { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  host.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  host.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 90_000;
  while (
    !(await fetch(`${url}/api/health`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (host.exitCode !== null) throw new Error(`the local host exited\n${output.join('')}`);
    if (Date.now() > until) throw new Error(`the local host did not start\n${output.join('')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}, 120_000);

afterAll(async () => {
  host?.kill('SIGKILL');
  await azurite?.stop();
});

/** Run the smoke test with only the given environment (no azd on PATH: the values come from here). */
function smokeTest(env: Record<string, string>, ...args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [nodePath.join(REPO_ROOT, 'scripts', 'smoke-test.mjs'), ...args], {
      cwd: REPO_ROOT,
      env: {
        PATH: nodePath.dirname(process.execPath),
        SLUICE_FUNCTION_APP_URL: url,
        SLUICE_LAKE: azurite.connectionString,
        SLUICE_LANDING_CONTAINER: 'landing',
        SLUICE_SMOKE_PIPELINE: 'smoke',
        SLUICE_SMOKE_LANDING: 'drops/',
        SLUICE_SMOKE_TABLE: 'drops',
        SLUICE_SMOKE_FILE: nodePath.join(work, 'drops.csv'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, output: text });
    });
  });
}

describe('scripts/smoke-test.mjs against the local host', () => {
  it('passes: health, a landing file reaching bronze, a run completing', async () => {
    const run = await smokeTest({});
    expect(run.status, `${run.output}\n--- host ---\n${output.slice(-40).join('')}`).toBe(0);
    expect(run.output).toMatch(/1\. .*\/api\/health answers 200/);
    expect(run.output).toMatch(/bronze\/drops is at version \d+/);
    expect(run.output).toMatch(/the run completed/);
    expect(run.output).toMatch(/smoke test passed/);
    // Run again: a second file raises the version again (the check waits for a newer one, not any).
    const again = await smokeTest({});
    expect(again.status, again.output).toBe(0);
    const versions = [run.output, again.output].map((o) => Number(/bronze\/drops is at version (\d+)/.exec(o)![1]));
    expect(versions[1]).toBeGreaterThan(versions[0]!);
  }, 300_000);

  it('writes nothing with --no-data, and fails naming the answer for a pipeline the app does not serve', async () => {
    const wrong = await smokeTest({ SLUICE_SMOKE_PIPELINE: 'nosuchpipeline' }, '--no-data');
    expect(wrong.status).toBe(1);
    expect(wrong.output).toMatch(/2\. skipped \(--no-data\)/);
    expect(wrong.output).toMatch(/smoke test failed: POST \/api\/pipelines\/nosuchpipeline\/runs answered 404/);
  }, 120_000);
});
