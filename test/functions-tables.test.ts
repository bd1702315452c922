// The table HTTP functions, called the way the host calls them, against a table on Azurite.
import { HttpRequest, InvocationContext } from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildVector, writeTable } from '../shared/delta';
import { openStore } from '../shared/storage/location';
import { azuriteUri, uniqueContainer } from './helpers/azurite';
import * as arrow from 'apache-arrow';
// Settings are read on the first call of a handler, after beforeAll has set them.
import { describeTableHttp, tableHistoryHttp } from '../functions/tables';

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

  it('answers 404 for a missing table and 400 for a bad layer or version', async () => {
    expect((await describeTableHttp(request('silver', 'nothing'), new InvocationContext())).status).toBe(404);
    expect((await describeTableHttp(request('platinum', 'events'), new InvocationContext())).status).toBe(400);
    expect((await describeTableHttp(request('bronze', 'events', '?version=x'), new InvocationContext())).status).toBe(400);
    expect((await describeTableHttp(request('bronze', 'events', '?version=9'), new InvocationContext())).status).toBe(404);
  });
});
