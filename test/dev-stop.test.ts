/**
 * Stopping the local host by the PID of `npm start`, as a script does (`npm start & … kill -INT $!`):
 * the signal reaches npm, not the host, unless the start script hands it on. A clean stop means the host
 * stopped (its own "stopped" line), Azurite's ports are free again and no process of the start is left.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePorts } from '../dev/azurite';

const ROOT = nodePath.resolve(__dirname, '..');

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

describe('npm start stopped by its PID', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`stops cleanly on kill -${signal.slice(3)} <npm's pid>`, async () => {
      const [port, blob] = await freePorts(2);
      // The test's own Azurite must not stand in for the host's.
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AZURITE_') && k !== 'SLUICE_STORAGE_CONNECTION_STRING' && k !== 'AzureWebJobsStorage'));
      // Its own process group, so that whatever the start leaves behind can be found.
      const npm = spawn('npm', ['start', '--', '--in-memory', '--port', String(port), '--azurite-ports', String(blob)], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      npm.stdout.on('data', (c: Buffer) => (out += c.toString()));
      npm.stderr.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => npm.on('exit', (code, sig) => resolve({ code, signal: sig })));
      try {
        const started = Date.now();
        while (!out.includes('Sluice is running.') && Date.now() - started < 60_000 && npm.exitCode === null) await new Promise((r) => setTimeout(r, 100));
        expect(out).toContain('Sluice is running.');
        expect(await listening(blob)).toBe(true);

        process.kill(npm.pid!, signal);
        const ended = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000))]);
        expect(ended, out).toEqual({ code: 0, signal: null });
        expect(out).toMatch(/stopping[^\n]*\n[\s\S]*stopped\n/);
        expect(await listening(blob), `Azurite still on port ${blob}`).toBe(false);
        expect(await listening(port), `functions still on port ${port}`).toBe(false);
        expect(groupAlive(npm.pid!), 'a process of the start is left').toBe(false);
      } finally {
        // Left over after a failure: the host stops Azurite (its own process group) on SIGTERM.
        if (groupAlive(npm.pid!)) process.kill(-npm.pid!, 'SIGTERM');
        for (let i = 0; i < 100 && groupAlive(npm.pid!); i++) await new Promise((r) => setTimeout(r, 100));
        if (groupAlive(npm.pid!)) process.kill(-npm.pid!, 'SIGKILL');
      }
    }, 120_000);
  }
});
