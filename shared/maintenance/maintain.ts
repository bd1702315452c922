/**
 * Maintenance of one Delta table: what the nightly timer does per table and `sluice maintain` does
 * for one. In this order:
 *
 * 1. **optimize** the partitions that have at least `minFilesPerPartition` small files (or files with
 *    deletion vectors), to the target size (`SLUICE_OPTIMIZE_TARGET_MB`, optimize's default). Its
 *    commit is `dataChange=false` with put-if-absent, like every lane commit: appends committed
 *    meanwhile never conflict with it, and a concurrent removal of a file it compacts makes it drop its
 *    work (reported as failed, retried next night), never a lost commit;
 * 2. **checkpoint** when due: when at least the table's checkpoint interval of commits (its
 *    `delta.checkpointInterval`, else `SLUICE_CHECKPOINT_INTERVAL`) were made since the newest
 *    checkpoint. Creation is create-if-absent, so a writer checkpointing the same version is harmless;
 * 3. **vacuum** with the table's own retention (`delta.deletedFileRetentionDuration`, else
 *    `SLUICE_VACUUM_RETENTION_HOURS`), never shorter: vacuum keeps the files of pending lane intents
 *    and of claimed writes, and re-reads the log before deleting;
 * 4. **log cleanup** of `_delta_log` entries older than `delta.logRetentionDuration` and than the
 *    newest checkpoint before it (shared/delta/log-cleanup.ts).
 *
 * Why log cleanup cannot break exactly-once: the refresh's `txn` versions live in every checkpoint;
 * the lane recognises its intents by the commits after their base version, and an intent older than
 * 15 minutes is abandoned, far inside the 30-day log retention; an ingestion's ledger repair reads the
 * commits after its entry's start version, and a `started` entry is taken over within a minute.
 *
 * A step that fails is reported with its reason and the next steps still run (each stands alone). A
 * table whose log cannot be read, or that Sluice may not maintain (its protocol), is skipped with the
 * reason, as is a table another maintenance run holds (lease.ts): never two maintenance runs on one
 * table at once. A dry run (`planMaintenance`) reports what each step would do and changes nothing,
 * not even the lease.
 */
import { errorText } from '../errors';
import { cleanupExpiredLog, loadSnapshot, NotATableError, optimizeTable, planCompaction, vacuumTable, writeCheckpoint, type Snapshot } from '../delta';
import { DEFAULT_RETENTION_MS, parseInterval } from '../delta/checkpoint';
import { checkMaintenanceSupport } from '../delta/protocol';
import type { ObjectStore } from '../storage/types';
import { acquireMaintenanceLease, MaintenanceBusyError, type MaintenanceLease } from './lease';

/** How to maintain a table; each default is the setting's default. */
export interface MaintainOptions {
  /** Report what would be done, change nothing. */
  dryRun?: boolean;
  /** Clock for retention cutoffs (tests simulate the passing of days with it; default now). */
  now?: number;
  /** Optimize's target file size in bytes (`SLUICE_OPTIMIZE_TARGET_MB`). */
  targetFileBytes?: number;
  /** Fewest small files that make a partition worth compacting (`SLUICE_OPTIMIZE_MIN_FILES`). */
  minFilesPerPartition?: number;
  /** Vacuum retention of tables without `delta.deletedFileRetentionDuration`, in hours (`SLUICE_VACUUM_RETENTION_HOURS`). */
  defaultRetentionHours?: number;
  /** Commits between checkpoints for tables without `delta.checkpointInterval` (`SLUICE_CHECKPOINT_INTERVAL`). */
  checkpointInterval?: number;
  /** Who holds the lease, shown to a run that finds the table busy. */
  holder?: string;
  /** Real-time clock of the lease (tests only). */
  leaseClock?: () => number;
}

/** Defaults of the options, the settings' defaults. */
export const MAINTENANCE_DEFAULTS = {
  targetFileBytes: 128 * 1024 * 1024,
  minFilesPerPartition: 10,
  defaultRetentionHours: 168,
  checkpointInterval: 10,
} as const;

/** What became of one step. */
export type StepStatus = 'done' | 'not-needed' | 'would-run' | 'failed';

