/**
 * The price table cost estimates are made from: storage per GB-month, operations per 10,000 and data
 * retrieval per GB, per access tier, plus the early-deletion minimums. One table ships as the default,
 * dated and with its source; `SLUICE_TIERING_PRICES` replaces any part of it (a JSON file, or the JSON
 * itself), because prices differ by region, redundancy and agreement and change over time.
 *
 * Capacity is metered in GB of 2^30 bytes. An early deletion is charged as the tier's storage price for
 * the days left of its minimum, prorated (Microsoft Learn, "access-tiers-overview").
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import type { AccessTier } from '../storage/types';

/** The tiers, warmest first: a move "down" this list is a move to a cooler tier. */
export const TIERS: readonly AccessTier[] = ['Hot', 'Cool', 'Cold', 'Archive'];

/** Days a blob must stay in a tier before a move or delete is free (Hot has none). */
export const MINIMUM_DAYS: Readonly<Record<AccessTier, number>> = { Hot: 0, Cool: 30, Cold: 90, Archive: 180 };

/** Bytes in a billed GB. */
export const GB = 2 ** 30;

/** Prices in one currency. */
export interface PriceTable {
  currency: string;
  /** Where the figures come from, and for what (region, redundancy). */
  source: string;
  /** When they were taken (ISO date). */
  asOf: string;
  /** Capacity, per GB per month. */
  storagePerGbMonth: Record<AccessTier, number>;
  /** Write operations per 10,000; a Set Blob Tier to a cooler tier is billed as a write of the destination tier. */
  writePer10k: Record<AccessTier, number>;
  /** Read operations per 10,000 (Archive: the read of a standard-priority rehydration). */
  readPer10k: Record<AccessTier, number>;
  /** Data retrieval per GB (Archive: standard-priority rehydration). */
  retrievalPerGb: Record<AccessTier, number>;
  /** High-priority rehydration from Archive: per GB retrieved and per 10,000 reads. */
  highPriorityRetrievalPerGb: number;
  highPriorityReadPer10k: number;
}

/**
 * The shipped defaults. Not verified against the live price page from where this was written (no
 * network access there): approximate list prices entered by hand. Override them before quoting a figure.
 */
export const DEFAULT_PRICES: Readonly<PriceTable> = Object.freeze({
  currency: 'USD',
  source:
    'approximate pay-as-you-go list prices of https://azure.microsoft.com/pricing/details/storage/blobs/ for Standard general-purpose v2, LRS, East US, entered by hand without access to the live page; check them and override with SLUICE_TIERING_PRICES',
  asOf: '2026-12-07',
  storagePerGbMonth: { Hot: 0.018, Cool: 0.01, Cold: 0.0036, Archive: 0.00099 },
  writePer10k: { Hot: 0.05, Cool: 0.1, Cold: 0.18, Archive: 0.1 },
  readPer10k: { Hot: 0.004, Cool: 0.01, Cold: 0.1, Archive: 5 },
  retrievalPerGb: { Hot: 0, Cool: 0.01, Cold: 0.03, Archive: 0.02 },
  highPriorityRetrievalPerGb: 0.1,
  highPriorityReadPer10k: 50,
});

const PER_TIER_FIELDS = ['storagePerGbMonth', 'writePer10k', 'readPer10k', 'retrievalPerGb'] as const;
const NUMBER_FIELDS = ['highPriorityRetrievalPerGb', 'highPriorityReadPer10k'] as const;
const TEXT_FIELDS = ['currency', 'source', 'asOf'] as const;

/**
 * The price table a setting names: the defaults, with what the setting's JSON gives replacing theirs
 * field by field (a tier left out keeps its default price).
 *
 * @param value the setting's value: a JSON object, or the path of a JSON file (relative to `root`); unset: the defaults
 * @param root folder relative paths start from
 * @param setting the setting's name, for messages
 * @returns the price table
 * @throws Error naming the setting and the field that is wrong
 */
