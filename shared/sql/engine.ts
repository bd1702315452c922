/**
 * The SQL engine for silver/gold transforms and expectation predicates: DuckDB in-process, one
 * database per refresh run, with bounded memory and a private working directory.
 *
 * Why it is set up this way:
 * - An instance runs several activities at once and each opens its own DuckDB, so the memory limit of
 *   one (by default) is the instance's memory less a reserve for the Functions host, Node's heap and
 *   WASM, divided by the activity concurrency (`sqlMemoryPlan`); DuckDB spills to a temp directory
 *   inside the run's folder beyond it. A limit set by hand that would overcommit the instance is
 *   refused at start-up rather than found out by the out-of-memory killer.
 * - DuckDB cannot download extensions here (and must not try at run time in Azure either), so
 *   auto-install and auto-load are off. Parquet, JSON and ICU are statically linked in this binary.
 * - User SQL from a pipeline definition runs in a sandbox: after set-up the engine may only touch files
 *   inside its run folder (`allowed_directories` with external access off) and its configuration is
 *   locked, so a `SET`, a `COPY … TO '/etc/…'` or an `ATTACH` in a definition fails instead of acting.
 * - The session time zone is UTC: Delta timestamps are UTC instants and are exposed to SQL as UTC
 *   wall-clock `TIMESTAMP` values, so `CAST(ts AS DATE)` means the UTC date.
 *
 * `@duckdb/node-api` is a native module; it is loaded on first use so that importing this module (for
 * types or the definition checks' helpers) costs nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import type { DuckDBConnection, DuckDBInstance, DuckDBType } from '@duckdb/node-api';
import { duckdbApi } from '../duckdb';
import { ConfigError, loadInstanceResources, type InstanceResources, type SettingsEnv } from '../config/settings';
import { stagedFileCache, type StagedFileCache } from './file-cache';

/** Options for opening the engine. */
export interface SqlEngineOptions {
  /** DuckDB `memory_limit` (default: this instance's share, see `sqlMemoryPlan`). */
  memoryLimit?: string;
  /** Worker threads (default: the CPU count, at most 4). */
  threads?: number;
  /** Folder the run folder is created in (default: the OS temp folder). */
  tempRoot?: string;
  /** Most bytes of staged data files kept between runs in this process (default `256MB`; `0` keeps none); see file-cache.ts. */
  fileCache?: string;
}

/** One output column of a query: its name and DuckDB type. */
export interface SqlColumn {
  name: string;
  type: DuckDBType;
}

/** A SQL statement failed; `sql` holds the statement, `context` what was being done. */
export class SqlError extends Error {
  readonly sql: string;
  constructor(message: string, sql: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SqlError';
    this.sql = sql;
  }
}

const MEMORY_LIMIT = /^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;
const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };
const DEFAULT_FILE_CACHE = '256MB';

/** Bytes of a size such as `256MB` (`0` is allowed: none). */
function sizeBytes(text: string): number {
  if (/^0+$/.test(text.trim())) return 0;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(text.trim());
  return m ? Math.floor(Number(m[1]) * (UNITS[m[2].toLowerCase()] ?? NaN)) : NaN;
}

const MIB = 2 ** 20;
/** Below this DuckDB spends its time spilling; an instance that cannot give each activity as much is refused. */
const MIN_SQL_MEMORY_MIB = 64;

/** How an instance's memory is split between the activities it runs at once. */
export interface SqlMemoryPlan {
  /** Kept for the Functions host, Node's heap, parquet-wasm and the orchestrations: a quarter of the instance, at least 256 MiB. */
  reservedMib: number;
  /** DuckDB memory limit of one activity when `SLUICE_SQL_MEMORY_LIMIT` does not set one. */
  perActivityMib: number;
}

/**
 * The memory split of an instance: what is reserved, and each concurrent activity's share of the rest.
 *
 * @param resources instance memory and activity concurrency (shared/config)
 * @returns the split
 */
export function sqlMemoryPlan(resources: InstanceResources): SqlMemoryPlan {
  const reservedMib = Math.max(256, Math.floor(resources.instanceMemoryMb / 4));
  return { reservedMib, perActivityMib: Math.floor((resources.instanceMemoryMb - reservedMib) / resources.activityConcurrency) };
}

