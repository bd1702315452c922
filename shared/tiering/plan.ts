/**
 * `planTiering`: which files of a table move to which tier now, which wait and why, and what that
 * costs and saves. Nothing is changed; `applyTiering` (apply.ts) carries a plan out.
 *
 * The rules, in the order they are checked for each file:
 * 1. Only data files move: the log and every `_`/`.` folder stay where they are; expired and orphan
 *    files are left to vacuum (a move would only add a charge before their deletion).
 * 2. A file whose archive status says it is rehydrating is not touched.
 * 3. Files only move to a cooler tier; the policy says how cool for the file's age (whole days since
 *    its last modification) — live files by `coolAfterDays`/`coldAfterDays`, and to Archive only with
 *    the table's consent (`archiveAfterDays`) and when the file's whole partition has not been written
 *    for that long; time-travel files by the same ages, and to Cool at any age when `timeTravelToCool`.
 * 4. Never into a tier whose minimum days (Cool 30, Cold 90, Archive 180) run past the file's known
 *    deletion date: the next warmer tier that fits is taken, or the file stays.
 * 5. Never out of a tier before its minimum days have passed since the file entered it.
 * 6. Never into Archive: a file whose tier changed within `rehydratedGraceDays` (a file rehydrated and
 *    perhaps not yet read: the listing cannot tell reads), nor, when a backup is configured, a file the
 *    backup does not hold (`isBackedUp`).
 * A file the rules stop from reaching the tier its policy wants is reported as held, with the rule
 * and, for rules 4 and 5, the early-deletion charge the wait avoids.
 */
import type { AccessTier } from '../storage/types';
import type { ClassifiedFile, FileClass, TableFiles } from './classify';
import type { LandingPolicy, TieringPolicy } from './policy';
import { earlyDeletionCharge, GB, MINIMUM_DAYS, monthlyCost, PriceTable, TIERS } from './prices';

export const DAY_MS = 86_400_000;

/** Default of `rehydratedGraceDays`. */
export const DEFAULT_REHYDRATED_GRACE_DAYS = 30;

/** Where a file goes: a tier, or (landing only) deletion. */
export type TierTarget = AccessTier | 'Deleted';

/** One planned move. */
export interface TierMove {
  path: string;
  size: number;
  class: FileClass | LandingClass;
  from: AccessTier;
  to: TierTarget;
  /** Why, in words (`live, 45 days old ≥ coolAfterDays 30 (default for bronze)`). */
  reason: string;
  /** Time-travel files: when vacuum may delete the file (ISO-8601), which the move's tier fits before. */
  deletableFrom?: string;
}

/** Why a file does not reach the tier its policy wants. */
export type HoldReason = 'rehydrating' | 'recently-tier-changed' | 'not-backed-up' | 'early-deletion' | 'tier-minimum';

/** A file the rules hold back. */
export interface HeldFile {
  path: string;
  size: number;
  class: FileClass | LandingClass;
  tier: AccessTier;
  /** The tier the policy wants. */
  wanted: TierTarget;
  reason: HoldReason;
  detail: string;
  /** Earliest instant the wait ends, when known (ISO-8601). */
  until?: string;
  /** Early-deletion charge the wait avoids (rules 4 and 5). */
  penaltyAvoided: number;
}

/** Per-tier bytes and monthly capacity cost, before and after the plan. */
export interface TierCost {
  tier: AccessTier;
  bytesBefore: number;
  bytesAfter: number;
  monthlyBefore: number;
  monthlyAfter: number;
}

/** The money side of a plan. */
export interface PlanCost {
  currency: string;
  prices: { source: string; asOf: string };
  byTier: TierCost[];
  monthlyBefore: number;
  monthlyAfter: number;
  monthlySaving: number;
  /** One-time costs of carrying the plan out. */
  oneTime: {
    /** Set Blob Tier operations, billed as writes of the destination tier. */
    tierChanges: number;
    /** Reading back, once, every file the plan archives: standard and high priority. */
    rehydrationStandard: number;
    rehydrationHigh: number;
  };
  /** Early-deletion charges the held files' waits avoid (what moving them now would cost). */
  penaltiesAvoided: number;
}

/** Landing file states (ledger). */
export type LandingClass = 'committed' | 'deadlettered' | 'pending';

/** A plan for one table (or the landing container). */
export interface TieringPlan {
  kind: 'table' | 'landing';
  /** Table URL, or landing container URL. */
  target: string;
  asOf: string;
  /** Table version classified (tables). */
  version?: number;
  retention?: { hours: number; source: string };
  /** The table's policy; for the landing container, each folder's. */
  policy: TieringPolicy | Record<string, LandingPolicy>;
  /** Files and bytes per class. */
  classes: Record<string, { files: number; bytes: number }>;
  moves: TierMove[];
  held: HeldFile[];
  cost: PlanCost;
  /** What is wrong with the table but did not stop the plan (missing live files). */
  problems: string[];
}

