/**
 * `npm start` and `sluice dev`: the whole pipeline on this machine (dev/host.ts) until Ctrl-C.
 *
 * Exit status: 0 after a clean stop, 1 when the host cannot start (port taken, Azurite not starting,
 * bad settings or pipeline; the reason is on stderr), 2 for a wrong command line. The first Ctrl-C
 * (or SIGTERM) stops the triggers, lets running activities finish and stops Azurite; a second one exits
 * at once (an interrupted activity runs again on the next start). package.json's start script `exec`s
 * this module: npm forwards SIGINT/SIGTERM only to its direct child, and `sh -c` would not pass them on.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_DEV_PIPELINE, type LocalHost, startLocalHost } from './host';
import { whenStdoutCloses } from '../shared/command-line/stdout';
import { UsageError } from '../shared/command-line/usage';

/** `sluice dev --help` / `npm start -- --help`. */
export const DEV_USAGE = `Usage: npm start -- [options]      (or: sluice dev [options])

Runs Sluice on this machine: Azurite (the Azure Storage emulator) for storage, the app's functions
on http://127.0.0.1:7071, files dropped in the landing container ingested into bronze, silver and
gold refreshed by the orchestration engine, timers on their schedules.

Options:
  --pipeline <file>       pipeline definition to run (default ${DEFAULT_DEV_PIPELINE},
                          or SLUICE_PIPELINES when set)
  --port <n>              HTTP port of the functions (default 7071)
  --azurite-ports <b,q,t> Azurite's blob, queue and table ports (default 10000,10001,10002); one
                          number means that port and the next two. An Azurite already listening
                          there is used as it is.
  --in-memory             keep Azurite's data in memory only (default: kept in .azurite/ between runs)
  --watch-interval <ms>   how often the landing folders are listed (default 500)
  -h, --help              this text

Other commands while it runs:
  sluice dev events <hub> <file.json|file.ndjson>   send events to the Event Hubs function
  sluice dev events <hub> --rate <n> --duration <s> send generated events
  curl http://127.0.0.1:7071/api/health             what runs, with counts

Ctrl-C stops it (a second Ctrl-C stops at once).
`;

/** A command-line mistake (exit status 2). */

function ports(text: string): [number, number, number] {
  const parts = text.split(',').map((p) => Number(p.trim()));
  if (parts.some((p) => !Number.isInteger(p) || p < 1 || p > 65535))
    throw new UsageError(`--azurite-ports: "${text}" is not a port or three comma-separated ports`);
  if (parts.length === 1) return [parts[0], parts[0] + 1, parts[0] + 2];
  if (parts.length !== 3) throw new UsageError(`--azurite-ports: give one port or three (blob,queue,table), got ${parts.length}`);
  return parts as [number, number, number];
}

function whole(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${text}"`);
  return n;
}

/**
 * Run the local host with command-line arguments until a signal stops it.
 *
 * @param argv the arguments after the command
 * @returns the exit status once stopped
 */
export async function runDev(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        pipeline: { type: 'string' },
        port: { type: 'string' },
        'azurite-ports': { type: 'string' },
        'in-memory': { type: 'boolean' },
        'watch-interval': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`sluice dev: ${(err as Error).message}\nRun 'npm start -- --help' for usage.\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(DEV_USAGE);
    return 0;
  }
  let host: LocalHost;
  // Until the host is up, a Ctrl-C must not kill this process: Azurite runs in its own process group
  // and would be left behind on its ports. The stop waits for start-up to finish instead.
  let interrupted = false;
  const duringStart = () => {
    if (!interrupted) process.stdout.write('stopping as soon as start-up is done\n');
    interrupted = true;
  };
  process.on('SIGINT', duringStart);
  process.on('SIGTERM', duringStart);
  // A host whose log reader went away (`npm start | head`) stops as on a signal, Azurite included.
  whenStdoutCloses(duringStart);
  try {
    host = await startLocalHost({
      ...(values.pipeline ? { pipeline: values.pipeline } : {}),
      port: whole('port', values.port, 0, 65535) ?? 7071,
      ...(values['azurite-ports'] ? { azuritePorts: ports(values['azurite-ports']) } : {}),
      inMemory: values['in-memory'] === true,
      ...(values['watch-interval'] ? { watchIntervalMs: whole('watch-interval', values['watch-interval'], 50, 600_000) } : {}),
    });
  } catch (err) {
    process.stderr.write(`sluice dev: ${(err as Error).message}\n`);
    return err instanceof UsageError ? 2 : 1;
  } finally {
    process.off('SIGINT', duringStart);
    process.off('SIGTERM', duringStart);
  }
  if (interrupted) {
    await host.stop();
    process.stdout.write('stopped\n');
    return 130;
  }
  process.stdout.write(banner(host));
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = () => {
      if (stopping) {
        process.stderr.write('sluice dev: stopped at once; interrupted activities run again on the next start\n');
        process.exit(130);
      }
      stopping = true;
      process.stdout.write('stopping (Ctrl-C again to stop at once)\n');
      host.stop().then(
        () => {
          process.stdout.write('stopped\n');
          resolve(0);
        },
        (err) => {
          process.stderr.write(`sluice dev: stopping failed: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    whenStdoutCloses(onSignal);
  });
}

function banner(host: LocalHost): string {
  const { runtime, url } = host;
  const landing = `${host.azurite.blobEndpoint}/${runtime.settings.landingContainer}`;
  const folders = runtime.fileSources.map((r) => `\n    ${r.source.landing!.padEnd(22)} → ${r.source.table}`).join('');
  const hubs = runtime.hubSources.map((r) => `\n    POST ${url}/api/dev/eventhubs/${r.source.eventHub!.name}  → ${r.source.table}`).join('');
  return `
Sluice is running.
  functions   ${url}/api/…   (health: ${url}/api/health)
  landing     ${landing}${folders}${hubs ? `\n  events${hubs}` : ''}
  lake        ${host.azurite.blobEndpoint}/${runtime.settings.lakeContainer}/<layer>/<table>

Try, in another terminal:
  npx sluice dev drop examples/data/pos/sales-2026-03-01.csv --to pos/sales/   (or any storage tool)
  npx sluice read azurite://${runtime.settings.lakeContainer}/silver/sales --format table
  curl ${url}/runtime/webhooks/durabletask/instances

Ctrl-C stops it.
`;
}

if (require.main === module) {
  void runDev(process.argv.slice(2)).then((code) => process.exit(code));
}
