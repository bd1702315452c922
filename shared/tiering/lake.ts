/**
 * Tiering across the lake: the tables the pipelines define with their resolved policies, a table's
 * policy found from its path (for `sluice tier`), and one pass over every table and the landing
 * container (the `tierLake` timer). A table whose log cannot be read is skipped with its reason and
 * the others proceed; a table not created yet is simply skipped.
 */
import { NotATableError } from '../delta/errors';
import type { PipelineDefinition, SourceDefinition } from '../pipeline/types';
import type { TieringPolicyDefinition } from '../pipeline/tiering';
import type { ObjectStore } from '../storage/types';
import { applyTiering, type ApplyResult } from './apply';
import { planLandingTiering, type LandingFolder } from './landing';
import type { BackupCandidate, LandingClass, TieringPlan } from './plan';
import { layerOf, pipelinePolicySources, resolveLandingPolicy, resolveTieringPolicy, type PolicySource, type TieringPolicy } from './policy';
import type { PriceTable } from './prices';
import { planTableTiering } from './table';

/** A lake table a pipeline defines, with where its policy comes from. */
export interface PipelineTable {
  /** Path in the lake container (`bronze/pos`). */
  path: string;
  layer: string;
  /** The pipeline file (or name) and YAML path of its entry. */
  definedIn: string;
  /** Policy sources from the YAML, most specific first. */
  sources: PolicySource<TieringPolicyDefinition>[];
}

/**
 * Every table the pipelines define (bronze sources' and silver/gold tables), each once.
 *
 * @param pipelines the loaded definitions
 * @returns the tables in definition order
 */
export function pipelineTables(pipelines: readonly PipelineDefinition[]): PipelineTable[] {
  const out = new Map<string, PipelineTable>();
  for (const pipeline of pipelines) {
    const name = pipeline.file ?? pipeline.name ?? '(pipeline)';
    const add = (path: string, yamlPath: string, own: TieringPolicyDefinition | undefined) => {
      if (out.has(path)) return;
      const layer = layerOf(path);
      out.set(path, { path, layer, definedIn: `${name}: ${yamlPath}`, sources: pipelinePolicySources(name, yamlPath, own, pipeline.tiering, layer) });
    };
    for (const source of Object.values(pipeline.sources)) add(source.table, `sources.${source.name}`, source.tiering);
    for (const table of Object.values(pipeline.tables)) add(table.table, `tables.${table.name}`, table.tiering);
  }
  return [...out.values()];
}

/**
 * The policy of a table given by location: the pipeline table whose path the location ends with,
 * else the defaults of the layer the location's parent folder names; command-line values first.
 *
 * @param location the table's location as the user gave it (URL or path)
 * @param pipelines the loaded definitions (may be empty)
 * @param flags values from the command line
 * @returns the policy and the table it was matched to, if any
 */
