/**
 * Objectives in the pipeline YAML (validated with their YAML path and line) and their judgement, and
 * the landing lag the timer measures against a real ledger and landing container on Azurite.
 */
import { describe, expect, it } from 'vitest';
import { parsePipelineDefinition, PipelineDefinitionError } from '../../shared/pipeline';
import { TableLedger } from '../../shared/ingest';
import { evaluateObjectives, landingLag } from '../../shared/monitoring';
import { openStore } from '../../shared/storage';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { connectionString, uniqueName } from '../support/run-lake';

const PIPELINE = (sourceObjectives: string, tableObjectives: string) => `name: shop
sources:
  sales:
    landing: sales/
    objectives: ${sourceObjectives}
tables:
  silver.sales:
    from: sales
    objectives: ${tableObjectives}
    expectations:
      positive: { check: "quantity > 0", onViolation: drop }
`;

function problems(yaml: string): string[] {
  try {
    parsePipelineDefinition(yaml, 'shop.yaml');
  } catch (err) {
    if (err instanceof PipelineDefinitionError) return err.problems.map((p) => `${p.path} (line ${p.line}): ${p.message}`);
    throw err;
  }
  return [];
}

describe('objectives in the pipeline YAML', () => {
  it('reads freshness as a duration, the pass rate and the dead-letter limit', () => {
    const d = parsePipelineDefinition(PIPELINE('{ freshness: 90m, maxDeadLetteredRows: 0 }', '{ freshness: 2h, minPassRate: 0.99 }'));
    expect(d.sources.sales.objectives).toEqual({ freshness: 5400, maxDeadLetteredRows: 0 });
    expect(d.tables['silver.sales'].objectives).toEqual({ freshness: 7200, minPassRate: 0.99 });
  });

  it('names the YAML path and line of each bad objective', () => {
    expect(problems(PIPELINE('{ freshness: soon, minPassRate: 0.9 }', '{ minPassRate: 1.5, maxDeadLetteredRows: 3, fresh: 1h }'))).toEqual([
      'sources.sales.objectives.freshness (line 5): expected a duration such as 30m, 1h or 2d; got "soon"',
      'sources.sales.objectives.minPassRate (line 5): minPassRate is an objective of tables (it judges expectations)',
      'tables.silver.sales.objectives.minPassRate (line 9): expected a pass rate from 0 to 1, such as 0.99; got 1.5',
      'tables.silver.sales.objectives.maxDeadLetteredRows (line 9): maxDeadLetteredRows is an objective of sources (dead letters are bronze files)',
      'tables.silver.sales.objectives.fresh (line 9): unknown objective; expected one of freshness, minPassRate',
    ]);
    expect(problems(PIPELINE('1h', '{}'))).toEqual(['sources.sales.objectives (line 5): expected a mapping of freshness, maxDeadLetteredRows']);
  });

  it('judges each objective against what was measured', () => {
    const d = parsePipelineDefinition(PIPELINE('{ freshness: 1h, maxDeadLetteredRows: 10 }', '{ freshness: 1h, minPassRate: 0.99 }'));
    const at = new Date('2026-03-01T12:00:00Z');
    const met = new Map([
      ['bronze/sales', { freshnessSeconds: 3599, deadLetteredRows: 10 }],
      ['silver/sales', { freshnessSeconds: 10, passRate: 0.99 }],
    ]);
    expect(evaluateObjectives([d], met, at)).toEqual([]);
    const missed = new Map([
      ['bronze/sales', { freshnessSeconds: null, deadLetteredRows: 11 }],
      ['silver/sales', { freshnessSeconds: 3601, passRate: 0.5 }],
    ]);
    expect(evaluateObjectives([d], missed, at).map((b) => [b.table, b.objective, b.value, b.threshold])).toEqual([
      ['bronze/sales', 'freshness', -1, 3600],
      ['bronze/sales', 'maxDeadLetteredRows', 11, 10],
      ['silver/sales', 'freshness', 3601, 3600],
      ['silver/sales', 'minPassRate', 0.5, 0.99],
    ]);
  });
});

describe('landing lag', () => {
  it('counts the landing blobs without a finished ledger entry, and the age of the oldest', async () => {
    const landing = openStore(azuriteUri(uniqueContainer('landing')));
    const ledger = TableLedger.fromConnectionString(connectionString(), uniqueName('Ledger'));
    const done = await landing.write('sales/a.csv', 'x\n1\n');
    await landing.write('sales/b.csv', 'x\n2\n');
    await landing.write('other/c.csv', 'x\n3\n');
    const entry = {
      table: 'lake/bronze/sales',
      path: 'sales/a.csv',
      etag: done.etag.replace(/"/g, ''),
      startedAt: '',
      updatedAt: '',
      attempts: 1,
      startVersion: -1,
    };
    const counts = { rowsRead: 1, rowsWritten: 1, rowsRescued: 0, rowsDeadLettered: 0, bytes: 4 };
    await ledger.put({ ...entry, ...counts, status: 'committed' });
    const now = new Date(Date.now() + 120_000);
    const lag = await landingLag(landing, 'sales/', ledger, 'lake/bronze/sales', now);
    expect(lag.pendingFiles).toBe(1);
    expect(lag.truncated).toBe(false);
    expect(lag.oldestPendingSeconds).toBeGreaterThanOrEqual(110);
    expect(lag.oldestPendingSeconds).toBeLessThan(300);
    // A started (claimed) entry is not finished: still pending.
    await ledger.put({ ...entry, ...counts, path: 'sales/b.csv', etag: (await landing.properties('sales/b.csv')).etag.replace(/"/g, ''), status: 'started' });
    expect((await landingLag(landing, 'sales/', ledger, 'lake/bronze/sales', now)).pendingFiles).toBe(1);
  });
});
