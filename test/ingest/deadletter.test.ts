/**
 * Dead-letter records made reachable, on Azurite: files with unreadable lines are dropped in the
 * landing container and handed to the `blobCreated` function, whose log must give the record's full
 * place (container path and URL); then `sluice deadletter list|show` (the command's own function, with
 * the app's settings) and the read-only routes `GET /api/deadletter[/{*id}]`, called as the host calls
 * them and through the local host's HTTP front (its catch-all route), must find and read the records.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDeadLetterCommand } from '../../cli/deadletter';
import { serveHttp } from '../../dev/http';
import { FUNCTIONS, type HttpFunctionDefinition } from '../../functions/definitions';
import { openStore } from '../../shared/storage/location';
import { azuriteBlobEndpoint, azuriteUri, uniqueContainer } from '../support/azurite';

const landingContainer = uniqueContainer('dl-landing');
const lakeContainer = uniqueContainer('dl-lake');
const PIPELINE = `
name: dl-test
sources:
  sales: { landing: pos/sales/, format: ndjson }
  returns: { landing: pos/returns/, format: ndjson }
`;
const env: Record<string, string> = {};
/** What blobCreated logged per file. */
const logged: Record<string, string> = {};

function output(): { io: { out: (t: string) => void; err: (t: string) => void }; text: () => string } {
  let text = '';
  return { io: { out: (t) => (text += t), err: (t) => (text += t) }, text: () => text };
}

async function cli(...argv: string[]): Promise<{ status: number; text: string }> {
  const o = output();
  const status = await runDeadLetterCommand(argv, o.io, env);
  return { status, text: o.text() };
}

function http(name: string): HttpFunctionDefinition {
  const f = FUNCTIONS.find((d) => d.name === name);
  if (!f || f.kind !== 'http') throw new Error(`no HTTP function ${name}`);
  return f;
}