/** One step's report. */
export interface StepReport {
  status: StepStatus;
  /** One line for people. */
  detail: string;
  /** The reason it failed. */
  error?: string;
}

/** What maintenance did (or would do) to one table. */
export interface MaintenanceReport {
  /** The table's URL. */
  table: string;
  dryRun: boolean;
  /** Why the table was left alone (unreadable log, refused protocol, another run holds it); no steps then. */
  skipped?: string;
  /** Skipped because no table exists there yet (a pipeline table nothing has written to). */
  missing?: boolean;
  /** Latest version before and after. */
  versionBefore?: number;
  versionAfter?: number;
  optimize?: StepReport & { partitions: number; filesRemoved: number; filesAdded: number; bytesRemoved: number; bytesAdded: number; version?: number };
  checkpoint?: StepReport & { version?: number };
  vacuum?: StepReport & { files: number; bytes: number; retentionHours: number };
  logCleanup?: StepReport & { files: number; keepFromVersion: number | null };
}

/** The steps, in the order they run. */
export const MAINTENANCE_STEPS = ['optimize', 'checkpoint', 'vacuum', 'logCleanup'] as const;

function resolved(options: MaintainOptions) {
  return {
    now: options.now ?? Date.now(),
    targetFileBytes: options.targetFileBytes ?? MAINTENANCE_DEFAULTS.targetFileBytes,
    minFilesPerPartition: options.minFilesPerPartition ?? MAINTENANCE_DEFAULTS.minFilesPerPartition,
    defaultRetentionHours: options.defaultRetentionHours ?? MAINTENANCE_DEFAULTS.defaultRetentionHours,
    checkpointInterval: options.checkpointInterval ?? MAINTENANCE_DEFAULTS.checkpointInterval,
  };
}
type Resolved = ReturnType<typeof resolved>;

/** Commits between checkpoints for this table: its own property, else the setting. */
function checkpointEvery(snapshot: Snapshot, fallback: number): number {
  const own = Number(snapshot.metadata.configuration['delta.checkpointInterval']);
  return Number.isInteger(own) && own > 0 ? own : fallback;
}

/** A checkpoint is due when the interval's worth of commits came after the newest one. */
function checkpointDue(snapshot: Snapshot, fallback: number): boolean {
  return snapshot.version > 0 && snapshot.version - (snapshot.checkpointVersion ?? -1) >= checkpointEvery(snapshot, fallback);
}

/** The tombstones a checkpoint still carries: those vacuum has not yet been allowed to act on. */
function tombstoneCutoff(snapshot: Snapshot, o: Resolved): number {
  const own = parseInterval(snapshot.metadata.configuration['delta.deletedFileRetentionDuration']);
  return o.now - (own ?? (o.defaultRetentionHours * 3_600_000 || DEFAULT_RETENTION_MS));
}

function vacuumDefault(o: Resolved) {
  return { hours: o.defaultRetentionHours, source: `SLUICE_VACUUM_RETENTION_HOURS = ${o.defaultRetentionHours}` };
}