/** A file's facts a backup predicate is given. */
export interface BackupCandidate {
  path: string;
  size: number;
  etag: string;
  lastModified: Date;
}

/** Options of `planTiering`. */
export interface PlanOptions {
  /** The instant to plan for (default now). */
  asOf?: Date;
  prices: PriceTable;
  /** Days after a tier change during which a file is not archived (default 30). */
  rehydratedGraceDays?: number;
  /** When a backup is configured: whether it holds the file; a file it does not hold is not archived. */
  isBackedUp?: (file: BackupCandidate) => boolean | Promise<boolean>;
  /** Files a rehydration holds (`heldForTiering`): not archived again before they are read. */
  rehydrationHolds?: ReadonlyMap<string, { state: string; until: string }>;
}

const RANK: Record<AccessTier, number> = { Hot: 0, Cool: 1, Cold: 2, Archive: 3 };

/**
 * Plan the tiering of a classified table.
 *
 * @param files the table's classified files (`classifyTable`)
 * @param policy the table's resolved policy
 * @param options instant, prices, backup predicate
 * @returns the plan
 */
export async function planTiering(files: TableFiles, policy: TieringPolicy, options: PlanOptions): Promise<TieringPlan> {
  const asOf = (options.asOf ?? new Date()).getTime();
  const graceDays = options.rehydratedGraceDays ?? DEFAULT_REHYDRATED_GRACE_DAYS;
  const partitionNewest = new Map<string, number>();
  for (const f of files.files)
    if (f.class === 'live') partitionNewest.set(f.partition ?? '', Math.max(partitionNewest.get(f.partition ?? '') ?? -Infinity, f.lastModified.getTime()));

  const moves: TierMove[] = [];
  const held: HeldFile[] = [];
  for (const file of files.files) {
    if (file.class !== 'live' && file.class !== 'timeTravel') continue;
    const wants = wantedTiers(file, policy, asOf, partitionNewest);
    const decision = await decide(file, wants, asOf, graceDays, options);
    if (decision.move) moves.push(decision.move);
    if (decision.held) held.push(decision.held);
  }
  const problems = files.missing.length
    ? [
        `${files.missing.length} live file(s) of version ${files.version} are not in storage (e.g. ${files.missing.slice(0, 3).join(', ')}): the table cannot be read whole`,
      ]
    : [];
  return {
    kind: 'table',
    target: files.table,
    asOf: new Date(asOf).toISOString(),
    version: files.version,
    retention: { hours: files.retentionMs / 3_600_000, source: files.retentionSource },
    policy,
    classes: countClasses(files.files),
    moves,
    held,
    cost: costOf(files.files, moves, held, options.prices),
    problems,
  };
}

/** A tier the policy wants for a file, with the rule that wants it; coldest first. */
interface Want {
  tier: TierTarget;
  reason: string;
}

function wantedTiers(file: ClassifiedFile, policy: TieringPolicy, asOf: number, partitionNewest: Map<string, number>): Want[] {
  const age = wholeDays(asOf - file.lastModified.getTime());
  const what = file.class === 'live' ? 'live' : 'time-travel only';
  const out: Want[] = [];
  // A DV file is read with every data file that uses it, whatever their partitions: never offline on its own.
  if (policy.archiveAfterDays !== null && !file.deletionVector) {
    if (file.class === 'live') {
      const partitionAge = wholeDays(asOf - (partitionNewest.get(file.partition ?? '') ?? file.lastModified.getTime()));
      if (partitionAge >= policy.archiveAfterDays)
        out.push({
          tier: 'Archive',
          reason: `live, partition ${file.partition || '(table)'} not written for ${partitionAge} days ≥ archiveAfterDays ${policy.archiveAfterDays} (${policy.from.archiveAfterDays})`,
        });
    } else if (age >= policy.archiveAfterDays)
      out.push({ tier: 'Archive', reason: `${what}, ${age} days old ≥ archiveAfterDays ${policy.archiveAfterDays} (${policy.from.archiveAfterDays})` });
  }
  if (policy.coldAfterDays !== null && age >= policy.coldAfterDays)
    out.push({ tier: 'Cold', reason: `${what}, ${age} days old ≥ coldAfterDays ${policy.coldAfterDays} (${policy.from.coldAfterDays})` });
  if (policy.coolAfterDays !== null && age >= policy.coolAfterDays)
    out.push({ tier: 'Cool', reason: `${what}, ${age} days old ≥ coolAfterDays ${policy.coolAfterDays} (${policy.from.coolAfterDays})` });
  else if (file.class === 'timeTravel' && policy.timeTravelToCool)
    out.push({ tier: 'Cool', reason: `time-travel only, timeTravelToCool (${policy.from.timeTravelToCool})` });
  return out;
}

