/**
 * `sluice deadletter replay` on Azurite: files are ingested with a definition that sets part of them
 * aside — a whole file with a new column under `failOnNewColumns`, one CSV row that is not UTF-8 — and
 * replayed after the definition is fixed (`addNewColumns`, `encoding: latin1`). The replay must land
 * exactly the rows set aside (none of those already in the table again), with rows read = written +
 * dead-lettered again, and a second replay of the same record must add nothing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDeadLetterCommand } from '../../cli/deadletter';
import { batchToRows, loadSnapshot, readTable } from '../../shared/delta';
import { ingestFile, type DeadLetterReplayResult } from '../../shared/ingest';
import { loadRuntime } from '../../shared/host';
import { openStore } from '../../shared/storage/location';
import { azuriteUri, uniqueContainer } from '../support/azurite';

const landingContainer = uniqueContainer('dlr-landing');
const lakeContainer = uniqueContainer('dlr-lake');
const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-dlr-'));
const env: Record<string, string> = {};

function definition(fixed: boolean): string {
  const file = nodePath.join(dir, fixed ? 'fixed.yaml' : 'first.yaml');
  writeFileSync(
    file,
    `
name: dlr
sources:
  orders: { landing: pos/orders/, format: csv, schemaEvolution: ${fixed ? 'addNewColumns' : 'failOnNewColumns'}, schemaHints: { id: string } }
  names: { landing: pos/names/, format: csv, schemaHints: { id: string }${fixed ? ', csv: { encoding: latin1 }' : ''} }
`,
  );
  return file;
}

async function cli(...argv: string[]): Promise<string> {
  let out = '';
  const status = await runDeadLetterCommand(argv, { out: (t) => (out += t), err: (t) => (out += t) }, env);
  expect(status, out).toBe(0);
  return out;
}

async function rows(table: string): Promise<Record<string, unknown>[]> {
  const snapshot = await loadSnapshot(openStore(azuriteUri(lakeContainer, table)));
  return (await readTable(snapshot)).batches.flatMap((b) => batchToRows(b, snapshot.schema)).sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

const version = async (table: string) => (await loadSnapshot(openStore(azuriteUri(lakeContainer, table)))).version;

beforeAll(async () => {
  Object.assign(env, {
    SLUICE_LAKE: process.env.SLUICE_STORAGE_CONNECTION_STRING!,
    SLUICE_LAKE_CONTAINER: lakeContainer,
    SLUICE_LANDING_CONTAINER: landingContainer,
    SLUICE_PIPELINES: definition(false),
  });
  const runtime = loadRuntime(env);
  const files: [string, string | Buffer][] = [
    ['pos/orders/o1.csv', 'id,qty\n1,2\n2,3\n'],
    ['pos/orders/o2.csv', 'id,qty,note\n3,4,late\n4,5,\n'],
    ['pos/names/n1.csv', Buffer.concat([Buffer.from('id,name\n1,ann\n2,caf'), Buffer.from([0xe9]), Buffer.from('\n3,bob\n')])],
  ];
  for (const [path, content] of files) {
    await runtime.landing.write(path, content);
    const route = runtime.routeBlob(path)!;
    await ingestFile({
      landing: runtime.landing,
      path,
      table: route.table,
      tableKey: route.tableKey,
      source: route.ingest,
      ledger: runtime.ledger,
      deadLetter: route.deadLetter,
      lane: runtime.lane,
    });
  }
});

describe('sluice deadletter replay', () => {
  it('after a fix, lands exactly the rows set aside, once', async () => {
    const listed = JSON.parse(await cli('list', '--json')) as {
      records: { id: string; table: string; counts: { rowsRead: number; rowsWritten: number; rowsDeadLettered: number } }[];
    };
    const byTable = Object.fromEntries(listed.records.map((r) => [r.table, r]));
    expect(byTable['bronze/orders'].counts).toEqual({ rowsRead: 2, rowsWritten: 0, rowsDeadLettered: 2 });
    expect(byTable['bronze/names'].counts).toEqual({ rowsRead: 3, rowsWritten: 2, rowsDeadLettered: 1 });
    expect((await rows('bronze/names')).map((r) => r.id)).toEqual(['1', '3']);

    env.SLUICE_PIPELINES = definition(true);
    // The whole file: both rows, with the column the first definition refused.
    const orders = JSON.parse(await cli('replay', byTable['bronze/orders'].id, '--json')) as DeadLetterReplayResult;
    expect(orders).toMatchObject({ status: 'committed', replayed: 'all', rowsRead: 2, rowsWritten: 2, rowsDeadLettered: 0 });
    expect((await rows('bronze/orders')).map((r) => [r.id, r.note ?? null])).toEqual([
      ['1', null],
      ['2', null],
      ['3', 'late'],
      ['4', null],
    ]);

    // Part of a file: only row 2, read now as Latin-1; rows 1 and 3 are in the table already.
    const names = JSON.parse(await cli('replay', byTable['bronze/names'].id, '--json')) as DeadLetterReplayResult;
    expect(names).toMatchObject({ status: 'committed', replayed: 1, rowsRead: 1, rowsWritten: 1, rowsDeadLettered: 0 });
    expect((await rows('bronze/names')).map((r) => [r.id, r.name])).toEqual([
      ['1', 'ann'],
      ['2', 'café'],
      ['3', 'bob'],
    ]);

    // Again: nothing added.
    const [ordersVersion, namesVersion] = [await version('bronze/orders'), await version('bronze/names')];
    expect(await cli('replay', byTable['bronze/orders'].id)).toMatch(/already replayed .*nothing added/);
    expect(JSON.parse(await cli('replay', byTable['bronze/names'].id, '--json'))).toMatchObject({ status: 'duplicate', rowsWritten: 1 });
    expect([await version('bronze/orders'), await version('bronze/names')]).toEqual([ordersVersion, namesVersion]);
    expect(await rows('bronze/names')).toHaveLength(3);
  });
});
