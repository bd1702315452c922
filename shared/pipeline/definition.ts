/**
 * The pipeline definition (`pipelines/*.yaml`): which landing prefixes and Event Hubs feed which
 * bronze tables, how their input is read and how their schema may evolve; plus the silver/gold
 * `tables:` section, which is only checked shallowly here and kept as written (a later stage owns it).
 *
 * Loading validates everything at once and reports every problem with its YAML path and line, e.g.
 * `sources.pos_sales.schemaEvolution (line 7): expected one of addNewColumns, rescue, …; got "evolv"`.
 * Unknown keys are errors (a typo must not silently fall back to a default). The JSON Schema in
 * `schemas/pipeline.schema.json` describes the same shape for editors.
 *
 * Decisions:
 * - `landing` is a folder of the landing container: it is normalised to end with `/` (no leading
 *   `/`; `''` or `/` means the whole container). Two sources whose folders overlap (equal, or one
 *   inside the other) are rejected: every landing blob belongs to exactly one source, so the event path
 *   and the reconcile listing agree. `routeBlob` still picks the longest matching prefix.
 * - Schema evolution modes are Auto Loader's: `addNewColumns` (default), `rescue`, `failOnNewColumns`,
 *   `none`. dlt's schema-contract words are accepted where they mean the same: `evolve` →
 *   `addNewColumns`, `freeze` (raise on new columns) → `failOnNewColumns`, `discard_value` (keep the
 *   row, drop the new columns' values) → `none`. `discard_row` is refused: it would drop whole rows
 *   without a trace, which Sluice never does; use `rescue` (the values go to `_rescued_data`) or
 *   `failOnNewColumns`.
 * - Schema hints take Delta type names and the Spark SQL spellings people write (`int`, `bigint`,
 *   `decimal(12,2)`, `varchar`…), as a map or as Auto Loader's string (`"qty int, price decimal(12,2)"`),
 *   and are normalised to Delta names.
 */
import { readFile } from 'node:fs/promises';
import { Document, isMap, isPair, isScalar, LineCounter, parseDocument } from 'yaml';
import type { Compression, InputFormat, ReadOptions } from '../formats/types';

/** How new input columns are treated (Auto Loader's `cloudFiles.schemaEvolutionMode`). */
export type SchemaEvolutionMode = 'addNewColumns' | 'rescue' | 'failOnNewColumns' | 'none';

/** The canonical evolution modes. */
export const SCHEMA_EVOLUTION_MODES: readonly SchemaEvolutionMode[] = ['addNewColumns', 'rescue', 'failOnNewColumns', 'none'];
/** dlt schema-contract words accepted, and what they become. */
export const DLT_EVOLUTION_ALIASES: Readonly<Record<string, SchemaEvolutionMode>> = { evolve: 'addNewColumns', freeze: 'failOnNewColumns', discard_value: 'none' };
/** Input formats a source may declare. */
export const SOURCE_FORMATS: readonly InputFormat[] = ['auto', 'csv', 'tsv', 'json', 'ndjson', 'parquet', 'avro', 'binary'];
/** Compression values a source may declare. */
export const SOURCE_COMPRESSIONS: readonly (Compression | 'auto')[] = ['auto', 'none', 'gzip', 'zstd'];
/** What a violated expectation does (silver/gold; checked here, applied by the pipeline stage). */
export const ON_VIOLATION: readonly string[] = ['warn', 'drop', 'fail', 'quarantine'];
/** Default partition columns of bronze tables. */
export const DEFAULT_PARTITION_BY: readonly string[] = ['_load_date'];

/** An Event Hub feeding a source. */
export interface EventHubSource {
  /** Event Hub name. */
  name: string;
  /** Consumer group (default `$Default`). */
  consumerGroup?: string;
  /** Name of the connection setting (default: the app's). */
  connection?: string;
}