export function loadPriceTable(value: string | undefined, root: string, setting = 'SLUICE_TIERING_PRICES'): PriceTable {
  const text = value?.trim();
  if (!text) return clonePrices(DEFAULT_PRICES);
  let json: string;
  let where: string;
  if (text.startsWith('{')) {
    json = text;
    where = setting;
  } else {
    const file = nodePath.resolve(root, text);
    where = `${setting} (${file})`;
    try {
      json = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`${where}: the price file cannot be read: ${(err as Error).message}`, { cause: err });
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new Error(`${where}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return mergePrices(parsed, where, text.startsWith('{') ? setting : text);
}

function mergePrices(value: unknown, where: string, origin: string): PriceTable {
  const problems: string[] = [];
  const out = clonePrices(DEFAULT_PRICES);
  if (!isObject(value)) throw new Error(`${where}: expected a JSON object of prices, got ${typeof value}`);
  const allowed = [...PER_TIER_FIELDS, ...NUMBER_FIELDS, ...TEXT_FIELDS] as string[];
  for (const key of Object.keys(value)) if (!allowed.includes(key)) problems.push(`${key}: unknown field; expected one of ${allowed.join(', ')}`);
  for (const field of TEXT_FIELDS) {
    if (value[field] === undefined) continue;
    if (typeof value[field] !== 'string' || value[field] === '') problems.push(`${field}: expected a non-empty string`);
    else out[field] = value[field];
  }
  for (const field of NUMBER_FIELDS) {
    if (value[field] === undefined) continue;
    if (!isPrice(value[field])) problems.push(`${field}: expected a price ≥ 0, got ${JSON.stringify(value[field])}`);
    else out[field] = value[field];
  }
  for (const field of PER_TIER_FIELDS) {
    const given = value[field];
    if (given === undefined) continue;
    if (!isObject(given)) {
      problems.push(`${field}: expected an object of tier → price (${TIERS.join(', ')})`);
      continue;
    }
    for (const [tier, price] of Object.entries(given)) {
      if (!(TIERS as string[]).includes(tier)) problems.push(`${field}.${tier}: unknown tier; expected one of ${TIERS.join(', ')}`);
      else if (!isPrice(price)) problems.push(`${field}.${tier}: expected a price ≥ 0, got ${JSON.stringify(price)}`);
      else out[field][tier as AccessTier] = price;
    }
  }
  if (problems.length) throw new Error(`${where}: ${problems.join('; ')}`);
  // Overridden figures are no longer the shipped defaults': say where they come from.
  if (value.source === undefined) out.source = `${origin} over the defaults (${DEFAULT_PRICES.source})`;
  if (value.asOf === undefined && Object.keys(value).length) out.asOf = `${DEFAULT_PRICES.asOf} (defaults) with overrides`;
  return out;
}

function clonePrices(p: Readonly<PriceTable>): PriceTable {
  return {
    ...p,
    storagePerGbMonth: { ...p.storagePerGbMonth },
    writePer10k: { ...p.writePer10k },
    readPer10k: { ...p.readPer10k },
    retrievalPerGb: { ...p.retrievalPerGb },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPrice(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * Monthly capacity cost of some bytes in a tier.
 *
 * @param prices the price table
 * @param tier the tier
 * @param bytes the bytes
 * @returns the cost per month
 */
export function monthlyCost(prices: PriceTable, tier: AccessTier, bytes: number): number {
  return (bytes / GB) * prices.storagePerGbMonth[tier];
}

/**
 * The early-deletion charge of leaving a tier after `daysIn` days: its storage price for the days left
 * of the minimum, prorated.
 *
 * @param prices the price table
 * @param tier the tier left
 * @param bytes the blob's size
 * @param daysIn days the blob spent in the tier
 * @returns the charge (0 once the minimum has passed)
 */
export function earlyDeletionCharge(prices: PriceTable, tier: AccessTier, bytes: number, daysIn: number): number {
  const left = Math.max(0, MINIMUM_DAYS[tier] - daysIn);
  return (bytes / GB) * prices.storagePerGbMonth[tier] * (left / 30);
}
