/**
 * What the served pipelines say about each table path: its name and pipeline, layer, description,
 * owner, tags, column comments, and the classification of its PII columns.
 *
 * Classification follows the data: a silver/gold column tagged `pii: hash|mask` is protected before
 * it is stored, in the table and in its quarantine table; the same column of the bronze table it
 * reads holds the value as received (`none`), which the catalog says so that nobody takes bronze for
 * protected data.
 */
import { pipelineName, QUARANTINE_SUFFIX, type PipelineDefinition, type PiiAction } from '../pipeline';
import type { ColumnClassification, TableAnnotation } from './types';

const TREATMENT: Record<PiiAction, string> = {
  hash: 'HMAC-SHA256 under the key in SLUICE_PII_KEY, before storage (64 hex digits; equal values hash equally)',
  mask: 'masked before storage: every character but the last four becomes *',
};

/**
 * The annotations of every table the pipelines define, by path in the lake container.
 *
 * @param pipelines the served definitions
 * @returns path → annotation (quarantine tables included)
 */
export function definitionAnnotations(pipelines: readonly PipelineDefinition[]): Map<string, TableAnnotation> {
  const out = new Map<string, TableAnnotation>();
  for (const pipeline of pipelines) {
    const name = pipelineName(pipeline);
    for (const source of Object.values(pipeline.sources)) {
      const classification: Record<string, ColumnClassification> = {};
      for (const table of Object.values(pipeline.tables)) {
        if (!table.from.includes(source.name)) continue;
        for (const [column, action] of Object.entries(table.pii)) {
          const note = `stored as received; ${table.table} ${action === 'hash' ? 'hashes' : 'masks'} it`;
          const earlier = classification[column];
          classification[column] = { pii: 'none', treatment: earlier ? `${earlier.treatment}; ${note.replace('stored as received; ', '')}` : note };
        }
      }
      out.set(source.table, {
        pipeline: name,
        name: source.name,
        layer: 'bronze',
        description: source.description ?? null,
        owner: source.owner ?? null,
        tags: source.tags ?? [],
        comments: source.comments ?? {},
        classification,
      });
    }
    for (const table of Object.values(pipeline.tables)) {
      const classification: Record<string, ColumnClassification> = {};
      for (const [column, action] of Object.entries(table.pii)) classification[column] = { pii: action, treatment: TREATMENT[action] };
      const layer = table.name.includes('.') ? table.name.slice(0, table.name.indexOf('.')) : (table.table.split('/')[0] ?? table.name);
      const annotation: TableAnnotation = {
        pipeline: name,
        name: table.name,
        layer,
        description: table.description ?? null,
        owner: table.owner ?? null,
        tags: table.tags ?? [],
        comments: table.comments ?? {},
        classification,
      };
      out.set(table.table, annotation);
      out.set(`${table.table}${QUARANTINE_SUFFIX}`, {
        ...annotation,
        name: `${table.name}${QUARANTINE_SUFFIX}`,
        description: `Rows of ${table.table} that violated its schema contract or a quarantine expectation`,
      });
    }
  }
  return out;
}