/**
 * Engine options from the environment: `SLUICE_SQL_MEMORY_LIMIT` (e.g. `512MB`; by default this
 * instance's share, see `sqlMemoryPlan`, from `SLUICE_INSTANCE_MEMORY_MB` and the activity
 * concurrency), `SLUICE_SQL_THREADS`, `SLUICE_SQL_TEMP_DIR`, `SLUICE_SQL_CACHE_SIZE` (staged-file
 * cache, e.g. `256MB`, `0` for none). A memory limit that, times the activity concurrency, plus the
 * reserve, exceeds the instance's memory is refused.
 *
 * @param env the environment
 * @param resources instance memory and activity concurrency (default: read from `env` and host.json)
 * @returns the options
 * @throws Error naming the bad setting, or every setting of a combination that exceeds the instance
 */
export function sqlOptionsFromEnv(env: SettingsEnv = process.env, resources?: InstanceResources): SqlEngineOptions {
  const out: SqlEngineOptions = {};
  const memory = env.SLUICE_SQL_MEMORY_LIMIT?.trim();
  if (memory && !MEMORY_LIMIT.test(memory))
    throw new Error(`setting SLUICE_SQL_MEMORY_LIMIT: expected a size such as 1GB or 512MB, got ${JSON.stringify(memory)}`);
  out.memoryLimit = checkedMemoryLimit(memory || undefined, resources ?? instanceResources(env));
  const threads = env.SLUICE_SQL_THREADS?.trim();
  if (threads) {
    const n = Number(threads);
    if (!Number.isInteger(n) || n < 1 || n > 64)
      throw new Error(`setting SLUICE_SQL_THREADS: expected a whole number from 1 to 64, got ${JSON.stringify(threads)}`);
    out.threads = n;
  }
  if (env.SLUICE_SQL_TEMP_DIR?.trim()) out.tempRoot = env.SLUICE_SQL_TEMP_DIR.trim();
  const cache = env.SLUICE_SQL_CACHE_SIZE?.trim();
  if (cache) {
    if (!(/^0+$/.test(cache) || MEMORY_LIMIT.test(cache)))
      throw new Error(`setting SLUICE_SQL_CACHE_SIZE: expected a size such as 256MB, or 0 for no cache, got ${JSON.stringify(cache)}`);
    out.fileCache = cache;
  }
  return out;
}

