/**
 * The tiering settings, read and checked once at start-up like the others (every problem names its
 * setting). The timer's schedule, `SLUICE_TIERING_SCHEDULE`, is a binding setting and is read with the
 * other timer schedules (shared/host/settings.ts).
 *
 * | setting | default | expected value |
 * |---|---|---|
 * | `SLUICE_TIERING_MODE` | `apply` | what the `tierLake` timer does: `apply` the plans, only `plan` (log them), or `off` |
 * | `SLUICE_TIERING_PRICES` | the shipped table (prices.ts) | a JSON object, or the path of a JSON file (relative to the app root), overriding any part of the price table |
 * | `SLUICE_TIERING_REHYDRATED_GRACE_DAYS` | `30` | days after a blob's tier last changed (a rehydration) during which it is not archived again; whole number 0–365 |
 */
import type { SettingsEnv } from '../config/settings';
import { ConfigError } from '../config/settings';
import { DEFAULT_REHYDRATED_GRACE_DAYS } from './plan';
import { loadPriceTable, type PriceTable } from './prices';

/** What the tiering timer does. */
export type TieringMode = 'apply' | 'plan' | 'off';

/** Validated tiering settings. */
export interface TieringSettings {
  readonly mode: TieringMode;
  readonly prices: PriceTable;
  readonly rehydratedGraceDays: number;
}

const MODES: readonly TieringMode[] = ['apply', 'plan', 'off'];

/**
 * Read the tiering settings.
 *
 * @param env the environment
 * @param root folder a relative price file path starts from (the app root)
 * @param problems where to add problems instead of throwing
 * @returns the settings, or undefined when `problems` was given and something is wrong
 * @throws ConfigError listing every problem, when `problems` is not given
 */
export function readTieringSettings(env: SettingsEnv, root: string, problems?: string[]): TieringSettings | undefined {
  const found: string[] = [];
  const modeText = env.SLUICE_TIERING_MODE?.trim() || 'apply';
  if (!(MODES as string[]).includes(modeText)) found.push(`SLUICE_TIERING_MODE must be one of ${MODES.join(', ')}; got "${modeText}"`);
  let prices: PriceTable | undefined;
  try {
    prices = loadPriceTable(env.SLUICE_TIERING_PRICES, root);
  } catch (err) {
    found.push((err as Error).message);
  }
  const graceText = env.SLUICE_TIERING_REHYDRATED_GRACE_DAYS?.trim();
  const grace = graceText ? Number(graceText) : DEFAULT_REHYDRATED_GRACE_DAYS;
  if (!/^\d+$/.test(graceText ?? '0') || grace > 365)
    found.push(`SLUICE_TIERING_REHYDRATED_GRACE_DAYS must be a whole number of days 0–365; got "${graceText}"`);
  if (found.length) {
    if (problems) {
      problems.push(...found);
      return undefined;
    }
    throw new ConfigError(found);
  }
  return Object.freeze({ mode: modeText as TieringMode, prices: prices!, rehydratedGraceDays: grace });
}

/**
 * The retention of tables without `delta.deletedFileRetentionDuration`, as vacuum applies it, with
 * where it comes from (the plans print it).
 *
 * @param hours `SLUICE_VACUUM_RETENTION_HOURS`
 * @returns the default retention for `classifyTable`
 */
export function vacuumDefaultRetention(hours: number): { hours: number; source: string } {
  return { hours, source: `no delta.deletedFileRetentionDuration; SLUICE_VACUUM_RETENTION_HOURS (${hours} h)` };
}
