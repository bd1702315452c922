/**
 * Stopping the local host other than by Ctrl-C in its terminal. By the PID of `npm start`, as a script
 * does (`npm start & … kill -INT $!`): the signal reaches npm, not the host, unless the start script
 * hands it on. And when the reader of its log goes away (`npm start | head`). A clean stop means the
 * process exits 0, Azurite's ports are free again and no process of the start is left.
 */
import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import * as net from 'node:net';
import * as nodePath from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { freePorts } from '../../dev/azurite';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const ROOT = nodePath.resolve(TEST_DIR, '..');

/** Whether something accepts connections on a loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Whether any process is left in a process group. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

interface StartedHost {
  child: ChildProcessByStdio<null, Readable, Readable>;
  port: number;
  blob: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'still running'>;
}

/**
 * Run `command` (npm start, or the host's module) on free ports until the host is up, then `check`;
 * whatever is left afterwards is stopped.
 */
async function withHost(command: string, args: string[], check: (host: StartedHost) => Promise<void>): Promise<void> {
  // Three ports the system handed out for Azurite: "blob and the next two" may meet another test's socket.
  const [port, blob, queue, table] = await freePorts(4);
  // The test's own Azurite must not stand in for the host's.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('AZURITE_') && k !== 'SLUICE_STORAGE_CONNECTION_STRING' && k !== 'AzureWebJobsStorage'),
  );
  // Its own process group, so that whatever the start leaves behind can be found.
  const child = spawn(command, [...args, '--in-memory', '--port', String(port), '--azurite-ports', `${blob},${queue},${table}`], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const exited = Promise.race([exit, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 60_000))]);
  try {
    const started = Date.now();
    while (!out.includes('Sluice is running.') && Date.now() - started < 60_000 && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('Sluice is running.');
    expect(await listening(blob)).toBe(true);
    await check({ child, port, blob, output: () => out, exited });
    expect(await listening(blob), `Azurite still on port ${blob}`).toBe(false);
    expect(await listening(port), `functions still on port ${port}`).toBe(false);
    expect(groupAlive(child.pid!), 'a process of the start is left').toBe(false);
  } finally {
    // Left over after a failure: the host stops Azurite (its own process group) on SIGTERM.
    if (groupAlive(child.pid!)) process.kill(-child.pid!, 'SIGTERM');
    for (let i = 0; i < 100 && groupAlive(child.pid!); i++) await new Promise((r) => setTimeout(r, 100));
    if (groupAlive(child.pid!)) process.kill(-child.pid!, 'SIGKILL');
    // A host that died without stopping leaves its Azurite behind: found by its port.
    const orphans = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes('azurite') && line.includes(`--blobPort ${blob} `));
    for (const line of orphans) process.kill(Number(line.trim().split(/\s+/)[0]), 'SIGKILL');
  }
}

describe('npm start stopped by its PID', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`stops cleanly on kill -${signal.slice(3)} <npm's pid>`, async () => {
      await withHost('npm', ['start', '--'], async ({ child, output, exited }) => {
        process.kill(child.pid!, signal);
        expect(await exited, output()).toEqual({ code: 0, signal: null });
        expect(output()).toMatch(/stopping[^\n]*\n[\s\S]*stopped\n/);
      });
    }, 120_000);
  }
});

describe('the local host whose log reader went away', () => {
  it('stops cleanly at its next log line (npm start | head)', async () => {
    await withHost(process.execPath, [nodePath.join(ROOT, 'dist', 'dev', 'start.js')], async ({ child, port, output, exited }) => {
      child.stdout.destroy();
      // Running the reconcile timer now makes the host log a line into the closed pipe.
      const response = await fetch(`http://127.0.0.1:${port}/admin/functions/reconcile`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(response.status).toBeLessThan(300);
      expect(await exited, output()).toEqual({ code: 0, signal: null });
      expect(output()).not.toMatch(/EPIPE|Error/);
    });
  }, 120_000);
});
