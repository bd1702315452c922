/**
 * Tiering policies in the pipeline YAML: what the loader accepts, the errors it gives (YAML path and
 * line), how a table's policy is resolved from flags, its own block, its layer's and the defaults,
 * and that the JSON Schema for editors agrees with the loader.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parsePipelineDefinition, PipelineDefinitionError, TIERING_KEYS } from '../../shared/pipeline';
import { DEFAULT_PRICES, LAYER_DEFAULTS, loadPriceTable, pipelinePolicySources, resolveLandingPolicy, resolveTieringPolicy } from '../../shared/tiering';

const ROOT = nodePath.resolve(__dirname, '..', '..');

const YAML = `name: sales
sources:
  pos:
    landing: pos/
    tiering:
      archiveAfterDays: 400
  web:
    landing: web/
tables:
  silver.sales:
    from: pos
    tiering: { coolAfterDays: 10d, coldAfterDays: never }
tiering:
  bronze: { coolAfterDays: 7, coldAfterDays: 60 }
  gold: { coolAfterDays: 120 }
  landing: { coolAfterDays: 14, deleteAfterDays: 365 }
`;

function problems(text: string): { path: string; message: string; line?: number }[] {
  try {
    parsePipelineDefinition(text);
  } catch (err) {
    if (err instanceof PipelineDefinitionError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('tiering in the pipeline YAML', () => {
  it('loads per-table, per-layer and landing policies', () => {
    const def = parsePipelineDefinition(YAML);
    expect(def.sources.pos.tiering).toEqual({ archiveAfterDays: 400 });
    expect(def.tables['silver.sales'].tiering).toEqual({ coolAfterDays: 10, coldAfterDays: null });
    expect(def.tiering).toEqual({
      layers: { bronze: { coolAfterDays: 7, coldAfterDays: 60 }, gold: { coolAfterDays: 120 } },
      landing: { coolAfterDays: 14, deleteAfterDays: 365 },
    });
  });

  it('names the YAML path and line of every mistake', () => {
    const found = problems(`sources:
  pos:
    landing: pos/
    tiering:
      coolAfter: 30
      coldAfterDays: -1
tiering:
  bronz: { coolAfterDays: 7 }
  silver: { coolAfterDays: 60, coldAfterDays: 30 }
  landing: { deleteAfterDays: soon, timeTravelToCool: true }
`);
    expect(found).toEqual([
      {
        path: 'sources.pos.tiering.coolAfter',
        message: 'unknown key; expected one of coolAfterDays, coldAfterDays, archiveAfterDays, timeTravelToCool',
        line: 5,
      },
      { path: 'sources.pos.tiering.coldAfterDays', message: 'expected a whole number of days 0–36500 (e.g. 30 or "30d"), or never; got -1', line: 6 },
      { path: 'tiering.bronz', message: 'unknown key; expected one of bronze, silver, gold, landing', line: 8 },
      { path: 'tiering.silver.coldAfterDays', message: 'coldAfterDays (30) is earlier than coolAfterDays (60); a later step must not come sooner', line: 9 },
      { path: 'tiering.landing.timeTravelToCool', message: expect.stringContaining('unknown key; expected one of coolAfterDays'), line: 10 },
      { path: 'tiering.landing.deleteAfterDays', message: expect.stringContaining('got "soon"'), line: 10 },
    ]);
  });

  it('resolves each field from flags, the table, the layer, then the defaults, saying where from', () => {
    const def = parsePipelineDefinition(YAML, 'pipelines/sales.yaml');
    const pos = resolveTieringPolicy('bronze', [
      { from: '--cool-after', values: { coolAfterDays: 3 } },
      ...pipelinePolicySources('pipelines/sales.yaml', 'sources.pos', def.sources.pos.tiering, def.tiering, 'bronze'),
    ]);
    expect(pos).toEqual({
      coolAfterDays: 3,
      coldAfterDays: 60,
      archiveAfterDays: 400,
      timeTravelToCool: true,
      from: {
        coolAfterDays: '--cool-after',
        coldAfterDays: 'pipelines/sales.yaml: tiering.bronze',
        archiveAfterDays: 'pipelines/sales.yaml: sources.pos.tiering',
        timeTravelToCool: 'default for bronze',
      },
    });
    const sales = resolveTieringPolicy('silver', pipelinePolicySources('p', 'tables.silver.sales', def.tables['silver.sales'].tiering, def.tiering, 'silver'));
    expect([sales.coolAfterDays, sales.coldAfterDays, sales.archiveAfterDays]).toEqual([10, null, null]);
    expect(resolveTieringPolicy('platinum', []).coolAfterDays).toBe(LAYER_DEFAULTS.default.coolAfterDays);
    // Every default layer archives nothing: archiving a live file is only ever the table's choice.
    expect(Object.values(LAYER_DEFAULTS).every((d) => d.archiveAfterDays === null)).toBe(true);
    const landing = resolveLandingPolicy([{ from: 'p: tiering.landing', values: def.tiering!.landing }]);
    expect([landing.coolAfterDays, landing.deleteAfterDays, landing.archiveAfterDays, landing.from.coldAfterDays]).toEqual([
      14,
      365,
      null,
      'default for landing',
    ]);
  });

  it('publishes a JSON Schema that agrees with the loader and accepts the example', () => {
    const schema = JSON.parse(readFileSync(nodePath.join(ROOT, 'schemas', 'pipeline.schema.json'), 'utf8'));
    expect(Object.keys(schema.$defs.tieringPolicy.properties).sort()).toEqual([...TIERING_KEYS.policy].sort());
    expect(Object.keys(schema.$defs.landingTiering.properties).sort()).toEqual([...TIERING_KEYS.landing].sort());
    const validate = new Ajv2020({ strict: false }).compile(schema);
    expect(validate(parse(YAML))).toBe(true);
    expect(validate(parse(`sources:\n  pos: { landing: pos/, tiering: { coolAfter: 3 } }\n`))).toBe(false);
  });
});

describe('the price table', () => {
  it('ships dated defaults with their source, and takes overrides naming the field that is wrong', () => {
    expect(DEFAULT_PRICES.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(DEFAULT_PRICES.source).toContain('azure.microsoft.com/pricing/details/storage/blobs');
    const over = loadPriceTable('{"currency":"EUR","storagePerGbMonth":{"Hot":0.02}}', ROOT);
    expect([over.currency, over.storagePerGbMonth.Hot, over.storagePerGbMonth.Cool]).toEqual(['EUR', 0.02, DEFAULT_PRICES.storagePerGbMonth.Cool]);
    expect(over.source).toContain('SLUICE_TIERING_PRICES');
    expect(() => loadPriceTable('{"storagePerGbMonth":{"Warm":1,"Hot":-1}}', ROOT)).toThrow(
      'SLUICE_TIERING_PRICES: storagePerGbMonth.Warm: unknown tier; expected one of Hot, Cool, Cold, Archive; storagePerGbMonth.Hot: expected a price ≥ 0, got -1',
    );
    expect(() => loadPriceTable('prices/missing.json', ROOT)).toThrow(/SLUICE_TIERING_PRICES \(.*prices\/missing.json\): the price file cannot be read/);
  });
});
