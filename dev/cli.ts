/**
 * `sluice dev …`: the local host from the `sluice` command, and two helpers for feeding a running one.
 *
 * - `sluice dev [options]`: the same as `npm start -- [options]` (dev/start.ts);
 * - `sluice dev events --hub <hub> <file>` (or `… events <hub> <file>`): post a JSON array or NDJSON file
 *   of events to the local host's Event Hubs feed; `… --rate N --duration S` posts generated store-network
 *   telemetry instead, N events a second for S seconds, once a second;
 * - `sluice dev drop <file>… --to <folder>`: upload files into the landing container of the local
 *   Azurite, as any storage tool would (the landing watch then ingests them).
 *
 * Exit status as for `sluice`: 0 done, 1 failed, 2 wrong command line.
 */
import { readFile } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../shared/storage/location';
import { runDev } from './start';
import { processIo } from '../shared/command-line/stdout';
import { runCommandLine, UsageError, type CommandIo as Io } from '../shared/command-line/usage';

/**
 * The `sluice dev …` command line: bin/sluice.js hands it every command line starting with `dev` (the
 * CLI itself does not import the local host).
 *
 * @param argv the arguments after `dev`
 * @param io output sinks (stdout/stderr by default)
 * @returns the exit status
 */
export function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runCommandLine(runDevCommand, argv, io);
}

/**
 * Run `sluice dev …`.
 *
 * @param argv the arguments after `dev`
 * @param io output sinks
 * @returns the exit status
 * @throws UsageError (named so) for a wrong command line
 */
export async function runDevCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'events') return postEvents(rest, io);
  if (sub === 'drop') return dropFiles(rest, io);
  const code = await runDev(argv);
  // The host is the whole process; once it stopped, nothing else should keep it alive.
  process.exit(code);
}

async function postEvents(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { url: { type: 'string' }, rate: { type: 'string' }, duration: { type: 'string' }, hub: { type: 'string' } });
  const url = (values.url ?? 'http://127.0.0.1:7071').replace(/\/+$/, '');
  // The hub is the first word, or --hub (then every word is a file).
  const hub = values.hub ?? positionals[0];
  const file = values.hub !== undefined ? positionals[0] : positionals[1];
  const extra = positionals.length > (values.hub !== undefined ? 1 : 2);
  if (!hub) throw new UsageError("'dev events' needs the hub name, e.g. sluice dev events --hub network-telemetry events.ndjson");
  const post = async (body: string) => {
    const response = await fetch(`${url}/api/dev/eventhubs/${encodeURIComponent(hub)}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${url} answered ${response.status}: ${text}`);
    return JSON.parse(text) as { events: number; sequenceNumbers: [number, number] | null };
  };
  if (file !== undefined) {
    if (values.rate !== undefined || values.duration !== undefined || extra)
      throw new UsageError("'dev events' takes a file or --rate and --duration, not both");
    const result = await post(await readFile(file, 'utf8'));
    io.out(
      `${result.events} events sent to ${hub}${result.sequenceNumbers ? ` (sequence numbers ${result.sequenceNumbers[0]}–${result.sequenceNumbers[1]})` : ''}\n`,
    );
    return 0;
  }
  const rate = positive(values.rate, '--rate');
  const duration = positive(values.duration, '--duration');
  let sent = 0;
  const started = Date.now();
  for (let second = 0; second < duration; second++) {
    const events = Array.from({ length: rate }, (_, i) => telemetryEvent(sent + i));
    const result = await post(JSON.stringify(events));
    sent += result.events;
    io.out(`${sent} events sent to ${hub}\n`);
    const wait = started + (second + 1) * 1000 - Date.now();
    if (wait > 0 && second + 1 < duration) await new Promise((r) => setTimeout(r, wait));
  }
  return 0;
}

/** One generated store-network telemetry reading (the POS example's `network_events` source). */
function telemetryEvent(n: number): Record<string, unknown> {
  const store = `S0${(n % 3) + 1}`;
  return {
    device_id: `${store}-POS-${(n % 4) + 1}`,
    store_id: store,
    latency_ms: 5 + ((n * 37) % 120),
    packets_lost: n % 17 === 0 ? 1 : 0,
    measured_at: new Date().toISOString(),
  };
}

async function dropFiles(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { to: { type: 'string' }, container: { type: 'string' } });
  if (positionals.length === 0) throw new UsageError("'dev drop' needs at least one file");
  if (values.to === undefined) throw new UsageError("'dev drop' needs --to <folder>, the landing folder of a source (e.g. pos/sales/)");
  const folder = values.to.replace(/^\/+/, '').replace(/\/*$/, '/');
  const container = values.container ?? 'landing';
  for (const file of positionals) {
    const path = `${folder === '/' ? '' : folder}${nodePath.basename(file)}`;
    const info = await openStore(`azurite://${container}`).write(path, await readFile(file));
    io.out(`${container}/${path} (${info.size} bytes, ETag ${info.etag})\n`);
  }
  return 0;
}

function parse<T extends Record<string, { type: 'string' }>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function positive(text: string | undefined, option: string): number {
  if (text === undefined) throw new UsageError(`'dev events' needs a file, or ${option} (with --rate N --duration S)`);
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${option} must be a whole number ≥ 1, not '${text}'`);
  return Number(text);
}
