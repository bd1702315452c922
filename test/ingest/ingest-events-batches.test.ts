/**
 * The Event Hubs stage at batch scale, after the per-event costs were cut: the `_eh_*` columns built
 * straight into Arrow buffers keep every value the trigger can hand over (non-ASCII and missing
 * offsets, sequence numbers beyond 32 bits, times before 1970 and invalid ones); concurrent partitions
 * whose batches are each delivered twice at once, and again after they landed, put every (partition,
 * sequence number) in the table once; and the commit lane, handed a snapshot older than the table,
 * still sees what landed since (a duplicate txn is skipped, a new one lands on top).
 */
import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { createTable, loadSnapshot, submitToLane, txnVersion } from '../../shared/delta';
import { readValues } from '../../shared/delta/values';
import { withEventColumns } from '../../shared/ingest/event-rows';
import { hubAppId, ingestEvents } from '../../shared/ingest/events';
import type { EventBatchOutcome, HubEvent, HubPartition } from '../../shared/ingest/types';
import { validateTable } from '../support/delta-validate';
import { ingestEnv, tableRows } from '../support/ingest';

const T0 = Date.UTC(2026, 0, 31, 12, 0, 0);
const partitionOf = (id: number): HubPartition => ({ namespace: 'sluice-test', hub: 'telemetry', consumerGroup: '$Default', partitionId: String(id) });

function expectAccounting(o: EventBatchOutcome): void {
  expect(o.eventsReceived, JSON.stringify(o)).toBe(o.eventsSkipped + o.eventsWritten + o.eventsDeadLettered);
  expect(o.rowsRead, JSON.stringify(o)).toBe(o.rowsWritten + o.rowsDeadLettered);
}

