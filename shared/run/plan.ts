/**
 * The refresh plan of a pipeline: which silver/gold tables exist, in which order they can be
 * refreshed, and which tables a failure must hold back. Pure functions of the definition, so the
 * orchestrator can receive the plan from an activity and replay it deterministically.
 *
 * Levels: a table reading only bronze sources is level 0; a table reading tables is one level above
 * the highest of them. Tables of one level never read each other, so they run in parallel.
 */
import type { PipelineDefinition } from '../pipeline';
import { pipelineName } from '../pipeline/name';

/** The plan an orchestrator works through. */
export interface RefreshPlan {
  pipeline: string;
  /** Table names by level, each level in definition order. */
  levels: string[][];
  /** Table → the tables it reads (bronze sources left out). */
  reads: Record<string, string[]>;
}

const INSTANCE_PREFIX = 'refresh-';

/**
 * The one orchestration instance id of a pipeline's refresh (one running instance per pipeline).
 *
 * @param pipeline the pipeline name
 * @returns `refresh-<pipeline>`
 */
export function runInstanceId(pipeline: string): string {
  return `${INSTANCE_PREFIX}${pipeline}`;
}

/**
 * The pipeline a run instance id belongs to, or null for other ids.
 *
 * @param instanceId an instance id
 * @returns the pipeline name or null
 */
export function pipelineOfInstance(instanceId: string): string | null {
  return instanceId.startsWith(INSTANCE_PREFIX) && instanceId.length > INSTANCE_PREFIX.length ? instanceId.slice(INSTANCE_PREFIX.length) : null;
}

/**
 * Find a pipeline by name among loaded definitions.
 *
 * @param pipelines the loaded definitions
 * @param name the pipeline name
 * @returns the definition, or undefined
 */
export function findPipeline(pipelines: readonly PipelineDefinition[], name: string): PipelineDefinition | undefined {
  return pipelines.find((p) => pipelineName(p) === name);
}

/**
 * Plan a pipeline's refresh.
 *
 * @param definition a validated definition (no cycles: the loader refuses them)
 * @returns tables by level and what each reads
 */
export function planRefresh(definition: PipelineDefinition): RefreshPlan {
  const reads: Record<string, string[]> = {};
  for (const table of Object.values(definition.tables)) reads[table.name] = table.from.filter((f) => definition.tables[f] !== undefined);
  const level = new Map<string, number>();
  const levelOf = (name: string, depth: number): number => {
    const known = level.get(name);
    if (known !== undefined) return known;
    // The loader rejects cycles; this guard keeps a hand-built definition from recursing forever.
    if (depth > Object.keys(reads).length) throw new Error(`pipeline ${pipelineName(definition)}: tables read each other in a cycle through ${name}`);
    const value = reads[name].length === 0 ? 0 : 1 + Math.max(...reads[name].map((r) => levelOf(r, depth + 1)));
    level.set(name, value);
    return value;
  };
  const levels: string[][] = [];
  for (const name of Object.keys(reads)) {
    const l = levelOf(name, 0);
    (levels[l] ??= []).push(name);
  }
  return { pipeline: pipelineName(definition), levels: levels.filter((l) => l && l.length > 0), reads };
}

/**
 * Tables that read a failed table, directly or through others: they are held back.
 *
 * @param plan the plan
 * @param failed names of failed tables
 * @returns the failed tables and everything downstream of them
 */
export function blockedBy(plan: RefreshPlan, failed: Iterable<string>): Set<string> {
  const blocked = new Set(failed);
  for (const level of plan.levels) {
    for (const table of level) if (plan.reads[table].some((r) => blocked.has(r))) blocked.add(table);
  }
  return blocked;
}

/**
 * Tables of a pipeline that read a bronze source (or a table: `from` names both).
 *
 * @param definition the definition
 * @param source the source name
 * @returns table names
 */
export function tablesReadingSource(definition: PipelineDefinition, source: string): string[] {
  return Object.values(definition.tables)
    .filter((t) => t.from.includes(source))
    .map((t) => t.name);
}
