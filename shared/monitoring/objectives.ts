/**
 * Judging the objectives of the pipeline YAML (shared/pipeline/objectives.ts) against what the
 * metrics timer measured: each objective not met is a breach, recorded at the collection's time in
 * the metrics table (kind `breach`), so it is queryable (`GET /api/metrics/breaches`), charted as the
 * series `breach.<objective>` and exported to Application Insights for the alert rules.
 */
import type { PipelineDefinition } from '../pipeline';
import { pipelineName } from '../pipeline/name';
import type { Objectives } from '../pipeline/objectives';
import type { ObjectiveBreach } from './metric-store';
import { METRICS } from './names';

/** What the objectives are judged on, per table path. */
export interface Measured {
  freshnessSeconds?: number | null;
  passRate?: number | null;
  deadLetteredRows?: number;
}

function seconds(s: number): string {
  if (s >= 86_400) return `${(s / 86_400).toFixed(1)} d`;
  if (s >= 3600) return `${(s / 3600).toFixed(1)} h`;
  if (s >= 60) return `${(s / 60).toFixed(1)} min`;
  return `${Math.round(s)} s`;
}

function judge(pipeline: string, table: string, objectives: Objectives, m: Measured | undefined, time: Date): ObjectiveBreach[] {
  const out: ObjectiveBreach[] = [];
  const breach = (objective: string, metric: string, value: number, threshold: number, message: string) =>
    out.push({ time, pipeline, table, objective, metric, value, threshold, message: `${pipeline} ${table}: ${message}` });
  if (objectives.freshness !== undefined) {
    const age = m?.freshnessSeconds;
    if (age === null || age === undefined)
      breach(
        'freshness',
        METRICS.freshness,
        -1,
        objectives.freshness,
        `no commit that wrote rows is known (objective: within ${seconds(objectives.freshness)})`,
      );
    else if (age > objectives.freshness)
      breach('freshness', METRICS.freshness, age, objectives.freshness, `last rows written ${seconds(age)} ago; objective ${seconds(objectives.freshness)}`);
  }
  if (objectives.minPassRate !== undefined && m?.passRate !== undefined && m.passRate !== null && m.passRate < objectives.minPassRate)
    breach(
      'minPassRate',
      METRICS.passRate,
      m.passRate,
      objectives.minPassRate,
      `lowest expectation pass rate ${m.passRate.toFixed(4)} is below the objective ${objectives.minPassRate}`,
    );
  if (objectives.maxDeadLetteredRows !== undefined && m?.deadLetteredRows !== undefined && m.deadLetteredRows > objectives.maxDeadLetteredRows)
    breach(
      'maxDeadLetteredRows',
      METRICS.deadLetteredRows,
      m.deadLetteredRows,
      objectives.maxDeadLetteredRows,
      `${m.deadLetteredRows} dead-lettered rows, more than the objective's ${objectives.maxDeadLetteredRows}`,
    );
  return out;
}

/**
 * The breaches of every objective of the pipelines.
 *
 * @param pipelines the pipelines
 * @param measured what was measured, by table path
 * @param time the collection time
 * @returns the breaches (empty when every objective is met)
 */
export function evaluateObjectives(pipelines: readonly PipelineDefinition[], measured: ReadonlyMap<string, Measured>, time: Date): ObjectiveBreach[] {
  const out: ObjectiveBreach[] = [];
  for (const p of pipelines) {
    const name = pipelineName(p);
    for (const s of Object.values(p.sources)) if (s.objectives) out.push(...judge(name, s.table, s.objectives, measured.get(s.table), time));
    for (const t of Object.values(p.tables)) if (t.objectives) out.push(...judge(name, t.table, t.objectives, measured.get(t.table), time));
  }
  return out;
}
