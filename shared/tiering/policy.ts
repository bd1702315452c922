/**
 * Tiering policies once resolved: what a table's (or the landing container's) files may do, field by
 * field from the first place that says so — the command line, the table's own `tiering:` block, its
 * layer's block in the pipeline, the defaults below — with the place recorded for the report.
 *
 * Defaults per layer (documented in the README, "Storage tiering"):
 * - bronze: Cool after 30 days, Cold after 90; raw history is read again only by replays and recomputes.
 * - silver: Cool after 60 days, Cold after 180.
 * - gold and any other layer: Cool after 90 days, never Cold; gold is what people query.
 * - every layer: time-travel-only files to Cool when vacuum's date leaves them Cool's 30 days; no
 *   archiving (archiving live files needs the table's consent, `archiveAfterDays`).
 * - landing: committed or dead-lettered files to Cool after 30 days; nothing colder, nothing deleted.
 */
import type { LandingTieringDefinition, PipelineTieringDefinition, TieringPolicyDefinition } from '../pipeline/tiering';

/** A table's resolved policy; `null` = never. */
export interface TieringPolicy {
  coolAfterDays: number | null;
  coldAfterDays: number | null;
  archiveAfterDays: number | null;
  timeTravelToCool: boolean;
  /** Where each field's value came from (`--cool-after`, `tables.silver.sales.tiering`, `default for bronze`, …). */
  from: Record<keyof Omit<TieringPolicy, 'from'>, string>;
}

/** The landing container's resolved policy; `null` = never. */
export interface LandingPolicy {
  coolAfterDays: number | null;
  coldAfterDays: number | null;
  archiveAfterDays: number | null;
  deleteAfterDays: number | null;
  from: Record<keyof Omit<LandingPolicy, 'from'>, string>;
}

type PolicyValues = Omit<TieringPolicy, 'from'>;

/** Defaults per layer; `default` serves every layer not named. */
export const LAYER_DEFAULTS: Readonly<Record<string, Readonly<PolicyValues>>> = Object.freeze({
  bronze: { coolAfterDays: 30, coldAfterDays: 90, archiveAfterDays: null, timeTravelToCool: true },
  silver: { coolAfterDays: 60, coldAfterDays: 180, archiveAfterDays: null, timeTravelToCool: true },
  gold: { coolAfterDays: 90, coldAfterDays: null, archiveAfterDays: null, timeTravelToCool: true },
  default: { coolAfterDays: 90, coldAfterDays: null, archiveAfterDays: null, timeTravelToCool: true },
});

/** Default of the landing container. */
export const LANDING_DEFAULT: Readonly<Omit<LandingPolicy, 'from'>> = Object.freeze({
  coolAfterDays: 30,
  coldAfterDays: null,
  archiveAfterDays: null,
  deleteAfterDays: null,
});

/** One place a policy may come from, most specific first when passed to the resolvers. */
export interface PolicySource<T> {
  /** What it is, for the report: `--cool-after`, `pipelines/sales.yaml: sources.pos.tiering`, … */
  from: string;
  values: T | undefined;
}

/**
 * The layer of a table: the first segment of its path in the lake container (`bronze/pos` → bronze).
 *
 * @param tablePath the table's path
 * @returns the layer name
 */
export function layerOf(tablePath: string): string {
  return tablePath.replace(/^\/+/, '').split('/')[0] ?? '';
}

/**
 * Resolve a table's policy.
 *
 * @param layer the table's layer (picks the defaults)
 * @param sources the places that may set fields, most specific first (flags, table, layer)
 * @returns the policy, each field from the first source that sets it, else the layer's default
 */
export function resolveTieringPolicy(layer: string, sources: readonly PolicySource<TieringPolicyDefinition>[]): TieringPolicy {
  const defaults = LAYER_DEFAULTS[layer] ?? LAYER_DEFAULTS.default;
  const defaultName = LAYER_DEFAULTS[layer] ? `default for ${layer}` : 'default';
  const pick = <K extends keyof PolicyValues>(key: K): [PolicyValues[K], string] => {
    for (const source of sources) {
      const value = source.values?.[key];
      if (value !== undefined) return [value as PolicyValues[K], source.from];
    }
    return [defaults[key], defaultName];
  };
  const [coolAfterDays, coolFrom] = pick('coolAfterDays');
  const [coldAfterDays, coldFrom] = pick('coldAfterDays');
  const [archiveAfterDays, archiveFrom] = pick('archiveAfterDays');
  const [timeTravelToCool, ttFrom] = pick('timeTravelToCool');
  return {
    coolAfterDays,
    coldAfterDays,
    archiveAfterDays,
    timeTravelToCool,
    from: { coolAfterDays: coolFrom, coldAfterDays: coldFrom, archiveAfterDays: archiveFrom, timeTravelToCool: ttFrom },
  };
}

/**
 * Resolve the landing policy.
 *
 * @param sources the places that may set fields, most specific first
 * @returns the policy
 */
export function resolveLandingPolicy(sources: readonly PolicySource<LandingTieringDefinition>[]): LandingPolicy {
  const out = { ...LANDING_DEFAULT, from: {} } as LandingPolicy;
  for (const key of Object.keys(LANDING_DEFAULT) as (keyof typeof LANDING_DEFAULT)[]) {
    const source = sources.find((s) => s.values?.[key] !== undefined);
    out[key] = source ? (source.values![key] as number | null) : LANDING_DEFAULT[key];
    out.from[key] = source ? source.from : 'default for landing';
  }
  return out;
}

/**
 * The policy sources of a table defined in a pipeline: its own block, then its layer's.
 *
 * @param pipelineName the pipeline's file or name, for the report
 * @param yamlPath YAML path of the table's entry (`sources.pos` or `tables.silver.sales`)
 * @param own the table's own `tiering:` block
 * @param pipeline the pipeline's top-level block
 * @param layer the table's layer
 * @returns the sources, most specific first
 */
export function pipelinePolicySources(
  pipelineName: string,
  yamlPath: string,
  own: TieringPolicyDefinition | undefined,
  pipeline: PipelineTieringDefinition | undefined,
  layer: string,
): PolicySource<TieringPolicyDefinition>[] {
  return [
    { from: `${pipelineName}: ${yamlPath}.tiering`, values: own },
    { from: `${pipelineName}: tiering.${layer}`, values: pipeline?.layers[layer] },
  ];
}
