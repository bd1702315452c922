/**
 * Loading and validating a pipeline definition (`pipelines/*.yaml`; the model it yields is in
 * ./types.ts). This module checks the structure, which needs nothing but the text: keys, types, names,
 * references between tables and sources, cycles, table paths, NCRONTAB. The SQL itself (does it parse,
 * which columns does it produce, do expectations, keys, partition and PII columns name those columns)
 * is checked by `checkPipelineSql` in shared/refresh, which needs the SQL engine and, for exact bronze
 * schemas, the lake.
 *
 * Loading validates everything at once and reports every problem with its YAML path and line, e.g.
 * `sources.pos_sales.schemaEvolution (line 7): expected one of addNewColumns, rescue, …; got "evolv"`.
 * Unknown keys are errors (a typo must not silently fall back to a default). The JSON Schema in
 * `schemas/pipeline.schema.json` describes the same shape for editors; its keys are tested against
 * `DEFINITION_KEYS`.
 *
 * Two sources whose landing folders overlap (equal, or one inside the other) are rejected: every
 * landing blob belongs to exactly one source (see ./routing.ts).
 */
import { readFile } from 'node:fs/promises';
import { Document, isMap, isPair, isScalar, LineCounter, parseDocument } from 'yaml';
import type { ReadOptions } from '../formats/types';
import { commentProblem, ownerProblem, tagProblem, TAGS_MAX } from './annotations';
import { HintSet, hintTypeName, parseSchemaHints, TYPE_WORDS } from './hints';
import { isReservedName, RESERVED_MESSAGE } from './names';
import { ncrontabProblem } from './ncrontab';
import { checkObjectives } from './objectives';
import { normaliseLanding } from './routing';
import {
  DEFAULT_KEY_BUCKETS,
  DEFAULT_PARTITION_BY,
  DLT_EVOLUTION_ALIASES,
  ON_VIOLATION,
  PII_ACTIONS,
  PipelineDefinitionError,
  SCHEMA_EVOLUTION_MODES,
  SOURCE_COMPRESSIONS,
  SOURCE_FORMATS,
  TRIGGER_MODES,
  type DefinitionProblem,
  type OnViolation,
  type PipelineDefinition,
  type SchemaEvolutionMode,
  type SourceDefinition,
  type TableDefinition,
  type TriggerDefinition,
} from './types';

/**
 * The keys each mapping of a definition may hold; any other key is refused. Exported so that the JSON
 * Schema for editors is tested against the very lists the loader uses.
 */
export const DEFINITION_KEYS = {
  top: ['name', 'description', 'trigger', 'schedule', 'sources', 'tables'],
  source: [
    'landing',
    'eventHub',
    'format',
    'compression',
    'csv',
    'schemaEvolution',
    'schemaHints',
    'partitionBy',
    'table',
    'description',
    'owner',
    'tags',
    'comments',
    'objectives',
  ],
  csv: ['delimiter', 'quote', 'escape', 'header', 'encoding'],
  eventHub: ['name', 'consumerGroup', 'connection'],
  table: [
    'from',
    'sql',
    'keys',
    'sequenceBy',
    'orderBy',
    'partitionBy',
    'buckets',
    'expectations',
    'pii',
    'hook',
    'table',
    'description',
    'owner',
    'tags',
    'comments',
    'objectives',
  ],
  expectation: ['check', 'onViolation'],
} as const satisfies Record<string, readonly string[]>;

/** CSV encodings a source may declare. */
export const CSV_ENCODINGS = ['utf-8', 'latin1'] as const;

const EXPECTATION_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SOURCE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
const COLUMN_NAME = /^[^\s,:;{}()\n\t=]+$/;
const TABLE_PATH = /^[A-Za-z0-9_][A-Za-z0-9_.=-]*(\/[A-Za-z0-9_][A-Za-z0-9_.=-]*)*$/;

type Path = (string | number)[];

