/**
 * Event bodies the host already decoded are read from their values (shared/formats/json-objects.ts)
 * when every record of the batch can be; the same events read from their JSON text (the route a
 * batch takes otherwise, forced here by passing the reader) must give the same table — schema,
 * rows, `_rescued_data`, `_eh_*` columns —, the same outcomes and the same dead-letter records, over
 * table creation, schema evolution in each mode, rescued values, bodies the direct route declines
 * (nested values, bigints, dates), and batches that mix decoded objects with text, bytes and bodies
 * that cannot be ingested. Tables are on local disk; each is also checked by the Delta checker.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { batchToRows, loadSnapshot, scanTable } from '../../shared/delta';
import { readInput } from '../../shared/formats';
import { readJsonObjects } from '../../shared/formats/json-objects';
import { ingestEvents } from '../../shared/ingest/events';
import type { EventBatchOutcome, HubEvent, HubPartition, IngestSource } from '../../shared/ingest/types';
import { openStore } from '../../shared/storage/location';
import type { ObjectStore } from '../../shared/storage/types';
import { validateTable } from '../support/delta-validate';

// Counts the batches the direct route took (a non-null result), so a route that always declined
// could not pass for an exact one.
vi.mock('../../shared/formats/json-objects', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../shared/formats/json-objects')>();
  return { ...original, readJsonObjects: vi.fn(original.readJsonObjects) };
});
const directReads = () => vi.mocked(readJsonObjects).mock.results.filter((r) => r.type === 'return' && r.value !== null).length;

const PARTITION: HubPartition = { namespace: 'sluice-test', hub: 'telemetry', consumerGroup: '$Default', partitionId: '1' };
const T0 = Date.UTC(2026, 0, 31, 12, 0, 0);
const NOW = new Date(Date.UTC(2026, 1, 1, 8, 30, 0));

let work: string;
beforeAll(async () => {
  work = await mkdtemp(nodePath.join(tmpdir(), 'sluice-events-objects-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function events(from: number, bodies: unknown[]): HubEvent[] {
  return bodies.map((body, i) => ({
    body,
    sequenceNumber: from + i,
    offset: String((from + i) * 100),
    enqueuedTime: new Date(T0 + (from + i) * 1000),
    partitionKey: null,
    properties: { n: from + i },
  }));
}

interface Route {
  table: ObjectStore;
  deadLetter: { store: ObjectStore; prefix: string };
  outcomes: EventBatchOutcome[];
}

let routes = 0;
function route(): Route {
  const base = nodePath.join(work, `route-${routes++}`);
  return { table: openStore(`${base}/bronze/events`), deadLetter: { store: openStore(`${base}/deadletter`), prefix: '' }, outcomes: [] };
}

/** Run each batch through both routes: decoded objects read from their values where they can be, and from their text. */
async function both(batches: HubEvent[][], source: IngestSource = {}): Promise<{ direct: Route; text: Route }> {
  const direct = route();
  const text = route();
  for (const batch of batches) {
    for (const [r, reader] of [
      [direct, undefined],
      [text, readInput],
    ] as const) {
      const outcome = await ingestEvents({
        table: r.table,
        tableKey: 'bronze/events',
        partition: PARTITION,
        events: batch,
        deadLetter: r.deadLetter,
        source,
        now: NOW,
        retry: { delayMs: 5 },
        ...(reader ? { reader } : {}),
      });
      r.outcomes.push(outcome);
    }
  }
  return { direct, text };
}

/** Schema and rows (by sequence number) of a table, or null when there is none. */
async function tableOf(table: ObjectStore) {
  const snapshot = await loadSnapshot(table).catch(() => null);
  if (!snapshot) return null;
  const rows: Record<string, unknown>[] = [];
  for await (const batch of scanTable(snapshot)) rows.push(...batchToRows(batch, snapshot.schema));
  rows.sort((a, b) => Number(a._eh_sequence_number) - Number(b._eh_sequence_number));
  expect((await validateTable(table, { requireStats: true })).problems).toEqual([]);
  return { schema: snapshot.schema, partitionColumns: snapshot.partitionColumns, rows };
}

