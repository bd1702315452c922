/**
 * The Event Hubs bronze path on Azurite, with the real formats reader: the first batch creates the
 * table with the `_eh_*` columns and typed values; redelivery (same or other boundaries) adds nothing
 * twice; overlapping batches racing (one held back until the other committed, and free-running) land
 * each event once; malformed bodies are dead-lettered with their sequence numbers and bodies; schema
 * evolution and rescued values; transient storage failures retried (also after the intent landed); a
 * batch that cannot be ingested is dead-lettered whole before the error. Every table is read back and
 * checked by the independent Delta checker; every outcome's counts must add up.
 */
import { describe, expect, it } from 'vitest';
import { createTable, loadSnapshot, txnVersion } from '../../shared/delta';
import { LANE_INTENTS } from '../../shared/delta/lane';
import { creationSchema } from '../../shared/ingest/columns';
import { EventBatchError, hubAppId, IngestEventsOptions, ingestEvents } from '../../shared/ingest/events';
import type { EventBatchOutcome, HubEvent, HubPartition } from '../../shared/ingest/types';
import { StorageError, type ObjectStore } from '../../shared/storage/types';
import { validateTable } from '../support/delta-validate';
import { IngestEnv, ingestEnv, tableRows } from '../support/ingest';

const PARTITION: HubPartition = { namespace: 'sluice-test.servicebus.windows.net', hub: 'telemetry', consumerGroup: '$Default', partitionId: '3' };
const APP = hubAppId(PARTITION);
const T0 = Date.UTC(2026, 0, 31, 12, 0, 0);
const NOW = new Date(Date.UTC(2026, 1, 1, 8, 30, 0));

function event(seq: number, body: unknown = { id: `e-${seq}`, n: seq }): HubEvent {
  return {
    body,
    sequenceNumber: seq,
    offset: String(seq * 100),
    enqueuedTime: new Date(T0 + seq * 1000),
    partitionKey: seq % 2 ? 'odd' : null,
    properties: { seq },
  };
}

function events(from: number, to: number): HubEvent[] {
  return Array.from({ length: to - from + 1 }, (_, i) => event(from + i));
}

function run(env: IngestEnv, batch: HubEvent[], extra: Partial<IngestEventsOptions> = {}): Promise<EventBatchOutcome> {
  return ingestEvents({ table: env.table, partition: PARTITION, events: batch, deadLetter: env.deadLetter, now: NOW, retry: { delayMs: 5 }, ...extra });
}

/** Every outcome's counts add up. */
function expectAccounting(o: EventBatchOutcome): void {
  expect(o.eventsReceived, JSON.stringify(o)).toBe(o.eventsSkipped + o.eventsWritten + o.eventsDeadLettered);
  expect(o.rowsRead, JSON.stringify(o)).toBe(o.rowsWritten + o.rowsDeadLettered);
}

/** Each sequence number `from..to` in the table exactly once, and nothing else. */
async function expectEachOnce(env: IngestEnv, from: number, to: number): Promise<void> {
  const seqs = (await tableRows(env.table)).map((r) => Number(r._eh_sequence_number)).sort((a, b) => a - b);
  expect(seqs).toEqual(Array.from({ length: to - from + 1 }, (_, i) => from + i));
}

async function expectValid(env: IngestEnv): Promise<void> {
  expect((await validateTable(env.table, { requireStats: true })).problems).toEqual([]);
}