/** Walks the parsed YAML, collecting problems with their paths and lines. */
class Checker {
  readonly problems: DefinitionProblem[] = [];
  constructor(
    private readonly doc: Document | null,
    private readonly lines: LineCounter | null,
  ) {}

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

  keys(object: Record<string, unknown>, path: Path, allowed: readonly string[]): void {
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
  definition.lines = keyLines(doc.get('tables', true), ['tables'], lines);
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
    c.keys(top, [], DEFINITION_KEYS.top);
    if (top.name !== undefined) out.name = c.string(top.name, ['name'], { nonEmpty: true });
    if (top.description !== undefined) out.description = c.string(top.description, ['description']);
    if (top.sources === undefined) c.fail(['sources'], 'missing; a pipeline needs at least one source');
    else {
      const sources = c.object(top.sources, ['sources'], 'a map of source name → source');
      if (sources) {
        if (Object.keys(sources).length === 0) c.fail(['sources'], 'no sources defined');
        for (const [name, entry] of Object.entries(sources)) {
          const source = checkSource(c, name, entry);
          if (source && !isReservedName(name)) out.sources[name] = source;
        }
        checkOverlaps(c, out.sources);
        checkTablePaths(c, out.sources);
      }
    }
    if (top.trigger !== undefined || top.schedule !== undefined) out.trigger = checkTrigger(c, top.trigger, top.schedule);
    if (top.tables !== undefined && top.tables !== null) {
      const tables = c.object(top.tables, ['tables'], 'a map of table name → table');
      if (tables) {
        for (const [name, entry] of Object.entries(tables)) {
          const table = checkTable(c, name, entry);
          if (table && !isReservedName(name)) out.tables[name] = table;
        }
        checkTableReferences(c, out);
        checkCycles(c, out.tables);
        checkTargetPaths(c, out);
      }
    }
  }
  if (c.problems.length) throw new PipelineDefinitionError(c.problems, file);
  return out;
}

function checkSource(c: Checker, name: string, value: unknown): SourceDefinition | null {
  const path: Path = ['sources', name];
  if (isReservedName(name)) c.fail(path, `source name "${name}" ${RESERVED_MESSAGE}`, true);
  else if (!SOURCE_NAME.test(name)) c.fail(path, 'source names are letters, digits and _, not starting with a digit', true);
  const entry = c.object(value, path, 'a source');
  if (!entry) return null;
  c.keys(entry, path, DEFINITION_KEYS.source);
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
  if (hasLanding === hasHub)
    c.fail(
      path,
      hasLanding ? 'give either landing or eventHub, not both' : 'needs landing (a folder of the landing container) or eventHub (an Event Hub name)',
    );
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
        c.keys(hub, hubPath, DEFINITION_KEYS.eventHub);
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
        c.fail(
          [...path, 'table'],
          `expected a table path in the lake container such as bronze/${name} (letters, digits, _ . = -; no segment starting with _); got ${describe(table)}`,
        );
      } else source.table = trimmed;
    }
  }
  if (entry.description !== undefined) source.description = c.string(entry.description, [...path, 'description']);
  if (entry.objectives !== undefined)
    source.objectives = checkObjectives(entry.objectives, 'source', (key, message) => c.fail([...path, 'objectives', ...(key ? [key] : [])], message));
  Object.assign(source, checkAnnotations(c, path, entry));
  return source;
}

