// Time travel by timestamp (commit file last-modified times, made monotonic) and the zone used for
// zone-less timestamp partition values.
import { cpSync, mkdtempSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { buildVector, loadSnapshot, readTable, VersionNotFoundError, writeTable, batchToRows } from '../../shared/delta';
import { LocalStore } from '../../shared/storage/local';
import { main } from '../../cli/main';
import { commitTransaction } from '../../shared/delta/commit';
import * as nodePath from 'node:path';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const HOUR = 3_600_000;

async function tableWithThreeVersions(): Promise<{ dir: string; t0: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-tt-'));
  const store = new LocalStore(dir);
  for (let v = 0; v < 3; v++) await writeTable(store, new arrow.Table({ v: buildVector('integer', [v]) }).batches);
  const t0 = Date.UTC(2026, 0, 1, 12);
  // Version 2 is stamped *before* version 1, as a skewed server clock could: it must count as later.
  const stamps = [t0, t0 + HOUR, t0 + HOUR / 2];
  stamps.forEach((ms, v) => utimesSync(join(dir, '_delta_log', `${String(v).padStart(20, '0')}.json`), ms / 1000, ms / 1000));
  return { dir, t0 };
}

describe('time travel by timestamp', () => {
  it('picks the latest version committed at or before the instant', async () => {
    const { dir, t0 } = await tableWithThreeVersions();
    const store = new LocalStore(dir);
    expect((await loadSnapshot(store, { timestamp: new Date(t0) })).version).toBe(0);
    expect((await loadSnapshot(store, { timestamp: new Date(t0 + HOUR / 2) })).version).toBe(0);
    expect((await loadSnapshot(store, { timestamp: new Date(t0 + HOUR) })).version).toBe(1);
    // Version 2's own time (t0 + 30 min) is before version 1's; monotonic, it is t0 + 1 h + 1 ms.
    expect((await loadSnapshot(store, { timestamp: new Date(t0 + HOUR + 1) })).version).toBe(2);
    expect((await loadSnapshot(store, { timestamp: new Date(t0 + 10 * HOUR) })).version).toBe(2);
    await expect(loadSnapshot(store, { timestamp: new Date(t0 - 1) })).rejects.toThrow(VersionNotFoundError);
  });

  it('works through the CLI', async () => {
    const { dir, t0 } = await tableWithThreeVersions();
    let out = '';
    const code = await main(['read', dir, '--timestamp', new Date(t0 + HOUR).toISOString()], { out: (t) => (out += t), err: () => undefined });
    expect(code).toBe(0);
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).v)
        .sort(),
    ).toEqual([0, 1]);
    let err = '';
    expect(await main(['read', dir, '--timestamp', '2000-01-01T00:00:00Z'], { out: () => undefined, err: (t) => (err += t) })).toBe(1);
    expect(err).toMatch(/no version .* committed at or before 2000-01-01/);
  });
});

describe('zone-less timestamp partition values', () => {
  const fixture = join(TEST_DIR, 'fixtures', 'delta-conformance', 'data-reader-partition-values');

  it('are read as UTC by default', async () => {
    const snapshot = await loadSnapshot(new LocalStore(fixture));
    const rows = (await readTable(snapshot)).batches.flatMap((b) => batchToRows(b, snapshot.schema));
    expect(new Set(rows.map((r) => r.as_timestamp))).toEqual(new Set(['2021-09-08T11:11:11.000000Z', null]));
  });

  it('use the zone the table names in sluice.partitionTimeZone, or the reader option', async () => {
    // The generator of this table ran in America/Los_Angeles (PDT in September: UTC-7).
    const snapshot = await loadSnapshot(new LocalStore(fixture));
    const withOption = (await readTable(snapshot, { partitionTimeZone: 'America/Los_Angeles' })).batches.flatMap((b) => batchToRows(b, snapshot.schema));
    expect(new Set(withOption.map((r) => r.as_timestamp))).toEqual(new Set(['2021-09-08T18:11:11.000000Z', null]));

    const copy = mkdtempSync(join(tmpdir(), 'sluice-tz-'));
    cpSync(fixture, copy, { recursive: true });
    const store = new LocalStore(copy);
    const base = await loadSnapshot(store);
    await commitTransaction(store, base, {
      actions: [{ metaData: { ...base.metadata, configuration: { ...base.metadata.configuration, 'sluice.partitionTimeZone': 'America/Los_Angeles' } } }],
      operation: 'SET TBLPROPERTIES',
    });
    const zoned = await loadSnapshot(store);
    const rows = (await readTable(zoned)).batches.flatMap((b) => batchToRows(b, zoned.schema));
    expect(new Set(rows.map((r) => r.as_timestamp))).toEqual(new Set(['2021-09-08T18:11:11.000000Z', null]));
  });
});
