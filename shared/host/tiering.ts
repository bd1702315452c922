/**
 * The tiering pass of the running app: every table of the served pipelines and the landing
 * container, with the app's stores, ledger and settings. The `tierLake` timer calls it; the local host
 * runs the same timer (`POST /admin/functions/tierLake` runs it at once).
 */
import type { SettingsEnv } from '../config/settings';
import { normaliseEtag } from '../ingest';
import { openLakeStore } from '../storage/lake';
import { TIERING_RECORDS_FOLDER } from '../storage/lake-layout';
import { readTieringSettings, tierLake, vacuumDefaultRetention, type BackupCandidate, type LandingClass, type TieringOutcome } from '../tiering';
import type { SluiceRuntime } from './context';
import { appRoot } from './pipelines';
import { openBackupLocation } from './backup';
import { isBackedUpPredicate, tableBackup } from '../backup';

/** Options of one pass. */
export interface TieringPassOptions {
  /** The environment the tiering settings come from (validated at start-up already). */
  env?: SettingsEnv;
  /** The instant to plan for (tests move it; default now). */
  asOf?: Date;
  /** A backup's predicate, when one is configured (a file it does not hold is not archived). */
  isBackedUp?: (table: string, file: BackupCandidate) => boolean | Promise<boolean>;
  onOutcome?: (outcome: TieringOutcome) => void;
}

/**
 * Run one tiering pass as the settings say (`SLUICE_TIERING_MODE`: apply, plan or off).
 *
 * @param runtime the app's runtime
 * @param options environment, instant, backup predicate, progress callback
 * @returns the mode and one outcome per table and for the landing container (none when off)
 */
export async function runTieringPass(runtime: SluiceRuntime, options: TieringPassOptions = {}): Promise<{ mode: string; outcomes: TieringOutcome[] }> {
  const settings = readTieringSettings(options.env ?? process.env, appRoot())!;
  if (settings.mode === 'off') return { mode: settings.mode, outcomes: [] };
  const routes = new Map(runtime.fileSources.map((r) => [r.source, r]));
  const ledgerState = async (source: SluiceRuntime['fileSources'][number]['source'], path: string, etag: string): Promise<LandingClass> => {
    const route = routes.get(source);
    if (!route) return 'pending';
    const entry = await runtime.ledger.get(route.tableKey, path, normaliseEtag(etag));
    return entry?.status === 'committed' || entry?.status === 'deadlettered' ? entry.status : 'pending';
  };
  const outcomes = await tierLake({
    pipelines: runtime.pipelines,
    openTable: (path) => openLakeStore(runtime.settings, path),
    landing: { store: runtime.landing, ledgerState },
    prices: settings.prices,
    apply: settings.mode === 'apply',
    asOf: options.asOf,
    rehydratedGraceDays: settings.rehydratedGraceDays,
    rehydrationHoldDays: runtime.settings.rehydrationHoldDays,
    defaultRetention: vacuumDefaultRetention(runtime.settings.vacuumRetentionHours),
    isBackedUp: options.isBackedUp ?? backupPredicate(runtime),
    onOutcome: options.onOutcome,
    records: openLakeStore(runtime.settings, TIERING_RECORDS_FOLDER),
  });
  return { mode: settings.mode, outcomes };
}

/**
 * With a backup configured, a file the backup does not hold is not archived: an archived blob cannot
 * be copied to the backup account until it is rehydrated. Each table's backed-up files are read once
 * per pass, from its manifests.
 */
function backupPredicate(runtime: SluiceRuntime): ((table: string, file: BackupCandidate) => Promise<boolean>) | undefined {
  const location = runtime.backup.location;
  if (!location) return undefined;
  const root = openBackupLocation(runtime.settings, location);
  const byTable = new Map<string, Promise<(path: string) => boolean>>();
  return async (table, file) => {
    if (!byTable.has(table)) byTable.set(table, isBackedUpPredicate(tableBackup(root, table)));
    return (await byTable.get(table)!)(file.path);
  };
}