/** Drop a file and deliver its BlobCreated event to the function, as Event Grid would. */
async function drop(path: string, text: string): Promise<void> {
  const info = await openStore(azuriteUri(landingContainer)).write(path, text);
  const event = {
    subject: `/blobServices/default/containers/${landingContainer}/blobs/${path}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    id: `evt-${path}`,
    eventTime: new Date().toISOString(),
    data: { api: 'PutBlob', eTag: info.etag, contentLength: text.length, blobType: 'BlockBlob', url: `${azuriteBlobEndpoint()}/${landingContainer}/${path}` },
  };
  const lines: string[] = [];
  const context = new InvocationContext({ functionName: 'blobCreated', logHandler: (_level, ...args) => lines.push(args.map(String).join(' ')) });
  await (FUNCTIONS.find((f) => f.name === 'blobCreated')!.handler as (e: unknown, c: InvocationContext) => Promise<void>)(event, context);
  logged[path] = lines.join('\n');
}

beforeAll(async () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-dl-'));
  writeFileSync(nodePath.join(dir, 'dl.yaml'), PIPELINE);
  Object.assign(env, {
    SLUICE_LAKE: process.env.SLUICE_STORAGE_CONNECTION_STRING!,
    SLUICE_LAKE_CONTAINER: lakeContainer,
    SLUICE_LANDING_CONTAINER: landingContainer,
    SLUICE_PIPELINES: nodePath.join(dir, 'dl.yaml'),
  });
  Object.assign(process.env, env);
  // Line 3 of the sales file is not JSON: 3 rows land, 1 is set aside. The returns file has no good line.
  await drop('pos/sales/day1.ndjson', '{"sku":"a","qty":1}\n{"sku":"b","qty":2}\n{"sku":"c",\n{"sku":"d","qty":4}\n');
  await drop('pos/returns/r1.ndjson', 'not json\n');
});

describe('dead-letter records are reachable', () => {
  it('the log names the record by container path and URL', () => {
    const line = logged['pos/sales/day1.ndjson'];
    expect(line).toMatch(/committed \(version \d+\): 4 rows read, 3 written .* 1 dead-lettered/);
    const place = `${lakeContainer}/_sluice/dead-letter/bronze/sales/`;
    expect(line).toContain(`record ${place}`);
    expect(line).toContain(`${azuriteBlobEndpoint()}/${place}`);
  });

  it('sluice deadletter list finds the records, by table and by time; show reads one', async () => {
    const all = await cli('list', '--json');
    expect(all.status).toBe(0);
    const records = (
      JSON.parse(all.text) as {
        records: {
          id: string;
          table: string;
          location: string;
          url: string;
          counts: { rowsRead: number; rowsDeadLettered: number };
          source: { path: string };
        }[];
      }
    ).records;
    expect(records.map((r) => r.table)).toEqual(['bronze/returns', 'bronze/sales']);
    const sales = records.find((r) => r.table === 'bronze/sales')!;
    expect(sales.id).toMatch(/^bronze\/sales\/\d{4}-\d{2}-\d{2}\/pos\/sales\/day1\.ndjson@.+\.json$/);
    expect(sales.location).toBe(`${lakeContainer}/_sluice/dead-letter/${sales.id}`);
    expect(sales).toMatchObject({ counts: { rowsRead: 4, rowsDeadLettered: 1 }, source: { path: 'pos/sales/day1.ndjson' } });
    expect(sales.url).toBe(`${azuriteBlobEndpoint()}/${lakeContainer}/_sluice/dead-letter/${sales.id}`);

    const one = JSON.parse((await cli('list', '--table', 'bronze/sales', '--json')).text) as { records: { id: string }[] };
    expect(one.records.map((r) => r.id)).toEqual([sales.id]);
    expect(JSON.parse((await cli('list', '--table', 'bronze/sale', '--json')).text)).toEqual({ records: [] });
    expect(JSON.parse((await cli('list', '--since', new Date(Date.now() + 60_000).toISOString(), '--json')).text)).toEqual({ records: [] });
    const text = await cli('list');
    expect(text.text).toContain(sales.id);
    expect(text.text).toMatch(/2 records in .*_sluice\/dead-letter/);

    const shown = await cli('show', sales.id, '--json');
    const record = JSON.parse(shown.text) as { kind: string; records: { row: number; reason: string; raw: string }[] };
    expect(record.kind).toBe('sluice.deadLetter');
    expect(record.records).toHaveLength(1);
    expect(record.records[0]).toMatchObject({ row: 3, raw: '{"sku":"c",' });
    const human = (await cli('show', sales.id)).text;
    expect(human).toContain(`record   ${sales.location}`);
    expect(human).toMatch(/row 3.*: /);

    await expect(cli('show', 'bronze/sales/2026-01-01/nothing.json')).rejects.toThrow(/no dead-letter record bronze\/sales\/2026-01-01\/nothing\.json/);
    await expect(cli('show', '../x.json')).rejects.toThrow(/not a dead-letter record id/);
    await expect(cli('list', '--table', 'sales')).rejects.toThrow(/--table takes a table's path/);
  });

  it('GET /api/deadletter lists them and GET /api/deadletter/{*id} answers one, also through the local host', async () => {
    const list = http('listDeadLetters');
    const request = (query: string) => new HttpRequest({ method: 'GET', url: `http://127.0.0.1:7071/api/deadletter${query}` });
    const answer = await list.handler(request('?table=bronze/returns'), new InvocationContext());
    const body = (answer as { jsonBody: { records: { id: string; reason: string }[]; truncated: boolean } }).jsonBody;
    expect(body.truncated).toBe(false);
    expect(body.records).toHaveLength(1);
    expect(body.records[0].id).toMatch(/^bronze\/returns\//);
    expect(((await list.handler(request('?table=..'), new InvocationContext())) as { status: number }).status).toBe(400);
    expect(((await list.handler(request('?since=yesterday'), new InvocationContext())) as { status: number }).status).toBe(400);

    const { server, port } = await serveHttp({
      port: 0,
      functions: FUNCTIONS.filter((f): f is HttpFunctionDefinition => f.kind === 'http' && !f.durableClient),
      invoke: (definition, req, context) => definition.handler(req, context),
      routes: [],
      log: () => undefined,
    });
    try {
      const base = `http://127.0.0.1:${port}/api/deadletter`;
      const listed = (await (await fetch(`${base}?table=bronze/returns`)).json()) as { records: { id: string }[] };
      const id = listed.records[0].id;
      const shown = await fetch(`${base}/${id.split('/').map(encodeURIComponent).join('/')}`);
      expect(shown.status).toBe(200);
      expect((await shown.json()) as unknown).toMatchObject({
        kind: 'sluice.deadLetter',
        source: { path: 'pos/returns/r1.ndjson' },
        counts: { rowsRead: 1, rowsWritten: 0, rowsDeadLettered: 1 },
      });
      expect((await fetch(`${base}/bronze/returns/2026-01-01/none.json`)).status).toBe(404);
    } finally {
      server.close();
    }
  });
});
