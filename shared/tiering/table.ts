/**
 * One table's tiering from its store: classify (one snapshot load, one listing), then plan; and the
 * table's bytes by tier for the catalog and `describe`.
 */
import { heldForTiering } from './rehydrate';
import type { AccessTier, ObjectStore } from '../storage/types';
import { classifyTable, isHidden, type ClassifyOptions } from './classify';
import { planTiering, tierBytes, type PlanOptions, type TieringPlan } from './plan';
import type { TieringPolicy } from './policy';

/**
 * Plan a table's tiering.
 *
 * @param store store rooted at the table
 * @param policy its resolved policy
 * @param options instant, prices, default retention, backup predicate
 * @returns the plan
 */
export async function planTableTiering(
  store: ObjectStore,
  policy: TieringPolicy,
  options: PlanOptions & Pick<ClassifyOptions, 'defaultRetention'> & { rehydrationHoldDays?: number },
): Promise<TieringPlan> {
  const files = await classifyTable(store, { asOf: options.asOf, defaultRetention: options.defaultRetention });
  // The table's own rehydration records say which files were brought back for a read (rehydrate.ts).
  const rehydrationHolds = options.rehydrationHolds ?? (await heldForTiering(store, options.asOf ?? new Date(), options.rehydrationHoldDays));
  return planTiering(files, policy, { ...options, rehydrationHolds });
}

/** A table's stored bytes per tier: its data files, and the log with Sluice's own records. */
export interface TableTierBytes {
  data: Record<AccessTier, number>;
  log: Record<AccessTier, number>;
  /** Blobs rehydrating (archive status pending), counted under Archive above. */
  rehydrating: number;
}

/**
 * The bytes of a table per access tier, from one listing (no log read, no per-blob calls). Every
 * stored file counts, whatever version uses it; a store without tiers counts everything as Hot.
 *
 * @param store store rooted at the table
 * @returns bytes per tier of data files and of `_`/`.` folders
 */
export async function bytesByTier(store: ObjectStore): Promise<TableTierBytes> {
  const data: { tier?: AccessTier; size: number }[] = [];
  const log: { tier?: AccessTier; size: number }[] = [];
  let rehydrating = 0;
  for await (const info of store.list('')) {
    (isHidden(info.path) ? log : data).push({ tier: info.accessTier, size: info.size });
    if (info.archiveStatus?.startsWith('rehydrate-pending')) rehydrating++;
  }
  return { data: tierBytes(data), log: tierBytes(log), rehydrating };
}
