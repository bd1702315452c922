/**
 * The local host serves the `tierLake` timer like every timer of the function list, and
 * `POST /admin/functions/tierLake` runs it at once: one line per table and for the landing container.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../dev/azurite';
import { type LocalHost, startLocalHost } from '../../dev/host';

let host: LocalHost;
const lines: string[] = [];

beforeAll(async () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-tier-host-'));
  writeFileSync(nodePath.join(dir, 'tier.yaml'), 'name: tier\nsources:\n  calls: { landing: calls/, format: csv }\n');
  const [port, blob, queue, table] = await freePorts(4);
  host = await startLocalHost({
    pipeline: nodePath.join(dir, '*.yaml'),
    port,
    azuritePorts: [blob, queue, table],
    inMemory: true,
    log: (line) => lines.push(line),
  });
});

afterAll(async () => {
  await host?.stop();
});

describe('tierLake on the local host', () => {
  it('runs at once on POST /admin/functions/tierLake', async () => {
    const response = await fetch(`${host.url}/admin/functions/tierLake`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(response.status).toBeLessThan(300);
    const deadline = Date.now() + 30_000;
    while (!lines.some((l) => l.includes('tierLake: landing:')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const text = lines.join('\n');
    expect(text).toMatch(/tierLake: bronze\/calls: skipped: no table yet/);
    expect(text).toMatch(/tierLake: landing: moved 0, refused 0, skipped 0, held 0/);
  });
});