/** `owner`, `tags` and `comments` of a source or table (shared/pipeline/annotations.ts states the rules). */
function checkAnnotations(c: Checker, path: Path, entry: Record<string, unknown>): Pick<SourceDefinition, 'owner' | 'tags' | 'comments'> {
  const out: Pick<SourceDefinition, 'owner' | 'tags' | 'comments'> = {};
  if (entry.owner !== undefined) {
    const problem = ownerProblem(entry.owner);
    if (problem) c.fail([...path, 'owner'], problem);
    else out.owner = (entry.owner as string).trim();
  }
  if (entry.tags !== undefined && entry.tags !== null) {
    const list = typeof entry.tags === 'string' ? [entry.tags] : entry.tags;
    if (!Array.isArray(list)) c.fail([...path, 'tags'], `expected a list of tags, got ${describe(entry.tags)}`);
    else {
      const tagPath = (i: number): Path => (Array.isArray(entry.tags) ? [...path, 'tags', i] : [...path, 'tags']);
      const seen = new Set<string>();
      const tags: string[] = [];
      list.forEach((tag: unknown, i) => {
        const problem = tagProblem(tag);
        if (problem) c.fail(tagPath(i), problem);
        else if (seen.has((tag as string).toLowerCase())) c.fail(tagPath(i), `tag "${tag as string}" is listed twice`);
        else {
          seen.add((tag as string).toLowerCase());
          tags.push(tag as string);
        }
      });
      if (list.length > TAGS_MAX) c.fail([...path, 'tags'], `at most ${TAGS_MAX} tags, got ${list.length}`);
      out.tags = tags;
    }
  }
  if (entry.comments !== undefined && entry.comments !== null) {
    const comments = c.object(entry.comments, [...path, 'comments'], 'a map of column → comment');
    if (comments) {
      out.comments = {};
      for (const [column, text] of Object.entries(comments)) {
        if (isReservedName(column)) c.fail([...path, 'comments', column], `column name "${column}" ${RESERVED_MESSAGE}`, true);
        else if (!COLUMN_NAME.test(column)) c.fail([...path, 'comments', column], 'not a usable column name', true);
        else {
          const problem = commentProblem(text);
          if (problem) c.fail([...path, 'comments', column], problem);
          else out.comments[column] = (text as string).trim();
        }
      }
    }
  }
  return out;
}

function checkCsv(c: Checker, path: Path, value: unknown): ReadOptions['csv'] | undefined {
  const csv = c.object(value, path, 'CSV options');
  if (!csv) return undefined;
  c.keys(csv, path, DEFINITION_KEYS.csv);
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
  if (csv.encoding !== undefined) out.encoding = c.oneOf(csv.encoding, [...path, 'encoding'], CSV_ENCODINGS);
  return out;
}

