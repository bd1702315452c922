/**
 * One contract suite for every `ObjectStore` backend: the local file system and Azure Blob Storage on
 * the Azurite that `test/support/azurite-setup.ts` starts. Plus parsing of every table-location form.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccessTier,
  AZURITE_ACCOUNT_KEY,
  AzureBlobStore,
  emulatorConnectionString,
  LocalStore,
  ObjectAlreadyExistsError,
  ObjectInfo,
  ObjectNotFoundError,
  ObjectStore,
  openStore,
  parseLocation,
  StorageError,
} from '../../shared/storage';
import { azuriteBlobEndpoint, azuriteUri, uniqueContainer } from '../support/azurite';

/** How a backend makes stores: `open(root)` gives a store at `root` below one per-suite base. */
interface Backend {
  name: string;
  setup(): Promise<void>;
  open(root: string): ObjectStore;
  teardown(): Promise<void>;
}

const local = (): Backend => {
  let base = '';
  return {
    name: 'LocalStore',
    setup: async () => {
      base = await mkdtemp(nodePath.join(tmpdir(), 'sluice-storage-'));
    },
    open: (root) => new LocalStore(nodePath.join(base, root)),
    teardown: () => rm(base, { recursive: true, force: true }),
  };
};

const azurite = (): Backend => {
  // A fresh container nobody created: the first write must create it.
  const container = uniqueContainer('contract');
  return {
    name: 'AzureBlobStore on Azurite',
    setup: async () => {},
    open: (root) => openStore(azuriteUri(container, root)),
    teardown: async () => {},
  };
};

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function collect(items: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function* chunks(parts: Uint8Array[]): AsyncIterable<Uint8Array> {
  for (const part of parts) {
    await new Promise((r) => setImmediate(r));
    yield part;
  }
}

describe.each([local(), azurite()])('ObjectStore contract: $name', (backend) => {
  let store: ObjectStore;
  let n = 0;
  /** A fresh root per test, so tests do not see each other's objects. */
  const fresh = () => backend.open(`tables/t${++n}`);

  beforeAll(async () => {
    await backend.setup();
    store = fresh();
  });
  afterAll(() => backend.teardown());

  it('writes into a root that does not exist yet and reads it back', async () => {
    const info = await store.write('first.txt', 'hello');
    expect(info).toMatchObject({ path: 'first.txt', size: 5 });
    expect(text(await store.read('first.txt'))).toBe('hello');
  });

  it('reads whole objects and byte ranges, clamping ranges at the end', async () => {
    const s = fresh();
    await s.write('r.bin', 'hello world');
    const whole = await s.read('r.bin');
    expect(whole).toBeInstanceOf(Uint8Array);
    expect(text(whole)).toBe('hello world');
    expect(text(await s.read('r.bin', { offset: 0, length: 5 }))).toBe('hello');
    expect(text(await s.read('r.bin', { offset: 6 }))).toBe('world');
    expect(text(await s.read('r.bin', { offset: 6, length: 100 }))).toBe('world');
    expect(text(await s.read('r.bin', { offset: 10, length: 1 }))).toBe('d');
    expect((await s.read('r.bin', { offset: 11 })).byteLength).toBe(0);
    expect((await s.read('r.bin', { offset: 50, length: 3 })).byteLength).toBe(0);
    expect((await s.read('r.bin', { offset: 3, length: 0 })).byteLength).toBe(0);
  });

  it('reads empty objects', async () => {
    const s = fresh();
    await s.write('empty', new Uint8Array(0));
    expect((await s.read('empty')).byteLength).toBe(0);
    expect((await s.read('empty', { offset: 0 })).byteLength).toBe(0);
    expect((await s.properties('empty')).size).toBe(0);
  });

  it('writes bytes, strings and async iterables of chunks, replacing earlier content', async () => {
    const s = fresh();
    const bytes = Uint8Array.from([0, 1, 2, 250, 255]);
    expect((await s.write('bytes.bin', bytes)).size).toBe(5);
    expect(await s.read('bytes.bin')).toEqual(bytes);

    expect((await s.write('string.txt', 'zürich ✓')).size).toBe(new TextEncoder().encode('zürich ✓').byteLength);
    expect(text(await s.read('string.txt'))).toBe('zürich ✓');

    // Several MiB in uneven chunks, so the Azure upload stages more than one block; one chunk is a
    // view into a larger buffer and one is empty.
    const big = new Uint8Array(9 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    const backing = new Uint8Array(big.length + 10);
    backing.set(big.subarray(0, 1000), 5);
    const parts = [backing.subarray(5, 1005), new Uint8Array(0), big.subarray(1000, 5_000_000), big.subarray(5_000_000)];
    const info = await s.write('stream.bin', chunks(parts), { contentType: 'application/octet-stream' });
    expect(info.size).toBe(big.length);
    const back = await s.read('stream.bin');
    expect(back.byteLength).toBe(big.length);
    expect(Buffer.compare(back, big)).toBe(0);
    expect(text(await s.read('stream.bin', { offset: 5_000_000, length: 3 }))).toBe(text(big.subarray(5_000_000, 5_000_003)));

    await s.write('string.txt', 'replaced');
    expect(text(await s.read('string.txt'))).toBe('replaced');
  });

  it('keeps paths literal: spaces, percent signs and non-ASCII', async () => {
    const s = fresh();
    const path = 'date=2024-01-01/with space/ü%20#?.txt';
    await s.write(path, 'odd');
    expect(text(await s.read(path))).toBe('odd');
    expect((await collect(s.list(''))).map((o) => o.path)).toEqual([path]);
  });

  it('createIfAbsent creates once and then rejects with ObjectAlreadyExistsError', async () => {
    const s = fresh();
    const info = await s.createIfAbsent('_delta_log/00000000000000000000.json', 'first', { contentType: 'application/json' });
    expect(info).toMatchObject({ path: '_delta_log/00000000000000000000.json', size: 5 });
    const err = await s.createIfAbsent('_delta_log/00000000000000000000.json', 'second').catch((e) => e);
    expect(err).toBeInstanceOf(ObjectAlreadyExistsError);
    expect(err.path).toBe('_delta_log/00000000000000000000.json');
    expect(err.message).toContain(s.url);
    expect(text(await s.read('_delta_log/00000000000000000000.json'))).toBe('first');
  });

  it('lets exactly one of 20 concurrent createIfAbsent calls win', async () => {
    const s = fresh();
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => s.createIfAbsent('_delta_log/00000000000000000001.json', `writer ${i}`)));
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ObjectAlreadyExistsError);
    expect(text(await s.read('_delta_log/00000000000000000001.json'))).toBe(`writer ${won[0]}`);
  });

  it('lists by string prefix, recursively, in lexicographic order', async () => {
    const s = fresh();
    const paths = [
      '_delta_log/00000000000000000010.json',
      '_delta_log/00000000000000000000.json',
      '_delta_log/00000000000000000001.json',
      '_delta_log/00000000000000000010.checkpoint.parquet',
      '_delta_log/_last_checkpoint',
      'a/b/c.txt',
      'a/b.txt',
      'a-b.txt',
      'a.txt',
      'part-00000.parquet',
    ];
    for (const p of paths) await s.write(p, p);

    const all = await collect(s.list(''));
    expect(all.map((o) => o.path)).toEqual([...paths].sort());
    const one = all.find((o) => o.path === 'a/b/c.txt')!;
    expect(one.size).toBe('a/b/c.txt'.length);
    expect(one.etag).toBeTruthy();
    expect(one.lastModified).toBeInstanceOf(Date);

    // Not a folder boundary: 19 zeros match versions 0 and 1, not 10.
    expect((await collect(s.list('_delta_log/0000000000000000000'))).map((o) => o.path)).toEqual([
      '_delta_log/00000000000000000000.json',
      '_delta_log/00000000000000000001.json',
    ]);
    expect((await collect(s.list('_delta_log/'))).map((o) => o.path)).toEqual([
      '_delta_log/00000000000000000000.json',
      '_delta_log/00000000000000000001.json',
      '_delta_log/00000000000000000010.checkpoint.parquet',
      '_delta_log/00000000000000000010.json',
      '_delta_log/_last_checkpoint',
    ]);
    expect((await collect(s.list('a'))).map((o) => o.path)).toEqual(['a-b.txt', 'a.txt', 'a/b.txt', 'a/b/c.txt']);
    expect((await collect(s.list('a/b'))).map((o) => o.path)).toEqual(['a/b.txt', 'a/b/c.txt']);
    expect((await collect(s.list('a/b/'))).map((o) => o.path)).toEqual(['a/b/c.txt']);
    expect(await collect(s.list('nothing/'))).toEqual([]);
  });

  it('lists nothing in a root that was never written', async () => {
    expect(await collect(backend.open('never/written').list(''))).toEqual([]);
  });

  it('does not see objects of a sibling root that shares a name prefix', async () => {
    const a = backend.open('siblings/tbl');
    const b = backend.open('siblings/tbl2');
    await a.write('x', 'a');
    await b.write('x', 'b');
    expect((await collect(a.list(''))).map((o) => o.path)).toEqual(['x']);
    expect(text(await a.read('x'))).toBe('a');
    expect(text(await b.read('x'))).toBe('b');
  });

  it('deletes idempotently', async () => {
    const s = fresh();
    await s.write('gone.txt', 'x');
    await s.delete('gone.txt');
    await expect(s.properties('gone.txt')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await s.delete('gone.txt');
    await s.delete('never/existed.txt');
    expect(await collect(s.list(''))).toEqual([]);
  });

  it('copies objects, replacing the target', async () => {
    const s = fresh();
    const payload = new Uint8Array(1024 * 1024 + 3).map((_, i) => i % 251);
    await s.write('src/data.bin', payload);
    await s.write('dst/data.bin', 'old');
    const info = await s.copy('src/data.bin', 'dst/data.bin');
    expect(info).toMatchObject({ path: 'dst/data.bin', size: payload.length });
    expect(Buffer.compare(await s.read('dst/data.bin'), payload)).toBe(0);
    expect((await s.properties('src/data.bin')).size).toBe(payload.length);
    await s.copy('src/data.bin', 'other/new.bin');
    expect((await s.read('other/new.bin')).byteLength).toBe(payload.length);
  });

  it('reports size, etag and last-modified time; the etag changes on rewrite', async () => {
    const s = fresh();
    const before = Date.now();
    const written = await s.write('p.txt', 'abc');
    const props = await s.properties('p.txt');
    expect(props).toMatchObject({ path: 'p.txt', size: 3 });
    expect(props.etag).toBeTruthy();
    expect(props.etag).toBe(written.etag);
    expect(Math.abs(props.lastModified.getTime() - before)).toBeLessThan(60_000);
    const rewritten = await s.write('p.txt', 'abcdef');
    const after = await s.properties('p.txt');
    expect(after.size).toBe(6);
    expect(after.etag).toBe(rewritten.etag);
    expect(after.etag).not.toBe(props.etag);
    expect(after.lastModified.getTime()).toBeGreaterThanOrEqual(props.lastModified.getTime());
  });

  it('moves objects between access tiers', async () => {
    const s = fresh();
    await s.write('tiered.parquet', 'x');
    expect((await s.properties('tiered.parquet')).accessTier).toBe('Hot');
    for (const tier of ['Cool', 'Cold', 'Hot'] as AccessTier[]) {
      await s.setAccessTier('tiered.parquet', tier);
      expect((await s.properties('tiered.parquet')).accessTier).toBe(tier);
    }
    await s.setAccessTier('tiered.parquet', 'Cool');
    expect((await collect(s.list('tiered'))).map((o) => o.accessTier)).toEqual(['Cool']);
    expect(text(await s.read('tiered.parquet'))).toBe('x');
  });

  it('rejects with ObjectNotFoundError naming the path', async () => {
    const s = fresh();
    await s.write('present.txt', 'x');
    const cases: [string, () => Promise<unknown>][] = [
      ['read', () => s.read('missing/file.json')],
      ['read range', () => s.read('missing/file.json', { offset: 1, length: 2 })],
      ['read empty range', () => s.read('missing/file.json', { offset: 0, length: 0 })],
      ['properties', () => s.properties('missing/file.json')],
      ['copy', () => s.copy('missing/file.json', 'present-copy.txt')],
      ['setAccessTier', () => s.setAccessTier('missing/file.json', 'Cool')],
    ];
    for (const [name, op] of cases) {
      const err = await op().then(
        () => new Error(`${name} did not reject`),
        (e) => e,
      );
      expect(err, name).toBeInstanceOf(ObjectNotFoundError);
      expect(err.path, name).toBe('missing/file.json');
      expect(err.message, name).toContain(`${s.url}/missing/file.json`);
    }
  });

  it('rejects paths that leave the root', async () => {
    await expect(store.read('../outside')).rejects.toBeInstanceOf(StorageError);
    await expect(store.write('/absolute', 'x')).rejects.toBeInstanceOf(StorageError);
  });
});

