/**
 * Schema hints naming columns whose names Delta cannot store as they are (`Contact Phone Number`): on
 * the command line (`--schema-hints`) and in a pipeline definition, as a string in each of its forms
 * (`name:type`, Spark's `` `name` type ``, plain `name type`) or as a map. The hint names the original
 * column; the table stores it under its safe name with the hinted type.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import { loadSnapshot } from '../../shared/delta';
import { parsePipelineDefinition, parseSchemaHints, PipelineDefinitionError } from '../../shared/pipeline';
import { checkPipelineSql } from '../../shared/refresh';
import { openStore } from '../../shared/storage/location';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { tableRows } from '../support/ingest';

function capture() {
  let out = '';
  let err = '';
  return { io: { out: (t: string) => void (out += t), err: (t: string) => void (err += t) }, out: () => out, err: () => err };
}

describe('schema hints as a string', () => {
  it('reads a column name with spaces in the colon, backtick and plain Spark forms', () => {
    const expected = { 'Contact Phone Number': 'string' };
    expect(parseSchemaHints('Contact Phone Number:string')).toEqual({ hints: expected, problems: [] });
    expect(parseSchemaHints('`Contact Phone Number` string')).toEqual({ hints: expected, problems: [] });
    expect(parseSchemaHints('`Contact Phone Number`:STRING')).toEqual({ hints: expected, problems: [] });
    expect(parseSchemaHints('Contact Phone Number string')).toEqual({ hints: expected, problems: [] });
    expect(parseSchemaHints(' Contact Phone Number : varchar(20) ')).toEqual({ hints: expected, problems: [] });
  });

  it('keeps commas, parentheses and doubled backticks inside a quoted name, and reads date formats', () => {
    expect(parseSchemaHints('`Price (EUR), net` decimal(12, 2), `a``b` int, Order Date date d/M/yyyy, qty bigint')).toEqual({
      hints: { 'Price (EUR), net': 'decimal(12,2)', 'a`b': 'integer', 'Order Date': 'date d/M/yyyy', qty: 'long' },
      problems: [],
    });
    // A colon inside a name: only the last colon can end it, or a space before the type does.
    expect(parseSchemaHints('ratio a:b:double, time:of:day string')).toEqual({ hints: { 'ratio a:b': 'double', 'time:of:day': 'string' }, problems: [] });
  });

  it('names the hint of every problem', () => {
    const { hints, problems } = parseSchemaHints('qty:integr, Contact Phone Number strin, ok int, , lonely, `Order Date` date dd-MM-yy, Order_Date string');
    expect(hints).toEqual({ ok: 'integer', Order_Date: 'string' });
    expect(problems).toEqual([
      expect.stringMatching(/^hint "qty:integr": "integr" is not a type \(string, int, .*\)$/),
      expect.stringMatching(/^hint "Contact Phone Number strin": "strin" is not a type/),
      'hint "lonely": is not "column type" or "column:type"',
      expect.stringMatching(/^hint "`Order Date` date dd-MM-yy": "date dd-MM-yy" is not a type/),
    ]);
    // An unclosed backtick takes the rest of the text into the name.
    expect(parseSchemaHints('ok int, `open name int, b int').problems).toEqual([
      'hint "`open name int, b int": the backtick before the column name is never closed',
    ]);
    // Two hints of one stored column (the original name and the safe one) would race.
    expect(parseSchemaHints('Order Date:date, order_date string').problems).toEqual([
      'hint "order_date string": column "order_date" is already hinted as "Order Date" (a column is stored as order_date; hints match the original or the stored name, without regard to case)',
    ]);
  });
});

describe('schema hints in a pipeline definition', () => {
  it('takes names with spaces as map keys (quoted or not) and in the string form', () => {
    const def = parsePipelineDefinition(`sources:
  a: { landing: a/, schemaHints: { "Contact Phone Number": string, "\`Zip Code\`": int, day: "date d/M/yyyy" } }
  b: { landing: b/, schemaHints: "\`Contact Phone Number\` string, Zip Code:int" }
`);
    expect(def.sources.a.schemaHints).toEqual({ 'Contact Phone Number': 'string', 'Zip Code': 'integer', day: 'date d/M/yyyy' });
    expect(def.sources.b.schemaHints).toEqual({ 'Contact Phone Number': 'string', 'Zip Code': 'integer' });
  });

  it('refuses a blank name, a second hint of one column and an unknown type, naming the YAML path', () => {
    let error: unknown;
    try {
      parsePipelineDefinition(`sources:
  a: { landing: a/, schemaHints: { " ": int, "Zip Code": int, Zip_Code: string, day: "date dd-MM-yy" } }
  b: { landing: b/, schemaHints: "Zip Code strin" }
`);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PipelineDefinitionError);
    const problems = (error as PipelineDefinitionError).problems.map((p) => `${p.path}: ${p.message}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'sources.a.schemaHints. : a column name cannot be blank',
        expect.stringMatching(/^sources\.a\.schemaHints\.Zip_Code: column "Zip_Code" is already hinted as "Zip Code"/),
        expect.stringMatching(/^sources\.a\.schemaHints\.day: expected a type .*got "date dd-MM-yy"/),
        expect.stringMatching(/^sources\.b\.schemaHints: hint "Zip Code strin": "strin" is not a type/),
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it('gives the SQL check the stored name and type of a hinted column before bronze exists', async () => {
    const def = parsePipelineDefinition(`sources:
  contacts: { landing: c/, schemaHints: "\`Contact Phone Number\` string, Signed Up date d/M/yyyy" }
tables:
  silver.contacts:
    from: contacts
    sql: SELECT Contact_Phone_Number AS phone, Signed_Up AS signed_up FROM source
`);
    const checked = await checkPipelineSql(def);
    expect(checked.schemas['silver.contacts'].fields.map((f) => [f.name, f.type])).toEqual([
      ['phone', 'string'],
      ['signed_up', 'date'],
    ]);
  });
});

describe('sluice ingest --schema-hints', () => {
  it('types a column named with spaces as hinted, stored under its safe name', async () => {
    const dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-hints-'));
    // Digits only: inference alone would make the phone numbers a long.
    await writeFile(nodePath.join(dir, 'contacts.csv'), 'Name,Contact Phone Number,Zip Code\nAnn,5550100,10001\nBo,5550111,99501\n');
    const table = azuriteUri(uniqueContainer('hints'), 'bronze/contacts');
    for (const [hints, n] of [
      ['`Contact Phone Number` string, `Zip Code` int', 1],
      ['Contact Phone Number:string,Zip Code:int', 2],
      ['Contact Phone Number string, Zip Code int', 3],
    ] as const) {
      const c = capture();
      expect(await main(['ingest', nodePath.join(dir, 'contacts.csv'), '--table', `${table}${n}`, '--schema-hints', hints], c.io), c.err()).toBe(0);
      const store = openStore(`${table}${n}`);
      const fields = (await loadSnapshot(store)).schema.fields;
      expect(
        fields.filter((f) => !f.name.startsWith('_')).map((f) => [f.name, f.type]),
        hints,
      ).toEqual([
        ['Name', 'string'],
        ['Contact_Phone_Number', 'string'],
        ['Zip_Code', 'integer'],
      ]);
      expect((await tableRows(store)).map((r) => [r.Contact_Phone_Number, r.Zip_Code])).toEqual([
        ['5550100', 10001],
        ['5550111', 99501],
      ]);
    }
  });

  it('is a usage error naming the hint when a hint cannot be read', async () => {
    const c = capture();
    expect(
      await main(['ingest', '.', '--table', nodePath.join(tmpdir(), 'sluice-never-created'), '--schema-hints', '`Contact Phone Number string'], c.io),
    ).toBe(2);
    expect(c.err()).toContain('--schema-hints: hint "`Contact Phone Number string": the backtick before the column name is never closed');
  });
});
