/**
 * A table hook used by test/refresh/refresh-layout.test.ts: keeps rows with n >= 0 and adds `label` =
 * "<id>#<n>@<table>" — a row filter and a computed column over Arrow record batches, keeping every
 * other column (the provenance columns included).
 */
import * as arrow from 'apache-arrow';
import { arrowToDeltaSchema } from '../../shared/delta';
import { buildVector, readValues } from '../../shared/delta/values';
import { takeRows } from '../../shared/delta/writer';

export default function labelAndFilter(batch: arrow.RecordBatch, context: { table: string }): arrow.RecordBatch {
  const ids = readValues(batch.getChild('id')!, 'string') as string[];
  const ns = readValues(batch.getChild('n')!, 'long') as (bigint | null)[];
  const keep = ns.flatMap((n, i) => (n !== null && n >= 0n ? [i] : []));
  const kept = takeRows(batch, arrowToDeltaSchema(batch.schema), keep);
  const columns: Record<string, arrow.Vector> = {};
  for (const field of batch.schema.fields) columns[field.name] = kept ? kept.getChild(field.name)! : buildVector('string', []);
  columns.label = buildVector(
    'string',
    keep.map((i) => `${ids[i]}#${ns[i]}@${context.table}`),
  );
  return new arrow.Table(columns).batches[0];
}
