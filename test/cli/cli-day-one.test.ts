/**
 * What a new user of the `sluice` command meets first: its version, a mistyped command, and its output
 * piped into a reader that stops early (`sluice read <table> | head -1`). These run the built command
 * (bin/sluice.js → dist/), as a user's shell does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTable, writeTable } from '../../shared/delta/table';
import { openStore } from '../../shared/storage';
import { WRITER_SCHEMA, writerBatch } from '../../bench/writers';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const ROOT = nodePath.resolve(TEST_DIR, '..');
const BIN = nodePath.join(ROOT, 'bin', 'sluice.js');
const scratch = mkdtempSync(nodePath.join(tmpdir(), 'sluice-day-one-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function sluice(args: string[], bin = BIN) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });
}

describe('sluice --version', () => {
  it('prints the version of the package it is installed from', () => {
    // A copy of the built command beside a package.json of another version: a version written into
    // the code would show here.
    const install = nodePath.join(scratch, 'installed');
    for (const folder of ['bin', 'dist/cli', 'dist/dev', 'dist/functions', 'dist/shared'])
      cpSync(nodePath.join(ROOT, folder), nodePath.join(install, folder), { recursive: true });
    symlinkSync(nodePath.join(ROOT, 'node_modules'), nodePath.join(install, 'node_modules'), 'dir');
    const pkg = JSON.parse(readFileSync(nodePath.join(ROOT, 'package.json'), 'utf8'));
    writeFileSync(nodePath.join(install, 'package.json'), JSON.stringify({ ...pkg, version: '7.8.9-copy' }));

    const copy = sluice(['--version'], nodePath.join(install, 'bin', 'sluice.js'));
    expect(copy.stderr).toBe('');
    expect(copy.stdout).toBe('7.8.9-copy\n');
    expect(sluice(['--help'], nodePath.join(install, 'bin', 'sluice.js')).stdout.split('\n')[0]).toMatch(/^sluice 7\.8\.9-copy /);
    expect(sluice(['--version']).stdout).toBe(`${pkg.version}\n`);
  });
});

describe('an unknown command', () => {
  it('is a usage error that suggests the nearest command and lists them all, dev included', () => {
    const typo = sluice(['raed', 'x']);
    expect(typo.status).toBe(2);
    expect(typo.stdout).toBe('');
    const [first, list] = typo.stderr.split('\n');
    expect(first).toBe("sluice: unknown command 'raed'; did you mean 'read'?");
    const commands = list.replace(/^Commands: /, '').split(', ');
    for (const command of ['read', 'describe', 'history', 'optimize', 'vacuum', 'checkpoint', 'flush', 'ingest', 'backfill', 'pipeline', 'quarantine', 'dev']) {
      expect(commands, `${command} in: ${list}`).toContain(command);
    }
    // Nothing is close to a word that is no command at all: no guess.
    expect(sluice(['xyzzy']).stderr.split('\n')[0]).toBe("sluice: unknown command 'xyzzy'");
  });
});

describe('sluice dev', () => {
  it("reaches the local host's command line, which answers a wrong one as sluice does", () => {
    const drop = sluice(['dev', 'drop']);
    expect(drop.status).toBe(2);
    expect(drop.stdout).toBe('');
    expect(drop.stderr).toBe("sluice: 'dev drop' needs at least one file\nRun 'sluice --help' for usage.\n");
    expect(sluice(['dev', 'events']).stderr.split('\n')[0]).toMatch(/^sluice: 'dev events' needs the hub name/);
    expect(sluice(['--help']).stdout).toMatch(/^ {2}dev drop <file>… --to <folder>/m);
  });
});

describe('output piped into a reader that stops early', () => {
  it('sluice read <table> | head -1 ends quietly with status 0', async () => {
    // ~2 MB of NDJSON: far beyond a pipe's buffer, so the command is still writing when the reader leaves.
    const table = nodePath.join(scratch, 'rows');
    const store = openStore(table);
    await createTable(store, { schema: WRITER_SCHEMA });
    await writeTable(store, [writerBatch(1, 1, 50_000)]);

    const child = spawn(process.execPath, [BIN, 'read', table], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const firstLine = await new Promise<string>((resolve) => {
      let seen = '';
      child.stdout.on('data', (c: Buffer) => {
        seen += c.toString();
        // What head -1 does: take the first line and close the pipe.
        if (seen.includes('\n')) {
          child.stdout.destroy();
          resolve(seen.slice(0, seen.indexOf('\n')));
        }
      });
    });
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
    });
    expect(JSON.parse(firstLine)).toEqual({ writer: 1, batch: 1, value: 1001 });
    expect(stderr).toBe('');
    expect(exit).toEqual({ code: 0, signal: null });
  }, 60_000);
});
