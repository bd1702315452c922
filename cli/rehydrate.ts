/**
 * `sluice rehydrate <table>`: bring back online the files of a table version that are in the Archive
 * tier, with the stage functions the `rehydrate` orchestration's activities call (shared/tiering):
 * find the archived files, record the hold that keeps the tiering run off them, ask storage for each
 * rehydration, and with `--wait` check again every `SLUICE_REHYDRATION_POLL_SECONDS` until all are
 * online. Storage carries out the rehydration itself: a command that stops waiting (or never waited)
 * loses nothing, and running it again picks up where things are.
 */
import { loadRehydrationSettings, type SettingsEnv } from '../shared/config/settings';
import type { Snapshot } from '../shared/delta/snapshot';
import { parseCommandLine, UsageError, type CommandIo } from '../shared/command-line/usage';
import { openStore } from '../shared/storage/location';
import type { ObjectStore } from '../shared/storage/types';
import { formatBytes, neededFiles } from '../shared/tiering/archived-files';
import {
  advanceRehydration,
  completeHold,
  DEFAULT_REHYDRATION_PRIORITY,
  holdId,
  holdState,
  markHoldsRead,
  parsePriority,
  planRehydration,
  progressLine,
  readHold,
  recordHold,
  REHYDRATION_DEADLINE_HOURS,
  REHYDRATION_PRIORITIES,
  type RehydrationProgress,
} from '../shared/tiering/rehydrate';

/** Help of the command (part of `sluice --help`). */
export const REHYDRATE_HELP = `  rehydrate <table>    bring back online the files a version needs that are in the Archive tier
                       (a read of such a version is refused and names this command); the files
                       are set back to Hot in place, and held from the tiering run until read
      --version N          the version to read (default: the latest)
      --priority P         standard (default; Azure: up to 15 hours) | high (Azure: under 1 hour
                           for files under 10 GB, at a higher price)
      --wait               return only when every file is online (checks every
                           SLUICE_REHYDRATION_POLL_SECONDS, default 300)
      --json               the counts: files, bytes, online, pending, requested, refused
`;

