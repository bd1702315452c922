/**
 * The catalog and the audit on the local host (`npm start`), over HTTP as a user reaches them: the POS
 * walkthrough's files dropped in the landing container, ingested by the blobCreated function and
 * refreshed by the afterBronze run; then `GET /api/catalog/tables` lists every table with the version
 * and rows the tables have, `GET /api/catalog/tables/{path}` answers one with its schema (404 naming an
 * unknown path), search and filters work over HTTP, `sluice catalog` answers the same from the same
 * table, and `sluice catalog rebuild` gives the same entries. A run started and purged over HTTP is
 * audited as `local`, whatever authentication headers the caller sends.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCatalogCommand } from '../../cli/catalog';
import type { Io } from '../../cli/ingest';
import type { LocalHost } from '../../dev/host';
import { loadSnapshot } from '../../shared/delta';
import { openLakeStore } from '../../shared/storage/lake';
import { POS_PIPELINE, ROOT, rowsOf } from '../support/refresh-helpers';
import { startTestLocalHost, type TestLocalHost } from '../support/local-host';

let host: LocalHost;
let api: TestLocalHost['api'];
let until: TestLocalHost['until'];
const POS_DATA = nodePath.join(ROOT, 'examples', 'data', 'pos');

async function cli(args: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t) };
  const status = await runCatalogCommand(args, io, { ...process.env });
  return { status, out, err };
}

const TABLES = [
  'bronze/pos_deliveries',
  'bronze/pos_sales',
  'gold/daily_store_sales',
  'gold/store_stock',
  'silver/deliveries',
  'silver/deliveries__quarantine',
  'silver/sales',
  'silver/sales__quarantine',
];

beforeAll(async () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-catalog-host-'));
  writeFileSync(nodePath.join(dir, 'pos.yaml'), readFileSync(POS_PIPELINE));
  ({ host, api, until } = await startTestLocalHost({ pipeline: nodePath.join(dir, 'pos.yaml'), watchIntervalMs: 200 }));
  const landing = host.runtime.landing;
  await landing.write('pos/sales/sales-2026-03-01.csv', readFileSync(nodePath.join(POS_DATA, 'sales-2026-03-01.csv')));
  await landing.write('pos/deliveries/deliveries-2026-03-01.csv', readFileSync(nodePath.join(POS_DATA, 'deliveries-2026-03-01.csv')));
  // Gold is recomputed last: once both gold tables and both quarantine tables are listed, the run is done.
  await until(
    'the catalog to list every POS table',
    async () => {
      const listed = await api('/api/catalog/tables');
      const paths = (listed.body?.tables ?? []).map((t: { path: string }) => t.path);
      return TABLES.every((p) => paths.includes(p)) ? true : undefined;
    },
    120_000,
  );
  await until(
    'the run to finish',
    async () => {
      const status = await api('/runtime/webhooks/durabletask/instances/refresh-pos');
      return status.status === 200 && status.body?.runtimeStatus === 'Completed' ? true : undefined;
    },
    120_000,
  );
}, 180_000);

afterAll(async () => {
  await host?.stop();
});

describe('catalog and audit on the local host', () => {
  it('lists every table over HTTP with the versions and rows the tables have, and shows one with its schema', async () => {
    const listed = await api('/api/catalog/tables');
    expect(listed.status).toBe(200);
    expect(listed.body.tables.map((t: { path: string }) => t.path)).toEqual(TABLES);
    for (const t of listed.body.tables) {
      const store = openLakeStore(host.runtime.settings, t.path);
      const snapshot = await loadSnapshot(store);
      expect({ path: t.path, status: t.status, version: t.version, rows: t.rows }).toEqual({
        path: t.path,
        status: 'live',
        version: snapshot.version,
        rows: (await rowsOf(store)).length,
      });
      expect(Object.keys(t).sort()).toEqual(
        [
          'bytes',
          'description',
          'files',
          'lastCommit',
          'layer',
          'missingSince',
          'name',
          'owner',
          'path',
          'pipeline',
          'reason',
          'rows',
          'status',
          'tags',
          'version',
        ].sort(),
      );
    }
    const sales = await api('/api/catalog/tables/silver/sales');
    expect(sales.status).toBe(200);
    expect(sales.body).toMatchObject({ path: 'silver/sales', layer: 'silver', owner: 'retail-data@contoso.com', rows: 7 });
    const snapshot = await loadSnapshot(openLakeStore(host.runtime.settings, 'silver/sales'));
    expect(sales.body.schema.map((c: { name: string }) => c.name)).toEqual(snapshot.schema.fields.map((f) => f.name));
    expect(sales.body.schemaHistory.filter((h: { version: number }) => h.version === 0).map((h: { column: string }) => h.column)).toEqual(
      snapshot.schema.fields.map((f) => f.name),
    );
    const missing = await api('/api/catalog/tables/gold/nothing_here');
    expect(missing).toMatchObject({ status: 404, body: { error: expect.stringMatching(/^no table gold\/nothing_here in the catalog/) } });
    expect((await api('/api/catalog/tables/gold/..%2F..%2Fx')).status).toBe(400);
  });

  it('searches and filters over HTTP', async () => {
    const paths = async (query: string) => (await api(`/api/catalog/tables?${query}`)).body.tables.map((t: { path: string }) => t.path);
    expect(await paths('q=card_number')).toEqual(['bronze/pos_sales', 'silver/sales', 'silver/sales__quarantine']);
    expect(await paths('tag=kpi')).toEqual(['gold/daily_store_sales']);
    expect(await paths('layer=bronze&owner=retail-data%40contoso.com')).toEqual(['bronze/pos_sales']);
    expect((await api(`/api/catalog/tables?q=${'x'.repeat(201)}`)).status).toBe(400);
  });

  it('answers the same through sluice catalog, and rebuilds the same entries', async () => {
    const listed = await cli(['list', '--json']);
    expect(listed.status).toBe(0);
    const http = await api('/api/catalog/tables');
    expect(JSON.parse(listed.out)).toEqual(http.body);
    const search = await cli(['search', 'masked', 'digits']);
    expect(search.out).toMatch(/^silver\/sales {2}live {2}v\d+, 7 rows, \d+ bytes, committed \S+\n {4}owner retail-data@contoso\.com; tags pos, finance\n/);
    expect(search.out).toMatch(/2 tables matching "masked digits"\n$/);
    const shown = await cli(['show', 'bronze/pos_sales']);
    expect(shown.out).toMatch(/card_number {2}long {2}\[PII none: stored as received; silver\/sales masks it\]/);
    expect(shown.out).toMatch(/schema history\n {2}v0 {2}added transaction_id string\n/);
    const unknown = await cli(['show', 'gold/none']);
    expect(unknown).toMatchObject({ status: 1, err: expect.stringMatching(/no table gold\/none in the catalog/) });

    const before = await Promise.all(TABLES.map(async (p) => (await api(`/api/catalog/tables/${p}`)).body));
    const rebuilt = await cli(['rebuild', '--json']);
    expect(rebuilt.status).toBe(0);
    expect(JSON.parse(rebuilt.out)).toEqual({ tables: 8, notDelta: 0, refused: 0, unreadable: 0, missing: 0 });
    const after = await Promise.all(TABLES.map(async (p) => (await api(`/api/catalog/tables/${p}`)).body));
    expect(after).toEqual(before);
  });

  it('audits runs started and purged here as local, whatever headers the caller sends', async () => {
    const claimed = { 'content-type': 'application/json', 'x-ms-client-principal-name': 'mallory@example.com' };
    const started = await api('/api/pipelines/pos/runs', { method: 'POST', headers: claimed, body: JSON.stringify({ reason: 'audit test' }) });
    expect(started.status).toBe(202);
    await until(
      'the run to finish',
      async () => {
        const status = await api('/api/pipelines/pos/runs/refresh-pos');
        return status.status === 200 ? true : undefined;
      },
      120_000,
    );
    expect((await api('/api/pipelines/pos/runs/refresh-pos', { method: 'DELETE', headers: claimed })).status).toBe(200);
    const audit = await api('/api/pipelines/pos/audit');
    expect(audit.status).toBe(200);
    expect(audit.body.audit.map((r: { action: string; kind: string; principal: string }) => [r.action, r.kind, r.principal])).toEqual([
      ['purge', 'local', 'local'],
      ['start', 'local', 'local'],
    ]);
    expect(audit.body.audit[1]).toMatchObject({ reason: 'audit test', requestId: started.body.requestId });
  });
});