export function policyForLocation(
  location: string,
  pipelines: readonly PipelineDefinition[],
  flags: TieringPolicyDefinition,
): { policy: TieringPolicy; table?: PipelineTable } {
  const clean = location.replace(/[?#].*$/, '').replace(/\/+$/, '');
  const match = pipelineTables(pipelines)
    .filter((t) => clean === t.path || clean.endsWith(`/${t.path}`))
    .sort((a, b) => b.path.length - a.path.length)[0];
  const segments = clean.split('/');
  const layer = match?.layer ?? segments[segments.length - 2] ?? '';
  const fromFlags: PolicySource<TieringPolicyDefinition> = { from: 'command line', values: flags };
  return { policy: resolveTieringPolicy(layer, [fromFlags, ...(match?.sources ?? [])]), ...(match ? { table: match } : {}) };
}

/** The landing folders of the pipelines' file sources, with their landing policies. */
export function landingFolders(pipelines: readonly PipelineDefinition[]): (LandingFolder & { source: SourceDefinition })[] {
  return pipelines.flatMap((pipeline) =>
    Object.values(pipeline.sources)
      .filter((s) => s.landing !== undefined)
      .map((source) => ({
        prefix: source.landing!,
        source,
        policy: resolveLandingPolicy([{ from: `${pipeline.file ?? pipeline.name ?? '(pipeline)'}: tiering.landing`, values: pipeline.tiering?.landing }]),
      })),
  );
}

/** What one pass did for one table (or the landing container). */
export interface TieringOutcome {
  /** Table path, or `landing`. */
  target: string;
  plan?: TieringPlan;
  /** When applied. */
  result?: ApplyResult;
  /** Why it was skipped (no table yet, unreadable log, listing failed). */
  skipped?: string;
  /** The skip is a failure (the log cannot be read), not an expected absence. */
  failed?: boolean;
  /** Writing the pass's record failed (the moves themselves stand). */
  recordError?: string;
}

/**
 * Where a pass's record of one table goes: under the table's path, named by the plan's instant.
 *
 * @param outcome the table's outcome
 * @returns the record's path inside the records folder
 */
export function recordPath(outcome: TieringOutcome): string {
  return `${outcome.target}/${outcome.plan!.asOf.replace(/[:.]/g, '-')}.json`;
}

/** The record: what moved, from where to where and why, and what storage refused. */
function tieringRecord(outcome: TieringOutcome): Record<string, unknown> {
  const plan = outcome.plan!;
  return {
    target: outcome.target,
    asOf: plan.asOf,
    ...(plan.version !== undefined ? { version: plan.version } : {}),
    moved: outcome.result!.applied.map((m) => ({ path: m.path, from: m.from, to: m.to, class: m.class, reason: m.reason })),
    refused: outcome.result!.refused,
    cost: { currency: plan.cost.currency, monthlyBefore: plan.cost.monthlyBefore, monthlyAfter: plan.cost.monthlyAfter, prices: plan.cost.prices },
  };
}

/** Options of `tierLake`. */
export interface LakeTieringOptions {
  pipelines: readonly PipelineDefinition[];
  /** Store rooted at a table path of the lake container. */
  openTable: (path: string) => ObjectStore;
  /** The landing container and what the ledger says of a file (omit to leave landing alone). */
  landing?: { store: ObjectStore; ledgerState: (source: SourceDefinition, path: string, etag: string) => Promise<LandingClass> };
  prices: PriceTable;
  /** Apply the plans, or only make them. */
  apply: boolean;
  asOf?: Date;
  rehydratedGraceDays?: number;
  /** Days a file rehydrated and read stays out of reach (`SLUICE_REHYDRATION_HOLD_DAYS`). */
  rehydrationHoldDays?: number;
  defaultRetention?: { hours: number; source: string };
  isBackedUp?: (table: string, file: BackupCandidate) => boolean | Promise<boolean>;
  /** Called after each table, so a long pass logs as it goes. */
  onOutcome?: (outcome: TieringOutcome) => void;
  /** Where to keep a record of what each applied plan moved and why (`<table>/<time>.json`); none when omitted. */
  records?: ObjectStore;
}

/**
 * One tiering pass over every table of the pipelines and the landing container.
 *
 * @param options tables, landing, prices, mode
 * @returns one outcome per table, then the landing container's
 */
export async function tierLake(options: LakeTieringOptions): Promise<TieringOutcome[]> {
  const outcomes: TieringOutcome[] = [];
  const done = async (outcome: TieringOutcome) => {
    if (options.records && outcome.result && (outcome.result.applied.length || outcome.result.refused.length)) {
      try {
        await options.records.write(recordPath(outcome), JSON.stringify(tieringRecord(outcome), null, 2), { contentType: 'application/json' });
      } catch (err) {
        outcome.recordError = `the record of this pass could not be written: ${(err as Error).message}`;
      }
    }
    outcomes.push(outcome);
    options.onOutcome?.(outcome);
  };
  for (const table of pipelineTables(options.pipelines)) {
    const store = options.openTable(table.path);
    try {
      const policy = resolveTieringPolicy(table.layer, table.sources);
      const plan = await planTableTiering(store, policy, {
        asOf: options.asOf,
        prices: options.prices,
        rehydratedGraceDays: options.rehydratedGraceDays,
        rehydrationHoldDays: options.rehydrationHoldDays,
        defaultRetention: options.defaultRetention,
        ...(options.isBackedUp ? { isBackedUp: (f: BackupCandidate) => options.isBackedUp!(table.path, f) } : {}),
      });
      await done({ target: table.path, plan, ...(options.apply ? { result: await applyTiering(store, plan) } : {}) });
    } catch (err) {
      if (err instanceof NotATableError) await done({ target: table.path, skipped: 'no table yet' });
      else await done({ target: table.path, skipped: `${(err as Error).message}`, failed: true });
    }
  }
  if (options.landing) {
    const folders = landingFolders(options.pipelines);
    const bySource = new Map(folders.map((f) => [f.prefix, f.source]));
    try {
      const plan = await planLandingTiering(options.landing.store, folders, {
        asOf: options.asOf,
        prices: options.prices,
        rehydratedGraceDays: options.rehydratedGraceDays,
        ledgerState: (folder, path, etag) => options.landing!.ledgerState(bySource.get(folder)!, path, etag),
      });
      await done({ target: 'landing', plan, ...(options.apply ? { result: await applyTiering(options.landing.store, plan) } : {}) });
    } catch (err) {
      await done({ target: 'landing', skipped: (err as Error).message, failed: true });
    }
  }
  return outcomes;
}
