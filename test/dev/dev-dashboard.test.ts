/**
 * The dashboard in a real browser: the local host runs the POS example on its own Azurite, files are
 * dropped and the run completes; headless Chromium then opens `/api/dashboard` at 1,280×800 and at a
 * phone's width, and the page must draw every view with the numbers the API answers, without a console
 * error or a refused script. Screenshots go to test-output/dashboard/.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalHost } from '../../dev/host';
import { seededRandom } from '../../bench/dataset';
import type { DashboardSummary } from '../../shared/dashboard/types';
import { deliveriesFile, salesFile } from '../support/dev-data';
import { POS_PIPELINE, ROOT } from '../support/refresh-helpers';
import { Browser, type Page } from '../support/chromium';
import { startTestLocalHost, type TestLocalHost } from '../support/local-host';

const SHOTS = nodePath.join(ROOT, 'test-output', 'dashboard');
const KEY = 'not-a-real-key-7f3a';
const VIEWS = [
  'pipeline',
  'volumes-over-time-rows-written-per-update-',
  'run-durations',
  'freshness',
  'expectations-latest-update-that-wrote-rows-',
  'recent-runs',
  'dead-letters',
  'storage-by-layer-and-tier',
];

let host: LocalHost;
let browser: Browser;
let api: TestLocalHost['api'];
let until: TestLocalHost['until'];

beforeAll(async () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-dashboard-'));
  // A pass-rate objective the generated sales miss (about 1 in 13 has a zero quantity), so the metrics timer records a breach.
  const pipeline = readFileSync(POS_PIPELINE, 'utf8').replace('minPassRate: 0.8', 'minPassRate: 0.99');
  expect(pipeline).toContain('minPassRate: 0.99');
  writeFileSync(nodePath.join(dir, 'pos.yaml'), pipeline);
  ({ host, api, until } = await startTestLocalHost({ pipeline: nodePath.join(dir, '*.yaml'), watchIntervalMs: 200 }));
  const random = seededRandom(20261207);
  for (let f = 0; f < 3; f++) await host.runtime.landing.write(`pos/sales/2026/03/sales-${f}.csv`, salesFile(f, 120, random).csv);
  await host.runtime.landing.write('pos/deliveries/deliveries-0.csv', deliveriesFile(0, 40, random).csv);
  // A record longer than the CSV reader accepts as one field's quoting: read as a bad record and dead-lettered.
  await host.runtime.landing.write(
    'pos/deliveries/deliveries-1.csv',
    'delivery_id,store_id,sku,quantity,delivered_at\nD1,S01,A,3,2026-03-01 01:00:00\n"D2,S01,A,4,2026-03-01 02:00:00\n',
  );
  await until('the landing watch to deliver every file', async () => {
    const { body } = await api('/api/health');
    return body.landing.watch.eventsDelivered >= 5 && body.landing.watch.pending === 0 ? true : undefined;
  });
  const start = await fetch(`${host.url}/api/pipelines/pos/runs`, {
    method: 'POST',
    body: '{"reason":"dashboard test"}',
    headers: { 'content-type': 'application/json' },
  });
  const { requestUrl } = (await start.json()) as { requestUrl: string };
  await until('the run', async () => {
    const answer = await fetch(requestUrl);
    const status = (await answer.json()) as { runtimeStatus: string };
    if (answer.status === 200 && status.runtimeStatus !== 'Completed') throw new Error(`run ended ${JSON.stringify(status)}`);
    return answer.status === 200 ? true : undefined;
  });
  const metrics = await fetch(`${host.url}/admin/functions/metrics`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  expect(metrics.status).toBeLessThan(300);
  // The timer runs in the background: wait for the breach it records.
  await until(
    'the metrics timer to record the pass-rate breach',
    async () => ((await api('/api/metrics/breaches')).body?.breaches?.length > 0 ? true : undefined),
    60_000,
  );
  // Runs started by the bronze commits may still be going: wait until the summary stops changing, so
  // the page and the API answers the test compares it with describe the same state.
  let previous = '';
  await until('the lake to settle', async () => {
    const { body } = await api('/api/dashboard/summary');
    const state = JSON.stringify({
      runs: body.runs,
      nodes: body.pipelines.map((p: { nodes: unknown[] }) => p.nodes.map((n) => ({ ...(n as object), freshnessSeconds: 0 }))),
    });
    const settled = state === previous;
    previous = state;
    if (!settled) await new Promise((r) => setTimeout(r, 1000));
    return settled ? true : undefined;
  });
  browser = await Browser.launch();
  mkdirSync(SHOTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await host?.stop();
});

async function openDashboard(width: number, height: number, mobile: boolean): Promise<Page> {
  const page = await browser.newPage();
  await page.resize(width, height, mobile);
  await page.open(`${host.url}/api/dashboard?code=${KEY}`);
  await until(
    'the dashboard to draw',
    async () => ((await page.evaluate<string | undefined>('document.body.dataset.ready')) === 'true' ? true : undefined),
    30_000,
  );
  // Charts are drawn on the next animation frame.
  await until('the charts', async () => ((await page.evaluate<number>('document.querySelectorAll(".uplot canvas").length')) >= 3 ? true : undefined), 10_000);
  return page;
}

describe('dashboard (GET /api/dashboard) in headless Chromium', () => {
  it('serves a self-contained page with no key in it, pinned by a Content-Security-Policy', async () => {
    const page = await api(`/api/dashboard?code=${KEY}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).not.toContain(KEY);
    expect(page.text).not.toMatch(/<script[^>]+src=|<link[^>]+href="(?!data:)|https?:\/\/(?!www\.w3\.org)/);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
  });

  it.each([
    ['desktop', 1280, 800, false],
    ['phone', 390, 844, true],
  ])('draws every view with the API numbers at %s width', async (name, width, height, mobile) => {
    const page = await openDashboard(width, height, mobile);
    const summary = (await api('/api/dashboard/summary')).body as DashboardSummary;
    const pos = summary.pipelines.find((p) => p.name === 'pos')!;

    expect(await page.evaluate<string[]>('[...document.querySelectorAll("[data-view]")].map((e) => e.dataset.view)')).toEqual(expect.arrayContaining(VIEWS));
    // The graph: one node per input and table, coloured by state, with the rows the table API reports.
    const nodes = await page.evaluate<{ id: string; state: string; rows: string | undefined }[]>(
      '[...document.querySelectorAll("[data-node]")].map((g) => ({ id: g.dataset.node, state: g.dataset.state, rows: g.dataset.rows }))',
    );
    expect(nodes.map((n) => n.id).sort()).toEqual(pos.nodes.map((n) => n.id).sort());
    expect(await page.evaluate<number>('document.querySelectorAll("path[data-edge]").length')).toBe(pos.edges.length);
    for (const table of ['silver/sales', 'silver/deliveries', 'gold/daily_store_sales', 'gold/store_stock']) {
      const [layer, tableName] = table.split('/');
      const described = await api(`/api/tables/${layer}/${tableName}`);
      expect(described.status).toBe(200);
      const node = nodes.find((n) => n.id === table)!;
      expect(node.state).toBe('ok');
      expect(Number(node.rows)).toBe(described.body.numRecords);
      expect(described.body.numRecords).toBeGreaterThan(0);
    }
    // Expectation pass rates and quarantine counts are the latest update's, as the updates API reports it.
    const updates = await api('/api/pipelines/pos/tables/silver.sales/updates?limit=100');
    const latest = updates.body.updates.find((u: { status: string }) => u.status === 'updated');
    for (const x of latest.metrics.expectations as { name: string; onViolation: string; passed: number; failed: number }[]) {
      const shown = await page.evaluate<{ rate: string; failed: string }>(
        `(() => { const row = document.querySelector('tr[data-table="silver/sales"][data-expectation="${x.name} (${x.onViolation})"]');
          return { rate: row.querySelector('[data-metric=passRate]').dataset.value, failed: row.querySelector('[data-metric=failed]').dataset.value }; })()`,
      );
      expect(Number(shown.rate)).toBeCloseTo(x.passed / (x.passed + x.failed), 10);
      expect(Number(shown.failed)).toBe(x.failed);
    }
    expect(latest.metrics.quarantined + latest.metrics.dropped).toBeGreaterThan(0);
    // Runs, dead letters and storage equal what their APIs answer.
    const runRows = await page.evaluate<number>('document.querySelectorAll("tr[data-run]").length');
    expect(runRows).toBe(Math.min(20, summary.runs.filter((r) => r.pipeline === 'pos').length));
    expect(runRows).toBeGreaterThan(0);
    const letters = await api('/api/deadletter');
    expect(await page.evaluate<number>('document.querySelectorAll("tr[data-dead-letter]").length')).toBe(letters.body.records.length);
    const shownBytes = await page.evaluate<number[]>('[...document.querySelectorAll("[data-layer] [data-metric=bytes]")].map((e) => Number(e.dataset.value))');
    expect(shownBytes.reduce((a, b) => a + b, 0)).toBe(summary.storage.reduce((a, s) => a + s.bytes, 0));
    // The monthly cost of each layer and tier, from the tiering price table (Azurite reports Hot).
    const shownCost = await page.evaluate<number[]>(
      '[...document.querySelectorAll("[data-layer] [data-metric=monthlyCost]")].map((e) => Number(e.dataset.value))',
    );
    expect(shownCost).toEqual(summary.storage.map((s) => s.monthlyCostUsd));
    expect(shownCost.every((c) => c > 0)).toBe(true);
    // Gold rows in the tile are the sum over gold tables.
    const goldRows = pos.nodes.filter((n) => n.layer === 'gold').reduce((s, n) => s + (n.rows ?? 0), 0);
    expect(Number(await page.evaluate<string>('document.querySelector("[data-tile=gold-rows] [data-value]").dataset.value'))).toBe(goldRows);

    // Objective breaches and the metrics timer's series, as their APIs answer them.
    const breaches = (await api('/api/metrics/breaches')).body.breaches.filter((b: { pipeline: string }) => b.pipeline === 'pos');
    expect(breaches.some((b: { table: string; objective: string }) => b.table === 'silver/sales' && b.objective === 'minPassRate')).toBe(true);
    expect(await page.evaluate<number>('document.querySelectorAll("tr[data-breach]").length')).toBe(Math.min(50, breaches.length));
    const rowSeries = (await api('/api/metrics?metric=rows')).body.series.filter((x: { table: string }) => pos.nodes.some((n) => n.id === x.table));
    expect(rowSeries.length).toBeGreaterThan(0);
    expect(await page.evaluate<number>('document.querySelectorAll("[data-chart=rows] .uplot").length')).toBe(1);

    // The page fits the width (the graph scrolls inside its own box) and sent the key as a header only.
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
    const calls = page.requests.filter((r) => r.url.includes('/api/dashboard/summary'));
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((r) => r.headers['x-functions-key'] === KEY && !r.url.includes(KEY))).toBe(true);

    writeFileSync(nodePath.join(SHOTS, `dashboard-${name}-${width}.png`), await page.screenshot());
    // Dead letters are shown with a reason a user can act on.
    expect(await page.evaluate<string>('document.querySelector("tr[data-dead-letter] td:last-child")?.textContent ?? ""')).toMatch(/quote|row \d+/i);
    // A table's node opens its catalog page and lineage in a side panel.
    await page.evaluate('document.querySelector(\'[data-node="silver/sales"]\').dispatchEvent(new MouseEvent("click", { bubbles: true }))');
    await until(
      'the side panel',
      async () => ((await page.evaluate<string>('document.getElementById("panel").textContent')).includes('Version') ? true : undefined),
      10_000,
    );
    writeFileSync(nodePath.join(SHOTS, `dashboard-${name}-${width}-table-panel.png`), await page.screenshot());
    expect(page.problems).toEqual([]);
  });
});
