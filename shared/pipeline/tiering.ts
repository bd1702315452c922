/**
 * The `tiering:` blocks of a pipeline definition, as written: a table's own policy (under a source or
 * a table), the pipeline's per-layer policies and its landing policy. Only the shape is checked here;
 * shared/tiering fills what a block leaves out from the layer's policy, then from the shipped
 * defaults, and makes the decisions.
 *
 * Ages are whole days. `never` (or YAML null) turns a step off, which also stops a layer's or the
 * default's value from applying. `archiveAfterDays` is the table's consent to archive live files:
 * without it no file a reader of the current version needs goes offline.
 */

/** A table's tiering policy as written (every field optional; `null` = never). */
export interface TieringPolicyDefinition {
  /** Live files to Cool once this many days old. */
  coolAfterDays?: number | null;
  /** Live files to Cold once this many days old. */
  coldAfterDays?: number | null;
  /** Consent to archive: live files of partitions not written for this many days go to Archive. */
  archiveAfterDays?: number | null;
  /** Files only time travel reads go to Cool when vacuum's date leaves them at least Cool's 30 days. */
  timeTravelToCool?: boolean;
}

/** The landing container's policy: files the ledger records as committed or dead-lettered, by age. */
export interface LandingTieringDefinition {
  coolAfterDays?: number | null;
  coldAfterDays?: number | null;
  archiveAfterDays?: number | null;
  /** Delete the file this many days after its last modification. */
  deleteAfterDays?: number | null;
}

/** A pipeline's top-level `tiering:` block. */
export interface PipelineTieringDefinition {
  /** Layer (first segment of a table path: bronze, silver, gold, …) → policy of its tables. */
  layers: Record<string, TieringPolicyDefinition>;
  /** Policy of the landing folders of the pipeline's sources. */
  landing?: LandingTieringDefinition;
}

/** The keys of the tiering mappings; the JSON Schema is tested against them. */
export const TIERING_KEYS = {
  policy: ['coolAfterDays', 'coldAfterDays', 'archiveAfterDays', 'timeTravelToCool'],
  landing: ['coolAfterDays', 'coldAfterDays', 'archiveAfterDays', 'deleteAfterDays'],
} as const;

/** Layers the top-level block may always name (others: the layers of the pipeline's own table paths). */
export const KNOWN_LAYERS: readonly string[] = ['bronze', 'silver', 'gold'];

/** Reports a problem at a YAML path (the definition loader's checker). */
export type TieringProblem = (path: (string | number)[], message: string, onKey?: boolean) => void;

/**
 * Check a table's `tiering:` block.
 *
 * @param value the block as parsed
 * @param path its YAML path
 * @param fail where problems go
 * @returns the policy, or undefined when it is not a mapping
 */
export function checkTieringPolicy(value: unknown, path: (string | number)[], fail: TieringProblem): TieringPolicyDefinition | undefined {
  const block = mapping(value, path, fail, 'a tiering policy');
  if (!block) return undefined;
  unknownKeys(block, path, TIERING_KEYS.policy, fail);
  const out: TieringPolicyDefinition = {};
  for (const key of ['coolAfterDays', 'coldAfterDays', 'archiveAfterDays'] as const) {
    if (key in block) {
      const days = checkDays(block[key], [...path, key], fail);
      if (days !== undefined) out[key] = days;
    }
  }
  if ('timeTravelToCool' in block) {
    if (typeof block.timeTravelToCool === 'boolean') out.timeTravelToCool = block.timeTravelToCool;
    else fail([...path, 'timeTravelToCool'], `expected true or false, got ${describe(block.timeTravelToCool)}`);
  }
  orderOfSteps(out, path, fail);
  return out;
}

/**
 * Check a pipeline's top-level `tiering:` block.
 *
 * @param value the block as parsed
 * @param layers layers the pipeline's tables live in (besides bronze, silver, gold)
 * @param fail where problems go
 * @returns the block, or undefined when it is not a mapping
 */
export function checkPipelineTiering(value: unknown, layers: readonly string[], fail: TieringProblem): PipelineTieringDefinition | undefined {
  const block = mapping(value, ['tiering'], fail, 'a map of layer → tiering policy, and landing');
  if (!block) return undefined;
  const allowed = [...new Set([...KNOWN_LAYERS, ...layers]), 'landing'];
  unknownKeys(block, ['tiering'], allowed, fail);
  const out: PipelineTieringDefinition = { layers: {} };
  for (const [key, entry] of Object.entries(block)) {
    if (!allowed.includes(key)) continue;
    if (key === 'landing') out.landing = checkLandingTiering(entry, ['tiering', 'landing'], fail);
    else {
      const policy = checkTieringPolicy(entry, ['tiering', key], fail);
      if (policy) out.layers[key] = policy;
    }
  }
  return out;
}

function checkLandingTiering(value: unknown, path: (string | number)[], fail: TieringProblem): LandingTieringDefinition | undefined {
  const block = mapping(value, path, fail, 'a landing tiering policy');
  if (!block) return undefined;
  unknownKeys(block, path, TIERING_KEYS.landing, fail);
  const out: LandingTieringDefinition = {};
  for (const key of TIERING_KEYS.landing) {
    if (key in block) {
      const days = checkDays(block[key], [...path, key], fail);
      if (days !== undefined) out[key] = days;
    }
  }
  orderOfSteps(out, path, fail);
  return out;
}

/** A colder step must not come before a warmer one: the file would skip it, which is rarely what was meant. */
function orderOfSteps(policy: TieringPolicyDefinition & LandingTieringDefinition, path: (string | number)[], fail: TieringProblem): void {
  const steps = (['coolAfterDays', 'coldAfterDays', 'archiveAfterDays', 'deleteAfterDays'] as const).filter((k) => typeof policy[k] === 'number');
  for (let i = 1; i < steps.length; i++) {
    const [before, after] = [steps[i - 1], steps[i]];
    if ((policy[after] as number) < (policy[before] as number))
      fail([...path, after], `${after} (${policy[after]}) is earlier than ${before} (${policy[before]}); a later step must not come sooner`);
  }
}

function checkDays(value: unknown, path: (string | number)[], fail: TieringProblem): number | null | undefined {
  if (value === null || value === 'never') return null;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 36_500) return value;
  if (typeof value === 'string' && /^\d+d$/.test(value)) return checkDays(Number(value.slice(0, -1)), path, fail);
  fail(path, `expected a whole number of days 0–36500 (e.g. 30 or "30d"), or never; got ${describe(value)}`);
  return undefined;
}

function mapping(value: unknown, path: (string | number)[], fail: TieringProblem, what: string): Record<string, unknown> | undefined {
  if (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)) return value as Record<string, unknown>;
  fail(path, `expected ${what} (a mapping), got ${describe(value)}`);
  return undefined;
}

function unknownKeys(block: Record<string, unknown>, path: (string | number)[], allowed: readonly string[], fail: TieringProblem): void {
  for (const key of Object.keys(block)) {
    if (allowed.includes(key)) continue;
    const near = allowed.find((k) => k.toLowerCase() === key.toLowerCase());
    fail([...path, key], near ? `unknown key; did you mean "${near}"?` : `unknown key; expected one of ${allowed.join(', ')}`, true);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}