function instanceResources(env: SettingsEnv): InstanceResources {
  try {
    return loadInstanceResources(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new Error(err.problems.join('; '), { cause: err });
    throw err;
  }
}

/** The memory limit of one activity's DuckDB: the one set, if the instance can give every concurrent activity as much, else its share. */
function checkedMemoryLimit(memory: string | undefined, resources: InstanceResources): string {
  const plan = sqlMemoryPlan(resources);
  const instance = `SLUICE_INSTANCE_MEMORY_MB ${resources.instanceMemoryMb}`;
  const concurrency = `${resources.activityConcurrency} activities at once (${resources.activityConcurrencySource})`;
  if (memory === undefined) {
    if (plan.perActivityMib >= MIN_SQL_MEMORY_MIB) return `${plan.perActivityMib}MiB`;
    throw new Error(
      `settings: ${instance} less ${plan.reservedMib} MiB for the host and Node leaves ${plan.perActivityMib} MiB of DuckDB memory to each of ${concurrency}, ` +
        `below the ${MIN_SQL_MEMORY_MIB} MiB a refresh needs; run fewer activities at once or choose a larger instance`,
    );
  }
  const total = sizeBytes(memory) * resources.activityConcurrency + plan.reservedMib * MIB;
  if (total <= resources.instanceMemoryMb * MIB) return memory;
  throw new Error(
    `settings: SLUICE_SQL_MEMORY_LIMIT ${memory} × ${concurrency} + ${plan.reservedMib} MiB for the host and Node is ${Math.ceil(total / MIB)} MiB, ` +
      `more than ${instance}; set SLUICE_SQL_MEMORY_LIMIT to at most ${plan.perActivityMib}MiB (or unset it: that share is the default), ` +
      'run fewer activities at once or choose a larger instance',
  );
}

/** An open DuckDB database with its run folder. Close it to free memory and delete the folder. */
export class SqlEngine {
  private closed = false;
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    /** The run folder: staged input, query output and spill files live here. */
    readonly dir: string,
    /** Data files staged by earlier runs of this process (file-cache.ts). */
    readonly fileCache: StagedFileCache,
  ) {}

  /**
   * Open an in-memory database in a fresh run folder.
   *
   * @param options memory limit, threads, temp root
   * @param setup statements run before the sandbox closes (e.g. registering functions)
   * @returns the engine
   */
  static async open(options: SqlEngineOptions = {}, setup?: (connection: DuckDBConnection) => Promise<void> | void): Promise<SqlEngine> {
    const memoryLimit = options.memoryLimit ?? sqlOptionsFromEnv().memoryLimit!;
    if (!MEMORY_LIMIT.test(memoryLimit)) throw new Error(`sql engine: memory limit ${JSON.stringify(memoryLimit)} is not a size such as 1GB`);
    const threads = options.threads ?? Math.max(1, Math.min(4, cpus().length));
    const cacheBytes = sizeBytes(options.fileCache ?? DEFAULT_FILE_CACHE);
    if (!Number.isFinite(cacheBytes)) throw new Error(`sql engine: file cache size ${JSON.stringify(options.fileCache)} is not a size such as 256MB`);
    const root = options.tempRoot ?? tmpdir();
    const dir = await mkdtemp(nodePath.join(root, 'sluice-sql-'));
    const { DuckDBInstance } = duckdbApi();
    let instance: DuckDBInstance | undefined;
    try {
      instance = await DuckDBInstance.create(':memory:', {
        memory_limit: memoryLimit,
        threads: String(threads),
        temp_directory: nodePath.join(dir, 'spill'),
        extension_directory: nodePath.join(dir, 'extensions'),
        autoinstall_known_extensions: 'false',
        autoload_known_extensions: 'false',
        allow_community_extensions: 'false',
      });
      const connection = await instance.connect();
      await connection.run(`SET TimeZone = 'UTC'`);
      await setup?.(connection);
      await connection.run(`SET allowed_directories = [${quoteLiteral(dir)}]`);
      await connection.run('SET enable_external_access = false');
      await connection.run('SET lock_configuration = true');
      return new SqlEngine(instance, connection, dir, stagedFileCache(root, cacheBytes));
    } catch (err) {
      instance?.closeSync();
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * A path inside the run folder.
   *
   * @param name relative name
   * @returns the absolute path
   */
  path(name: string): string {
    return nodePath.join(this.dir, name);
  }

  /**
   * Run statements, discarding any result.
   *
   * @param sql one or more statements
   * @param context what is being done, for the error message
   */
  async run(sql: string, context = 'sql'): Promise<void> {
    this.check();
    try {
      await this.connection.run(sql);
    } catch (err) {
      throw new SqlError(`${context}: ${(err as Error).message}`, sql, { cause: err });
    }
  }

  /**
   * Run a query and return its rows as JSON-safe objects (small results only: counts, samples).
   * Integers beyond 2^53, decimals and timestamps come back as strings.
   *
   * @param sql the query
   * @param context what is being done, for the error message
   * @returns one object per row
   */
  async rows(sql: string, context = 'sql'): Promise<Record<string, unknown>[]> {
    this.check();
    try {
      const reader = await this.connection.runAndReadAll(sql);
      return reader.getRowObjectsJson() as Record<string, unknown>[];
    } catch (err) {
      throw new SqlError(`${context}: ${(err as Error).message}`, sql, { cause: err });
    }
  }

  /**
   * The output columns of a query, found by binding it without reading any row.
   *
   * @param sql the query
   * @param context what is being done, for the error message
   * @returns name and DuckDB type of each column
   */
  async columns(sql: string, context = 'sql'): Promise<SqlColumn[]> {
    this.check();
    const probe = `SELECT * FROM (${sql}\n) LIMIT 0`;
    try {
      const result = await this.connection.run(probe);
      const names = result.columnNames();
      const types = result.columnTypes();
      return names.map((name, i) => ({ name, type: types[i] }));
    } catch (err) {
      throw new SqlError(`${context}: ${(err as Error).message}`, probe, { cause: err });
    }
  }

  /** Close the database and delete the run folder. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.connection.closeSync();
      this.instance.closeSync();
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  private check(): void {
    if (this.closed) throw new Error('sql engine: used after close');
  }
}

/**
 * Open an engine, run `work` with it and close it whatever happens.
 *
 * @param options engine options
 * @param work the work
 * @param setup statements run before the sandbox closes
 * @returns what `work` returns
 */
export async function withSqlEngine<T>(
  options: SqlEngineOptions,
  work: (engine: SqlEngine) => Promise<T>,
  setup?: (connection: DuckDBConnection) => Promise<void> | void,
): Promise<T> {
  const engine = await SqlEngine.open(options, setup);
  try {
    return await work(engine);
  } finally {
    await engine.close();
  }
}

/**
 * A SQL identifier in double quotes.
 *
 * @param name the identifier
 * @returns the quoted identifier
 */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * A SQL string literal.
 *
 * @param text the text
 * @returns the quoted literal
 */
export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
