/**
 * The dashboard page: reads `GET /api/dashboard/summary` (and the catalog, lineage and metrics routes
 * where the app has them) and draws. Every number shown is a number an API answered; the elements
 * that show one carry it raw in `data-value`, so a test can compare the page with the API.
 *
 * In Azure the page is opened as `/api/dashboard?code=<function key>`: it reads the key from its own
 * URL and sends it as `x-functions-key` on every call; the server never writes a key into the page.
 */
import uPlot from 'uplot';
import type { DashboardNode, DashboardPipeline, DashboardSummary, DashboardUpdate } from '../shared/dashboard/types';

const params = new URLSearchParams(location.search);
const key = params.get('code');
const api = location.pathname.replace(/\/dashboard\/?$/, '');
const refreshSeconds = Math.max(5, Number(params.get('refresh') ?? 30) || 30);
let selected = params.get('pipeline');
let summary: DashboardSummary | undefined;
/** Objective breaches of the last 24 hours (`GET /api/metrics/breaches`), when the app has the route. */
interface Breach {
  time: string;
  pipeline: string;
  table: string;
  objective: string;
  value: number;
  threshold: number;
  message?: string;
}
/** One series of `GET /api/metrics`. */
interface Series {
  table: string;
  metric: string;
  points: [string, number][];
}
let breaches: { status: number; list: Breach[] } = { status: 0, list: [] };
let rowSeries: { status: number; list: Series[] } = { status: 0, list: [] };
const charts: uPlot[] = [];

type Child = Node | string | number | null | undefined | false;

/** Build an element; text is always set as text, never parsed as HTML. */
function h(tag: string, attrs: Record<string, string | number | boolean | undefined> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined && value !== false) el.setAttribute(name, String(value));
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child instanceof Node ? child : String(child));
  return el;
}

function svg(tag: string, attrs: Record<string, string | number>, ...children: (Node | string)[]): SVGElement {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) el.append(child);
  return el;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 });

