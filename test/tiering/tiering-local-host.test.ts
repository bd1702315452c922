/**
 * The local host serves the `tierLake` timer like every timer of the function list, and
 * `POST /admin/functions/tierLake` runs it at once: one line per table and for the landing container.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalHost } from '../../dev/host';
import { startTestLocalHost, type TestLocalHost } from '../support/local-host';

let host: LocalHost;
let lines: string[];
let until: TestLocalHost['until'];

beforeAll(async () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-tier-host-'));
  writeFileSync(nodePath.join(dir, 'tier.yaml'), 'name: tier\nsources:\n  calls: { landing: calls/, format: csv }\n');
  ({ host, lines, until } = await startTestLocalHost({ pipeline: nodePath.join(dir, '*.yaml') }));
});

afterAll(async () => {
  await host?.stop();
});

describe('tierLake on the local host', () => {
  it('runs at once on POST /admin/functions/tierLake', async () => {
    const response = await fetch(`${host.url}/admin/functions/tierLake`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(response.status).toBeLessThan(300);
    await until('the landing line of tierLake', async () => (lines.some((l) => l.includes('tierLake: landing:')) ? true : undefined), 30_000);
    const text = lines.join('\n');
    expect(text).toMatch(/tierLake: bronze\/calls: skipped: no table yet/);
    expect(text).toMatch(/tierLake: landing: moved 0, refused 0, skipped 0, held 0/);
  });
});
