/**
 * The local host's command line and start-up errors (a new user's first contact), its NCRONTAB
 * next-occurrence function, its Event Hubs body parsing, and the `func start` layout: loading every
 * module the package.json `main` glob matches registers each function exactly once.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePorts } from '../../dev/azurite';
import { EventsBodyError, parseEventsBody } from '../../dev/eventhubs';
import { FUNCTIONS } from '../../functions/definitions';
import { registerUnderStandInHost } from '../support/functions-host';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const ROOT = nodePath.resolve(TEST_DIR, '..');

/** Run `npm start -- <args>` (the TypeScript entry, so no build is needed) and collect its output. */
function start(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', nodePath.join(ROOT, 'dev', 'start.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** An HTTP server that is not Azurite, holding a port. */
async function impostor(port: number): Promise<http.Server> {
  const server = http.createServer((_, res) => res.writeHead(200, { server: 'nginx' }).end('hello'));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return server;
}

describe('npm start / sluice dev command line', () => {
  it('explains itself with --help', async () => {
    const { code, stdout } = await start(['--help']);
    expect(code).toBe(0);
    for (const option of ['--pipeline', '--port', '--azurite-ports', '--in-memory', 'sluice dev events', 'Ctrl-C']) expect(stdout).toContain(option);
  });

  it('exits with 2 on a wrong command line', async () => {
    const { code, stderr } = await start(['--prot', '8080']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/Unknown option '--prot'/);
  });

  it('exits with 1 and says so when the HTTP port is taken', async () => {
    const [port] = await freePorts(1);
    const server = await impostor(port);
    try {
      const { code, stderr } = await start(['--port', String(port), '--in-memory']);
      expect(code).toBe(1);
      expect(stderr).toContain(`port ${port} is already in use`);
    } finally {
      server.close();
    }
  });

  it('exits with 1 and names the port when something else than Azurite holds the blob port', async () => {
    const [port, blob] = await freePorts(2);
    const server = await impostor(blob);
    try {
      const { code, stderr } = await start(['--port', String(port), '--azurite-ports', String(blob), '--in-memory']);
      expect(code).toBe(1);
      expect(stderr).toContain(`port ${blob} is in use by something that is not Azurite (server: nginx)`);
    } finally {
      server.close();
    }
  });
});

describe('events posted to the local Event Hubs feed', () => {
  it('takes a JSON array, one object, or NDJSON, and names a bad line', () => {
    expect(parseEventsBody('[{"a":1},{"a":2}]')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(parseEventsBody('{"a":1}')).toEqual([{ a: 1 }]);
    expect(parseEventsBody('{"a":1}\n\n{"a":2}\n')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(parseEventsBody('  ')).toEqual([]);
    expect(() => parseEventsBody('{"a":1}\n{"a":')).toThrow(EventsBodyError);
    expect(() => parseEventsBody('{"a":1}\n{"a":')).toThrow(/line 2 is not JSON/);
  });
});

describe('func start layout', () => {
  it('registers each function once when every module of the main glob is loaded, as the host does', () => {
    const main: string = JSON.parse(readFileSync(nodePath.join(ROOT, 'package.json'), 'utf8')).main;
    expect(main).toBe('dist/functions/*.js');
    // The sources the glob's files are compiled from (tsconfig: rootDir ".", outDir "dist").
    const modules = readdirSync(nodePath.join(ROOT, 'functions'))
      .filter((f) => f.endsWith('.ts'))
      .sort();
    expect(modules).toContain('index.ts');
    const env = {
      ...process.env,
      SLUICE_PIPELINES: nodePath.join(ROOT, 'examples', 'pipelines', 'pos.yaml'),
      SLUICE_EVENTHUB: 'Endpoint=sb://localhost;SharedAccessKeyName=k;SharedAccessKey=a2V5;UseDevelopmentEmulator=true;',
      SLUICE_EVENTHUB_NAME: 'network-telemetry',
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    };
    const child = registerUnderStandInHost(
      modules.map((m) => nodePath.join(ROOT, 'functions', m)),
      env,
    );
    expect(child.status, child.stderr).toBe(0);
    const names = child.functions.map((f) => f.name);
    expect(names.length, `registered: ${names.join(', ')}`).toBe(new Set(names).size);
    expect([...names].sort()).toEqual(FUNCTIONS.map((f) => f.name).sort());
  });
});