/**
 * The landing policy's wants for a committed or dead-lettered file.
 *
 * @param file the landing file
 * @param policy the landing policy
 * @param asOf the instant
 * @returns tiers (or deletion) wanted, coldest first
 */
export function landingWants(file: ClassifiedFile, policy: LandingPolicy, asOf: number): { tier: TierTarget; reason: string }[] {
  const age = wholeDays(asOf - file.lastModified.getTime());
  const out: Want[] = [];
  const step = (tier: TierTarget, days: number | null, key: keyof Omit<LandingPolicy, 'from'>) => {
    if (days !== null && age >= days) out.push({ tier, reason: `${file.class}, ${age} days old ≥ ${key} ${days} (${policy.from[key]})` });
  };
  step('Deleted', policy.deleteAfterDays, 'deleteAfterDays');
  step('Archive', policy.archiveAfterDays, 'archiveAfterDays');
  step('Cold', policy.coldAfterDays, 'coldAfterDays');
  step('Cool', policy.coolAfterDays, 'coolAfterDays');
  return out;
}

/**
 * Apply the rules to one file's wants: the first (coldest) want every rule allows becomes the move;
 * the coldest refused one is reported as held when nothing as cold was allowed.
 *
 * @param file the file
 * @param wants what its policy wants, coldest first
 * @param asOf the instant (ms)
 * @param graceDays days after a tier change without archiving
 * @param options prices and backup predicate
 * @returns the move and/or the hold
 */
export async function decide(
  file: ClassifiedFile,
  wants: Want[],
  asOf: number,
  graceDays: number,
  options: Pick<PlanOptions, 'prices' | 'isBackedUp' | 'rehydrationHolds'>,
): Promise<{ move?: TierMove; held?: HeldFile }> {
  const current = file.tier;
  const cooler = wants.filter((w) => w.tier === 'Deleted' || RANK[w.tier] > RANK[current]);
  const hold = (want: Want, reason: HoldReason, detail: string, until?: number, penaltyAvoided = 0): { held: HeldFile } => ({
    held: {
      path: file.path,
      size: file.size,
      class: file.class,
      tier: current,
      wanted: want.tier,
      reason,
      detail,
      penaltyAvoided,
      ...(until !== undefined ? { until: new Date(until).toISOString() } : {}),
    },
  });
  // Reported even when the policy wants nothing more: whoever asked for the rehydration sees it is respected.
  if (file.archiveStatus?.startsWith('rehydrate-pending'))
    return hold(wants[0] ?? { tier: current, reason: '' }, 'rehydrating', `being rehydrated (${file.archiveStatus}); left alone until it is online`);
  if (!cooler.length) return {};
  // Rule 5: the current tier's minimum applies to any move out of it, deletion included.
  const enteredTier = (file.accessTierChangedOn ?? file.lastModified).getTime();
  const daysInTier = (asOf - enteredTier) / DAY_MS;
  if (daysInTier < MINIMUM_DAYS[current]) {
    const until = enteredTier + MINIMUM_DAYS[current] * DAY_MS;
    return hold(
      cooler[0],
      'tier-minimum',
      `in ${current} for ${Math.floor(daysInTier)} of its ${MINIMUM_DAYS[current]} minimum days; moving it now would be charged as an early deletion`,
      until,
      earlyDeletionCharge(options.prices, current, file.size, daysInTier),
    );
  }
  let refused: { held: HeldFile } | undefined;
  for (const want of cooler) {
    const refusal = await refuse(file, want, asOf, graceDays, options);
    if (!refusal) {
      const move: TierMove = { path: file.path, size: file.size, class: file.class, from: current, to: want.tier, reason: want.reason };
      if (file.deletableFrom !== undefined) move.deletableFrom = new Date(file.deletableFrom).toISOString();
      return refused ? { move, held: refused.held } : { move };
    }
    refused ??= hold(want, refusal.reason, refusal.detail, refusal.until, refusal.penaltyAvoided);
  }
  return refused ?? {};
}