function checkHints(c: Checker, path: Path, value: unknown): Record<string, string> {
  if (typeof value === 'string') {
    const parsed = parseSchemaHints(value);
    for (const problem of parsed.problems) c.fail(path, problem);
    return parsed.hints;
  }
  const hints = new HintSet();
  const map = c.object(value, path, 'a map of column → type, or a string "col type, col type"');
  if (!map) return {};
  for (const [key, type] of Object.entries(map)) {
    // A key may be quoted Spark's way too (`Contact Phone Number`), as in the string form.
    const quoted = /^`((?:[^`]|``)*)`$/.exec(key.trim());
    const column = quoted ? quoted[1].replace(/``/g, '`') : key.trim();
    const normalised = typeof type === 'string' ? hintTypeName(type) : null;
    if (!normalised) c.fail([...path, key], `expected a type (${TYPE_WORDS}); got ${describe(type)}`);
    else {
      const problem = hints.add(column, normalised);
      if (problem) c.fail([...path, key], problem, true);
    }
  }
  return hints.toObject();
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
    if (Object.hasOwn(DLT_EVOLUTION_ALIASES, value)) return { ok: true, mode: DLT_EVOLUTION_ALIASES[value] };
    if (value === 'discard_row') {
      return {
        ok: false,
        message:
          '"discard_row" (dlt) would drop rows without a trace, which Sluice never does; use rescue (the row is kept, new columns\' values go to _rescued_data) or failOnNewColumns (the file is dead-lettered)',
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
  if (isReservedName(name)) c.fail(path, `table name "${name}" ${RESERVED_MESSAGE}`, true);
  else if (!TABLE_NAME.test(name)) c.fail(path, 'table names are <layer>.<name> or <name> (letters, digits, _)', true);
  const entry = c.object(value, path, 'a table');
  if (!entry) return null;
  c.keys(entry, path, DEFINITION_KEYS.table);
  const table: TableDefinition = {
    name,
    from: [],
    sql: 'SELECT * FROM source',
    refresh: 'incremental',
    keys: [],
    sequenceBy: [],
    partitionBy: [],
    expectations: [],
    pii: {},
    table: name.replace('.', '/'),
    buckets: DEFAULT_KEY_BUCKETS,
    raw: entry,
  };
  if (entry.from === undefined) c.fail(path, 'needs from (the source or table it reads)');
  else table.from = c.stringList(entry.from, [...path, 'from'], undefined, 'source or table name') ?? [];
  if (entry.sql !== undefined) {
    // A trailing semicolon is habit, not meaning; the SQL is embedded in larger statements.
    const sql = c.string(entry.sql, [...path, 'sql'], { nonEmpty: true });
    if (sql !== undefined) table.sql = sql.trimEnd().replace(/;+$/, '').trimEnd() || sql;
  }
  if (entry.description !== undefined) table.description = c.string(entry.description, [...path, 'description']);
  if (entry.objectives !== undefined)
    table.objectives = checkObjectives(entry.objectives, 'table', (key, message) => c.fail([...path, 'objectives', ...(key ? [key] : [])], message));
  Object.assign(table, checkAnnotations(c, path, entry));
  if (entry.hook !== undefined) {
    const hook = c.string(entry.hook, [...path, 'hook'], { nonEmpty: true });
    if (hook !== undefined && !/\.(ts|js|cjs|mjs)$/.test(hook))
      c.fail([...path, 'hook'], `expected the path of a .ts or .js module exporting a function over Arrow record batches, got ${describe(hook)}`);
    else table.hook = hook;
  }
  table.keys = columnList(c, entry.keys, [...path, 'keys']);
  table.sequenceBy = columnList(c, entry.sequenceBy, [...path, 'sequenceBy']);
  table.partitionBy = columnList(c, entry.partitionBy, [...path, 'partitionBy']);
  if (entry.orderBy !== undefined) table.orderBy = c.string(entry.orderBy, [...path, 'orderBy'], { nonEmpty: true });
  if (entry.keys !== undefined && table.keys.length === 0) c.fail([...path, 'keys'], 'expected at least one key column');
  if ((table.sequenceBy.length || table.orderBy) && table.keys.length === 0) {
    c.fail([...path, entry.orderBy !== undefined ? 'orderBy' : 'sequenceBy'], 'orders the versions of a key, so it needs keys');
  }
  if (table.sequenceBy.length && table.orderBy)
    c.fail([...path, 'orderBy'], 'give either sequenceBy (columns, greatest wins) or orderBy (an ORDER BY list, first wins), not both');
  if (entry.buckets !== undefined) {
    if (typeof entry.buckets !== 'number' || !Number.isInteger(entry.buckets) || entry.buckets < 1 || entry.buckets > 1024) {
      c.fail([...path, 'buckets'], `expected a whole number of key buckets from 1 to 1024, got ${describe(entry.buckets)}`);
    } else if (table.keys.length === 0) c.fail([...path, 'buckets'], 'key buckets lay out an upserted table, so they need keys');
    else table.buckets = entry.buckets;
  }
  if (entry.table !== undefined) {
    const target = c.string(entry.table, [...path, 'table'], { nonEmpty: true });
    if (target !== undefined) {
      const trimmed = target.replace(/^\/+|\/+$/g, '');
      if (!TABLE_PATH.test(trimmed) || trimmed.split('/').some((s) => s === '.' || s === '..' || s.startsWith('_'))) {
        c.fail(
          [...path, 'table'],
          `expected a table path in the lake container such as silver/sales (letters, digits, _ . = -; no segment starting with _); got ${describe(target)}`,
        );
      } else table.table = trimmed;
    }
  }
  if (/__(quarantine|changes)$/.test(table.table))
    c.fail(
      entry.table !== undefined ? [...path, 'table'] : path,
      `table path ${table.table} ends like the quarantine table Sluice keeps beside a table; choose another name`,
    );
  if (entry.expectations !== undefined && entry.expectations !== null) {
    const expectations = c.object(entry.expectations, [...path, 'expectations'], 'a map of expectation name → { check, onViolation }');
    for (const [ename, e] of Object.entries(expectations ?? {})) {
      const epath = [...path, 'expectations', ename];
      if (isReservedName(ename)) c.fail(epath, `expectation name "${ename}" ${RESERVED_MESSAGE}`, true);
      else if (!EXPECTATION_NAME.test(ename)) c.fail(epath, 'expectation names are letters, digits and _, not starting with a digit', true);
      const expectation = c.object(e, epath, 'an expectation { check, onViolation }');
      if (!expectation) continue;
      c.keys(expectation, epath, DEFINITION_KEYS.expectation);
      const check = c.string(expectation.check, [...epath, 'check'], { nonEmpty: true });
      let onViolation: OnViolation = 'warn';
      if (expectation.onViolation !== undefined) onViolation = c.oneOf(expectation.onViolation, [...epath, 'onViolation'], ON_VIOLATION) ?? 'warn';
      if (check !== undefined) table.expectations.push({ name: ename, check, onViolation });
    }
  }
  if (entry.pii !== undefined && entry.pii !== null) {
    const pii = c.object(entry.pii, [...path, 'pii'], 'a map of column → hash | mask');
    for (const [column, action] of Object.entries(pii ?? {})) {
      if (isReservedName(column)) c.fail([...path, 'pii', column], `column name "${column}" ${RESERVED_MESSAGE}`, true);
      else if (!COLUMN_NAME.test(column)) c.fail([...path, 'pii', column], 'not a usable column name', true);
      const protection = c.oneOf(action, [...path, 'pii', column], PII_ACTIONS);
      if (protection) table.pii[column] = protection;
    }
  }
  return table;
}

/** An optional column list (a name or a list of names), with duplicates reported. */
function columnList(c: Checker, value: unknown, path: Path): string[] {
  if (value === undefined || value === null) return [];
  const columns = c.stringList(value, path, COLUMN_NAME, 'column name') ?? [];
  const seen = new Set<string>();
  columns.forEach((col, i) => {
    if (seen.has(col.toLowerCase())) c.fail(Array.isArray(value) ? [...path, i] : path, `column "${col}" is listed twice`);
    seen.add(col.toLowerCase());
  });
  return columns;
}

function checkTableReferences(c: Checker, out: PipelineDefinition): void {
  for (const table of Object.values(out.tables)) {
    const fromPath = (i: number): Path => (Array.isArray(table.raw.from) ? ['tables', table.name, 'from', i] : ['tables', table.name, 'from']);
    let sources = 0;
    let tables = 0;
    table.from.forEach((from, i) => {
      if (from === table.name) c.fail(fromPath(i), 'a table cannot read itself');
      else if (Object.hasOwn(out.sources, from)) sources++;
      else if (Object.hasOwn(out.tables, from)) tables++;
      else c.fail(fromPath(i), `"${from}" is neither a source nor a table of this pipeline`);
    });
    if (sources && tables) {
      c.fail(
        ['tables', table.name, 'from'],
        'reads both bronze sources and tables; a table either reads one bronze source (its new rows, incrementally) or reads tables (and is recomputed)',
      );
    } else if (sources > 1) {
      c.fail(
        ['tables', table.name, 'from'],
        `reads ${sources} bronze sources; a table reads the new rows of one bronze source (join other tables in a table that reads tables)`,
      );
    }
    table.refresh = tables ? 'recompute' : 'incremental';
    if (table.refresh === 'recompute' && (table.keys.length || table.raw.buckets !== undefined)) {
      c.fail(
        ['tables', table.name, 'keys'],
        'a table that reads tables is recomputed from them (by partition when partitioned), so it has no upsert keys; give keys to a table that reads a bronze source',
      );
    }
  }
}

function checkCycles(c: Checker, tables: Record<string, TableDefinition>): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const reported = new Set<string>();
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name];
      const key = [...cycle].sort().join(',');
      if (!reported.has(key)) {
        reported.add(key);
        c.fail(['tables', name, 'from'], `tables read each other in a cycle: ${cycle.join(' → ')}`);
      }
      return;
    }
    state.set(name, 'visiting');
    for (const from of tables[name].from) if (Object.hasOwn(tables, from) && from !== name) visit(from, [...trail, name]);
    state.set(name, 'done');
  };
  for (const name of Object.keys(tables)) visit(name, []);
}

