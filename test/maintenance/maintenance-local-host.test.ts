/**
 * The maintenance timer on the local host (`npm start`): `POST /admin/functions/maintenance` runs the
 * timer at once, as the host's schedule would, and its orchestration maintains the tables of the
 * served pipeline with the app's own settings and services (nothing injected).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalHost } from '../../dev/host';
import { loadSnapshot, writeTable } from '../../shared/delta';
import { MAINTENANCE_INSTANCE, servedTables, type MaintenanceOutput } from '../../shared/maintenance';
import { openLakeStore } from '../../shared/storage/lake';
import { writerBatch } from '../../bench/writers';
import { startTestLocalHost, type TestLocalHost } from '../support/local-host';
import { POS_PIPELINE } from '../support/run-lake';

let host: LocalHost;
let lines: string[];
let until: TestLocalHost['until'];

beforeAll(async () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-maintenance-'));
  writeFileSync(nodePath.join(dir, 'pos.yaml'), readFileSync(POS_PIPELINE));
  ({ host, lines, until } = await startTestLocalHost({ pipeline: nodePath.join(dir, 'pos.yaml') }));
});

afterAll(async () => {
  await host?.stop();
});

describe('maintenance on the local host', () => {
  it('POST /admin/functions/maintenance starts the orchestration, which compacts a bronze table of the pipeline', async () => {
    const targets = servedTables(host.runtime.pipelines);
    const bronze = targets[0];
    const store = openLakeStore(host.runtime.settings, bronze.path);
    for (let batch = 0; batch < 12; batch++) await writeTable(store, [writerBatch(7, batch, 2)]);

    const response = await fetch(`${host.url}/admin/functions/maintenance`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(response.status, await response.text()).toBeLessThan(300);
    const status = await until(
      'the maintenance orchestration to complete',
      async () => {
        const current = await host.engine.getStatus(MAINTENANCE_INSTANCE);
        expect(current?.runtimeStatus ?? 'Pending').not.toBe('Failed');
        return current?.runtimeStatus === 'Completed' ? current : undefined;
      },
      60_000,
    );
    expect(status?.runtimeStatus, lines.slice(-30).join('\n')).toBe('Completed');
    const output = status!.output as MaintenanceOutput;
    expect(output.tables).toHaveLength(targets.length);
    const report = output.tables.find((t) => t.path === bronze.path)!;
    expect(report).toMatchObject({ optimize: { status: 'done', filesRemoved: 12, filesAdded: 1 }, checkpoint: { status: 'not-needed' } });
    expect(output.tables.filter((t) => t.path !== bronze.path).every((t) => t.missing)).toBe(true);
    expect((await loadSnapshot(store)).state.files.size).toBe(1);
    expect(lines.join('\n')).toMatch(/maintenance: run sluice-maintenance started; 0 finished instance\(s\) created before .* purged/);
    expect(lines.join('\n')).toMatch(/maintainTable: pos\/\S+: .*optimize +done/);
  });
});
