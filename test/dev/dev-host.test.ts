/**
 * The local host end to end, as `npm start` runs it: its own Azurite on free ports, two pipelines
 * (the POS example as shipped, and one reading the real CSV fixtures), files dropped in the landing
 * container the way any storage tool drops them, events posted to the Event Hubs feed, and the runs
 * followed through their request URLs until they complete. Bronze, silver and
 * gold are then checked against what this test computes from its own input in plain TypeScript:
 * every input row accounted for, gold equal to an independent aggregation.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import * as net from 'node:net';
import * as nodeHttp from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalHost } from '../../dev/host';
import type { JsonValue } from '../../shared/delta/rows';
import { openLakeStore } from '../../shared/storage/lake';
import { loadSnapshot } from '../../shared/delta';
import { neededFiles } from '../../shared/tiering/archived-files';
import { seededRandom } from '../../bench/dataset';
import {
  csvRecords,
  deliveriesFile,
  expectedDailySales,
  expectedStock,
  keptSales,
  salesFile,
  type GeneratedDelivery,
  type GeneratedSale,
} from '../support/dev-data';
import { POS_PIPELINE, ROOT, rowsOf } from '../support/refresh-helpers';
import { startTestLocalHost, type TestLocalHost } from '../support/local-host';

const REAL = nodePath.join(ROOT, 'test', 'fixtures', 'real-csv');
const REAL_FILES: Record<string, string> = {
  quakes: 'earthquakes-23k.csv',
  weather: '2016-weather-data-seattle.csv',
  shootings: 'US-shooting-incidents.csv',
  purchases: 'amazon-purchases-sample.csv',
  gapminder: 'gapminder-unclean.csv',
};
const REAL_PIPELINE = `name: real
description: the real CSV fixtures, one bronze table each, and earthquakes per year
sources:
${Object.keys(REAL_FILES)
  .map((s) => `  ${s}: { landing: real/${s}/, format: csv }`)
  .join('\n')}
tables:
  gold.quakes_per_year:
    from: quakes
    sql: SELECT year("Date") AS year, count(*) AS quakes, max(Magnitude) AS max_magnitude FROM source GROUP BY ALL
`;

let host: LocalHost;
let lines: string[];
let api: TestLocalHost['api'];
let until: TestLocalHost['until'];
const sales: GeneratedSale[] = [];
const deliveries: GeneratedDelivery[] = [];
// Seeded, so a failing run can be reproduced.
const random = seededRandom(20260301);

const rows = (path: string) => rowsOf(openLakeStore(host.runtime.settings, path));
const num = (v: JsonValue) => Number(v as number);

const JSON_TYPE = { 'content-type': 'application/json' };

beforeAll(async () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-dev-host-'));
  writeFileSync(nodePath.join(dir, 'pos.yaml'), readFileSync(POS_PIPELINE));
  writeFileSync(nodePath.join(dir, 'real.yaml'), REAL_PIPELINE);
  ({ host, lines, api, until } = await startTestLocalHost({ pipeline: nodePath.join(dir, '*.yaml'), watchIntervalMs: 200 }));
});

afterAll(async () => {
  await host?.stop();
});

describe('local host (npm start) end to end', () => {
  it('serves health, the function routes and the Durable webhook on one port', async () => {
    const health = await api('/api/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'healthy', azurite: { reachable: true }, engine: { running: true } });
    expect(health.body.pipelines.map((p: { name: string }) => p.name).sort()).toEqual(['pos', 'real']);
    expect((await api('/runtime/webhooks/durabletask/instances/nothing-here')).status).toBe(404);
    expect((await api('/api/pipelines/nope/runs', { method: 'POST' })).status).toBe(404);
    expect((await api('/api/dev/eventhubs/unknown-hub', { method: 'POST', body: '[]', headers: JSON_TYPE })).status).toBe(404);
    expect((await api('/runtime/webhooks/EventGrid?functionName=blobCreated', { method: 'POST', body: '{not json', headers: JSON_TYPE })).status).toBe(400);
    // An orchestrator name is looked up as registered, not as a property every object has.
    const inherited = await api('/runtime/webhooks/durabletask/orchestrators/constructor', { method: 'POST', body: '{}', headers: JSON_TYPE });
    expect(inherited).toMatchObject({ status: 400, body: { message: expect.stringMatching(/no orchestrator function named 'constructor'/) } });
  });

  it('refuses what a web page the developer visits could send: foreign Host or Origin (403), a body not declared JSON (415), a body over 32 MiB (413)', async () => {
    const { port } = new URL(host.url);
    type Answer = { status: number; body: string; sent: number };
    /** A request through node:http, which sends Host and Origin as given (fetch would not let us). */
    const send = (path: string, headers: Record<string, string>, body?: string | { chunk: Buffer; upTo: number }) =>
      new Promise<Answer>((resolve, reject) => {
        let sent = 0;
        let answered = false;
        const req = nodeHttp.request({ host: '127.0.0.1', port: Number(port), path, method: 'POST', headers }, (res) => {
          answered = true;
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, sent }));
          res.on('error', reject);
        });
        req.on('error', (err) => (answered ? undefined : reject(new Error(`${path} ${JSON.stringify(headers)}: ${err.message} after ${sent} bytes`))));
        if (typeof body === 'string' || body === undefined) {
          req.end(body);
          return;
        }
        // Streamed in chunks while the host reads them: stops when the answer comes or upTo is reached.
        const pump = () => {
          while (!answered && sent < body.upTo) {
            sent += body.chunk.length;
            if (!req.write(body.chunk)) return void req.once('drain', pump);
          }
          if (!answered) req.end();
        };
        pump();
      });
    const start = JSON.stringify({ reason: 'a web page' });
    const crossOrigin = await send('/api/pipelines/pos/runs', { host: `127.0.0.1:${port}`, origin: 'https://evil.example', ...JSON_TYPE }, start);
    expect(crossOrigin.status).toBe(403);
    expect(JSON.parse(crossOrigin.body).error).toMatch(/no cross-origin request \(Origin 'https:\/\/evil\.example'\)/);
    // A simple request a page may send without a preflight: no Content-Type of JSON; and a sandboxed page's Origin.
    expect(
      (await send('/api/pipelines/pos/runs/refresh-pos/terminate', { host: `127.0.0.1:${port}`, origin: 'null', 'content-type': 'text/plain' }, start)).status,
    ).toBe(403);
    // DNS rebinding: a foreign name resolving to 127.0.0.1 arrives with that name as Host.
    const rebound = await send('/api/pipelines/pos/runs', { host: `evil.example:${port}`, ...JSON_TYPE }, start);
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).error).toMatch(/not Host 'evil\.example:\d+'/);
    const plain = await send('/api/pipelines/pos/runs', { host: `localhost:${port}`, 'content-type': 'text/plain;charset=UTF-8' }, start);
    expect(plain.status).toBe(415);
    expect(JSON.parse(plain.body).error).toMatch(/Content-Type: application\/json, not 'text\/plain;charset=UTF-8'/);
    expect(
      (
        await send(
          '/runtime/webhooks/durabletask/instances/refresh-pos/terminate',
          { host: `127.0.0.1:${port}`, 'content-type': 'application/x-www-form-urlencoded' },
          'reason=x',
        )
      ).status,
    ).toBe(415);
    // Declared too large: refused before a byte of the body is read.
    const declared = await send(
      '/api/dev/eventhubs/network-telemetry',
      { host: `127.0.0.1:${port}`, ...JSON_TYPE, 'content-length': String(33 * 1024 * 1024) },
      '',
    );
    expect(declared.status).toBe(413);
    // Streamed without a length: reading stops past 32 MiB, and the answer comes while the client still sends.
    const streamed = await send(
      '/api/dev/eventhubs/network-telemetry',
      { host: `127.0.0.1:${port}`, ...JSON_TYPE },
      { chunk: Buffer.alloc(1024 * 1024, 0x20), upTo: 96 * 1024 * 1024 },
    );
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body).error).toMatch(/larger than the local host's limit of 33554432 bytes/);
    expect(streamed.sent).toBeLessThan(96 * 1024 * 1024);
    // None of it reached a function: no run of pos was started, and a loopback request is still served.
    expect((await api('/api/pipelines/pos/runs/refresh-pos')).status).toBe(404);
    const local = await send('/api/pipelines/nope/runs', { host: `localhost:${port}`, origin: `http://localhost:${port}`, ...JSON_TYPE }, start);
    expect(local.status).toBe(404);
    expect(lines.filter((l) => / → 40[3]|→ 41[35]/.test(l)).length).toBeGreaterThanOrEqual(7);
  });

  it('survives a malformed Host header and a client hanging up mid-body', async () => {
    const { port } = new URL(host.url);
    const raw = (text: string, end: boolean) =>
      new Promise<string>((resolve) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.write(text);
          if (end) socket.end();
          else setTimeout(() => socket.destroy(), 100);
        });
        let reply = '';
        socket.on('data', (d) => (reply += d));
        socket.on('close', () => resolve(reply));
        socket.on('error', () => resolve(reply));
      });
    expect(await raw('GET /api/health HTTP/1.1\r\nHost: [not a host\r\nConnection: close\r\n\r\n', true)).toMatch(/^HTTP\/1\.1 400/);
    await raw('POST /api/dev/eventhubs/network-telemetry HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n[{"a":1}', false);
    expect((await api('/api/health')).status).toBe(200);
  });

  it('ingests dropped files and posted events, refreshes silver and gold, and reports the run over HTTP', async () => {
    const landing = host.runtime.landing;
    let files = 0;
    for (const [source, file] of Object.entries(REAL_FILES)) {
      await landing.write(`real/${source}/${file}`, readFileSync(nodePath.join(REAL, file)));
      files++;
    }
    for (let f = 0; f < 4; f++) {
      const generated = salesFile(f, 150, random);
      sales.push(...generated.sales);
      await landing.write(`pos/sales/2026/03/sales-${f}.csv`, generated.csv);
      files++;
    }
    const generated = deliveriesFile(0, 60, random);
    deliveries.push(...generated.deliveries);
    await landing.write('pos/deliveries/deliveries-0.csv', generated.csv);
    files++;

    // Events: a JSON array (three batches of at most 100), then NDJSON continuing the numbering.
    const telemetry = (n: number, from: number) =>
      Array.from({ length: n }, (_, i) => ({ device_id: `POS-${(from + i) % 7}`, latency_ms: (from + i) % 90, seq: from + i }));
    const first = await api('/api/dev/eventhubs/network-telemetry', { method: 'POST', body: JSON.stringify(telemetry(250, 0)), headers: JSON_TYPE });
    expect(first).toMatchObject({ status: 200, body: { events: 250, batches: 3, partitionId: '0', sequenceNumbers: [0, 249] } });
    const second = await api('/api/dev/eventhubs/network-telemetry', {
      method: 'POST',
      body: telemetry(50, 250)
        .map((e) => JSON.stringify(e))
        .join('\n'),
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(second).toMatchObject({ status: 200, body: { events: 50, batches: 1, sequenceNumbers: [250, 299] } });

    await until('the landing watch to deliver every file', async () => {
      const { body } = await api('/api/health');
      return body.landing.watch.eventsDelivered >= files && body.landing.watch.pending === 0 ? true : undefined;
    });

    // Each drop started a run or made the running one catch up; this request makes the last one, which sees every file.
    for (const pipeline of ['pos', 'real']) {
      const reason = `dev-host test ${pipeline}`;
      const start = await api(`/api/pipelines/${pipeline}/runs`, { method: 'POST', body: JSON.stringify({ reason }), headers: JSON_TYPE });
      expect(start.status).toBe(202);
      expect(start.body).toMatchObject({
        statusUrl: `${host.url}/api/pipelines/${pipeline}/runs/refresh-${pipeline}`,
        terminateUrl: `${host.url}/api/pipelines/${pipeline}/runs/refresh-${pipeline}/terminate`,
      });
      expect(start.body.management).toBeUndefined();
      expect(start.headers.get('location')).toBe(start.body.requestUrl);
      // The request's URL answers for the run serving it, even once the instance has gone on to a later run.
      const done = await until(`run of ${pipeline}`, async () => {
        const status = await api(start.body.requestUrl);
        if (status.body?.runtimeStatus === 'Failed') throw new Error(`run of ${pipeline} failed: ${JSON.stringify(status.body.output)}`);
        return status.status === 200 ? status.body : undefined;
      });
      expect(done).toMatchObject({ requestId: start.body.requestId, runtimeStatus: 'Completed' });
      expect(done.output.tables.every((m: { status: string }) => m.status !== 'failed')).toBe(true);
      // The Durable HTTP API stays where it is on the local host.
      expect((await api(`/runtime/webhooks/durabletask/instances/refresh-${pipeline}`)).status).toBe(200);
    }
    // What the silver update did, with the landing files its rows came from.
    const updates = await api('/api/pipelines/pos/tables/silver.sales/updates?limit=5');
    expect(updates.status).toBe(200);
    const sourceFiles = updates.body.updates.flatMap(
      (u: { lineage?: { sources: { inputs?: { file?: string }[] }[] } }) => u.lineage?.sources.flatMap((s) => s.inputs?.map((i) => i.file) ?? []) ?? [],
    );
    expect(sourceFiles).toContain('pos/sales/2026/03/sales-0.csv');
    expect((await api('/api/pipelines/pos/tables/silver.nope/updates')).status).toBe(404);
    expect((await api('/api/pipelines/pos/tables/silver.sales/updates?limit=0')).status).toBe(400);

    // Lineage: bronze reaches both gold tables; the latest gold version goes back to landing files with ETags.
    const down = await api('/api/lineage/bronze/pos_sales?direction=down');
    expect(down.status).toBe(200);
    expect(down.body.nodes.map((n: { id: string }) => n.id)).toEqual(expect.arrayContaining(['table:gold/daily_store_sales', 'table:gold/store_stock']));
    const gold = (await api('/api/pipelines/pos/tables/gold.daily_store_sales/updates?limit=20')).body.updates.find(
      (u: { status: string }) => u.status === 'updated',
    );
    const up = await api(`/api/lineage/gold/daily_store_sales?version=${gold.metrics.targetVersion}&direction=up`);
    expect(up.status).toBe(200);
    const landed = up.body.nodes.filter((n: { kind: string }) => n.kind === 'file');
    expect(landed.length).toBeGreaterThan(0);
    for (const file of landed) expect(file).toMatchObject({ path: expect.stringMatching(/^pos\/sales\//), etag: expect.stringMatching(/\S/) });
    expect((await api('/api/lineage/bronze/nope')).status).toBe(404);

    // The reconcile timer (every 5 minutes) may take a file before its BlobCreated event does; both log the same line.
    // Filtered first so that a failure prints the lines that were there.
    expect(lines.filter((l) => l.includes('sales-0.csv'))).toContainEqual(
      expect.stringMatching(
        /(blobCreated|reconcile): landing\/pos\/sales\/2026\/03\/sales-0\.csv .*→ lake\/bronze\/pos_sales: committed \(version \d+\): 150 rows read/,
      ),
    );
    expect(lines.filter((l) => l.includes('silver.sales'))).toContainEqual(
      expect.stringMatching(/refreshTable: silver\.sales updated .*rows read.*\(\d+ ms\)$/),
    );
  });

  it('lands every row of the real CSVs and every event in bronze', async () => {
    for (const [source, file] of Object.entries(REAL_FILES)) {
      const expected = csvRecords(readFileSync(nodePath.join(REAL, file), 'utf8')).length;
      expect((await rows(`bronze/${source}`)).length, `bronze/${source} rows = records of ${file}`).toBe(expected);
    }
    const events = await rows('bronze/network_events');
    expect(events.length).toBe(300);
  });

  it('computes earthquakes per year equal to a count over the CSV itself', async () => {
    const expected = new Map<string, { quakes: number; max: number }>();
    for (const [date, , , magnitude] of csvRecords(readFileSync(nodePath.join(REAL, REAL_FILES.quakes), 'utf8'))) {
      // M/d/yyyy dates; the three ISO timestamps in the file go to _rescued_data, leaving Date null.
      const year = /^\d{2}\/\d{2}\/(\d{4})$/.exec(date)?.[1] ?? 'null';
      const entry = expected.get(year) ?? { quakes: 0, max: -Infinity };
      entry.quakes++;
      entry.max = Math.max(entry.max, Number(magnitude));
      expected.set(year, entry);
    }
    const gold = await rows('gold/quakes_per_year');
    expect(new Map(gold.map((r) => [r.year === null ? 'null' : String(num(r.year)), { quakes: num(r.quakes), max: num(r.max_magnitude) }]))).toEqual(expected);
  });

  it('builds silver and gold of the POS pipeline equal to an independent computation', async () => {
    const kept = keptSales(sales);
    const silver = await rows('silver/sales');
    expect(silver.map((r) => r.transaction_id).sort()).toEqual(kept.map((s) => s.transaction_id).sort());
    const quarantined = await rows('silver/sales__quarantine');
    // Quarantine comes before drop (shared/refresh/batch.ts): a GBP sale of quantity 0 is quarantined.
    expect(quarantined.map((r) => r.transaction_id).sort()).toEqual(
      sales
        .filter((s) => s.quantity === 0)
        .map((s) => s.transaction_id)
        .sort(),
    );

    const gold = await rows('gold/daily_store_sales');
    const cents = (v: JsonValue) => Math.round(Number(v) * 100);
    expect(new Map(gold.map((r) => [`${r.store_id}|${r.day}|${r.currency}`, { cents: cents(r.revenue), units: num(r.units) }]))).toEqual(
      expectedDailySales(kept),
    );
    const stock = await rows('gold/store_stock');
    expect(new Map(stock.map((r) => [`${r.store_id}|${r.sku}`, num(r.units_in_stock)]))).toEqual(expectedStock(deliveries, kept));
  });

  it('rehydrates the archived files of a table through the HTTP route, polled at its Location', async () => {
    // bronze/weather feeds no silver or gold table, so no run reads it meanwhile.
    const store = openLakeStore(host.runtime.settings, 'bronze/weather');
    const files = neededFiles(await loadSnapshot(store)).map((f) => f.path);
    expect(files.length).toBeGreaterThan(0);
    for (const path of files) await store.setAccessTier(path, 'Archive');
    const started = await api('/api/tables/bronze/weather/rehydrate?priority=high', { method: 'POST' });
    expect(started.status).toBe(202);
    const location = started.headers.get('location')!;
    expect(location).toBe(`${host.url}/api/tables/bronze/weather/rehydrations/${started.body.id}`);
    const done = await until('the rehydration', async () => {
      const status = await api(location);
      return status.status === 200 ? status : undefined;
    });
    // Azurite completes a move out of Archive at once, so the first check finds every file online.
    expect(done.body).toMatchObject({
      runtimeStatus: 'Completed',
      output: { stage: 'completed', files: files.length, online: files.length, priority: 'high' },
    });
    expect((await rows('bronze/weather')).length).toBe(csvRecords(readFileSync(nodePath.join(REAL, REAL_FILES.weather), 'utf8')).length);
  });
});