describe('ingest events in batches', () => {
  it('the _eh_ columns keep every value the trigger can hand over', () => {
    const events = [
      { body: {}, sequenceNumber: 0, offset: '0', enqueuedTime: new Date(0) },
      { body: {}, sequenceNumber: 2 ** 40 + 5, offset: 'décalage-ü', enqueuedTime: new Date(Date.UTC(1969, 6, 20, 20, 17, 40, 123)) },
      { body: {}, sequenceNumber: Number.MAX_SAFE_INTEGER, offset: null as unknown as string, enqueuedTime: new Date('not a time') },
      { body: {}, sequenceNumber: Number.NaN, offset: '4294967296', enqueuedTime: '2026-01-31T12:00:00.123Z' as unknown as Date },
      { body: {}, sequenceNumber: 7, offset: '', enqueuedTime: new Date(Date.UTC(2262, 0, 1)) },
    ] satisfies HubEvent[];
    const id = arrow.vectorFromArray(['a', 'b', 'c', 'd', 'e'], new arrow.Utf8());
    const reader = new arrow.RecordBatch({ id: id.data[0] });
    const batch = withEventColumns(reader, '12', events);
    expect(batch.schema.fields.map((f) => f.name)).toEqual(['id', '_eh_partition', '_eh_sequence_number', '_eh_offset', '_eh_enqueued_time']);
    const column = (name: string, type: 'string' | 'long' | 'timestamp') => readValues(batch.getChild(name)!, type);
    expect(column('id', 'string')).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(column('_eh_partition', 'string')).toEqual(['12', '12', '12', '12', '12']);
    expect(column('_eh_sequence_number', 'long')).toEqual([0n, BigInt(2 ** 40 + 5), BigInt(Number.MAX_SAFE_INTEGER), null, 7n]);
    expect(column('_eh_offset', 'string')).toEqual(['0', 'décalage-ü', null, '4294967296', '']);
    const micros = column('_eh_enqueued_time', 'timestamp').map((v) => (v instanceof Date ? BigInt(v.getTime()) * 1000n : v));
    expect(micros).toEqual([
      0n,
      BigInt(Date.UTC(1969, 6, 20, 20, 17, 40, 123)) * 1000n,
      null,
      BigInt(Date.UTC(2026, 0, 31, 12, 0, 0, 123)) * 1000n,
      BigInt(Date.UTC(2262, 0, 1)) * 1000n,
    ]);
  });

  it('concurrent partitions, each batch delivered twice at once and again after it landed, land every event once', async () => {
    const env = ingestEnv('eh-batches');
    const partitions = 3;
    const batches = 3;
    const size = 400;
    const batchOf = (p: number, b: number): HubEvent[] =>
      Array.from({ length: size }, (_, i) => {
        const seq = b * size + i;
        return {
          body: { device: `d-${p}-${seq % 7}`, reading: seq, temperature: 20 + (seq % 50) / 10, at: new Date(T0 + seq).toISOString() },
          sequenceNumber: seq,
          offset: String(seq * 256),
          enqueuedTime: new Date(T0 + seq),
        };
      });
    const deliver = (p: number, events: HubEvent[]) =>
      ingestEvents({ table: env.table, partition: partitionOf(p), events, deadLetter: env.deadLetter, retry: { delayMs: 5 } });
    const outcomes: EventBatchOutcome[] = [];
    await Promise.all(
      Array.from({ length: partitions }, async (_, p) => {
        for (let b = 0; b < batches; b++) {
          const events = batchOf(p, b);
          const twice = await Promise.all([deliver(p, events), deliver(p, events)]);
          // One of the two racing deliveries adds the batch, the other adds nothing.
          expect(twice.map((o) => o.eventsWritten).sort((x, y) => x - y)).toEqual([0, size]);
          outcomes.push(...twice);
        }
      }),
    );
    for (let p = 0; p < partitions; p++) {
      for (let b = 0; b < batches; b++) {
        const again = await deliver(p, batchOf(p, b));
        expect(again).toMatchObject({ status: 'duplicate', eventsSkipped: size, eventsWritten: 0, rowsWritten: 0 });
        outcomes.push(again);
      }
    }
    outcomes.forEach(expectAccounting);
    const snapshot = await loadSnapshot(env.table);
    for (let p = 0; p < partitions; p++) expect(txnVersion(snapshot, hubAppId(partitionOf(p)))).toBe(batches * size - 1);
    const rows = await tableRows(env.table);
    expect(rows).toHaveLength(partitions * batches * size);
    const keys = new Set(rows.map((r) => `${r._eh_partition}/${r._eh_sequence_number}`));
    expect(keys.size).toBe(rows.length);
    for (const row of rows) {
      expect(row.reading).toBe(row._eh_sequence_number);
      expect(row._eh_offset).toBe(String(Number(row._eh_sequence_number) * 256));
      expect(row.device).toMatch(new RegExp(`^d-${row._eh_partition}-`));
    }
    expect((await validateTable(env.table, { requireStats: true })).problems).toEqual([]);
  });

  it('the lane handed a stale snapshot still sees what landed since: a covered txn is skipped, a new one lands on top', async () => {
    const env = ingestEnv('eh-lane-known');
    const schema = { type: 'struct' as const, fields: [{ name: 'n', type: 'long', nullable: true, metadata: {} }] };
    await createTable(env.table, { schema });
    const stale = await loadSnapshot(env.table);
    const intent = (version: number) => ({
      baseVersion: stale.version,
      tableId: stale.metadata.id,
      partitionColumns: stale.partitionColumns,
      adds: [],
      txn: { appId: 'bench-app', version },
    });
    const first = await submitToLane(env.table, intent(10));
    expect(first).toMatchObject({ skipped: false, version: stale.version + 1 });
    const covered = await submitToLane(env.table, intent(10), {}, stale);
    expect(covered).toMatchObject({ skipped: true, version: stale.version + 1 });
    const next = await submitToLane(env.table, intent(11), {}, stale);
    expect(next).toMatchObject({ skipped: false, version: stale.version + 2 });
    expect(txnVersion(await loadSnapshot(env.table), 'bench-app')).toBe(11);
  });
});
