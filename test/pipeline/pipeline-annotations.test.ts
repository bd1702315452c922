/**
 * Catalog metadata in the pipeline definition: `description`, `owner`, `tags` and column `comments`
 * of sources and tables load as written, malformed ones fail with their YAML path and line, and the
 * JSON Schema for editors accepts and refuses the same documents; comments of silver/gold tables name
 * output columns of their SQL.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parsePipelineDefinition, PipelineDefinitionError } from '../../shared/pipeline';
import { checkPipelineSql } from '../../shared/refresh';

const ROOT = nodePath.resolve(__dirname, '..', '..');
const EXAMPLE = nodePath.join(ROOT, 'examples', 'pipelines', 'pos.yaml');
const schema = JSON.parse(readFileSync(nodePath.join(ROOT, 'schemas', 'pipeline.schema.json'), 'utf8'));
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

function problems(text: string): { path: string; message: string; line?: number }[] {
  try {
    parsePipelineDefinition(text, 'p.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineDefinitionError);
    return [...(err as PipelineDefinitionError).problems];
  }
  throw new Error('the definition loaded although it should not');
}

describe('catalog metadata in a pipeline definition', () => {
  it('loads description, owner, tags and comments of sources and tables', () => {
    const def = parsePipelineDefinition(readFileSync(EXAMPLE, 'utf8'));
    expect(def.sources.pos_sales).toMatchObject({
      owner: 'retail-data@contoso.com',
      tags: ['pos', 'raw', 'pii'],
      comments: { card_number: expect.stringMatching(/as received/) },
    });
    expect(def.tables['silver.sales']).toMatchObject({
      description: expect.stringMatching(/One row per sale/),
      owner: 'retail-data@contoso.com',
      tags: ['pos', 'finance'],
      comments: { transaction_id: expect.any(String), card_number: expect.stringMatching(/masked/) },
      pii: { card_number: 'mask' },
    });
    expect(def.tables['gold.daily_store_sales']).toMatchObject({ owner: 'Retail Analytics', tags: ['pos', 'finance', 'kpi'] });
    // Absent keys stay absent: nothing invents an owner.
    expect(def.tables['gold.store_stock'].owner).toBeUndefined();
    expect(def.tables['gold.store_stock'].tags).toBeUndefined();
    expect(validate(parse(readFileSync(EXAMPLE, 'utf8')))).toBe(true);
  });

  it('accepts a single tag as a string and trims the owner', () => {
    const def = parsePipelineDefinition(`
sources:
  s: { landing: in/, tags: finance, owner: "  Data Platform (Retail)  " }
`);
    expect(def.sources.s).toMatchObject({ tags: ['finance'], owner: 'Data Platform (Retail)' });
  });

  it('refuses malformed owners, tags and comments, naming the YAML path and line', () => {
    const text = `sources:
  s:
    landing: in/
    owner: "not an @address"
    tags: [ok, "two words", ok, OK]
  t:
    landing: other/
    owner: [a, b]
    tags: { a: 1 }
tables:
  silver.x:
    from: s
    owner: ""
    tags: ["", "x;y"]
    comments: { id: "", "bad,name": text, constructor: text }
  silver.y:
    from: s
    owner: "!!!"
    comments: [a]
`;
    const found = problems(text);
    const at = (path: string) => found.find((p) => p.path === path);
    expect(at('sources.s.owner')).toMatchObject({ line: 4, message: expect.stringMatching(/"not an @address" is not an e-mail address/) });
    expect(at('sources.s.tags[1]')).toMatchObject({ line: 5, message: expect.stringMatching(/"two words" is not a tag/) });
    expect(at('sources.s.tags[2]')?.message).toMatch(/tag "ok" is listed twice/);
    expect(at('sources.s.tags[3]')?.message).toMatch(/tag "OK" is listed twice/);
    expect(at('sources.t.owner')).toMatchObject({ line: 8, message: expect.stringMatching(/got a list/) });
    expect(at('sources.t.tags')?.message).toMatch(/expected a list of tags, got a mapping/);
    expect(at('tables.silver.x.owner')?.message).toMatch(/got an empty string/);
    expect(at('tables.silver.x.tags[0]')?.message).toMatch(/"" is not a tag/);
    expect(at('tables.silver.x.tags[1]')?.message).toMatch(/"x;y" is not a tag/);
    expect(at('tables.silver.x.comments.id')?.message).toMatch(/non-empty string/);
    expect(at('tables.silver.x.comments.bad,name')?.message).toMatch(/not a usable column name/);
    expect(at('tables.silver.x.comments.constructor')?.message).toMatch(/is reserved/);
    expect(at('tables.silver.y.owner')?.message).toMatch(/neither an e-mail address nor a team name/);
    expect(at('tables.silver.y.comments')?.message).toMatch(/a map of column → comment/);
    expect(found).toHaveLength(14);
    // The editor schema refuses the same document.
    expect(validate(parse(text))).toBe(false);
    for (const path of ['/sources/s/owner', '/sources/s/tags/1', '/tables/silver.x/owner', '/tables/silver.y/comments'])
      expect(validate.errors!.map((e) => e.instancePath)).toContain(path);
  });

  it('checks that column comments of a table name output columns of its SQL', async () => {
    const def = parsePipelineDefinition(`sources:
  s: { landing: in/, schemaHints: { id: string, qty: int } }
tables:
  silver.x:
    from: s
    sql: SELECT id, qty FROM source
    comments: { id: "The id", quantity: "Units sold" }
`);
    const err = await checkPipelineSql(def).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PipelineDefinitionError);
    expect((err as PipelineDefinitionError).problems).toEqual([
      expect.objectContaining({
        path: 'tables.silver.x.comments.quantity',
        message: expect.stringMatching(/column "quantity" is not an output column of the SQL \(id, qty/),
      }),
    ]);
    // The example's comments all name columns.
    await expect(checkPipelineSql(parsePipelineDefinition(readFileSync(EXAMPLE, 'utf8')))).resolves.toBeDefined();
  });

  it('refuses more than 32 tags', () => {
    const tags = Array.from({ length: 33 }, (_, i) => `t${i}`).join(', ');
    expect(problems(`sources:\n  s: { landing: in/, tags: [${tags}] }\n`)).toEqual([
      expect.objectContaining({ path: 'sources.s.tags', message: 'at most 32 tags, got 33' }),
    ]);
  });
});