/** One bronze source. */
export interface SourceDefinition {
  /** Source name (the key under `sources:`). */
  name: string;
  /** Folder of the landing container, `''` or ending with `/`. Exactly one of `landing`, `eventHub`. */
  landing?: string;
  eventHub?: EventHubSource;
  format: InputFormat;
  compression: Compression | 'auto';
  csv?: ReadOptions['csv'];
  schemaEvolution: SchemaEvolutionMode;
  /** Column → Delta type name. */
  schemaHints: Record<string, string>;
  partitionBy: string[];
  /** Table path in the lake container (default `bronze/<name>`). */
  table: string;
  description?: string;
}

/** One silver/gold table, kept as written. */
export interface TableDefinition {
  /** Table name (the key under `tables:`), e.g. `silver.sales`. */
  name: string;
  /** Sources or tables it reads. */
  from: string[];
  /** The entry exactly as written in the YAML. */
  raw: Record<string, unknown>;
}

/** A loaded, validated pipeline definition. */
export interface PipelineDefinition {
  name?: string;
  description?: string;
  sources: Record<string, SourceDefinition>;
  tables: Record<string, TableDefinition>;
  /** File it was loaded from, when loaded from a file. */
  file?: string;
}

/** One validation problem. */
export interface DefinitionProblem {
  /** YAML path, e.g. `sources.pos_sales.schemaEvolution`. */
  path: string;
  message: string;
  /** 1-based line, when known. */
  line?: number;
}

/** The definition is invalid; `problems` lists every problem found. */
export class PipelineDefinitionError extends Error {
  readonly problems: readonly DefinitionProblem[];
  constructor(problems: DefinitionProblem[], file?: string) {
    const where = file ? ` ${file}` : '';
    const lines = problems.map((p) => `  - ${p.path || '(document)'}${p.line ? ` (line ${p.line})` : ''}: ${p.message}`);
    super(`pipeline definition${where}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${lines.join('\n')}`);
    this.name = 'PipelineDefinitionError';
    this.problems = problems;
  }
}

const TOP_KEYS = ['name', 'description', 'sources', 'tables'];
const SOURCE_KEYS = ['landing', 'eventHub', 'format', 'compression', 'csv', 'schemaEvolution', 'schemaHints', 'partitionBy', 'table', 'description'];
const CSV_KEYS = ['delimiter', 'quote', 'escape', 'header', 'encoding'];
const EVENT_HUB_KEYS = ['name', 'consumerGroup', 'connection'];
const TABLE_KEYS = ['from', 'sql', 'keys', 'sequenceBy', 'expectations', 'partitionBy', 'description', 'hook'];
const EXPECTATION_KEYS = ['check', 'onViolation'];
const SOURCE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
const COLUMN_NAME = /^[^\s,:;{}()\n\t=]+$/;
const TABLE_PATH = /^[A-Za-z0-9_][A-Za-z0-9_.=-]*(\/[A-Za-z0-9_][A-Za-z0-9_.=-]*)*$/;

type Path = (string | number)[];

/** Walks the parsed YAML, collecting problems with their paths and lines. */
class Checker {
  readonly problems: DefinitionProblem[] = [];
  constructor(private readonly doc: Document | null, private readonly lines: LineCounter | null) {}

  fail(path: Path, message: string, onKey = false): void {
    this.problems.push({ path: formatPath(path), message, line: this.line(path, onKey) });
  }

