/**
 * DuckDB's Node packages, loaded on first use: the Functions host, the ingestion of small files and
 * most commands never need them.
 *
 * Loaded with `require`, not `import()`. Both packages are CommonJS, and going through the ES module
 * loader doubled the load, a fixed cost of every CSV file DuckDB copies into bronze: for
 * `@duckdb/node-api` 145 ms against 72 in Node 20, and 230–280 ms against about 90 under tsx (which
 * the bench and the tests run on), measured on the 2-core development machine.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- see above */

/** The `@duckdb/node-api` module. */
export type DuckdbApi = typeof import('@duckdb/node-api');
/** The `@duckdb/node-bindings` module (the C API under `@duckdb/node-api`). */
export type DuckdbBindings = typeof import('@duckdb/node-bindings');

/**
 * DuckDB's Node API.
 *
 * @returns the module (loaded once per process)
 * @throws when the native binding does not load on this platform
 */
export function duckdbApi(): DuckdbApi {
  return require('@duckdb/node-api') as DuckdbApi;
}

/**
 * DuckDB's C API bindings.
 *
 * @returns the module (loaded once per process)
 * @throws when the native binding does not load on this platform
 */
export function duckdbBindings(): DuckdbBindings {
  return require('@duckdb/node-bindings') as DuckdbBindings;
}