/** Load the table for maintenance; the reason to skip it when that fails. */
async function open(store: ObjectStore, dryRun: boolean): Promise<Snapshot | MaintenanceReport> {
  try {
    const snapshot = await loadSnapshot(store);
    checkMaintenanceSupport(snapshot.protocol, snapshot.metadata, store.url);
    return snapshot;
  } catch (err) {
    if (err instanceof NotATableError) return { table: store.url, dryRun, skipped: errorText(err), missing: true };
    return { table: store.url, dryRun, skipped: `its log cannot be read or maintained: ${errorText(err)}` };
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * What maintenance would do to a table now; changes nothing.
 *
 * @param store store rooted at the table
 * @param options the settings and clock
 * @returns the report of a dry run (steps `would-run` or `not-needed`), or the reason the table is skipped
 */
export async function planMaintenance(store: ObjectStore, options: MaintainOptions = {}): Promise<MaintenanceReport> {
  const o = resolved(options);
  const snapshot = await open(store, true);
  if (!('state' in snapshot)) return snapshot;
  const report: MaintenanceReport = { table: store.url, dryRun: true, versionBefore: snapshot.version, versionAfter: snapshot.version };

  const bins = planCompaction(snapshot, { targetFileBytes: o.targetFileBytes, minFilesPerPartition: o.minFilesPerPartition });
  const files = bins.flat();
  const partitions = new Set(files.map((f) => JSON.stringify(f.partitionValues))).size;
  const bytes = files.reduce((n, f) => n + f.size, 0);
  report.optimize = {
    status: files.length ? 'would-run' : 'not-needed',
    detail: files.length
      ? `would compact ${plural(files.length, 'file')} (${bytes} bytes) in ${plural(partitions, 'partition')}`
      : `no partition has ${o.minFilesPerPartition} or more small files`,
    partitions,
    filesRemoved: files.length,
    filesAdded: 0,
    bytesRemoved: bytes,
    bytesAdded: 0,
  };

  const due = checkpointDue(snapshot, o.checkpointInterval);
  report.checkpoint = {
    status: due ? 'would-run' : 'not-needed',
    detail: due
      ? `would checkpoint version ${snapshot.version} (newest checkpoint: ${snapshot.checkpointVersion ?? 'none'})`
      : `newest checkpoint ${snapshot.checkpointVersion ?? 'none'} is within ${checkpointEvery(snapshot, o.checkpointInterval)} commits of version ${snapshot.version}`,
  };

  await step(report, 'vacuum', async () => {
    const v = await vacuumTable(store, { dryRun: true, now: o.now, defaultRetention: vacuumDefault(o) });
    report.vacuum = {
      status: v.files.length ? 'would-run' : 'not-needed',
      detail: `${v.files.length ? 'would delete' : 'nothing to delete:'} ${plural(v.files.length, 'file')} (${v.bytes} bytes; retention ${v.retentionHours} h)`,
      files: v.files.length,
      bytes: v.bytes,
      retentionHours: v.retentionHours,
    };
  });
  await step(report, 'logCleanup', async () => {
    const l = await cleanupExpiredLog(store, { dryRun: true, now: o.now });
    report.logCleanup = {
      status: l.files.length ? 'would-run' : 'not-needed',
      detail: l.files.length ? `would delete ${plural(l.files.length, 'log file')} before checkpoint ${l.keepFromVersion}` : l.reason!,
      files: l.files.length,
      keepFromVersion: l.keepFromVersion,
    };
  });
  return report;
}

/** Run one step, turning its failure into the step's report. */
async function step(report: MaintenanceReport, name: (typeof MAINTENANCE_STEPS)[number], run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    const failed = { status: 'failed' as const, detail: `${name} failed: ${errorText(err)}`, error: errorText(err) };
    if (name === 'optimize') report.optimize = { ...failed, partitions: 0, filesRemoved: 0, filesAdded: 0, bytesRemoved: 0, bytesAdded: 0 };
    else if (name === 'checkpoint') report.checkpoint = failed;
    else if (name === 'vacuum') report.vacuum = { ...failed, files: 0, bytes: 0, retentionHours: 0 };
    else report.logCleanup = { ...failed, files: 0, keepFromVersion: null };
  }
}

/**
 * Maintain a table: optimize, checkpoint when due, vacuum, log cleanup (see the file's header), under
 * the table's maintenance lease. With `dryRun`, `planMaintenance`.
 *
 * @param store store rooted at the table
 * @param options the settings, clock and dry run
 * @returns the report; a table that cannot be maintained is `skipped` with the reason, never thrown
 */
export async function maintainTable(store: ObjectStore, options: MaintainOptions = {}): Promise<MaintenanceReport> {
  if (options.dryRun) return planMaintenance(store, options);
  const o = resolved(options);
  const first = await open(store, false);
  if (!('state' in first)) return first;
  let lease: MaintenanceLease;
  try {
    lease = await acquireMaintenanceLease(store, { holder: options.holder, clock: options.leaseClock });
  } catch (err) {
    if (err instanceof MaintenanceBusyError) return { table: store.url, dryRun: false, skipped: err.message };
    return { table: store.url, dryRun: false, skipped: `its maintenance lease cannot be taken: ${errorText(err)}` };
  }
  const report: MaintenanceReport = { table: store.url, dryRun: false, versionBefore: first.version };
  // Every step first checks that no other run took the table over (this one stalled past its lease).
  const held = async () => {
    if (!(await lease.stillHeld())) throw new Error('another maintenance run took the table over (this run stalled past its lease); left to it');
  };
  try {
    await step(report, 'optimize', async () => {
      await held();
      const r = await optimizeTable(store, {
        targetFileBytes: o.targetFileBytes,
        minFilesPerPartition: o.minFilesPerPartition,
        checkpointInterval: o.checkpointInterval,
      });
      report.optimize = {
        status: r.version === null ? 'not-needed' : 'done',
        detail:
          r.version === null
            ? `no partition has ${o.minFilesPerPartition} or more small files`
            : `version ${r.version}: ${plural(r.filesRemoved, 'file')} → ${r.filesAdded} in ${plural(r.partitionsOptimized, 'partition')}`,
        partitions: r.partitionsOptimized,
        filesRemoved: r.filesRemoved,
        filesAdded: r.filesAdded,
        bytesRemoved: r.bytesRemoved,
        bytesAdded: r.bytesAdded,
        ...(r.version === null ? {} : { version: r.version }),
      };
    });
    await step(report, 'checkpoint', async () => {
      await held();
      const latest = await loadSnapshot(store);
      if (!checkpointDue(latest, o.checkpointInterval)) {
        report.checkpoint = {
          status: 'not-needed',
          detail: `newest checkpoint ${latest.checkpointVersion ?? 'none'} is recent enough for version ${latest.version}`,
        };
        return;
      }
      const created = await writeCheckpoint(store, latest.state, { tombstoneCutoff: tombstoneCutoff(latest, o) });
      report.checkpoint = {
        status: 'done',
        detail: `checkpoint for version ${latest.version} ${created ? 'written' : 'written meanwhile by another writer'}`,
        version: latest.version,
      };
    });
    await step(report, 'vacuum', async () => {
      await held();
      const v = await vacuumTable(store, { now: o.now, defaultRetention: vacuumDefault(o) });
      report.vacuum = {
        status: v.files.length ? 'done' : 'not-needed',
        detail: `deleted ${plural(v.files.length, 'file')} (${v.bytes} bytes; retention ${v.retentionHours} h)`,
        files: v.files.length,
        bytes: v.bytes,
        retentionHours: v.retentionHours,
      };
    });
    await step(report, 'logCleanup', async () => {
      await held();
      const l = await cleanupExpiredLog(store, { now: o.now });
      report.logCleanup = {
        status: l.files.length ? 'done' : 'not-needed',
        detail: l.files.length ? `deleted ${plural(l.files.length, 'log file')} before checkpoint ${l.keepFromVersion}` : l.reason!,
        files: l.files.length,
        keepFromVersion: l.keepFromVersion,
      };
    });
    report.versionAfter = (await loadSnapshot(store)).version;
  } finally {
    await lease.release();
  }
  return report;
}

/**
 * One line per step of a report, for logs and the command line.
 *
 * @param report a table's report
 * @returns the lines, without line breaks
 */
export function maintenanceLines(report: MaintenanceReport): string[] {
  if (report.skipped) return [`${report.table}: skipped: ${report.skipped}`];
  const lines = [
    `${report.table}: version ${report.versionBefore}${report.versionAfter !== report.versionBefore ? ` → ${report.versionAfter}` : ''}${report.dryRun ? ' (dry run)' : ''}`,
  ];
  for (const name of MAINTENANCE_STEPS) {
    const s = report[name];
    if (s) lines.push(`  ${name.padEnd(10)} ${s.status.padEnd(10)} ${s.detail}`);
  }
  return lines;
}

/**
 * Whether any step of a report failed, or the table was skipped.
 *
 * @param report a table's report
 * @returns true when something needs a look
 */
export function maintenanceFailed(report: MaintenanceReport): boolean {
  return !!report.skipped || MAINTENANCE_STEPS.some((name) => report[name]?.status === 'failed');
}