async function refuse(
  file: ClassifiedFile,
  want: Want,
  asOf: number,
  graceDays: number,
  options: Pick<PlanOptions, 'prices' | 'isBackedUp' | 'rehydrationHolds'>,
): Promise<{ reason: HoldReason; detail: string; until?: number; penaltyAvoided?: number } | undefined> {
  if (want.tier === 'Deleted') return undefined;
  const tier = want.tier;
  // Rule 4: the destination's minimum must end before vacuum may delete the file.
  if (file.deletableFrom !== undefined && asOf + MINIMUM_DAYS[tier] * DAY_MS > file.deletableFrom) {
    const daysLeft = Math.max(0, (file.deletableFrom - asOf) / DAY_MS);
    return {
      reason: 'early-deletion',
      detail: `vacuum may delete it from ${new Date(file.deletableFrom).toISOString()}, in ${Math.floor(daysLeft)} day(s); ${tier} keeps a file ${MINIMUM_DAYS[tier]} days`,
      penaltyAvoided: earlyDeletionCharge(options.prices, tier, file.size, daysLeft),
    };
  }
  if (tier !== 'Archive') return undefined;
  const hold = options.rehydrationHolds?.get(file.path);
  if (hold)
    return {
      reason: 'rehydrating',
      detail: `a rehydration holds it (${hold.state}) until ${hold.until}: not archived again before it is read`,
      until: Date.parse(hold.until),
    };
  if (file.accessTierChangedOn && asOf - file.accessTierChangedOn.getTime() < graceDays * DAY_MS) {
    const until = file.accessTierChangedOn.getTime() + graceDays * DAY_MS;
    return {
      reason: 'recently-tier-changed',
      detail: `its tier changed on ${file.accessTierChangedOn.toISOString()} (a rehydration, perhaps not read yet); not archived within ${graceDays} days of that`,
      until,
    };
  }
  if (options.isBackedUp && !(await options.isBackedUp({ path: file.path, size: file.size, etag: file.etag, lastModified: file.lastModified })))
    return { reason: 'not-backed-up', detail: 'not backed up: the configured backup does not hold this file, so it is not archived' };
  return undefined;
}

function countClasses(files: { class: string; size: number }[]): Record<string, { files: number; bytes: number }> {
  const out: Record<string, { files: number; bytes: number }> = {};
  for (const f of files) {
    const c = (out[f.class] ??= { files: 0, bytes: 0 });
    c.files++;
    c.bytes += f.size;
  }
  return out;
}

/**
 * Bytes and costs per tier before and after some moves, with their one-time costs.
 *
 * @param files every listed file
 * @param moves the moves
 * @param held the held files
 * @param prices the price table
 * @returns the cost section of a plan
 */
export function costOf(files: { tier: AccessTier; size: number }[], moves: TierMove[], held: HeldFile[], prices: PriceTable): PlanCost {
  const before = tierBytes(files);
  const after = { ...before };
  let tierChanges = 0;
  let archivedBytes = 0;
  let archivedFiles = 0;
  for (const m of moves) {
    after[m.from] -= m.size;
    if (m.to === 'Deleted') continue;
    after[m.to] += m.size;
    tierChanges += prices.writePer10k[m.to] / 10_000;
    if (m.to === 'Archive') {
      archivedBytes += m.size;
      archivedFiles++;
    }
  }
  const byTier = TIERS.map((tier) => ({
    tier,
    bytesBefore: before[tier],
    bytesAfter: after[tier],
    monthlyBefore: monthlyCost(prices, tier, before[tier]),
    monthlyAfter: monthlyCost(prices, tier, after[tier]),
  }));
  const monthlyBefore = sum(byTier.map((t) => t.monthlyBefore));
  const monthlyAfter = sum(byTier.map((t) => t.monthlyAfter));
  return {
    currency: prices.currency,
    prices: { source: prices.source, asOf: prices.asOf },
    byTier,
    monthlyBefore,
    monthlyAfter,
    monthlySaving: monthlyBefore - monthlyAfter,
    oneTime: {
      tierChanges,
      rehydrationStandard: (archivedBytes / GB) * prices.retrievalPerGb.Archive + (archivedFiles * prices.readPer10k.Archive) / 10_000,
      rehydrationHigh: (archivedBytes / GB) * prices.highPriorityRetrievalPerGb + (archivedFiles * prices.highPriorityReadPer10k) / 10_000,
    },
    penaltiesAvoided: sum(held.map((h) => h.penaltyAvoided)),
  };
}

/**
 * Bytes per tier of some files.
 *
 * @param files files with their tier and size
 * @returns tier → bytes (every tier present)
 */
export function tierBytes(files: Iterable<{ tier?: AccessTier; size: number }>): Record<AccessTier, number> {
  const out: Record<AccessTier, number> = { Hot: 0, Cool: 0, Cold: 0, Archive: 0 };
  for (const f of files) out[f.tier ?? 'Hot'] += f.size;
  return out;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/**
 * Whole days in a span (ages are whole days since a file's last modification).
 *
 * @param ms the span
 * @returns its whole days, never negative
 */
export function wholeDays(ms: number): number {
  return Math.max(0, Math.floor(ms / DAY_MS));
}