  private line(path: Path, onKey: boolean): number | undefined {
    if (!this.doc || !this.lines) return undefined;
    let node: unknown = path.length ? this.doc.getIn(path, true) : this.doc.contents;
    // A key's own line for unknown keys and for problems of a whole block (a mapping or list value).
    if (path.length && (onKey || !isScalar(node))) {
      const parent = this.doc.getIn(path.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === path[path.length - 1]);
        if (pair?.key) node = pair.key;
      }
    }
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    return range ? this.lines.linePos(range[0]).line : undefined;
  }

  /** A mapping (plain object); reports and returns null otherwise. */
  object(value: unknown, path: Path, what: string): Record<string, unknown> | null {
    if (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)) return value as Record<string, unknown>;
    this.fail(path, `expected ${what} (a mapping), got ${describe(value)}`);
    return null;
  }

  keys(object: Record<string, unknown>, path: Path, allowed: string[]): void {
    for (const key of Object.keys(object)) {
      if (!allowed.includes(key)) {
        const near = allowed.find((k) => k.toLowerCase() === key.toLowerCase());
        this.fail([...path, key], near ? `unknown key; did you mean "${near}"?` : `unknown key; expected one of ${allowed.join(', ')}`, true);
      }
    }
  }

  string(value: unknown, path: Path, options: { nonEmpty?: boolean } = {}): string | undefined {
    if (typeof value !== 'string' || (options.nonEmpty && value.trim() === '')) {
      this.fail(path, `expected ${options.nonEmpty ? 'a non-empty' : 'a'} string, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, path: Path, allowed: readonly T[], extra = ''): T | undefined {
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    this.fail(path, `expected one of ${allowed.join(', ')}${extra}; got ${describe(value)}`);
    return undefined;
  }

  stringList(value: unknown, path: Path, pattern?: RegExp, what = 'name'): string[] | undefined {
    if (typeof value === 'string') value = [value];
    if (!Array.isArray(value)) {
      this.fail(path, `expected a list of ${what}s, got ${describe(value)}`);
      return undefined;
    }
    const out: string[] = [];
    value.forEach((item, i) => {
      if (typeof item !== 'string' || item === '' || (pattern && !pattern.test(item))) this.fail([...path, i], `expected a ${what}, got ${describe(item)}`);
      else out.push(item);
    });
    return out;
  }
}

/**
 * Parse and validate a pipeline definition.
 *
 * @param text YAML text
 * @param file file name for messages
 * @returns the definition
 * @throws PipelineDefinitionError listing every problem
 */
export function parsePipelineDefinition(text: string, file?: string): PipelineDefinition {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    throw new PipelineDefinitionError(
      doc.errors.map((e) => ({ path: '', message: `not valid YAML: ${e.message.split('\n')[0]}`, line: e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line })),
      file,
    );
  }
  const definition = validatePipelineDefinition(doc.toJS(), doc, lines, file);
  if (file) definition.file = file;
  return definition;
}

/**
 * Read, parse and validate a pipeline definition file.
 *
 * @param path the YAML file
 * @returns the definition
 * @throws PipelineDefinitionError listing every problem
 */
export async function loadPipelineDefinition(path: string): Promise<PipelineDefinition> {
  return parsePipelineDefinition(await readFile(path, 'utf8'), path);
}

/**
 * Validate an already-parsed definition (e.g. from JSON).
 *
 * @param value the parsed document
 * @param doc the YAML document, for line numbers (optional)
 * @param lines its line counter (optional)
 * @param file file name for messages
 * @returns the definition
 * @throws PipelineDefinitionError listing every problem
 */
export function validatePipelineDefinition(value: unknown, doc: Document | null = null, lines: LineCounter | null = null, file?: string): PipelineDefinition {
  const c = new Checker(doc, lines);
  const out: PipelineDefinition = { sources: {}, tables: {} };
  const top = c.object(value ?? null, [], 'a pipeline definition with a sources: section');
  if (top) {
    c.keys(top, [], TOP_KEYS);
    if (top.name !== undefined) out.name = c.string(top.name, ['name'], { nonEmpty: true });
    if (top.description !== undefined) out.description = c.string(top.description, ['description']);
    if (top.sources === undefined) c.fail(['sources'], 'missing; a pipeline needs at least one source');
    else {
      const sources = c.object(top.sources, ['sources'], 'a map of source name → source');
      if (sources) {
        if (Object.keys(sources).length === 0) c.fail(['sources'], 'no sources defined');
        for (const [name, entry] of Object.entries(sources)) {
          const source = checkSource(c, name, entry);
          if (source) out.sources[name] = source;
        }
        checkOverlaps(c, out.sources);
        checkTablePaths(c, out.sources);
      }
    }
    if (top.tables !== undefined && top.tables !== null) {
      const tables = c.object(top.tables, ['tables'], 'a map of table name → table');
      if (tables) {
        for (const [name, entry] of Object.entries(tables)) {
          const table = checkTable(c, name, entry);
          if (table) out.tables[name] = table;
        }
        for (const table of Object.values(out.tables)) {
          table.from.forEach((from, i) => {
            if (!(from in out.sources) && !(from in out.tables)) {
              const path: Path = Array.isArray(table.raw.from) ? ['tables', table.name, 'from', i] : ['tables', table.name, 'from'];
              c.fail(path, `"${from}" is neither a source nor a table of this pipeline`);
            } else if (from === table.name) c.fail(['tables', table.name, 'from'], 'a table cannot read itself');
          });
        }
      }
    }
  }
  if (c.problems.length) throw new PipelineDefinitionError(c.problems, file);
  return out;
}

function checkSource(c: Checker, name: string, value: unknown): SourceDefinition | null {
  const path: Path = ['sources', name];
  if (!SOURCE_NAME.test(name)) c.fail(path, 'source names are letters, digits and _, not starting with a digit', true);
  const entry = c.object(value, path, 'a source');
  if (!entry) return null;
  c.keys(entry, path, SOURCE_KEYS);
  const source: SourceDefinition = {
    name,
    format: 'auto',
    compression: 'auto',
    schemaEvolution: 'addNewColumns',
    schemaHints: {},
    partitionBy: [...DEFAULT_PARTITION_BY],
    table: `bronze/${name}`,
  };
  const hasLanding = entry.landing !== undefined;
  const hasHub = entry.eventHub !== undefined;
  if (hasLanding === hasHub) c.fail(path, hasLanding ? 'give either landing or eventHub, not both' : 'needs landing (a folder of the landing container) or eventHub (an Event Hub name)');
  if (hasLanding) {
    const landing = entry.landing === null ? '' : c.string(entry.landing, [...path, 'landing']);
    if (landing !== undefined) {
      const normalised = normaliseLanding(landing);
      if (normalised.split('/').some((s) => s === '.' || s === '..')) c.fail([...path, 'landing'], 'must not contain . or .. segments');
      else if (/[\\?#\u0000-\u001f]/.test(normalised)) c.fail([...path, 'landing'], 'must not contain \\, ?, # or control characters');
      else source.landing = normalised;
    }
  }
  if (hasHub) {
    const hubPath = [...path, 'eventHub'];
    if (typeof entry.eventHub === 'string') {
      if (entry.eventHub.trim() === '') c.fail(hubPath, 'expected an Event Hub name, got an empty string');
      else source.eventHub = { name: entry.eventHub };
    } else {
      const hub = c.object(entry.eventHub, hubPath, 'an Event Hub name or { name, consumerGroup, connection }');
      if (hub) {
        c.keys(hub, hubPath, EVENT_HUB_KEYS);
        const hubName = c.string(hub.name, [...hubPath, 'name'], { nonEmpty: true });
        if (hubName !== undefined) {
          source.eventHub = { name: hubName };
          if (hub.consumerGroup !== undefined) source.eventHub.consumerGroup = c.string(hub.consumerGroup, [...hubPath, 'consumerGroup'], { nonEmpty: true });
          if (hub.connection !== undefined) source.eventHub.connection = c.string(hub.connection, [...hubPath, 'connection'], { nonEmpty: true });
        }
      }
    }
  }
  if (entry.format !== undefined) source.format = c.oneOf(entry.format, [...path, 'format'], SOURCE_FORMATS) ?? 'auto';
  if (entry.compression !== undefined) source.compression = c.oneOf(entry.compression, [...path, 'compression'], SOURCE_COMPRESSIONS) ?? 'auto';
  if (entry.csv !== undefined) source.csv = checkCsv(c, [...path, 'csv'], entry.csv);
  if (entry.schemaEvolution !== undefined) {
    const mode = parseSchemaEvolution(entry.schemaEvolution);
    if (mode.ok) source.schemaEvolution = mode.mode;
    else c.fail([...path, 'schemaEvolution'], mode.message);
  }
  if (entry.schemaHints !== undefined && entry.schemaHints !== null) source.schemaHints = checkHints(c, [...path, 'schemaHints'], entry.schemaHints);
  if (entry.partitionBy !== undefined) {
    const columns = entry.partitionBy === null ? [] : c.stringList(entry.partitionBy, [...path, 'partitionBy'], COLUMN_NAME, 'column name');
    if (columns) {
      const seen = new Set<string>();
      columns.forEach((col, i) => {
        if (seen.has(col.toLowerCase())) c.fail([...path, 'partitionBy', i], `column "${col}" is listed twice`);
        seen.add(col.toLowerCase());
      });
      source.partitionBy = columns;
    }
  }
  if (entry.table !== undefined) {
    const table = c.string(entry.table, [...path, 'table'], { nonEmpty: true });
    if (table !== undefined) {
      const trimmed = table.replace(/^\/+|\/+$/g, '');
      if (!TABLE_PATH.test(trimmed) || trimmed.split('/').some((s) => s === '.' || s === '..' || s.startsWith('_'))) {
        c.fail([...path, 'table'], `expected a table path in the lake container such as bronze/${name} (letters, digits, _ . = -; no segment starting with _); got ${describe(table)}`);
      } else source.table = trimmed;
    }
  }
  if (entry.description !== undefined) source.description = c.string(entry.description, [...path, 'description']);
  return source;
}

function checkCsv(c: Checker, path: Path, value: unknown): ReadOptions['csv'] | undefined {
  const csv = c.object(value, path, 'CSV options');
  if (!csv) return undefined;
  c.keys(csv, path, CSV_KEYS);
  const out: NonNullable<ReadOptions['csv']> = {};
  for (const key of ['delimiter', 'quote', 'escape'] as const) {
    if (csv[key] === undefined) continue;
    const text = c.string(csv[key], [...path, key]);
    if (text !== undefined && [...text].length !== 1) c.fail([...path, key], `expected one character, got ${describe(text)}`);
    else if (text !== undefined) out[key] = text;
  }
  if (csv.header !== undefined) {
    if (typeof csv.header !== 'boolean') c.fail([...path, 'header'], `expected true or false, got ${describe(csv.header)}`);
    else out.header = csv.header;
  }
  if (csv.encoding !== undefined) out.encoding = c.oneOf(csv.encoding, [...path, 'encoding'], ['utf-8', 'latin1'] as const);
  return out;
}

function checkHints(c: Checker, path: Path, value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value === 'string') {
    const parsed = parseSchemaHints(value);
    for (const problem of parsed.problems) c.fail(path, problem);
    return parsed.hints;
  }
  const hints = c.object(value, path, 'a map of column → type, or a string "col type, col type"');
  if (!hints) return out;
  for (const [column, type] of Object.entries(hints)) {
    if (!COLUMN_NAME.test(column)) c.fail([...path, column], 'not a usable column name', true);
    const normalised = typeof type === 'string' ? normaliseTypeName(type) : null;
    if (!normalised) c.fail([...path, column], `expected a type (${TYPE_WORDS}); got ${describe(type)}`);
    else out[column] = normalised;
  }
  return out;
}

const TYPE_WORDS = 'string, int, bigint, smallint, tinyint, double, float, boolean, date, timestamp, timestamp_ntz, binary, decimal(p,s)';

const TYPE_ALIASES: Record<string, string> = {
  string: 'string', varchar: 'string', text: 'string', char: 'string',
  int: 'integer', integer: 'integer', bigint: 'long', long: 'long', smallint: 'short', short: 'short', tinyint: 'byte', byte: 'byte',
  double: 'double', float: 'float', real: 'float',
  boolean: 'boolean', bool: 'boolean',
  date: 'date', timestamp: 'timestamp', timestamp_ltz: 'timestamp', timestamp_ntz: 'timestamp_ntz', binary: 'binary',
};

/**
 * A type as people write it (`int`, `BIGINT`, `decimal(12, 2)`, `varchar(20)`) as a Delta primitive
 * type name, or null when it is not one.
 *
 * @param text the type text
 * @returns the Delta type name, or null
 */
export function normaliseTypeName(text: string): string | null {
  const t = text.trim().toLowerCase();
  const dec = /^(?:decimal|numeric|dec)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$/.exec(t);
  if (dec) {
    const precision = dec[1] === undefined ? 10 : Number(dec[1]);
    const scale = dec[2] === undefined ? 0 : Number(dec[2]);
    if (precision < 1 || precision > 38 || scale > precision) return null;
    return `decimal(${precision},${scale})`;
  }
  const varchar = /^(?:varchar|char)\s*\(\s*\d+\s*\)$/.exec(t);
  if (varchar) return 'string';
  return TYPE_ALIASES[t] ?? null;
}

/**
 * Parse schema hints written as a string, Auto Loader style: `qty int, price decimal(12,2)` (also
 * `qty:int,price:decimal(12,2)`).
 *
 * @param text the hints
 * @returns column → Delta type, and problems in words
 */
export function parseSchemaHints(text: string): { hints: Record<string, string>; problems: string[] } {
  const hints: Record<string, string> = {};
  const problems: string[] = [];
  // Split on commas outside parentheses (decimal(12,2) holds one).
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  for (const raw of parts) {
    const part = raw.trim();
    if (!part) continue;
    const m = /^`?([^`\s:]+)`?\s*(?::|\s)\s*(.+)$/.exec(part);
    if (!m) {
      problems.push(`hint "${part}" is not "column type"`);
      continue;
    }
    const type = normaliseTypeName(m[2]);
    if (!type) problems.push(`hint "${part}": "${m[2].trim()}" is not a type (${TYPE_WORDS})`);
    else hints[m[1]] = type;
  }
  return { hints, problems };
}

/**
 * Parse a schema evolution mode, accepting dlt's contract words where they map cleanly.
 *
 * @param value the mode as written
 * @returns the mode, or a message saying what is accepted
 */
export function parseSchemaEvolution(value: unknown): { ok: true; mode: SchemaEvolutionMode } | { ok: false; message: string } {
  if (typeof value === 'string') {
    if ((SCHEMA_EVOLUTION_MODES as readonly string[]).includes(value)) return { ok: true, mode: value as SchemaEvolutionMode };
    if (value in DLT_EVOLUTION_ALIASES) return { ok: true, mode: DLT_EVOLUTION_ALIASES[value] };
    if (value === 'discard_row') {
      return {
        ok: false,
        message: '"discard_row" (dlt) would drop rows without a trace, which Sluice never does; use rescue (the row is kept, new columns\' values go to _rescued_data) or failOnNewColumns (the file is dead-lettered)',
      };
    }
  }
  return {
    ok: false,
    message: `expected one of ${SCHEMA_EVOLUTION_MODES.join(', ')} (or dlt's ${Object.keys(DLT_EVOLUTION_ALIASES).join(', ')}); got ${describe(value)}`,
  };
}

function checkTable(c: Checker, name: string, value: unknown): TableDefinition | null {
  const path: Path = ['tables', name];
  if (!TABLE_NAME.test(name)) c.fail(path, 'table names are <layer>.<name> or <name> (letters, digits, _)', true);
  const entry = c.object(value, path, 'a table');
  if (!entry) return null;
  c.keys(entry, path, TABLE_KEYS);
  let from: string[] = [];
  if (entry.from === undefined) c.fail(path, 'needs from (the source or table it reads)');
  else from = c.stringList(entry.from, [...path, 'from'], undefined, 'source or table name') ?? [];
  if (entry.sql !== undefined) c.string(entry.sql, [...path, 'sql'], { nonEmpty: true });
  if (entry.description !== undefined) c.string(entry.description, [...path, 'description']);
  if (entry.hook !== undefined) c.string(entry.hook, [...path, 'hook'], { nonEmpty: true });
  if (entry.sequenceBy !== undefined) c.string(entry.sequenceBy, [...path, 'sequenceBy'], { nonEmpty: true });
  if (entry.keys !== undefined) c.stringList(entry.keys, [...path, 'keys'], COLUMN_NAME, 'column name');
  if (entry.partitionBy !== undefined) c.stringList(entry.partitionBy, [...path, 'partitionBy'], COLUMN_NAME, 'column name');
  if (entry.expectations !== undefined) {
    const expectations = c.object(entry.expectations, [...path, 'expectations'], 'a map of expectation name → { check, onViolation }');
    for (const [ename, e] of Object.entries(expectations ?? {})) {
      const epath = [...path, 'expectations', ename];
      const expectation = c.object(e, epath, 'an expectation { check, onViolation }');
      if (!expectation) continue;
      c.keys(expectation, epath, EXPECTATION_KEYS);
      c.string(expectation.check, [...epath, 'check'], { nonEmpty: true });
      if (expectation.onViolation !== undefined) c.oneOf(expectation.onViolation, [...epath, 'onViolation'], ON_VIOLATION);
    }
  }
  return { name, from, raw: entry };
}

function checkOverlaps(c: Checker, sources: Record<string, SourceDefinition>): void {
  const landed = Object.values(sources).filter((s) => s.landing !== undefined);
  for (let i = 0; i < landed.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = landed[j];
      const b = landed[i];
      if (a.landing!.startsWith(b.landing!) || b.landing!.startsWith(a.landing!)) {
        const how = a.landing === b.landing ? 'is the same folder as' : 'overlaps';
        c.fail(['sources', b.name, 'landing'], `"${b.landing || '/'}" ${how} sources.${a.name}.landing "${a.landing || '/'}"; every landing file must belong to exactly one source`);
        break;
      }
    }
  }
}

function checkTablePaths(c: Checker, sources: Record<string, SourceDefinition>): void {
  const seen = new Map<string, string>();
  for (const source of Object.values(sources)) {
    const other = seen.get(source.table);
    if (other) c.fail(['sources', source.name, 'table'], `table ${source.table} is already written by sources.${other}; each source needs its own bronze table`);
    else seen.set(source.table, source.name);
  }
}

/**
 * Normalise a landing folder: no leading `/`, a trailing `/` unless empty.
 *
 * @param prefix as written
 * @returns the folder prefix
 */
export function normaliseLanding(prefix: string): string {
  const trimmed = prefix.trim().replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed ? `${trimmed}/` : '';
}

/**
 * The source a landing blob belongs to: the one whose landing folder is the longest prefix of the
 * blob's path.
 *
 * @param definition the pipeline definition
 * @param blobPath path of the blob inside the landing container
 * @returns the source, or null when no source takes the blob (or it is a folder marker)
 */
export function routeBlob(definition: PipelineDefinition, blobPath: string): SourceDefinition | null {
  const path = blobPath.replace(/^\/+/, '');
  if (!path || path.endsWith('/')) return null;
  let best: SourceDefinition | null = null;
  for (const source of Object.values(definition.sources)) {
    if (source.landing === undefined || !path.startsWith(source.landing)) continue;
    if (!best || source.landing.length > best.landing!.length) best = source;
  }
  return best;
}

function formatPath(path: Path): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${part}` : part;
  }
  return out;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${String(value)}`;
}