function checkTargetPaths(c: Checker, out: PipelineDefinition): void {
  const seen = new Map<string, string>();
  for (const source of Object.values(out.sources)) seen.set(source.table, `sources.${source.name}`);
  for (const table of Object.values(out.tables)) {
    const other = seen.get(table.table);
    const path: Path = table.raw.table !== undefined ? ['tables', table.name, 'table'] : ['tables', table.name];
    if (other) c.fail(path, `table path ${table.table} is already used by ${other}`);
    else seen.set(table.table, `tables.${table.name}`);
  }
}

function checkTrigger(c: Checker, trigger: unknown, schedule: unknown): TriggerDefinition | undefined {
  const mode = trigger === undefined ? 'schedule' : c.oneOf(trigger, ['trigger'], TRIGGER_MODES);
  if (mode === 'afterBronze') {
    if (schedule !== undefined) c.fail(['schedule'], 'a schedule is only used with trigger: schedule');
    return { mode };
  }
  if (mode !== 'schedule') return undefined;
  if (schedule === undefined) {
    c.fail(['trigger'], 'trigger: schedule needs schedule: "<NCRONTAB>", e.g. "0 */15 * * * *" (every 15 minutes)');
    return undefined;
  }
  const text = c.string(schedule, ['schedule'], { nonEmpty: true });
  if (text === undefined) return undefined;
  const problem = ncrontabProblem(text);
  if (problem) {
    c.fail(['schedule'], problem);
    return undefined;
  }
  return { mode, schedule: text.trim() };
}

