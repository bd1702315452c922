// The table HTTP functions, called the way the host calls them, against a table on Azurite.
import { HttpRequest, InvocationContext } from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildVector, writeTable } from '../../shared/delta';
import { openStore } from '../../shared/storage/location';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import * as arrow from 'apache-arrow';
// Settings are read on the first call of a handler, after beforeAll has set them.
import { describeTableHttp, tableHistoryHttp } from '../../functions/tables';

const container = uniqueContainer();

function request(layer: string, table: string, query = ''): HttpRequest {
  return new HttpRequest({ method: 'GET', url: `http://localhost:7071/api/tables/${layer}/${table}${query}`, params: { layer, table } });
}

describe('table HTTP functions', () => {
  beforeAll(async () => {
    process.env.SLUICE_LAKE = process.env.SLUICE_STORAGE_CONNECTION_STRING;
    process.env.SLUICE_LAKE_CONTAINER = container;
    const store = openStore(azuriteUri(container, 'bronze/events'));
    for (let i = 0; i < 3; i++) {
      await writeTable(store, new arrow.Table({ id: buildVector('long', [BigInt(i), BigInt(i + 10)]) }).batches);
    }
  });

  it('describes a table as sluice describe --json does', async () => {
    const response = await describeTableHttp(request('bronze', 'events'), new InvocationContext());
    expect(response.status).toBe(200);
    const body = response.jsonBody as { version: number; numRecords: number; numFiles: number };
    expect(body.version).toBe(2); // the first write creates the table with its data in version 0
    expect(body.numRecords).toBe(6);
    expect(body.numFiles).toBe(3);
  });

  it('time-travels with ?version=', async () => {
    const response = await describeTableHttp(request('bronze', 'events', '?version=0'), new InvocationContext());
    expect((response.jsonBody as { numRecords: number }).numRecords).toBe(2);
  });

  it('lists history newest first', async () => {
    const response = await tableHistoryHttp(request('bronze', 'events'), new InvocationContext());
    expect((response.jsonBody as { version: number }[]).map((e) => e.version)).toEqual([2, 1, 0]);
  });

  it('caps history at 1,000 commits: a larger limit is 400 naming the maximum', async () => {
    const over = await tableHistoryHttp(request('bronze', 'events', '?limit=1001'), new InvocationContext());
    expect(over).toMatchObject({ status: 400, jsonBody: { error: "limit must be a whole number from 1 to 1000 (the maximum), not '1001'" } });
    expect((await tableHistoryHttp(request('bronze', 'events', '?limit=99999999999999999999'), new InvocationContext())).status).toBe(400);
    expect((await tableHistoryHttp(request('bronze', 'events', '?limit=0'), new InvocationContext())).status).toBe(400);
    const most = await tableHistoryHttp(request('bronze', 'events', '?limit=1000'), new InvocationContext());
    expect((most.jsonBody as unknown[]).length).toBe(3);
  });

  it('answers a damaged table 500 with an error id only; the log has the id and the detail', async () => {
    // A commit that is not JSON: reading the log fails with a message naming the blob's storage URL.
    await openStore(azuriteUri(container, 'bronze/damaged')).write(
      '_delta_log/00000000000000000000.json',
      '{"commitInfo": {"operation": "WRITE"}}\nnot json at all\n',
    );
    const logged: string[] = [];
    const context = new InvocationContext({ functionName: 'describeTable', logHandler: (_level, ...args) => logged.push(args.join(' ')) });
    const response = await describeTableHttp(request('bronze', 'damaged'), context);
    expect(response.status).toBe(500);
    const body = response.jsonBody as { error: string; errorId: string };
    expect(body.errorId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.error).toBe(`internal error; the app's log has the details under id ${body.errorId}`);
    expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|devstoreaccount1|_delta_log/);
    expect(logged.join('\n')).toMatch(new RegExp(`describeTable: internal error ${body.errorId}: .*devstoreaccount1/${container}/bronze/damaged`));
  });

  it('answers 404 for a missing table and 400 for a bad layer or version', async () => {
    const missing = await describeTableHttp(request('silver', 'nothing'), new InvocationContext());
    expect(missing.status).toBe(404);
    // Named by its path in the lake, not by the storage account's URL.
    expect((missing.jsonBody as { error: string }).error).toMatch(/no Delta table at silver\/nothing /);
    expect(JSON.stringify(missing.jsonBody)).not.toMatch(/devstoreaccount1/);
    expect((await describeTableHttp(request('platinum', 'events'), new InvocationContext())).status).toBe(400);
    expect((await describeTableHttp(request('bronze', 'events', '?version=x'), new InvocationContext())).status).toBe(400);
    expect((await describeTableHttp(request('bronze', 'events', '?version=9'), new InvocationContext())).status).toBe(404);
  });
});
