/**
 * Counting storage requests, which Azure bills one by one: a wrapper around an `ObjectStore` that
 * counts its calls by kind, and a pipeline policy on a Table Storage client that counts the HTTP
 * requests it sends, by table and operation. The requests bench (bench/requests.ts) and its regression
 * test put them around every store and table client the app opens (`instrumentLake`, lake.ts).
 *
 * A store call is one request in the common case: reads, properties, create-if-absent and whole-buffer
 * writes are one request each. Two calls take more, and are counted as the Blob service bills them: a
 * listing is one request per page of up to 5,000 blobs, and a streamed write of more than 4 MiB stages
 * its content in 4 MiB blocks and commits the block list (`AzureBlobStore.write`), so one request per
 * block plus one (a smaller one goes up in one Put Blob). The requests bench's recorded baseline
 * predates that: there every streamed write counted as blocks plus one, as it then was.
 */
import type { TableClient } from '@azure/data-tables';
import type { LakeInstrument } from './lake';
import type { ObjectContent, ObjectInfo, ObjectStore } from './types';

/** Blobs per listing page (the service's maximum, which the SDK asks for). */
const LIST_PAGE = 5000;
/** Block size of a streamed write (`STREAM_BLOCK_SIZE` of azure.ts). */
const STREAM_BLOCK = 4 * 1024 * 1024;

/** One counted request: when (the stage the caller set), against what, of which kind. */
export interface CountedRequest {
  stage: string;
  /** `blob` for the lake and landing containers, `table` for Table Storage. */
  service: 'blob' | 'table';
  /** The store root (`lake/bronze/pos_sales`) or the table name (`SluiceLedger`). */
  target: string;
  /** `list`, `properties`, `read`, `write`, `create`, `delete`, `copy`, `tier`; for tables `get`, `query`, `insert`, `upsert`, `merge`, `delete`, `batch`, `createTable`. */
  kind: string;
  count: number;
}

/** Tallies requests under the stage currently set. */
export class RequestCounter {
  /** The stage requests are counted under from now on. */
  stage = 'other';
  /** Told of every request as it is counted (e.g. to print a trace). */
  onRequest?: (request: CountedRequest & { path: string }) => void;
  private readonly tally = new Map<string, CountedRequest>();

  /**
   * Count requests.
   *
   * @param service blob or table
   * @param target store root or table name
   * @param kind operation kind
   * @param count how many requests (default 1)
   * @param path the object or entity the request is about, for `onRequest`
   */
  add(service: 'blob' | 'table', target: string, kind: string, count = 1, path = ''): void {
    this.onRequest?.({ stage: this.stage, service, target, kind, count, path });
    const key = `${this.stage}\u0000${service}\u0000${target}\u0000${kind}`;
    const entry = this.tally.get(key);
    if (entry) entry.count += count;
    else this.tally.set(key, { stage: this.stage, service, target, kind, count });
  }

  /** Everything counted so far. */
  requests(): CountedRequest[] {
    return [...this.tally.values()].map((r) => ({ ...r }));
  }

  /** Total requests counted so far. */
  total(): number {
    let n = 0;
    for (const r of this.tally.values()) n += r.count;
    return n;
  }

  /** Forget what was counted. */
  reset(): void {
    this.tally.clear();
  }

  /** The wrappers `instrumentLake` takes, counting into this counter. */
  instrument(): LakeInstrument {
    return {
      store: (store, container, path) => countingStore(store, this, path ? `${container}/${path}` : container),
      table: (client, tableName) => countingTableClient(client, this, tableName),
    };
  }
}

/**
 * A store that counts each call it passes on.
 *
 * @param store the store
 * @param counter where to count
 * @param target the name requests are counted against
 * @returns the counting store
 */
export function countingStore(store: ObjectStore, counter: RequestCounter, target: string): ObjectStore {
  const count = (kind: string, n = 1, path = '') => counter.add('blob', target, kind, n, path);
  return {
    url: store.url,
    read: (path, range) => {
      count('read', 1, range ? `${path} [${range.offset}+${range.length ?? ''}]` : path);
      return store.read(path, range);
    },
    write: async (path: string, content: ObjectContent, options) => {
      const info = await store.write(path, content, options);
      count(
        'write',
        typeof content === 'string' || content instanceof Uint8Array || info.size <= STREAM_BLOCK ? 1 : Math.ceil(info.size / STREAM_BLOCK) + 1,
        path,
      );
      return info;
    },
    createIfAbsent: (path, content, options) => {
      count('create', 1, path);
      return store.createIfAbsent(path, content, options);
    },
    list: async function* (prefix: string): AsyncIterable<ObjectInfo> {
      count('list', 1, `${prefix}*`);
      let n = 0;
      for await (const info of store.list(prefix)) {
        if (++n % LIST_PAGE === 0) count('list');
        yield info;
      }
    },
    delete: (path) => {
      count('delete', 1, path);
      return store.delete(path);
    },
    copy: (from, to) => {
      // Start the copy, then read the copy's properties (AzureBlobStore.copy).
      count('copy', 2, `${from} -> ${to}`);
      return store.copy(from, to);
    },
    properties: (path) => {
      count('properties', 1, path);
      return store.properties(path);
    },
    setAccessTier: (path, tier, options) => {
      count('tier', 1, path);
      return store.setAccessTier(path, tier, options);
    },
  };
}

/**
 * Equip a Table Storage client with a policy that counts every HTTP request it sends (retries
 * included), by operation.
 *
 * @param client the client
 * @param counter where to count
 * @param tableName the table, to count against
 * @returns the same client
 */
export function countingTableClient(client: TableClient, counter: RequestCounter, tableName: string): TableClient {
  const policy: Parameters<TableClient['pipeline']['addPolicy']>[0] = {
    name: 'sluiceRequestCount',
    sendRequest: (request, next) => {
      counter.add(
        'table',
        tableName,
        tableOperation(request.method, request.url),
        1,
        decodeURIComponent(new URL(request.url).pathname + new URL(request.url).search),
      );
      return next(request);
    },
  };
  client.pipeline.addPolicy(policy);
  return client;
}

/** The Table Storage operation an HTTP request is. */
function tableOperation(method: string, url: string): string {
  const path = decodeURIComponent(new URL(url).pathname);
  switch (method.toUpperCase()) {
    case 'GET':
      return /\(PartitionKey='.*',RowKey='.*'\)$/.test(path) ? 'get' : 'query';
    case 'POST':
      if (path.endsWith('/$batch')) return 'batch';
      return /\/Tables$/i.test(path) ? 'createTable' : 'insert';
    case 'PUT':
      return 'upsert';
    case 'MERGE':
    case 'PATCH':
      return 'merge';
    case 'DELETE':
      return 'delete';
    default:
      return method.toLowerCase();
  }
}