function checkOverlaps(c: Checker, sources: Record<string, SourceDefinition>): void {
  const landed = Object.values(sources).filter((s) => s.landing !== undefined);
  for (let i = 0; i < landed.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = landed[j];
      const b = landed[i];
      if (a.landing!.startsWith(b.landing!) || b.landing!.startsWith(a.landing!)) {
        const how = a.landing === b.landing ? 'is the same folder as' : 'overlaps';
        c.fail(
          ['sources', b.name, 'landing'],
          `"${b.landing || '/'}" ${how} sources.${a.name}.landing "${a.landing || '/'}"; every landing file must belong to exactly one source`,
        );
        break;
      }
    }
  }
}

function checkTablePaths(c: Checker, sources: Record<string, SourceDefinition>): void {
  const seen = new Map<string, string>();
  for (const source of Object.values(sources)) {
    const other = seen.get(source.table);
    if (other)
      c.fail(['sources', source.name, 'table'], `table ${source.table} is already written by sources.${other}; each source needs its own bronze table`);
    else seen.set(source.table, source.name);
  }
}

/** The line of every key below a YAML node, by formatted path. */
function keyLines(node: unknown, path: Path, lines: LineCounter, out: Record<string, number> = {}): Record<string, number> {
  if (!isMap(node)) return out;
  for (const pair of node.items) {
    if (!isPair(pair) || !isScalar(pair.key)) continue;
    const child = [...path, String(pair.key.value)];
    const range = pair.key.range;
    if (range) out[formatPath(child)] = lines.linePos(range[0]).line;
    keyLines(pair.value, child, lines, out);
  }
  return out;
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
