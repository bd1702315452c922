// Golden-file test: every table in test/fixtures/delta-conformance must read exactly as its
// expected.json entry says, at its latest version and at each older version listed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalStore } from '../shared/storage/local';
import { activeFiles, loadSnapshot, Snapshot, tombstones } from '../shared/delta/snapshot';
import { scanTable } from '../shared/delta/scan';
import { batchToRows, stringifyJson } from '../shared/delta/rows';
import { decodeAddPath } from '../shared/delta/partitions';

const ROOT = join(__dirname, 'fixtures', 'delta-conformance');
const expected = JSON.parse(readFileSync(join(ROOT, 'expected.json'), 'utf8'));

interface ExpectedVersion {
  version: number;
  newestCheckpointAtOrBelowVersion: number | null;
  protocol: Record<string, unknown>;
  partitionColumns: string[];
  configuration: Record<string, string>;
  schema: { name: string; type: unknown; nullable: boolean }[];
  activeFiles: { path: string; decodedPath: string; partitionValues: Record<string, string | null>; size: number }[];
  tombstoneCount: number;
  txns: { appId: string; version: number }[];
  numRows: number | null;
  rows?: Record<string, unknown>[];
  sums?: Record<string, number | string>;
}

/** Canonical text of a row for multiset comparison (keys sorted). */
function canonical(row: Record<string, unknown>): string {
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sortKeys) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sortKeys(row));
}

async function readRows(snapshot: Snapshot): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const batch of scanTable(snapshot)) {
    for (const row of batchToRows(batch, snapshot.schema)) rows.push(JSON.parse(stringifyJson(row)));
  }
  return rows;
}

function checkMetadata(snapshot: Snapshot, want: ExpectedVersion) {
  expect(snapshot.version).toBe(want.version);
  expect(snapshot.checkpointVersion).toBe(want.newestCheckpointAtOrBelowVersion);
  expect(snapshot.protocol).toMatchObject(want.protocol);
  expect(snapshot.partitionColumns).toEqual(want.partitionColumns);
  expect(snapshot.metadata.configuration).toEqual(want.configuration);
  expect(snapshot.schema.fields.map((f) => ({ name: f.name, type: f.type, nullable: f.nullable }))).toEqual(
    want.schema.map((f) => ({ name: f.name, type: stripMetadata(f.type), nullable: f.nullable })),
  );
  const files = activeFiles(snapshot).map((f) => ({ path: f.path, decodedPath: decodeAddPath(f.path), partitionValues: f.partitionValues, size: f.size }));
  expect(sortBy(files, 'path')).toEqual(sortBy(want.activeFiles.map((f) => ({ path: f.path, decodedPath: f.decodedPath, partitionValues: f.partitionValues, size: f.size })), 'path'));
  expect(tombstones(snapshot).length).toBe(want.tombstoneCount);
  expect([...snapshot.state.txns.values()].map((t) => ({ appId: t.appId, version: t.version }))).toEqual(want.txns);
}

function stripMetadata(type: unknown): unknown {
  // Our parsed schema keeps nested field metadata; expected.json lists it too, so compare as is.
  return type;
}

function sortBy<T>(items: T[], key: keyof T): T[] {
  return [...items].sort((a, b) => (String(a[key]) < String(b[key]) ? -1 : 1));
}

for (const table of expected.tables) {
  const dir = join(ROOT, table.name);
  describe(`delta conformance: ${table.name}`, () => {
    if (table.mustRefuse) {
      it('is refused with an error naming the protocol version or feature', async () => {
        const store = new LocalStore(dir);
        await expect(loadSnapshot(store)).rejects.toThrow(/minReaderVersion|deletionVectors|column mapping|columnMapping/);
      });
      return;
    }
    const versions: ExpectedVersion[] = [table.latest, ...(table.olderVersions ?? [])];
    for (const want of versions) {
      it(`version ${want.version}: metadata, files, tombstones, txns`, async () => {
        const snapshot = await loadSnapshot(new LocalStore(dir), want === table.latest ? {} : { version: want.version });
        checkMetadata(snapshot, want);
      });
      if (!table.dataFilesPresent) {
        it(`version ${want.version}: reading rows fails naming the missing data file`, async () => {
          const snapshot = await loadSnapshot(new LocalStore(dir), { version: want.version });
          await expect(readRows(snapshot)).rejects.toThrow(/data file .*\.parquet.* is missing/);
        });
        continue;
      }
      it(`version ${want.version}: rows and sums`, async () => {
        const snapshot = await loadSnapshot(new LocalStore(dir), { version: want.version });
        const rows = await readRows(snapshot);
        expect(rows.length).toBe(want.numRows);
        let wantRows = want.rows!;
        if (table.columnNotes?.as_timestamp) {
          // Zone-less timestamp partition values are read as UTC (documented); expected.json gives the raw string.
          wantRows = wantRows.map((r) => ({ ...r, as_timestamp: r.as_timestamp === null ? null : String(r.as_timestamp).replace(' ', 'T') + '.000000Z' }));
        }
        expect(rows.map(canonical).sort()).toEqual(wantRows.map(canonical).sort());
        for (const [column, sum] of Object.entries(want.sums ?? {})) {
          const values = rows.map((r) => r[column]).filter((v) => v !== null);
          if (typeof sum === 'string') {
            const scale = (sum.split('.')[1] ?? '').length;
            const total = values.reduce((acc: bigint, v) => acc + BigInt(String(v).replace('.', '').padEnd(0)) * 10n ** BigInt(scale - ((String(v).split('.')[1] ?? '').length)), 0n);
            const digits = (total < 0n ? -total : total).toString().padStart(scale + 1, '0');
            const text = (total < 0n ? '-' : '') + (scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits);
            expect(text, column).toBe(sum);
          } else {
            expect(values.reduce((a: number, v) => a + Number(v), 0), column).toBeCloseTo(sum, 6);
          }
        }
      });
    }
  });
}
