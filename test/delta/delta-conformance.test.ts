// Golden-file test: every table in test/fixtures/delta-conformance must read exactly as its
// expected.json entry says, at its latest version and at each older version listed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalStore } from '../../shared/storage/local';
import { activeFiles, loadSnapshot, Snapshot, tombstones } from '../../shared/delta/snapshot';
import { scanTable } from '../../shared/delta/scan';
import { batchToRows, stringifyJson } from '../../shared/delta/rows';
import { decodeAddPath } from '../../shared/delta/partitions';
import { main } from '../../cli/main';
import { openStore } from '../../shared/storage/location';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { readdirSync, statSync } from 'node:fs';
import * as nodePath from 'node:path';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const ROOT = join(TEST_DIR, 'fixtures', 'delta-conformance');
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
    Array.isArray(v)
      ? v.map(sortKeys)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
          )
        : v;
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
  expect(sortBy(files, 'path')).toEqual(
    sortBy(
      want.activeFiles.map((f) => ({ path: f.path, decodedPath: f.decodedPath, partitionValues: f.partitionValues, size: f.size })),
      'path',
    ),
  );
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
            const total = values.reduce(
              (acc: bigint, v) => acc + BigInt(String(v).replace('.', '').padEnd(0)) * 10n ** BigInt(scale - (String(v).split('.')[1] ?? '').length),
              0n,
            );
            const digits = (total < 0n ? -total : total).toString().padStart(scale + 1, '0');
            const text = (total < 0n ? '-' : '') + (scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits);
            expect(text, column).toBe(sum);
          } else {
            expect(
              values.reduce((a: number, v) => a + Number(v), 0),
              column,
            ).toBeCloseTo(sum, 6);
          }
        }
      });
    }
  });
}

// The same expectations through the command line (in process, with captured output and exit status),
// on the local copies and on copies uploaded to Azurite.

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

/** Upload a fixture folder to Azurite, byte for byte, and return its URI. */
async function uploadToAzurite(name: string, container: string): Promise<string> {
  const uri = azuriteUri(container, name);
  const store = openStore(uri);
  const walk = (dir: string, prefix: string): string[] =>
    readdirSync(dir).flatMap((e) => (statSync(join(dir, e)).isDirectory() ? walk(join(dir, e), `${prefix}${e}/`) : [`${prefix}${e}`]));
  for (const rel of walk(join(ROOT, name), '')) await store.write(rel, readFileSync(join(ROOT, name, rel)));
  return uri;
}

const AZURITE_CONTAINER = uniqueContainer();
for (const [where, table] of expected.tables.flatMap(
  (t: { name: string }) =>
    [
      ['local', t],
      ['azurite', t],
    ] as const,
)) {
  let dir = join(ROOT, table.name);
  describe(`sluice CLI on conformance table ${table.name} (${where})`, () => {
    if (where === 'azurite') {
      beforeAll(async () => {
        dir = await uploadToAzurite(table.name, AZURITE_CONTAINER);
      });
    }
    if (table.mustRefuse) {
      it('read exits non-zero naming the version or feature', async () => {
        const { code, out, err } = await cli(['read', dir]);
        expect(code).toBe(1);
        expect(out).toBe('');
        expect(err).toMatch(/minReaderVersion=\d+|deletionVectors|column mapping/);
      });
      return;
    }
    it('describe --json matches expected.json', async () => {
      const { code, out } = await cli(['describe', dir, '--json']);
      expect(code).toBe(0);
      const d = JSON.parse(out);
      const want = table.latest;
      expect(d.version).toBe(want.version);
      expect(d.partitionColumns).toEqual(want.partitionColumns);
      expect(d.schema).toEqual(want.schema);
      expect(d.numFiles).toBe(want.activeFiles.length);
      expect(d.numRecords).toBe(want.numRows);
      expect(d.sizeBytes).toBe(want.activeFiles.reduce((n: number, f: { size: number }) => n + f.size, 0));
      expect(d.files.map((f: { path: string }) => f.path).sort()).toEqual(want.activeFiles.map((f: { path: string }) => f.path).sort());
    });
    if (!table.dataFilesPresent) {
      it('read fails naming the missing data file', async () => {
        const { code, err } = await cli(['read', dir]);
        expect(code).toBe(1);
        expect(err).toMatch(/data file .*\.parquet.* is missing/);
      });
      return;
    }
    for (const want of [table.latest, ...(table.olderVersions ?? [])] as ExpectedVersion[]) {
      it(`read --version ${want.version} prints the expected rows as NDJSON`, async () => {
        const { code, out } = await cli(['read', dir, '--version', String(want.version)]);
        expect(code).toBe(0);
        const rows = out.trim()
          ? out
              .trim()
              .split('\n')
              .map((l) => JSON.parse(l))
          : [];
        let wantRows = want.rows!;
        if (table.columnNotes?.as_timestamp) {
          wantRows = wantRows.map((r) => ({ ...r, as_timestamp: r.as_timestamp === null ? null : String(r.as_timestamp).replace(' ', 'T') + '.000000Z' }));
        }
        expect(rows.map(canonical).sort()).toEqual(wantRows.map(canonical).sort());
      });
    }
  });
}

describe('sluice CLI behaviour', () => {
  const dir = join(ROOT, 'simple_table_with_checkpoint');
  it('--limit, csv and table formats', async () => {
    expect((await cli(['read', dir, '--limit', '3'])).out.trim().split('\n')).toHaveLength(3);
    const csv = await cli(['read', dir, '--format', 'csv', '--limit', '2']);
    expect(csv.out.split('\r\n')[0]).toBe('version');
    const table = await cli(['read', dir, '--format', 'table', '--limit', '2']);
    expect(table.out).toMatch(/\(2 rows\)/);
  });
  it('history --json lists every version newest first', async () => {
    const { code, out } = await cli(['history', dir, '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(out).map((e: { version: number }) => e.version)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  });
  it('usage errors exit 2; a missing table exits 1', async () => {
    expect((await cli(['frobnicate', dir])).code).toBe(2);
    expect((await cli(['read', dir, '--format', 'xml'])).code).toBe(2);
    expect((await cli(['read', dir, '--version', '1', '--timestamp', '2020-01-01'])).code).toBe(2);
    const missing = await cli(['read', join(ROOT, 'no-such-table')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no Delta table/);
    const tooNew = await cli(['read', dir, '--version', '99']);
    expect(tooNew.code).toBe(1);
    expect(tooNew.err).toMatch(/version 99 .* does not exist/);
  });
  it('the installed bin runs and exits non-zero with the reason on stderr', async () => {
    const { spawnSync } = await import('node:child_process');
    const bin = join(TEST_DIR, '..', 'bin', 'sluice.js');
    const ok = spawnSync(process.execPath, [bin, 'read', dir, '--limit', '1'], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout.trim())).toHaveProperty('version');
    const refused = spawnSync(process.execPath, [bin, 'read', join(ROOT, 'deltalog-invalid-protocol-version')], { encoding: 'utf8' });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/minReaderVersion=99/);
  });
});