const OPTIONS = {
  version: { type: 'string' },
  priority: { type: 'string' },
  wait: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What the command needs from its process; tests pass their own store and clock. */
export interface RehydrateCommandOptions {
  env?: SettingsEnv;
  /** Opens the table location (default `openStore`). */
  open?: (location: string) => ObjectStore;
  /** Waits between checks (default a timer). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Run `sluice rehydrate …`.
 *
 * @param argv the arguments after `rehydrate`
 * @param io output sinks
 * @param options settings, store opener, sleep
 * @returns the exit status: 0 when asked (or, with --wait, when all online), 1 when storage refused or lost files
 */
export async function runRehydrateCommand(argv: string[], io: CommandIo, options: RehydrateCommandOptions = {}): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (values.help) {
    io.out(REHYDRATE_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`'rehydrate' takes exactly one table location, got ${positionals.length}`);
  const location = positionals[0];
  if (values.version !== undefined && !/^\d+$/.test(values.version)) throw new UsageError(`--version must be a whole number ≥ 0, not '${values.version}'`);
  const priority = parsePriority(values.priority ?? DEFAULT_REHYDRATION_PRIORITY);
  if (!priority) throw new UsageError(`--priority must be ${REHYDRATION_PRIORITIES.join(' or ')}, not '${values.priority}'`);
  const settings = loadRehydrationSettings(options.env ?? process.env);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const store = (options.open ?? openStore)(location);

  const plan = await planRehydration(store, values.version === undefined ? undefined : Number(values.version));
  const base = { table: location, version: plan.version, priority, files: plan.files.length, bytes: plan.bytes };
  if (plan.files.length === 0) {
    if (values.json) io.out(JSON.stringify({ ...base, online: 0, pending: 0, requested: 0, refused: [], missing: [], completed: true }, null, 2) + '\n');
    else io.out(`version ${plan.version} of ${location}: all ${plan.needed} files are online; nothing to rehydrate\n`);
    return 0;
  }
  const id = holdId(plan.version, priority);
  const files = plan.files.map((f) => ({ path: f.path, size: f.size }));
  await recordHold(store, { id, version: plan.version, priority, files, bytes: plan.bytes, by: 'sluice rehydrate', requestedAt: new Date().toISOString() });
  if (!values.json)
    io.out(`version ${plan.version} of ${location}: ${files.length} archived file(s), ${formatBytes(plan.bytes)}; rehydrating to Hot, priority ${priority}\n`);

  let progress = await advanceRehydration(store, files, priority);
  const deadline = Date.now() + REHYDRATION_DEADLINE_HOURS * 3_600_000;
  let requested = progress.requested;
  while (values.wait && progress.online < progress.total && progress.missing.length === 0 && Date.now() < deadline) {
    if (!values.json) io.out(`  ${line(progress)}\n`);
    await sleep(settings.rehydrationPollSeconds * 1000);
    progress = await advanceRehydration(store, files, priority);
    requested += progress.requested;
  }
  const completed = progress.online >= progress.total;
  let heldUntil: string | undefined;
  if (completed) {
    const at = new Date();
    await completeHold(store, id, at);
    const hold = await readHold(store, id);
    heldUntil = hold && holdState(hold, at, settings.rehydrationHoldDays)?.until;
  }
  if (values.json) {
    io.out(
      JSON.stringify(
        {
          ...base,
          online: progress.online,
          bytesOnline: progress.bytesOnline,
          pending: progress.pending,
          requested,
          refused: progress.refused,
          missing: progress.missing,
          completed,
          ...(heldUntil ? { heldUntil } : {}),
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    io.out(`  ${line(progress)}\n`);
    if (completed) {
      io.out(`all ${progress.total} file(s) online: version ${plan.version} can be read (sluice read ${location} --version ${plan.version})\n`);
      // The period restarts at each read (SLUICE_REHYDRATION_HOLD_DAYS).
      if (heldUntil) io.out(`held from tiering until ${heldUntil}, or ${settings.rehydrationHoldDays} day(s) after the last read\n`);
    } else if (!values.wait && progress.missing.length === 0)
      io.out(`storage carries the rehydration out; follow it with: sluice rehydrate ${location} --version ${plan.version} --wait\n`);
  }
  if (progress.missing.length) {
    io.err(
      `sluice: ${progress.missing.length} file(s) of version ${plan.version} are no longer in storage (vacuumed?): ${progress.missing.slice(0, 5).join(', ')}\n`,
    );
    return 1;
  }
  if (progress.refused.length) {
    io.err(
      `sluice: storage refused ${progress.refused.length} rehydration request(s), e.g. ${progress.refused[0].path}: ${progress.refused[0].reason}; run the command again\n`,
    );
    return 1;
  }
  if (values.wait && !completed) {
    io.err(`sluice: ${progress.total - progress.online} file(s) still offline after ${REHYDRATION_DEADLINE_HOURS} h\n`);
    return 1;
  }
  return 0;
}

function line(p: RehydrationProgress): string {
  return progressLine({ files: p.total, online: p.online, pending: p.pending, bytes: p.bytes, bytesOnline: p.bytesOnline, refused: p.refused });
}

/**
 * After a whole read: files of completed rehydrations that the read took start their hold period
 * (rehydrate.ts). A failure to note it is reported, not fatal: the rows were read.
 *
 * @param snapshot the version read
 * @param io where a warning goes
 */
export async function noteRehydratedRead(snapshot: Snapshot, io: CommandIo): Promise<void> {
  try {
    await markHoldsRead(
      snapshot.store,
      neededFiles(snapshot).map((f) => f.path),
      new Date(),
    );
  } catch (err) {
    io.err(`sluice: warning: could not note the read in ${snapshot.table}/_sluice/rehydration: ${(err as Error).message}\n`);
  }
}
