/**
 * The regulatory-reporting example (FIRE collateral): mandatory fields and ISO 4217 currency codes
 * quarantine what fails (with the rules each row broke), a negative value is only counted, and gold
 * reports field completeness per reporting date, equal to a computation done here.
 */
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeTable, type DeltaStruct } from '../../shared/delta';
import { loadPipelineDefinition } from '../../shared/pipeline';
import { checkPipelineSql, refreshTable } from '../../shared/refresh';
import { csvRows, deltaBatch, FIRE_DATA, localLake, ROOT, rowsOf } from '../support/refresh-helpers';

const PIPELINE = nodePath.join(ROOT, 'examples', 'pipelines', 'fire.yaml');

describe('FIRE collateral example', () => {
  it('quarantines incomplete records and reports completeness', async () => {
    const definition = await loadPipelineDefinition(PIPELINE);
    expect(definition.trigger).toEqual({ mode: 'schedule', schedule: '0 0 6 * * *' });
    const hints = definition.sources.collateral.schemaHints;
    const schema: DeltaStruct = { type: 'struct', fields: Object.entries(hints).map(([name, type]) => ({ name, type, nullable: true, metadata: {} })) };
    const { lake } = localLake('fire');
    await writeTable(lake('bronze/collateral'), [
      deltaBatch(schema, csvRows('collateral-2026-03-31.csv', { type: 'struct', fields: schema.fields }, 0, FIRE_DATA)),
    ]);
    expect((await checkPipelineSql(definition, { lake })).notes).toEqual([]);

    const m = await refreshTable({ definition, table: 'silver.collateral', lake });
    expect({ rows: m.rowsRead, inserted: m.inserted, quarantined: m.quarantined, warned: m.warned }).toEqual({
      rows: 10,
      inserted: 6,
      quarantined: 4,
      warned: 1,
    });
    expect(Object.fromEntries(m.expectations.map((e) => [e.name, e.failed]))).toEqual({
      id_present: 1,
      date_present: 1,
      currency_present: 1,
      iso_4217_currency: 1,
      non_negative_value: 1,
    });
    const quarantine = await rowsOf(lake('silver/collateral__quarantine'));
    expect(quarantine.map((r) => [r.id, r._failed_expectations]).sort((a, b) => (String(a[0] ?? '') < String(b[0] ?? '') ? -1 : 1))).toEqual([
      [null, ['not_null:id', 'id_present']],
      ['COL-0005', ['iso_4217_currency']],
      ['COL-0006', ['currency_present']],
      ['COL-0007', ['not_null:date', 'date_present']],
    ]);

    await refreshTable({ definition, table: 'gold.collateral_completeness', lake });
    const silver = await rowsOf(lake('silver/collateral'));
    const pct = (column: string) => Math.round((10000 * silver.filter((r) => r[column] !== null).length) / silver.length) / 100;
    expect(await rowsOf(lake('gold/collateral_completeness'))).toEqual([
      {
        date: '2026-03-31',
        records: BigInt(silver.length),
        type_complete_pct: pct('type'),
        encumbrance_complete_pct: pct('encumbrance_type'),
        loan_complete_pct: pct('loan_id'),
      },
    ]);
  });
});