async function appliedTxn(env: IngestEnv): Promise<number> {
  return txnVersion(await loadSnapshot(env.table), APP);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, checked by the assertions that read it
async function readRecord(env: IngestEnv, path: string): Promise<Record<string, any>> {
  return JSON.parse(new TextDecoder().decode(await env.deadLetter.store.read(path)));
}

async function deadLetterPaths(env: IngestEnv): Promise<string[]> {
  const out: string[] = [];
  for await (const info of env.deadLetter.store.list(env.deadLetter.prefix)) out.push(info.path);
  return out;
}

/** The store, with `hook` run before each call (to hold a writer back, or to fail a call once). */
function hooked(store: ObjectStore, hook: (method: string, path: string) => Promise<void> | void): ObjectStore {
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (prop === 'list') return value.bind(target); // an async generator: left as it is
      return async (...args: unknown[]) => {
        await hook(String(prop), String(args[0]));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** Fail the first `times` calls matching, with a transient storage error. */
function flaky(store: ObjectStore, match: (method: string, path: string) => boolean, times = 1): { store: ObjectStore; failed: () => number } {
  let failed = 0;
  const wrapped = hooked(store, (method, path) => {
    if (failed < times && match(method, path)) {
      failed++;
      throw new StorageError(`injected transient failure of ${method} ${path}`, { transient: true });
    }
  });
  return { store: wrapped, failed: () => failed };
}

describe('ingest events', () => {
  it('the first batch creates the table with the _eh_ columns and typed values; redelivery adds nothing', async () => {
    const env = ingestEnv('eh-create');
    const pretty = JSON.stringify({ id: 'e-3', n: 3, price: 3.25, at: '2026-01-31T12:00:03Z', code: '003', big: 3, nested: { a: 3 } }, null, 2);
    const batch = [
      event(1, { id: 'e-1', n: 1, price: 1.5, at: '2026-01-31T12:00:01Z', code: '007', nested: { a: 1 } }),
      event(2, '{"id":"e-2","n":2,"price":2,"at":"2026-01-31T12:00:02Z","code":"012","big":12345678901234567890}'),
      event(3, Buffer.from(`\ufeff${pretty}\n`)),
      event(4, [
        { id: 'e-4a', n: 4, price: 4.5 },
        { id: 'e-4b', n: 5 },
      ]),
    ];
    const first = await run(env, batch);
    expect(first).toMatchObject({
      status: 'committed',
      eventsReceived: 4,
      eventsSkipped: 0,
      eventsWritten: 4,
      eventsDeadLettered: 0,
      rowsRead: 5,
      rowsWritten: 5,
      rowsDeadLettered: 0,
      lastSequenceNumber: 4,
    });
    expect(first.deadLetter).toBeUndefined();
    expectAccounting(first);

    const snapshot = await loadSnapshot(env.table);
    expect(snapshot.version).toBe(first.version);
    expect(snapshot.partitionColumns).toEqual(['_load_date']);
    const types = Object.fromEntries(snapshot.schema.fields.map((f) => [f.name, f.type]));
    expect(['integer', 'long']).toContain(types.n); // the reader's choice for small whole numbers
    expect(types).toEqual({
      id: 'string',
      n: types.n,
      price: 'double',
      at: 'timestamp',
      code: 'string',
      nested: 'string',
      big: 'decimal(38,0)',
      _rescued_data: 'string',
      _ingested_at: 'timestamp',
      _eh_partition: 'string',
      _eh_sequence_number: 'long',
      _eh_offset: 'string',
      _eh_enqueued_time: 'timestamp',
      _load_date: 'date',
    });
    expect(snapshot.schema.fields.some((f) => f.name === '_source_file' || f.name === '_source_etag')).toBe(false);
    expect(txnVersion(snapshot, APP)).toBe(4);

    const rows = await tableRows(env.table);
    expect(rows.map((r) => r.id)).toEqual(['e-1', 'e-2', 'e-3', 'e-4a', 'e-4b']);
    expect(rows[0]).toMatchObject({ n: 1, price: 1.5, at: '2026-01-31T12:00:01.000000Z', code: '007', nested: '{"a":1}', _rescued_data: null });
    expect(rows[1]).toMatchObject({ code: '012', big: '12345678901234567890' });
    expect(rows[2]).toMatchObject({ n: 3, price: 3.25, code: '003', nested: expect.stringMatching(/"a":\s*3/) });
    expect(rows.map((r) => r._eh_sequence_number)).toEqual([1, 2, 3, 4, 4]);
    expect(rows.map((r) => r._eh_offset)).toEqual(['100', '200', '300', '400', '400']);
    expect(rows.map((r) => r._eh_enqueued_time)).toEqual(['01', '02', '03', '04', '04'].map((s) => `2026-01-31T12:00:${s}.000000Z`));
    for (const row of rows) expect(row).toMatchObject({ _eh_partition: '3', _ingested_at: '2026-02-01T08:30:00.000000Z', _load_date: '2026-02-01' });

    // The same batch again, and part of it: nothing added, nothing committed.
    for (const again of [batch, batch.slice(1, 3)]) {
      const dup = await run(env, again);
      expect(dup).toMatchObject({ status: 'duplicate', eventsSkipped: again.length, eventsWritten: 0, rowsWritten: 0, lastSequenceNumber: 4 });
      expectAccounting(dup);
    }
    expect((await loadSnapshot(env.table)).version).toBe(first.version);
    expect(await tableRows(env.table)).toHaveLength(5);
    await expectValid(env);
  });

  it('redelivery with other boundaries (1..10, 5..15, 1..15) yields each event once', async () => {
    const env = ingestEnv('eh-bounds');
    const a = await run(env, events(1, 10));
    const b = await run(env, events(5, 15));
    const c = await run(env, events(1, 15));
    expect(a).toMatchObject({ status: 'committed', eventsWritten: 10, eventsSkipped: 0, lastSequenceNumber: 10 });
    expect(b).toMatchObject({ status: 'committed', eventsWritten: 5, eventsSkipped: 6, rowsWritten: 5, lastSequenceNumber: 15 });
    expect(c).toMatchObject({ status: 'duplicate', eventsWritten: 0, eventsSkipped: 15 });
    [a, b, c].forEach(expectAccounting);
    await expectEachOnce(env, 1, 15);
    expect(await appliedTxn(env)).toBe(15);
    await expectValid(env);
  });

  it('a batch written against a stale txn (held back while others commit 3..4 and 5..10) adds only 11..15', async () => {
    const env = ingestEnv('eh-stale');
    await run(env, events(1, 2));
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let written = false;
    // B reads the table (txn 2) and writes its data files, then waits before storing its lane intent.
    const held = hooked(env.table, async (method, path) => {
      if (method === 'createIfAbsent' && path.startsWith(LANE_INTENTS)) {
        written = true;
        await gate;
      }
    });
    const b = run(env, events(5, 15), { table: held });
    let failed = false;
    b.catch(() => (failed = true));
    while (!written && !failed) await new Promise((r) => setTimeout(r, 10));
    const a1 = await run(env, events(3, 4));
    const a2 = await run(env, events(5, 10));
    release();
    const outcome = await b;
    expect(a1).toMatchObject({ status: 'committed', eventsWritten: 2 });
    expect(a2).toMatchObject({ status: 'committed', eventsWritten: 6 });
    expect(outcome).toMatchObject({ status: 'committed', eventsReceived: 11, eventsSkipped: 6, eventsWritten: 5, rowsWritten: 5, lastSequenceNumber: 15 });
    [a1, a2, outcome].forEach(expectAccounting);
    await expectEachOnce(env, 1, 15);
    expect(await appliedTxn(env)).toBe(15);
    await expectValid(env);
  });

  it('overlapping batches submitted concurrently, the first ones on a table that does not exist yet, land each event once', async () => {
    const env = ingestEnv('eh-race');
    // As Event Hubs delivers them: each batch a contiguous range from at or before the first event not
    // yet applied (a new owner starts at the checkpoint, a stale owner redelivers from an older one).
    const creating = await Promise.all(
      [
        [1, 6],
        [1, 10],
        [1, 3],
      ].map(([from, to]) => run(env, events(from, to))),
    );
    await expectEachOnce(env, 1, 10);
    const appending = await Promise.all(
      [
        [11, 18],
        [11, 20],
        [5, 14],
        [11, 12],
        [8, 20],
      ].map(([from, to]) => run(env, events(from, to))),
    );
    const outcomes = [...creating, ...appending];
    outcomes.forEach(expectAccounting);
    for (const o of outcomes) expect(['committed', 'duplicate']).toContain(o.status);
    for (const o of outcomes) expect(o.sequenceGap).toBeUndefined();
    // Each event was written by exactly one of the calls.
    expect(outcomes.reduce((n, o) => n + o.eventsWritten, 0)).toBe(20);
    await expectEachOnce(env, 1, 20);
    expect(await appliedTxn(env)).toBe(20);
    await expectValid(env);
  });

  it('a batch that does not follow the applied sequence number reports the gap', async () => {
    const env = ingestEnv('eh-gap');
    expect((await run(env, events(1, 3))).sequenceGap).toBeUndefined();
    const outcome = await run(env, events(8, 9));
    expect(outcome).toMatchObject({ status: 'committed', eventsWritten: 2, sequenceGap: { from: 4, to: 7 } });
    // Events below the applied sequence number are never applied later: delivery is in order.
    expect(await run(env, events(4, 7))).toMatchObject({ status: 'duplicate', eventsSkipped: 4 });
  });

  it('malformed bodies are dead-lettered with partition, sequence number, offset, reason and body', async () => {
    const env = ingestEnv('eh-bad');
    await run(env, events(1, 2));
    const batch = [
      event(3, '{"id":"e-3","n":3}'),
      event(4, 'not json {'),
      event(5, 42),
      event(6, Buffer.from([0x7b, 0xff, 0x7d])),
      event(7, [{ id: 'e-7a', n: 7 }, 5, { id: 'e-7b', n: 7 }]),
      event(8, null),
      event(9, '[]'),
      event(10, Buffer.from('  {"id":"e-10","n":10}\n')),
    ];
    const outcome = await run(env, batch);
    expect(outcome).toMatchObject({
      status: 'committed',
      eventsReceived: 8,
      eventsSkipped: 0,
      eventsWritten: 3,
      eventsDeadLettered: 5,
      rowsRead: 10,
      rowsWritten: 4,
      rowsDeadLettered: 6,
      lastSequenceNumber: 10,
    });
    expectAccounting(outcome);
    expect(outcome.deadLetter).toMatch(
      /^bronze\/events\/2026-02-01\/eventhubs\/sluice-test\.servicebus\.windows\.net\/telemetry\/\$Default\/3@seq4-9\.[0-9a-f]{8}\.json$/,
    );
    const record = await readRecord(env, outcome.deadLetter!);
    expect(record).toMatchObject({
      kind: 'sluice.deadLetter',
      source: { eventHub: PARTITION, etag: 'seq 4-9' },
      counts: { rowsRead: 10, rowsWritten: 4, rowsDeadLettered: 6, eventsDeadLettered: 5 },
    });
    const entries = record.records as Record<string, unknown>[];
    expect(entries.map((e) => [e.sequenceNumber, e.element ?? null])).toEqual([
      [4, null],
      [5, null],
      [6, null],
      [7, 2],
      [8, null],
      [9, null],
    ]);
    for (const e of entries)
      expect(e).toMatchObject({
        partition: '3',
        offset: String(Number(e.sequenceNumber) * 100),
        enqueuedTime: expect.stringMatching(/^2026-01-31T12:00:0\d\.000Z$/),
      });
    expect(entries[0]).toMatchObject({ raw: 'not json {', reason: expect.stringMatching(/not valid JSON/) });
    expect(entries[1]).toMatchObject({ raw: '42', reason: 'body is a number, not a JSON object' });
    expect(entries[2]).toMatchObject({
      rawBase64: Buffer.from([0x7b, 0xff, 0x7d]).toString('base64'),
      reason: expect.stringMatching(/invalid byte 0xff at byte offset 1/),
    });
    expect(entries[3]).toMatchObject({ raw: '5', reason: 'array element 2 is a number, not a JSON object' });
    expect(entries[4].reason).toMatch(/empty body/);
    expect(entries[5].reason).toMatch(/empty JSON array/);
    expect((await tableRows(env.table)).map((r) => r.id)).toEqual(['e-1', 'e-2', 'e-3', 'e-7a', 'e-7b', 'e-10']);

    // Redelivered: skipped as a whole, no second record.
    expect(await run(env, batch)).toMatchObject({ status: 'duplicate', eventsSkipped: 8 });
    expect(await deadLetterPaths(env)).toEqual([outcome.deadLetter]);

    // A batch of nothing but bad bodies still moves the txn, so its redelivery is a duplicate too.
    const bad = await run(env, [event(11, 'nope'), event(12, true)]);
    expect(bad).toMatchObject({ status: 'committed', eventsWritten: 0, eventsDeadLettered: 2, rowsWritten: 0, rowsDeadLettered: 2, lastSequenceNumber: 12 });
    expect(await appliedTxn(env)).toBe(12);
    expect((await run(env, [event(12, true)])).status).toBe('duplicate');
    await expectValid(env);
  });

  it('a new field evolves the schema (addNewColumns), is rescued (rescue), dead-letters its event (failOnNewColumns) or is dropped (none)', async () => {
    const results: Record<string, { outcome: EventBatchOutcome; rows: Record<string, unknown>[]; columns: string[] }> = {};
    await Promise.all(
      (['addNewColumns', 'rescue', 'failOnNewColumns', 'none'] as const).map(async (mode) => {
        const env = ingestEnv(`eh-evolve-${mode.toLowerCase()}`);
        const source = { schemaEvolution: mode };
        await run(env, events(1, 2), { source });
        const outcome = await run(env, [event(3), event(4, { id: 'e-4', n: 4, color: 'red' })], { source });
        expectAccounting(outcome);
        await expectValid(env);
        results[mode] = { outcome, rows: await tableRows(env.table), columns: (await loadSnapshot(env.table)).schema.fields.map((f) => f.name) };
      }),
    );
    const { addNewColumns, rescue, failOnNewColumns, none } = results;
    expect(addNewColumns.outcome).toMatchObject({ status: 'committed', eventsWritten: 2, newColumns: ['color'] });
    expect(addNewColumns.columns).toContain('color');
    expect(addNewColumns.rows.map((r) => r.color)).toEqual([null, null, null, 'red']);

    expect(rescue.outcome).toMatchObject({ status: 'committed', eventsWritten: 2, rowsRescued: 1 });
    expect(rescue.outcome.newColumns).toBeUndefined();
    expect(rescue.columns).not.toContain('color');
    expect(rescue.rows[3]).toMatchObject({ id: 'e-4', _rescued_data: '{"color":"red"}' });

    expect(failOnNewColumns.outcome).toMatchObject({
      status: 'committed',
      eventsWritten: 1,
      eventsDeadLettered: 1,
      rowsDeadLettered: 1,
      lastSequenceNumber: 4,
    });
    expect(failOnNewColumns.columns).not.toContain('color');
    expect(failOnNewColumns.rows.map((r) => r.id)).toEqual(['e-1', 'e-2', 'e-3']);

    expect(none.outcome).toMatchObject({ status: 'committed', eventsWritten: 2, rowsRescued: 0 });
    expect(none.columns).not.toContain('color');
    expect(none.rows[3]).toMatchObject({ id: 'e-4', _rescued_data: null });
  });

  it('failOnNewColumns names the new column and the event in the dead-letter record', async () => {
    const env = ingestEnv('eh-fail-record');
    const source = { schemaEvolution: 'failOnNewColumns' as const };
    await run(env, events(1, 1), { source });
    const outcome = await run(env, [event(2, { id: 'e-2', n: 2, color: 'red', size: 3 })], { source });
    const record = await readRecord(env, outcome.deadLetter!);
    expect(record.records).toEqual([
      expect.objectContaining({
        sequenceNumber: 2,
        reason: 'new columns color, size not in the table schema (schemaEvolution failOnNewColumns)',
        raw: '{"id":"e-2","n":2,"color":"red","size":3}',
      }),
    ]);
  });

  it('events into a table created for files add the _eh_ columns and leave _source_file null', async () => {
    const env = ingestEnv('eh-mixed');
    const data = [
      { name: 'id', type: 'string', nullable: true, metadata: {} },
      { name: 'n', type: 'long', nullable: true, metadata: {} },
    ];
    await createTable(env.table, { schema: creationSchema({ type: 'struct', fields: data }), partitionColumns: ['_load_date'] });
    const outcome = await run(env, events(1, 2));
    expect(outcome).toMatchObject({ status: 'committed', eventsWritten: 2 });
    expect(outcome.newColumns).toBeUndefined();
    const columns = (await loadSnapshot(env.table)).schema.fields.map((f) => f.name);
    expect(columns).toEqual(
      expect.arrayContaining(['_source_file', '_source_etag', '_eh_partition', '_eh_sequence_number', '_eh_offset', '_eh_enqueued_time']),
    );
    for (const row of await tableRows(env.table))
      expect(row).toMatchObject({ _source_file: null, _source_etag: null, _eh_partition: '3', n: row._eh_sequence_number });
    await expectValid(env);
  });

  it('a value that does not fit its column type is rescued', async () => {
    const env = ingestEnv('eh-rescue');
    await run(env, events(1, 2));
    const outcome = await run(env, [event(3, { id: 'e-3', n: 'three' }), event(4, '{"id":"e-4","n":4.5}'), event(5, { id: 'e-5', n: 5, _eh_offset: 'mine' })]);
    expect(outcome).toMatchObject({ status: 'committed', eventsWritten: 3, rowsWritten: 3, rowsRescued: 2, rowsDeadLettered: 0 });
    const rows = await tableRows(env.table);
    expect(rows.slice(2).map((r) => [r.id, r.n, r._rescued_data])).toEqual([
      ['e-3', null, '{"n":"three"}'],
      ['e-4', null, '{"n":4.5}'],
      ['e-5', 5, null],
    ]);
    // A body key named like a metadata column is kept under another name, never overwritten.
    expect(rows[4]).toMatchObject({ _eh_offset: '500', _eh_offset_1: 'mine' });
    await expectValid(env);
  });

  it('transient storage failures are retried, also when the intent landed before the failure', async () => {
    const env = ingestEnv('eh-transient');
    await run(env, events(1, 2));
    // A data file write fails once.
    const files = flaky(env.table, (method, path) => method === 'write' && path.endsWith('.parquet'));
    const a = await run(env, events(3, 6), { table: files.store });
    expect(files.failed()).toBe(1);
    expect(a).toMatchObject({ status: 'committed', eventsWritten: 4, eventsSkipped: 0 });
    // The commit lands but its answer is lost (a transient failure after the write): the retry must
    // find its own commit (committed, not duplicate) and add nothing again.
    let lost = 0;
    const answerLost = new Proxy(env.table, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop !== 'createIfAbsent') return typeof value === 'function' ? value.bind(target) : value;
        return async (path: string, ...rest: unknown[]) => {
          const info = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, [path, ...rest]);
          if (lost === 0 && /^_delta_log\/\d{20}\.json$/.test(path)) {
            lost++;
            throw new StorageError(`injected transient failure after the write of ${path}`, { transient: true });
          }
          return info;
        };
      },
    });
    const b = await run(env, events(5, 9), { table: answerLost });
    expect(lost).toBe(1);
    expect(b).toMatchObject({ status: 'committed', eventsWritten: 3, eventsSkipped: 2, lastSequenceNumber: 9 });
    expect(b.version).toBe((await loadSnapshot(env.table)).version);
    [a, b].forEach(expectAccounting);
    await expectEachOnce(env, 1, 9);
    await expectValid(env);
  });

  it('a batch that cannot be ingested is dead-lettered whole before the error', async () => {
    const env = ingestEnv('eh-config');
    const error = await run(env, events(1, 3), { source: { partitionBy: ['region'] } }).catch((err) => err);
    expect(error).toBeInstanceOf(EventBatchError);
    expect(error.message).toMatch(/partition column region .* not in the columns/);
    expect(error.message).toContain(`${APP} sequence numbers 1..3`);
    expect(error.transient).toBe(false);
    const record = await readRecord(env, (error as EventBatchError).deadLetter!);
    expect(record.reason).toMatch(/the batch could not be ingested: .*partition column region/);
    expect(record.records.map((r: Record<string, unknown>) => [r.sequenceNumber, r.raw])).toEqual([1, 2, 3].map((s) => [s, `{"id":"e-${s}","n":${s}}`]));
    // A host that retries the batch itself asks for no record until its last try.
    const quiet = await run(env, events(4, 5), { source: { partitionBy: ['region'] }, deadLetterOnFailure: false }).catch((err) => err);
    expect(quiet).toBeInstanceOf(EventBatchError);
    expect(quiet.deadLetter).toBeUndefined();
    expect(await deadLetterPaths(env)).toHaveLength(1);
    // What the Event Hubs trigger asks for: a record for a terminal failure, none for a transient one
    // (its unbounded retry policy ingests those events later).
    const terminal = await run(env, events(6, 7), { source: { partitionBy: ['region'] }, deadLetterOnFailure: 'terminal' }).catch((err) => err);
    expect(terminal).toBeInstanceOf(EventBatchError);
    expect(terminal.transient).toBe(false);
    expect(terminal.deadLetter).toBeDefined();
    expect(await deadLetterPaths(env)).toHaveLength(2);
    const down = flaky(env.table, (method) => method === 'write' || method === 'createIfAbsent', Infinity);
    const transient = await run(env, events(8, 9), { table: down.store, deadLetterOnFailure: 'terminal', retry: { attempts: 2, delayMs: 1 } }).catch(
      (err) => err,
    );
    expect(transient).toBeInstanceOf(EventBatchError);
    expect(transient.transient).toBe(true);
    expect(transient.deadLetter).toBeUndefined();
    expect(down.failed()).toBeGreaterThan(0);
    expect(await deadLetterPaths(env)).toHaveLength(2);
  });

  it('hubAppId names the partition the same whichever way the namespace is written', () => {
    expect(APP).toBe('sluice-eh:sluice-test/telemetry/$default/3');
    expect(hubAppId({ ...PARTITION, namespace: 'SB://Sluice-Test.servicebus.windows.net/' })).toBe(APP);
    expect(hubAppId({ ...PARTITION, namespace: 'sluice-test', hub: 'Telemetry' })).toBe(APP);
    expect(hubAppId({ ...PARTITION, partitionId: '4' })).not.toBe(APP);
  });
});