describe('AzureBlobStore specifics on Azurite', () => {
  it('has the blob URL of its root as url, and names blob URLs in errors', async () => {
    const container = uniqueContainer('url');
    const s = openStore(azuriteUri(container, 'lake/sales'));
    expect(s).toBeInstanceOf(AzureBlobStore);
    expect(s.url).toBe(`${azuriteBlobEndpoint()}/${container}/lake/sales`);
    const err = await s.read('nope.json').catch((e) => e);
    expect(err.message).toBe(`storage object not found: ${azuriteBlobEndpoint()}/${container}/lake/sales/nope.json`);
  });

  it('lists nothing and deletes quietly in a container that does not exist', async () => {
    const s = openStore(azuriteUri(uniqueContainer('none')));
    expect(await collect(s.list(''))).toEqual([]);
    await s.delete('x');
  });

  it('creates the container on the first streamed write and on createIfAbsent', async () => {
    const streamed = openStore(azuriteUri(uniqueContainer('stream')));
    await streamed.write('s.bin', chunks([Uint8Array.of(1, 2), Uint8Array.of(3)]));
    expect(await streamed.read('s.bin')).toEqual(Uint8Array.of(1, 2, 3));
    const created = openStore(azuriteUri(uniqueContainer('create'), 'deep/root'));
    await created.createIfAbsent('_delta_log/00000000000000000000.json', '{}');
    expect(text(await created.read('_delta_log/00000000000000000000.json'))).toBe('{}');
  });

  it('opens azurite:// short URIs against AZURITE_BLOB_ENDPOINT', async () => {
    const container = uniqueContainer('short');
    const s = openStore(`azurite://${container}/t`);
    await s.write('a', 'via short form');
    expect(text(await openStore(azuriteUri(container, 't')).read('a'))).toBe('via short form');
  });

  it('reports failures other than not-found as StorageError naming the blob URL', async () => {
    // A wrong key: the emulator answers 403.
    const endpoint = azuriteBlobEndpoint();
    const env = {
      SLUICE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from('wrong key').toString('base64')};BlobEndpoint=${endpoint};`,
    };
    const container = uniqueContainer('denied');
    const s = openStore(azuriteUri(container, 'x'), { env });
    const err = await s.read('y.json').catch((e) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).not.toBeInstanceOf(ObjectNotFoundError);
    expect(err.transient).toBe(false);
    expect(err.message).toContain(`${endpoint}/${container}/x/y.json`);
    expect(err.message).toContain('403');
  });

  it('marks a connection reset as transient', async () => {
    // A listener that resets every connection: network fault injection, the store code is unchanged.
    const server = net.createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const endpoint = `http://127.0.0.1:${port}/devstoreaccount1`;
      const client = new ContainerClient(
        `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${AZURITE_ACCOUNT_KEY};BlobEndpoint=${endpoint};`,
        'reset',
        { retryOptions: { maxTries: 1 } },
      );
      const err = await new AzureBlobStore(client, 't').read('a.json').catch((e) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err.message).toContain(`${endpoint}/reset/t/a.json`);
      expect(err.message).toContain('ECONNRESET');
      expect(err.transient).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('parseLocation', () => {
  it('treats relative and absolute paths and file:// URLs as local', () => {
    expect(parseLocation('lake/sales')).toEqual({ kind: 'local', path: nodePath.resolve('lake/sales') });
    expect(parseLocation('/var/lake/sales')).toEqual({ kind: 'local', path: '/var/lake/sales' });
    expect(parseLocation('./x')).toEqual({ kind: 'local', path: nodePath.resolve('x') });
    expect(parseLocation('file:///var/lake/my%20table')).toEqual({ kind: 'local', path: '/var/lake/my table' });
  });

  it('parses abfss:// and abfs:// with dfs and blob hosts', () => {
    const expected = {
      kind: 'azure',
      account: 'acct',
      container: 'lake',
      prefix: 'bronze/sales',
      blobEndpoint: 'https://acct.blob.core.windows.net',
    };
    expect(parseLocation('abfss://lake@acct.dfs.core.windows.net/bronze/sales')).toEqual(expected);
    expect(parseLocation('abfss://lake@acct.dfs.core.windows.net/bronze/sales/')).toEqual(expected);
    expect(parseLocation('abfs://lake@acct.dfs.core.windows.net/bronze/sales')).toEqual(expected);
    expect(parseLocation('abfss://lake@acct.blob.core.windows.net/bronze/sales')).toEqual(expected);
    expect(parseLocation('ABFSS://lake@ACCT.dfs.core.windows.net/bronze/sales')).toEqual(expected);
    expect(parseLocation('abfss://lake@acct.dfs.core.windows.net')).toEqual({ ...expected, prefix: '' });
    expect(parseLocation('abfss://lake@acct.dfs.core.windows.net/a%20b/c')).toMatchObject({ prefix: 'a b/c' });
    expect(parseLocation('abfss://lake@acct.dfs.core.chinacloudapi.cn/t')).toMatchObject({
      blobEndpoint: 'https://acct.blob.core.chinacloudapi.cn',
    });
  });

  it('parses https:// Blob and DFS URLs', () => {
    expect(parseLocation('https://acct.blob.core.windows.net/lake/bronze/sales')).toEqual({
      kind: 'azure',
      account: 'acct',
      container: 'lake',
      prefix: 'bronze/sales',
      blobEndpoint: 'https://acct.blob.core.windows.net',
    });
    expect(parseLocation('https://acct.dfs.core.windows.net/lake')).toMatchObject({ container: 'lake', prefix: '' });
  });

  it('parses Azurite path-style URLs on any host and port', () => {
    expect(parseLocation('http://127.0.0.1:10000/devstoreaccount1/lake/bronze/sales')).toEqual({
      kind: 'azurite',
      account: 'devstoreaccount1',
      container: 'lake',
      prefix: 'bronze/sales',
      blobEndpoint: 'http://127.0.0.1:10000/devstoreaccount1',
    });
    expect(parseLocation('http://azurite:41000/otheraccount/lake')).toEqual({
      kind: 'azurite',
      account: 'otheraccount',
      container: 'lake',
      prefix: '',
      blobEndpoint: 'http://azurite:41000/otheraccount',
    });
  });

  it('parses azurite:// against AZURITE_BLOB_ENDPOINT or the default endpoint', () => {
    expect(parseLocation('azurite://lake/bronze/sales', {})).toEqual({
      kind: 'azurite',
      account: 'devstoreaccount1',
      container: 'lake',
      prefix: 'bronze/sales',
      blobEndpoint: 'http://127.0.0.1:10000/devstoreaccount1',
    });
    expect(parseLocation('azurite://lake', { AZURITE_BLOB_ENDPOINT: 'http://localhost:5555/devstoreaccount1/' })).toEqual({
      kind: 'azurite',
      account: 'devstoreaccount1',
      container: 'lake',
      prefix: '',
      blobEndpoint: 'http://localhost:5555/devstoreaccount1',
    });
  });

  it('rejects what it does not understand, naming the URI and the accepted forms', () => {
    const bad = [
      's3://bucket/table',
      'gs://bucket/table',
      'abfss://acct.dfs.core.windows.net/table',
      'abfss://lake@example.com/table',
      'https://acct.blob.core.windows.net/',
      'https://acct.blob.core.windows.net/lake/t?sv=2024&sig=secret',
      'http://127.0.0.1:10000/devstoreaccount1',
      'abfss://Bad_Container@acct.dfs.core.windows.net/t',
      'ftp://host/lake/t',
      'abfss://lake@acct.dfs.core.windows.net/t#fragment',
    ];
    for (const uri of bad) {
      expect(() => parseLocation(uri), uri).toThrow(uri);
      expect(() => parseLocation(uri), uri).toThrow(/accepted forms: .*abfss:\/\//);
    }
  });
});

describe('openStore', () => {
  it('opens local stores', () => {
    const s = openStore('some/dir');
    expect(s).toBeInstanceOf(LocalStore);
    expect((s as LocalStore).root).toBe(nodePath.resolve('some/dir'));
  });

  it('opens Azure stores at the Blob endpoint without contacting anything', () => {
    const s = openStore('abfss://lake@acct.dfs.core.windows.net/bronze/sales');
    expect(s).toBeInstanceOf(AzureBlobStore);
    expect(s.url).toBe('https://acct.blob.core.windows.net/lake/bronze/sales');
  });

  it('picks the emulator connection string whose Blob endpoint matches', () => {
    const loc = { kind: 'azurite', account: 'devstoreaccount1', container: 'c', prefix: '', blobEndpoint: 'http://127.0.0.1:4321/devstoreaccount1' } as const;
    const matching = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=k==;BlobEndpoint=http://localhost:4321/devstoreaccount1/;`;
    const other = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=o==;BlobEndpoint=http://127.0.0.1:9999/devstoreaccount1;`;
    expect(emulatorConnectionString(loc, { SLUICE_STORAGE_CONNECTION_STRING: other, AzureWebJobsStorage: matching })).toBe(matching);
    expect(emulatorConnectionString(loc, { SLUICE_STORAGE_CONNECTION_STRING: matching, AzureWebJobsStorage: other })).toBe(matching);
    // Nothing matches: the public development key at the location's own endpoint.
    expect(emulatorConnectionString(loc, { SLUICE_STORAGE_CONNECTION_STRING: other })).toBe(
      `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${AZURITE_ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:4321/devstoreaccount1;`,
    );
    // UseDevelopmentStorage=true stands for the default port only.
    expect(emulatorConnectionString(loc, { AzureWebJobsStorage: 'UseDevelopmentStorage=true' })).toContain('127.0.0.1:4321');
    const defaultLoc = { ...loc, blobEndpoint: 'http://127.0.0.1:10000/devstoreaccount1' };
    expect(emulatorConnectionString(defaultLoc, { AzureWebJobsStorage: 'UseDevelopmentStorage=true' })).toContain(
      'BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;',
    );
    // Other emulator accounts have no well-known key.
    expect(() => emulatorConnectionString({ ...loc, account: 'mine' }, {})).toThrow(/SLUICE_STORAGE_CONNECTION_STRING/);
  });
});