function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function time(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)}Z`;
}

/** A number shown on the page, with its raw value for comparison. */
function num(value: number | null | undefined, format: (n: number) => string = (n) => integer.format(n), attrs: Record<string, string> = {}): HTMLElement {
  if (value === null || value === undefined) return h('span', { ...attrs, 'data-value': '' }, '—');
  return h('span', { ...attrs, 'data-value': value }, format(value));
}

async function getJson<T>(path: string): Promise<{ status: number; body?: T }> {
  const response = await fetch(`${api}${path}`, { headers: key ? { 'x-functions-key': key } : {} });
  if (!response.ok) return { status: response.status };
  return { status: response.status, body: (await response.json()) as T };
}

function section(title: string, span: number, ...children: Child[]): HTMLElement {
  return h('section', { class: `span-${span}`, 'data-view': title.toLowerCase().replace(/[^a-z]+/g, '-') }, h('h2', {}, title), ...children);
}

function tile(label: string, value: HTMLElement, id: string): HTMLElement {
  return h('section', { class: 'span-3 tile', 'data-tile': id }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label));
}

function stateClass(node: DashboardNode): string {
  return `state-${node.kind === 'table' ? (node.state ?? 'empty') : 'input'}`;
}

/** The pipeline as DLT draws it: inputs, then bronze, silver and gold columns, edges left to right. */
function graphView(pipeline: DashboardPipeline): HTMLElement {
  const columns = new Map<number, DashboardNode[]>();
  for (const node of pipeline.nodes) columns.set(node.stage, [...(columns.get(node.stage) ?? []), node]);
  const width = 220;
  const gap = 60;
  const rowHeight = 64;
  const rows = Math.max(...[...columns.values()].map((c) => c.length));
  const stages = Math.max(...columns.keys()) + 1;
  const total = { w: stages * width + (stages - 1) * gap + 20, h: rows * rowHeight + 20 };
  const at = new Map<string, { x: number; y: number }>();
  for (const [stage, nodes] of columns)
    nodes.forEach((node, i) => at.set(node.id, { x: 10 + stage * (width + gap), y: 10 + i * rowHeight + ((rows - nodes.length) * rowHeight) / 2 }));
  const boxW = width;
  const boxH = 50;
  const drawing = svg('svg', { viewBox: `0 0 ${total.w} ${total.h}`, role: 'img', 'aria-label': `Dataflow of pipeline ${pipeline.name}` });
  for (const edge of pipeline.edges) {
    const a = at.get(edge.from);
    const b = at.get(edge.to);
    if (!a || !b) continue;
    const [x1, y1, x2, y2] = [a.x + boxW, a.y + boxH / 2, b.x, b.y + boxH / 2];
    drawing.append(
      svg('path', { class: 'edge', d: `M${x1},${y1} C${x1 + gap / 2},${y1} ${x2 - gap / 2},${y2} ${x2},${y2}`, 'data-edge': `${edge.from}->${edge.to}` }),
    );
  }
  for (const node of pipeline.nodes) {
    const p = at.get(node.id)!;
    const sub =
      node.kind === 'table'
        ? node.state === 'ok' || node.state === 'stale' || node.state === 'failed'
          ? `v${node.version} · ${node.rows === null || node.rows === undefined ? '?' : integer.format(node.rows)} rows · ${duration(node.freshnessSeconds)}`
          : (node.reason ?? node.state ?? '')
        : node.kind === 'eventHub'
          ? 'Event Hub'
          : 'landing folder';
    const label = node.label.length > 30 ? `${node.label.slice(0, 29)}…` : node.label;
    const g = svg(
      'g',
      {
        class: `node ${stateClass(node)}`,
        transform: `translate(${p.x},${p.y})`,
        tabindex: 0,
        role: 'button',
        'data-node': node.id,
        'data-state': node.state ?? 'input',
        ...(node.rows !== undefined && node.rows !== null ? { 'data-rows': node.rows } : {}),
      },
      svg('rect', { width: boxW, height: boxH, rx: 8, class: stateClass(node) }),
      svg('text', { x: 10, y: 20 }, label),
      svg('text', { x: 10, y: 38, class: 'sub' }, sub.slice(0, 40)),
    );
    g.addEventListener('click', () => void openPanel(node));
    g.addEventListener('keydown', (e) => {
      if ((e as KeyboardEvent).key === 'Enter') void openPanel(node);
    });
    drawing.append(g);
  }
  const legend = h(
    'div',
    { class: 'legend' },
    h('span', { class: 'state-ok' }, 'fresh'),
    h('span', { class: 'state-stale' }, 'past its freshness objective'),
    h('span', { class: 'state-failed' }, 'last update failed'),
    h('span', { class: 'state-empty' }, 'no data yet / input'),
  );
  return section('Pipeline', 12, h('div', { class: 'graph' }, drawing), legend);
}

function tablesOf(pipeline: DashboardPipeline): DashboardNode[] {
  return pipeline.nodes.filter((n) => n.kind === 'table');
}

function tiles(pipeline: DashboardPipeline, data: DashboardSummary): HTMLElement[] {
  const tables = tablesOf(pipeline);
  const goldRows = tables.filter((t) => t.layer === 'gold').reduce((s, t) => s + (t.rows ?? 0), 0);
  const runs = data.runs.filter((r) => r.pipeline === pipeline.name);
  const failed = runs.filter((r) => r.status === 'failed').length;
  const lettered = data.deadLetters.records.filter((d) => tables.some((t) => t.id === d.table)).reduce((s, d) => s + (d.rows ?? 0), 0);
  return [
    tile('tables', num(tables.length), 'tables'),
    tile('rows in gold', num(goldRows), 'gold-rows'),
    tile('recent runs failed', num(failed), 'failed-runs'),
    tile('rows dead-lettered', num(lettered), 'dead-lettered'),
  ];
}

/** One line per table over time: the rows each update wrote. */
function volumeChart(pipeline: DashboardPipeline, updates: DashboardUpdate[]): HTMLElement {
  const tables = [...new Set(updates.map((u) => u.table))];
  const box = h('div', { class: 'chart', 'data-chart': 'volumes' });
  const view = section('Volumes over time (rows written per update)', 6, box);
  if (!updates.length) {
    box.append(h('p', { class: 'empty-note' }, 'No table updates recorded yet.'));
    return view;
  }
  const times = [...new Set(updates.map((u) => Math.floor(Date.parse(u.recordedAt) / 1000)))].sort((a, b) => a - b);
  const series = tables.map((t) => times.map((s) => updates.find((u) => u.table === t && Math.floor(Date.parse(u.recordedAt) / 1000) === s)?.rowsOut ?? null));
  const palette = ['#2f6fb3', '#2e8b57', '#d08a00', '#8e44ad', '#c62828', '#16a085', '#7f8c8d'];
  requestAnimationFrame(() => {
    const chart = new uPlot(
      {
        width: Math.max(260, box.clientWidth),
        height: 220,
        series: [{}, ...tables.map((t, i) => ({ label: t, stroke: palette[i % palette.length], width: 2, points: { show: true, size: 6 }, spanGaps: true }))],
        axes: [{}, { size: 60 }],
        legend: { show: true },
      },
      [times, ...series] as uPlot.AlignedData,
      box,
    );
    charts.push(chart);
  });
  void pipeline;
  return view;
}

/** Run durations over time. */
function durationChart(pipeline: DashboardPipeline, data: DashboardSummary): HTMLElement {
  const runs = data.runs.filter((r) => r.pipeline === pipeline.name && r.durationMs !== null).reverse();
  const box = h('div', { class: 'chart', 'data-chart': 'durations' });
  const view = section('Run durations', 6, box);
  if (!runs.length) {
    box.append(h('p', { class: 'empty-note' }, 'No runs recorded yet.'));
    return view;
  }
  requestAnimationFrame(() => {
    const chart = new uPlot(
      {
        width: Math.max(260, box.clientWidth),
        height: 220,
        series: [{}, { label: 'seconds', stroke: '#2f6fb3', width: 2, points: { show: true, size: 7 } }],
        axes: [{}, { size: 50 }],
      },
      [runs.map((r) => Math.floor(Date.parse(r.endedAt) / 1000)), runs.map((r) => (r.durationMs ?? 0) / 1000)],
      box,
    );
    charts.push(chart);
  });
  return view;
}

function freshnessView(pipeline: DashboardPipeline): HTMLElement {
  const tables = tablesOf(pipeline);
  const longest = Math.max(1, ...tables.map((t) => Math.max(t.freshnessSeconds ?? 0, t.freshnessObjectiveSeconds ?? 0)));
  const rows = tables.map((t) => {
    const fresh = t.freshnessSeconds ?? null;
    const objective = t.freshnessObjectiveSeconds;
    const bar = h('div', { class: 'bar' });
    if (fresh !== null) {
      const fill = h('i', { class: objective !== undefined && fresh > objective ? 'over' : '' });
      fill.style.width = `${Math.min(100, (fresh / longest) * 100)}%`;
      bar.append(fill);
    }
    if (objective !== undefined) {
      const mark = h('b', { title: `objective ${duration(objective)}` });
      mark.style.left = `${Math.min(100, (objective / longest) * 100)}%`;
      bar.append(mark);
    }
    return h(
      'tr',
      { 'data-table': t.id },
      h('td', {}, t.id),
      h(
        'td',
        { class: 'num' },
        num(fresh, (n) => duration(n), { 'data-metric': 'freshness' }),
      ),
      h('td', { class: 'num' }, objective === undefined ? '—' : duration(objective)),
      h('td', { class: 'bar-cell' }, bar),
    );
  });
  return section(
    'Freshness',
    6,
    h(
      'div',
      { class: 'scroll' },
      h('table', {}, h('tr', {}, h('th', {}, 'table'), h('th', { class: 'num' }, 'age'), h('th', { class: 'num' }, 'objective'), h('th', {}, '')), ...rows),
    ),
  );
}

function qualityView(pipeline: DashboardPipeline): HTMLElement {
  const rows: HTMLElement[] = [];
  for (const t of tablesOf(pipeline)) {
    const u = t.lastChange;
    if (!u) continue;
    const expectations = u.expectations ?? [];
    const line = (name: string, rate: number | null, failed: number | null) =>
      h(
        'tr',
        { 'data-table': t.id, 'data-expectation': name },
        h('td', {}, t.id),
        h('td', {}, name),
        h(
          'td',
          { class: 'num' },
          num(rate, (n) => percent.format(n), { 'data-metric': 'passRate' }),
        ),
        h('td', { class: 'num' }, num(failed, undefined, { 'data-metric': 'failed' })),
        h('td', { class: 'num' }, num(u.quarantined, undefined, { 'data-metric': 'quarantined' })),
        h('td', { class: 'num' }, num(u.dropped, undefined, { 'data-metric': 'dropped' })),
      );
    if (!expectations.length) rows.push(line('(none)', null, null));
    for (const x of expectations) rows.push(line(`${x.name} (${x.onViolation})`, x.passRate, x.failed));
  }
  const head = h(
    'tr',
    {},
    h('th', {}, 'table'),
    h('th', {}, 'expectation'),
    h('th', { class: 'num' }, 'pass rate'),
    h('th', { class: 'num' }, 'failed'),
    h('th', { class: 'num' }, 'quarantined'),
    h('th', { class: 'num' }, 'dropped'),
  );
  return section(
    'Expectations (latest update that wrote rows)',
    6,
    rows.length ? h('div', { class: 'scroll' }, h('table', {}, head, ...rows)) : h('p', { class: 'empty-note' }, 'No silver or gold update recorded yet.'),
  );
}

function breachesView(pipeline: DashboardPipeline): HTMLElement {
  const mine = breaches.list.filter((b) => b.pipeline === pipeline.name).sort((a, b) => (a.time < b.time ? 1 : -1));
  const rows = mine.slice(0, 50).map((b) =>
    h(
      'tr',
      { 'data-breach': `${b.table}|${b.objective}|${b.time}` },
      h('td', {}, time(b.time)),
      h('td', {}, b.table),
      h('td', {}, h('span', { class: 'badge state-stale' }, b.objective)),
      h(
        'td',
        { class: 'num' },
        num(b.value, (n) => (b.objective === 'freshness' ? duration(n) : b.objective === 'minPassRate' ? percent.format(n) : integer.format(n))),
      ),
      h(
        'td',
        { class: 'num' },
        num(b.threshold, (n) => (b.objective === 'freshness' ? duration(n) : b.objective === 'minPassRate' ? percent.format(n) : integer.format(n))),
      ),
    ),
  );
  const head = h(
    'tr',
    {},
    h('th', {}, 'when'),
    h('th', {}, 'table'),
    h('th', {}, 'objective'),
    h('th', { class: 'num' }, 'measured'),
    h('th', { class: 'num' }, 'objective'),
  );
  const note =
    breaches.status === 200
      ? h('p', { class: 'empty-note' }, 'No objective breached in the last 24 hours.')
      : h('p', { class: 'empty-note' }, `Objective breaches not available (HTTP ${breaches.status}).`);
  return section('Objective breaches (last 24 hours)', 6, rows.length ? h('div', { class: 'scroll' }, h('table', {}, head, ...rows)) : note);
}

/** Rows per table over time, as the metrics timer measured them. */
function rowsChart(pipeline: DashboardPipeline): HTMLElement {
  const tables = new Set(tablesOf(pipeline).map((t) => t.id));
  const series = rowSeries.list.filter((x) => tables.has(x.table) && x.points.length > 0);
  const box = h('div', { class: 'chart', 'data-chart': 'rows' });
  const view = section('Rows per table (metrics timer)', 6, box);
  if (!series.length) {
    box.append(
      h(
        'p',
        { class: 'empty-note' },
        rowSeries.status === 200 ? 'No measurement in the last 24 hours yet.' : `Metrics not available (HTTP ${rowSeries.status}).`,
      ),
    );
    return view;
  }
  const times = [...new Set(series.flatMap((x) => x.points.map(([t]) => Math.floor(Date.parse(t) / 1000))))].sort((a, b) => a - b);
  const data = series.map((x) => {
    const at = new Map(x.points.map(([t, v]) => [Math.floor(Date.parse(t) / 1000), v]));
    return times.map((t) => at.get(t) ?? null);
  });
  const palette = ['#2f6fb3', '#2e8b57', '#d08a00', '#8e44ad', '#c62828', '#16a085', '#7f8c8d', '#34495e', '#e67e22'];
  requestAnimationFrame(() => {
    const chart = new uPlot(
      {
        width: Math.max(260, box.clientWidth),
        height: 220,
        series: [
          {},
          ...series.map((x, i) => ({ label: x.table, stroke: palette[i % palette.length], width: 2, points: { show: true, size: 5 }, spanGaps: true })),
        ],
        axes: [{}, { size: 60 }],
      },
      [times, ...data] as uPlot.AlignedData,
      box,
    );
    charts.push(chart);
  });
  return view;
}

function runsView(pipeline: DashboardPipeline, data: DashboardSummary): HTMLElement {
  const runs = data.runs.filter((r) => r.pipeline === pipeline.name).slice(0, 20);
  const rows = runs.map((r) =>
    h(
      'tr',
      { 'data-run': r.runId },
      h('td', {}, time(r.startedAt)),
      h('td', {}, h('span', { class: `badge state-${r.status === 'failed' ? 'failed' : 'ok'}` }, r.status)),
      h(
        'td',
        { class: 'num' },
        num(r.durationMs === null ? null : r.durationMs / 1000, (n) => duration(n), { 'data-metric': 'duration' }),
      ),
      h('td', { class: 'num' }, num(r.tables)),
      h('td', { class: 'num' }, num(r.rowsOut, undefined, { 'data-metric': 'rowsOut' })),
    ),
  );
  const head = h(
    'tr',
    {},
    h('th', {}, 'started'),
    h('th', {}, 'status'),
    h('th', { class: 'num' }, 'duration'),
    h('th', { class: 'num' }, 'tables'),
    h('th', { class: 'num' }, 'rows out'),
  );
  return section(
    'Recent runs',
    6,
    rows.length ? h('div', { class: 'scroll' }, h('table', {}, head, ...rows)) : h('p', { class: 'empty-note' }, 'No runs recorded yet.'),
  );
}

function deadLetterView(pipeline: DashboardPipeline, data: DashboardSummary): HTMLElement {
  const tables = new Set(tablesOf(pipeline).map((t) => t.id));
  const records = data.deadLetters.records.filter((d) => tables.has(d.table));
  const rows = records.map((d) =>
    h('tr', { 'data-dead-letter': d.id }, h('td', {}, time(d.createdAt)), h('td', {}, d.table), h('td', { class: 'num' }, num(d.rows)), h('td', {}, d.reason)),
  );
  const head = h('tr', {}, h('th', {}, 'when'), h('th', {}, 'table'), h('th', { class: 'num' }, 'rows'), h('th', {}, 'reason'));
  return section(
    'Dead letters',
    6,
    rows.length ? h('div', { class: 'scroll' }, h('table', {}, head, ...rows)) : h('p', { class: 'empty-note' }, 'Nothing dead-lettered.'),
    data.deadLetters.truncated ? h('p', { class: 'empty-note' }, `${data.deadLetters.total} records in all; newest shown.`) : null,
  );
}

function storageView(data: DashboardSummary): HTMLElement {
  const rows = data.storage.map((s) =>
    h(
      'tr',
      { 'data-layer': s.layer, 'data-tier': s.tier },
      h('td', {}, s.layer),
      h('td', {}, s.tier),
      h('td', { class: 'num' }, num(s.bytes, bytes, { 'data-metric': 'bytes' })),
      h(
        'td',
        { class: 'num' },
        num(s.monthlyCostUsd, (n) => `$${n >= 0.01 || n === 0 ? n.toFixed(2) : n.toPrecision(2)}`, { 'data-metric': 'monthlyCost' }),
      ),
    ),
  );
  const head = h('tr', {}, h('th', {}, 'layer'), h('th', {}, 'tier'), h('th', { class: 'num' }, 'bytes'), h('th', { class: 'num' }, 'per month'));
  const pricing = data.pricing
    ? h('p', { class: 'empty-note' }, `Estimated from the tiering price table of ${data.pricing.asOf} (${data.pricing.currency}).`)
    : null;
  return section('Storage by layer and tier', 6, rows.length ? h('table', {}, head, ...rows) : h('p', { class: 'empty-note' }, 'No table files yet.'), pricing);
}

/** A table's catalog page and lineage, in a side panel. */
async function openPanel(node: DashboardNode): Promise<void> {
  const panel = document.getElementById('panel')!;
  panel.hidden = false;
  panel.replaceChildren(h('button', { class: 'close', type: 'button' }, 'close'), h('h2', {}, node.label), h('p', { class: 'empty-note' }, 'loading…'));
  panel.querySelector('button.close')!.addEventListener('click', () => (panel.hidden = true));
  if (node.kind !== 'table') {
    panel.lastChild!.textContent = node.kind === 'eventHub' ? `Event Hub ${node.label}` : `Landing folder ${node.label}`;
    return;
  }
  const [catalog, lineage] = await Promise.all([
    getJson<{ schema?: { name: string; type: unknown; comment?: string }[]; owner?: string; description?: string; tags?: string[] }>(
      `/catalog/tables/${node.id.split('/').map(encodeURIComponent).join('/')}`,
    ),
    getJson<{ nodes: { id: string; kind: string }[]; edges: { from: string; to: string }[] }>(
      `/lineage/${node.id.split('/').map(encodeURIComponent).join('/')}`,
    ),
  ]);
  const parts: Child[] = [
    h(
      'p',
      {},
      `State: ${node.state ?? '—'}`,
      node.reason ? ` (${node.reason})` : '',
      h('br'),
      `Version ${node.version ?? '—'}, ${node.rows ?? '—'} rows in ${node.files ?? '—'} files, ${node.bytes === undefined ? '—' : bytes(node.bytes)}`,
      h('br'),
      `Last write ${time(node.lastWrite)}`,
    ),
  ];
  if (catalog.body) {
    const c = catalog.body;
    parts.push(
      h('h3', {}, 'Catalog'),
      c.description ? h('p', {}, c.description) : null,
      h('p', {}, `Owner: ${c.owner ?? '—'} · Tags: ${(c.tags ?? []).join(', ') || '—'}`),
    );
    if (c.schema)
      parts.push(
        h(
          'table',
          { 'data-panel': 'schema' },
          h('tr', {}, h('th', {}, 'column'), h('th', {}, 'type'), h('th', {}, 'comment')),
          ...c.schema.map((f) =>
            h('tr', {}, h('td', {}, f.name), h('td', {}, typeof f.type === 'string' ? f.type : JSON.stringify(f.type)), h('td', {}, f.comment ?? '')),
          ),
        ),
      );
  } else parts.push(h('p', { class: 'empty-note' }, `Catalog page not available (HTTP ${catalog.status}).`));
  if (lineage.body) {
    const up = lineage.body.edges.filter((e) => e.to === node.id).map((e) => e.from);
    const down = lineage.body.edges.filter((e) => e.from === node.id).map((e) => e.to);
    parts.push(
      h('h3', {}, 'Lineage'),
      h('p', { 'data-panel': 'upstream' }, `Upstream: ${[...new Set(up)].join(', ') || '—'}`),
      h('p', { 'data-panel': 'downstream' }, `Downstream: ${[...new Set(down)].join(', ') || '—'}`),
      h('p', { class: 'empty-note' }, `${lineage.body.nodes.length} nodes in the full lineage graph.`),
    );
  } else parts.push(h('p', { class: 'empty-note' }, `Lineage not available (HTTP ${lineage.status}).`));
  panel.replaceChildren(h('button', { class: 'close', type: 'button' }, 'close'), h('h2', {}, node.label), ...(parts.filter(Boolean) as Node[]));
  panel.querySelector('button.close')!.addEventListener('click', () => (panel.hidden = true));
}

function render(data: DashboardSummary): void {
  const nav = document.getElementById('pipelines')!;
  const main = document.getElementById('main')!;
  for (const chart of charts.splice(0)) chart.destroy();
  if (!data.pipelines.length) {
    nav.replaceChildren();
    main.replaceChildren(section('Pipelines', 12, h('p', { class: 'empty-note' }, 'This app serves no pipeline.')));
    return;
  }
  if (!selected || !data.pipelines.some((p) => p.name === selected)) selected = data.pipelines[0].name;
  nav.replaceChildren(
    ...data.pipelines.map((p) => {
      const button = h('button', { type: 'button', 'aria-pressed': p.name === selected, 'data-pipeline': p.name }, p.name);
      button.addEventListener('click', () => {
        selected = p.name;
        render(data);
      });
      return button;
    }),
  );
  const pipeline = data.pipelines.find((p) => p.name === selected)!;
  const updates = data.updates.filter((u) => tablesOf(pipeline).some((t) => t.key === u.table));
  main.replaceChildren(
    ...tiles(pipeline, data),
    graphView(pipeline),
    volumeChart(pipeline, updates),
    durationChart(pipeline, data),
    freshnessView(pipeline),
    breachesView(pipeline),
    rowsChart(pipeline),
    qualityView(pipeline),
    runsView(pipeline, data),
    deadLetterView(pipeline, data),
    storageView(data),
  );
}

async function refresh(): Promise<void> {
  const status = document.getElementById('status')!;
  try {
    const answer = await getJson<DashboardSummary>('/dashboard/summary');
    if (!answer.body)
      throw new Error(answer.status === 401 ? 'not authorised: open the page with ?code=<function key>' : `summary answered HTTP ${answer.status}`);
    summary = answer.body;
    const since = new Date(Date.parse(summary.generatedAt) - 24 * 3600 * 1000).toISOString();
    const [b, m] = await Promise.all([
      getJson<{ breaches: Breach[] }>(`/metrics/breaches?from=${encodeURIComponent(since)}`),
      getJson<{ series: Series[] }>(`/metrics?metric=rows&from=${encodeURIComponent(since)}`),
    ]);
    breaches = { status: b.status, list: b.body?.breaches ?? [] };
    rowSeries = { status: m.status, list: m.body?.series ?? [] };
    render(summary);
    status.textContent = `updated ${time(summary.generatedAt)} · refreshes every ${refreshSeconds} s`;
    document.body.dataset.ready = 'true';
    document.body.dataset.generatedAt = summary.generatedAt;
  } catch (err) {
    status.textContent = `could not refresh: ${(err as Error).message}`;
  }
}

window.addEventListener('resize', () => {
  if (summary) render(summary);
});
void refresh();
setInterval(() => void refresh(), refreshSeconds * 1000);