/** Every dead-letter record's content, without what differs by attempt (creation time). */
async function deadLetters(r: Route) {
  const records: unknown[] = [];
  for await (const info of r.deadLetter.store.list('')) {
    const record = JSON.parse(new TextDecoder().decode(await r.deadLetter.store.read(info.path)));
    delete record.createdAt;
    records.push(record);
  }
  return records.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

async function expectSame(routes: { direct: Route; text: Route }) {
  const { direct, text } = routes;
  const outcome = (o: EventBatchOutcome) => ({ ...o, deadLetter: o.deadLetter !== undefined });
  expect(direct.outcomes.map(outcome)).toEqual(text.outcomes.map(outcome));
  const table = await tableOf(direct.table);
  expect(table).toEqual(await tableOf(text.table));
  expect(await deadLetters(direct)).toEqual(await deadLetters(text));
  return table;
}

const reading = (n: number) => ({
  device: `dev-${n % 7}`,
  ts: new Date(T0 + n * 10).toISOString(),
  temperature: Math.round((18 + ((n * 37) % 1500) / 100) * 100) / 100,
  ok: n % 5 !== 0,
  n,
});

describe('decoded event bodies read from their values', () => {
  it('creates and appends to a table as the text route does, with missing keys, nulls and big numbers', async () => {
    const before = directReads();
    const first = events(
      0,
      Array.from({ length: 50 }, (_, n) => reading(n)),
    );
    const second = events(50, [
      { ...reading(50), temperature: null },
      { device: 'dev-x', n: 51 },
      { ...reading(52), big: 2 ** 60, tiny: 5e-324, huge: 1e21, neg: -0 },
      { ...reading(53), big: Number('12345678901234567'), NaNValue: NaN },
      { ...reading(54), n: 2 ** 31 },
      { ...reading(55), temperature: 'hot', ok: 'yes' },
    ]);
    const table = await expectSame(await both([first, second]));
    expect(table!.rows).toHaveLength(56);
    // Creation reads the first batch twice (before and after the table exists), the second batch once.
    expect(directReads() - before).toBe(3);
    const rescued = table!.rows.filter((r) => r._rescued_data !== null).map((r) => r._rescued_data);
    expect(rescued).toEqual(['{"n":2147483648}', '{"temperature":"hot","ok":"yes"}']);
  });

  it('schema evolution modes: new columns added, rescued, or failing their rows', async () => {
    const first = events(
      0,
      Array.from({ length: 10 }, (_, n) => reading(n)),
    );
    const second = events(10, [{ ...reading(10), site: 'north' }, reading(11), { ...reading(12), site: 'south', line: 3 }]);
    for (const schemaEvolution of ['addNewColumns', 'rescue', 'failOnNewColumns', 'none'] as const) {
      const before = directReads();
      await expectSame(await both([first, second], { schemaEvolution }));
      expect(directReads() - before, schemaEvolution).toBeGreaterThanOrEqual(3);
    }
  });

  it('hints and partitioning apply alike', async () => {
    const batch = events(
      0,
      Array.from({ length: 20 }, (_, n) => reading(n)),
    );
    await expectSame(await both([batch, events(20, [reading(20)])], { schemaHints: { n: 'long', temperature: 'decimal(10,2)' }, partitionBy: ['device'] }));
  });

  it('bodies the direct route declines: the whole batch is read from its text, as before', async () => {
    const before = directReads();
    const nested = events(0, [reading(0), { ...reading(1), meta: { fw: '1.2', tags: ['a', 'b'] } }, { ...reading(2), list: [1, 2.5, null] }]);
    const dates = events(3, [reading(3), { ...reading(4), when: new Date(T0) }]);
    const bigints = events(5, [reading(5), { ...reading(6), n: 10n }, reading(7)]);
    await expectSame(await both([nested, dates, bigints]));
    // Only the batches of plain flat objects were read directly (none here: each has a declined body).
    expect(directReads() - before).toBe(0);
  });

  it('batches mixing decoded objects with text, bytes, arrays and bodies that cannot be ingested', async () => {
    const mixed = events(0, [
      reading(0),
      JSON.stringify(reading(1)),
      Buffer.from(JSON.stringify(reading(2))),
      [reading(3), reading(4)],
      [reading(5), 'not an object', null],
      [],
      42,
      null,
      'not json',
      Buffer.from([0xff, 0xfe]),
      Object.assign(Object.create(null), reading(6)),
      { ...reading(7), toJSON: () => 'replaced' },
    ]);
    await expectSame(await both([mixed]));
    // Arrays of decoded objects alone, and a batch with bodies that are no rows next to decoded objects.
    const before = directReads();
    await expectSame(await both([events(0, [[reading(0), reading(1)], reading(2)]), events(3, [reading(3), 7, null, reading(4)])]));
    expect(directReads() - before).toBeGreaterThanOrEqual(3);
  });

  it('redelivered and overlapping batches add each event once, whichever route reads them', async () => {
    const all = Array.from({ length: 30 }, (_, n) => reading(n));
    const { direct, text } = await both([events(0, all.slice(0, 10)), events(5, all.slice(5, 20)), events(0, all.slice(0, 20)), events(15, all.slice(15, 30))]);
    const table = await expectSame({ direct, text });
    expect(table!.rows.map((r) => Number(r._eh_sequence_number))).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });
});
